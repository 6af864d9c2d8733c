#!/usr/bin/env bash
# Builds and caches a tiny Debian guest for real-guest tests and `make demo`.
#
#   scripts/build-guest-image.sh [--profiler] [--out DIR]
#
# Outputs (under DIR, default .cache/guest/ in the repository, git-ignored):
#   vmlinuz          the Debian kernel (from the package linux-image-amd64 depends on)
#   initrd.img       a busybox initrd: loads virtio/ext4 modules, mounts /dev/vda,
#                    mounts /proc /sys /dev there and switch_roots to the kernel's init=
#   rootfs/          debootstrap'd (mmdebstrap) bookworm minbase + python3 + qemu-guest-agent
#   base.img         raw ext4 image of rootfs/ plus /usr/local/sbin/intravm-guest-init
#   profiler.img     (--profiler) base plus the agent installed by the role
#                    adaptive.intravm.guest_profiler, applied offline to a copy of rootfs/
#   manifest.json    the paths above, for scripts and tests
# The last line printed is the manifest path. Each part is rebuilt only when its
# inputs change (a sha256 of them is kept next to it), and timings are printed.
#
# Boot it with libvirt direct kernel boot: kernel, initrd, cmdline
# "root=/dev/vda rw console=ttyS0 init=/usr/local/sbin/intravm-guest-init panic=-1",
# a raw virtio disk. The guest init reads intravm.* options from the cmdline
# (see scripts/guest/intravm_guest_init.py).
#
# Needs (Debian packages): mmdebstrap, busybox-static, e2fsprogs, cpio; root.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$repo/.cache/guest
profiler=0
while (($#)); do
    case $1 in
        --profiler) profiler=1 ;;
        --out) out=$2; shift ;;
        *) echo "usage: $0 [--profiler] [--out DIR]" >&2; exit 2 ;;
    esac
    shift
done
mkdir -p "$out"
suite=bookworm
# The Debian mirror the machine already uses (first deb.debian.org-style entry).
mirror=$(grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
         | awk '{print $2}' | head -n1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
# Bump when the recipe below changes in a way that needs a rebuild.
recipe=2
# virtio_balloon and virtio_console (the guest agent's port) stay loaded after switch_root.
modules=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk crc16 mbcache jbd2
         crc32c_generic ext4 virtio_balloon virtio_console)

t0=$(date +%s%N)
elapsed() { local ms=$((($(date +%s%N) - t0) / 1000000)); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }
log() { echo "build-guest-image: [$(elapsed)s] $*" >&2; }
stamp_ok() { [[ -e $1 && "$(cat "$1.sha256" 2>/dev/null)" == "$2" ]]; }

# ------------------------------------------------------------------ kernel
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
if [[ -z $kpkg ]]; then
    apt-get update -qq
    kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
