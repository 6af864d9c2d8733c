#!/usr/bin/env bash
# The oldest ansible-core that meta/runtime.yml claims (requires_ansible), tested like the
# pinned one: ansible-test sanity of that release over the collection, then the unit tests
# of plugins/ on it. Its venv, .build/venv-core-oldest, holds that ansible-core and only the
# packages the plugins' unit tests import, at the pins of requirements.txt and
# requirements-dev.txt (read from there, not repeated here); it is rebuilt only when those
# pins, OLDEST_CORE or the Python change. Arguments pass to pytest,
# e.g. `scripts/oldest-core.sh -k vcpu_pin`; OLDEST_CORE_SANITY=0 skips sanity.
set -euo pipefail
cd "$(dirname "$0")/.."

# Raise together with requires_ansible in meta/runtime.yml: the newest patch of the
# oldest series we claim.
OLDEST_CORE=${OLDEST_CORE:-ansible-core==2.16.19}
claimed=$(sed -n 's/^requires_ansible: *"*>=\([0-9]*\.[0-9]*\).*/\1/p' meta/runtime.yml)
if [[ "$OLDEST_CORE" != "ansible-core==$claimed."* ]]; then
    echo "oldest-core: meta/runtime.yml claims >=$claimed but OLDEST_CORE is $OLDEST_CORE" >&2
    exit 1
fi

# What the plugins and their unit tests import (not torch, ansible, ansible-lint, ...).
NEEDED=(libvirt-python pyroute2 nvidia-ml-py jinja2 jmespath pytest hypothesis)
pins=$(python3 - "${NEEDED[@]}" <<'EOF'
import re, sys
wanted = {n.lower() for n in sys.argv[1:]}
found = {}
for path in ("requirements.txt", "requirements-dev.txt"):
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        m = re.match(r"([A-Za-z0-9_.-]+)\s*==\s*(\S+)$", line)
        if m and m.group(1).lower() in wanted:
            found[m.group(1).lower()] = "%s==%s" % (m.group(1), m.group(2))
missing = sorted(wanted - set(found))
if missing:
    sys.exit("oldest-core: no == pin for %s in requirements*.txt" % ", ".join(missing))
print("\n".join(found[n] for n in sorted(found)))
EOF
)

venv=.build/venv-core-oldest
stamp=$venv/.requirements.sha256
want=$(printf '%s\n%s\n%s\n' "$(python3 --version)" "$OLDEST_CORE" "$pins" | sha256sum | cut -d' ' -f1)
if [[ ! -x $venv/bin/python || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    echo "oldest-core: creating $venv ($OLDEST_CORE)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086  # one requirement per word
    "$venv/bin/pip" install -q "$OLDEST_CORE" $pins 2> >(grep -v "is ignored: it is neither" >&2)
    echo "$want" > "$stamp"
fi

scripts/stage-collection.sh
if [[ "${OLDEST_CORE_SANITY:-1}" != 0 ]]; then
    echo "oldest-core: ansible-test sanity of $("$venv/bin/ansible-test" --version)"
    # sanity.sh runs the first `python` and `ansible-test` on PATH.
    PATH=$PWD/$venv/bin:$PATH scripts/sanity.sh
fi
echo "oldest-core: unit tests of plugins/ on $("$venv/bin/python" -c 'import ansible; print("ansible-core", ansible.__version__)')"
# core_backports: what the tests (not the plugins) use of newer cores.
PYTHONPATH=$PWD/.build/collections:$PWD/tests PYTHONDONTWRITEBYTECODE=1 \
    "$venv/bin/python" -m pytest -p no:cacheprovider -p core_backports -q tests/unit/plugins "$@"
