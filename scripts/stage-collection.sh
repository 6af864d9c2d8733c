#!/usr/bin/env bash
# Lays the collection out as ansible_collections/adaptive/intravm, the layout that
# ansible-playbook, ansible-doc and Python imports need:
# .build/collections/ansible_collections/adaptive/intravm is a symlink to this
# checkout, so edits show at once.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .build/collections/ansible_collections/adaptive
ln -sfn "$PWD" .build/collections/ansible_collections/adaptive/intravm
