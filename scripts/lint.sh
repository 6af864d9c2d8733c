#!/usr/bin/env bash
# ansible-lint over playbooks, roles and integration targets (production profile).
set -euo pipefail
cd "$(dirname "$0")/.."
# ansible-lint resolves our own collection through ANSIBLE_COLLECTIONS_PATH (set by the Makefile).
ansible-lint --offline --nocolor --profile production "$@"
