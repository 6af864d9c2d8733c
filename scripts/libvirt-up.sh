#!/usr/bin/env bash
# Starts virtlogd and libvirtd by hand when no daemon answers (no systemd here).
set -euo pipefail
uri=qemu:///system

# What udev's Debian rule (KERNEL=="kvm", GROUP="kvm", MODE="0660") does on a normal
# host. Without it libvirtd finds KVM when it probes QEMU as root but not when it checks
# as libvirt-qemu, throws its capabilities cache away and re-probes QEMU on every call
# (a minimal `virsh define` took 32 s instead of 0.02 s). Guests stay TCG either way.
if [[ -c /dev/kvm ]] && getent group kvm >/dev/null; then
    was=$(stat -c '%a %U:%G' /dev/kvm)
    if [[ "$was" != "660 root:kvm" ]]; then
        chown root:kvm /dev/kvm && chmod 0660 /dev/kvm
        echo "libvirt-up: /dev/kvm was $was;" \
             "set to 0660 root:kvm as udev would (else libvirtd re-probes QEMU on every call)"
    fi
fi

answers() { virsh -c "$uri" version >/dev/null 2>&1; }
# A daemon killed a moment ago stays a zombie until init reaps it: it does not count.
running() {
    local pid
    for pid in $(pgrep -x "$1"); do
        [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" =~ ^[RSDI]$ ]] && return 0
    done
    return 1
}
answers && exit 0
running virtlogd || virtlogd -d
running libvirtd || libvirtd -d
for _ in $(seq 60); do
    answers && exit 0
    sleep 0.5
done
echo "libvirt-up: libvirtd does not answer at $uri" >&2
exit 1
