#!/usr/bin/env bash
# Applies the role adaptive.intravm.guest_profiler to an unpacked guest root
# filesystem, offline:  scripts/bake-guest-profiler.sh ROOTFS [ansible-playbook args...]
# With community.general installed it goes through a chroot connection (modules
# run by the image's own Python); otherwise from the controller with
# guest_profiler_root=ROOTFS. Either way the unit is enabled, not started.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "${1:?usage: $0 ROOTFS [ansible-playbook args...]}" && pwd)
shift
export PATH=$repo/.venv/bin:$PATH
export ANSIBLE_COLLECTIONS_PATH=$repo/.build/collections ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=0
export ANSIBLE_INVENTORY_UNPARSED_WARNING=0 ANSIBLE_RETRY_FILES_ENABLED=0
play=$(mktemp --suffix=.yml)
trap 'rm -f "$play"' EXIT
printf -- '- hosts: all\n  gather_facts: false\n  roles:\n    - adaptive.intravm.guest_profiler\n' > "$play"
if python -c "import ansible_collections.community.general.plugins.connection.chroot" 2>/dev/null; then
    echo "bake-guest-profiler: chroot connection into $root"
    ansible-playbook "$play" -i "$root," -c community.general.chroot \
        -e ansible_python_interpreter=/usr/bin/python3 "$@"
else
    echo "bake-guest-profiler: community.general.chroot not installed; guest_profiler_root=$root from the controller"
    ansible-playbook "$play" -i localhost, -c local \
        -e "{\"ansible_python_interpreter\": \"$repo/.venv/bin/python\", \"guest_profiler_root\": \"$root\"}" "$@"
fi