fi
kver=${kpkg#linux-image-}
kkey=$(echo "$kpkg $(apt-cache policy "$kpkg" | awk '/Candidate/{print $2}') ${modules[*]} recipe=$recipe" | sha256sum | cut -d' ' -f1)
if ! stamp_ok "$out/initrd.img" "$kkey" || [[ ! -e $out/vmlinuz ]]; then
    log "kernel: fetching $kpkg"
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download "$kpkg" 2>/dev/null >/dev/null && dpkg -x ./*.deb x)
    cp "$tmp/x/boot/vmlinuz-$kver" "$out/vmlinuz"
    ird=$tmp/initrd
    mkdir -p "$ird"/{bin,dev,proc,sys,newroot,lib/modules}
    cp /bin/busybox "$ird/bin/busybox"
    for m in "${modules[@]}"; do
        f=$(find "$tmp/x/lib/modules/$kver" -name "$m.ko" | head -n1)
        [[ -n $f ]] || { echo "build-guest-image: module $m not in $kpkg" >&2; exit 1; }
        cp "$f" "$ird/lib/modules/"
    done
    cat > "$ird/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in ${modules[*]}; do insmod /lib/modules/\$m.ko 2>/dev/null; done
root=/dev/vda; init=/sbin/init
for arg in \$(cat /proc/cmdline); do
    case \$arg in root=*) root=\${arg#root=} ;; init=*) init=\${arg#init=} ;; esac
done
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -b "\$root" ] && break; sleep 0.2; done
mount -t ext4 -o rw "\$root" /newroot || { echo "initrd: cannot mount \$root"; exec sh; }
mount -t proc proc /newroot/proc; mount -t sysfs sys /newroot/sys; mount -t devtmpfs dev /newroot/dev
umount /proc /sys /dev
exec switch_root /newroot "\$init"
EOF
    chmod 755 "$ird/init"
    (cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1 > "$out/initrd.img")
    echo "$kkey" > "$out/initrd.img.sha256"
    rm -rf "$tmp"
    log "kernel $kver and initrd ready"
else
    log "kernel $kver and initrd cached"
fi

# ------------------------------------------------------------------ root filesystem
rkey=$(echo "$suite $mirror minbase python3 qemu-guest-agent recipe=$recipe" | sha256sum | cut -d' ' -f1)
if ! stamp_ok "$out/rootfs" "$rkey"; then
    log "rootfs: mmdebstrap $suite from $mirror"
    rm -rf "$out/rootfs" "$out/rootfs.sha256"
    # shellcheck disable=SC2016  # the hook is run by mmdebstrap, which passes "$1"
    mmdebstrap --quiet --variant=minbase --include=python3,qemu-guest-agent \
        --customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*' \
        "$suite" "$out/rootfs" "$mirror" >&2
    echo "$rkey" > "$out/rootfs.sha256"
    log "rootfs ready ($(du -sh "$out/rootfs" | cut -f1))"
else
    log "rootfs cached"
fi

# ------------------------------------------------------------------ images
init_src=$repo/scripts/guest/intravm_guest_init.py
make_image() {  # make_image DIR IMAGE
    # The guest's PID 1 (kernel init=): the Python file with the guest's interpreter as shebang.
    { echo '#!/usr/bin/python3'; cat "$init_src"; } > "$1/usr/local/sbin/intravm-guest-init"
    chmod 755 "$1/usr/local/sbin/intravm-guest-init"
    mkfs.ext4 -q -F -O ^has_journal -d "$1" "$2.tmp" 1G >/dev/null
    mv "$2.tmp" "$2"
}
bkey=$(cat "$out/rootfs.sha256" "$init_src" | sha256sum | cut -d' ' -f1)
if ! stamp_ok "$out/base.img" "$bkey"; then
    make_image "$out/rootfs" "$out/base.img"
    echo "$bkey" > "$out/base.img.sha256"
    log "base.img ready"
else
    log "base.img cached"
fi

if ((profiler)); then
    pkey=$( (cat "$out/rootfs.sha256" "$init_src" "$repo/plugins/module_utils/channel/shm_format.py";
             find "$repo/services/profiler" "$repo/roles/guest_profiler" -type f ! -name '*.pyc' -print0 | sort -z \
             | xargs -0 cat) | sha256sum | cut -d' ' -f1)
    if ! stamp_ok "$out/profiler.img" "$pkey"; then
        work=$out/profiler-root
        rm -rf "$work"
        cp -a "$out/rootfs" "$work"
        log "profiler: applying role adaptive.intravm.guest_profiler offline to $work"
        "$repo/scripts/bake-guest-profiler.sh" "$work" >&2
        make_image "$work" "$out/profiler.img"
        rm -rf "$work"
        echo "$pkey" > "$out/profiler.img.sha256"
        log "profiler.img ready"
    else
        log "profiler.img cached"
    fi
fi

python3 - "$out" "$kver" <<'EOF'
import json, os, sys
out, kver = sys.argv[1], sys.argv[2]
m = {'kernel': os.path.join(out, 'vmlinuz'), 'kernel_version': kver, 'initrd': os.path.join(out, 'initrd.img'),
     'rootfs': os.path.join(out, 'rootfs'), 'image': os.path.join(out, 'base.img'),
     'cmdline': 'root=/dev/vda rw console=ttyS0 init=/usr/local/sbin/intravm-guest-init panic=-1'}
if os.path.exists(os.path.join(out, 'profiler.img')):
    m['profiler_image'] = os.path.join(out, 'profiler.img')
with open(os.path.join(out, 'manifest.json'), 'w') as f:
    json.dump(m, f, indent=2, sort_keys=True)
EOF
log "done"
echo "$out/manifest.json"
