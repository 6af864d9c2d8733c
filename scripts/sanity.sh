#!/usr/bin/env bash
# ansible-test sanity, in ansible-test's own venvs (no docker), on a real copy of the
# tracked and unignored files (ansible-test resolves symlinks and lists files through
# git, so it gets a small git repository of its own). Arguments pass to ansible-test,
# e.g. `scripts/sanity.sh plugins/modules/vcpu_pin.py` or `--test pep8`.
# It runs the first `ansible-test` and `python` on PATH: scripts/oldest-core.sh puts the
# venv of the oldest ansible-core we claim first.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d "$PWD/.build/sanity.XXXXXX")
trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/adaptive/intravm
mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard | rsync -a --from0 --files-from=- ./ "$dest/"
# ansible-test --venv downloads get-pip.py from a host we cannot reach; seed its
# cache with our stand-in for the pip version it asks for.
pip_version=$(python -c 'from types import SimpleNamespace as N; from ansible_test._internal.python_requirements import get_venv_packages as g; print(g(N(version="3.11"))["pip"])')
cache=~/.ansible/test/cache
mkdir -p "$cache"
cp scripts/sanity/get_pip.py "$cache/get_pip_${pip_version//./_}.py"
cd "$dest"
git init -q && git add -A && git -c user.name=sanity -c user.email=sanity@localhost commit -qm sanity
# The machine's pip configuration names local indexes that do not exist; drop pip's chatter.
ansible-test sanity --venv --python 3.11 --color no "$@" 2>&1 \
    | grep -v -e 'is ignored: it is neither a file nor a directory' -e '^Looking in ' -e '^ *Downloading ' -e '^Collecting '
