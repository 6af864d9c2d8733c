# The two commands: `make demo` and `make test`. Both set up what they need.
SHELL := /bin/bash
VENV  := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.build/collections
export PYTHONPATH := $(CURDIR)/.build/collections
export PYTHONDONTWRITEBYTECODE := 1
# When make started (immediate: read once), so `make test` can say how long it took in all.
STARTED := $(shell date +%s)

.PHONY: setup demo test sanity sanity-oldest units integration lint docs
setup:
	@scripts/setup.sh

demo: setup
	@python scripts/demo.py

# Sanity first (fast failure on style), then the same on the oldest ansible-core we
# claim, then all pytest suites in one run, then how long it all took (setup included).
test: setup sanity sanity-oldest lint
	@python -m pytest -p no:cacheprovider tests; rc=$$?; \
	    echo "make test: $$(( $$(date +%s) - $(STARTED) )) s in all (setup, sanity on both ansible-cores, lint, pytest)"; \
	    exit $$rc

sanity: setup
	@scripts/sanity.sh

# ansible-test sanity and the unit tests of plugins/ on the oldest ansible-core that
# meta/runtime.yml claims (requires_ansible), in .build/venv-core-oldest.
sanity-oldest: setup
	@scripts/oldest-core.sh

lint: setup
	@scripts/lint.sh

units: setup
	@python -m pytest -p no:cacheprovider tests/unit

integration: setup
	@python -m pytest -p no:cacheprovider tests/integration

# Re-render docs/reference from the modules' and roles' own documentation.
docs: setup
	@scripts/render-docs.sh
