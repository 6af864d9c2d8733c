#!/usr/bin/env bash
# Everything `make demo` and `make test` need on a fresh Debian 12 machine (as root):
# Debian packages, the pinned .venv, the staged collection tree, and running
# libvirt daemons. Each step checks first, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils libvirt-dev
              pkg-config gcc python3-venv python3-dev rsync shellcheck openjdk-17-jre-headless
              mmdebstrap busybox-static e2fsprogs cpio prometheus)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The venv is rebuilt only when the requirement files change.
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [[ ! -x .venv/bin/python || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    echo "setup: creating .venv"
    python3 -m venv .venv
    .venv/bin/pip install -q --upgrade pip 2> >(grep -v "is ignored: it is neither" >&2)
    .venv/bin/pip install -q -r requirements-dev.txt 2> >(grep -v "is ignored: it is neither" >&2)
    echo "$want" > "$stamp"
fi

scripts/stage-collection.sh
scripts/libvirt-up.sh
