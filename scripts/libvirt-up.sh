#!/usr/bin/env bash
# Starts virtlogd and libvirtd by hand when no daemon answers (no systemd here).
set -euo pipefail
uri=qemu:///system
answers() { virsh -c "$uri" version >/dev/null 2>&1; }
answers && exit 0
pgrep -x virtlogd >/dev/null || virtlogd -d
pgrep -x libvirtd >/dev/null || libvirtd -d
for _ in $(seq 60); do
    answers && exit 0
    sleep 0.5
done
echo "libvirt-up: libvirtd does not answer at $uri" >&2
exit 1
