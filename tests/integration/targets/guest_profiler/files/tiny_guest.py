# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Boot the tiny Debian guest under the real libvirtd and read its profiler ring.

    python tiny_guest.py define NAME --manifest M --workdir D [--vcpus 2] [--cmdline-extra '...']
    python tiny_guest.py start NAME
    python tiny_guest.py read NAME --shm SHM --seconds S     # JSON summary on stdout
    python tiny_guest.py destroy NAME --workdir D [--shm SHM]

The disk is a sparse copy of the baked image, so a run never changes the cache.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import libvirt

from ansible_collections.adaptive.intravm.plugins.module_utils.shm_reader import RingReader

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
URI = 'qemu:///system'


def virt_type():
    for mod in ('kvm_intel', 'kvm_amd'):
        if os.path.exists('/sys/module/%s' % mod):
            return 'kvm'
    return 'qemu'


def define(args):
    with open(args.manifest) as handle:
        man = json.load(handle)
    os.makedirs(args.workdir, exist_ok=True)
    os.chmod(args.workdir, 0o755)
    disk = os.path.join(args.workdir, 'disk.img')
    subprocess.run(['cp', '--sparse=always', man['profiler_image'], disk], check=True)
    for part in ('kernel', 'initrd'):
        shutil.copy(man[part], os.path.join(args.workdir, part))
    xml = """<domain type='{vt}'>
  <name>{name}</name>
  <memory unit='MiB'>{mem}</memory>
  <vcpu placement='static'>{vcpus}</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{wd}/kernel</kernel><initrd>{wd}/initrd</initrd>
    <cmdline>{cmdline} {extra}</cmdline></os>
  <on_poweroff>destroy</on_poweroff>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='raw' cache='unsafe'/>
      <source file='{wd}/disk.img'/><target dev='vda' bus='virtio'/></disk>
    <serial type='file'><source path='{wd}/console.log'/><target port='0'/></serial>
    <video><model type='none'/></video>
    <memballoon model='none'/>
  </devices>
</domain>""".format(vt=virt_type(), name=args.name, mem=args.memory_mib, vcpus=args.vcpus, wd=args.workdir,
                    cmdline=man['cmdline'], extra=args.cmdline_extra)
    conn = libvirt.open(URI)
    conn.defineXML(xml)
    conn.close()


def start(args):
    conn = libvirt.open(URI)
    conn.lookupByName(args.name).create()
    conn.close()


def read(args):
    """Poll the ring for --seconds; print what arrived as a JSON summary."""
    reader = RingReader(args.shm)
    samples = []
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        samples.extend(reader.poll())
        if len(samples) >= args.enough:
            break
        time.sleep(0.5)
    last = samples[-1].metrics if samples else {}
    busiest = {}
    for sample in samples:
        for key, value in sample.metrics.items():
            if key.startswith('vcpu.') and key.endswith('.busy'):
                busiest[key] = max(busiest.get(key, 0.0), value)
    seqs = [s.seq for s in samples]
    json.dump({
        'samples': len(samples),
        'seqs_increasing': all(b > a for a, b in zip(seqs, seqs[1:])),
        'boot_ids': sorted(set(s.boot_id for s in samples)),
        'vcpus': last.get('vcpus'),
        'last': last,
        'max_busy': busiest,
        'stats': reader.stats,
        'last_rejection': repr(reader.last_rejection),
    }, sys.stdout, sort_keys=True)


def destroy(args):
    conn = libvirt.open(URI)
    try:
        dom = conn.lookupByName(args.name)
        if dom.isActive():
            dom.destroy()
        dom.undefine()
    except libvirt.libvirtError:
        pass
    conn.close()
    if args.workdir:
        shutil.rmtree(args.workdir, ignore_errors=True)
    if args.shm and os.path.exists('/dev/shm/' + args.shm):
        os.unlink('/dev/shm/' + args.shm)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('action', choices=['define', 'start', 'read', 'destroy'])
    parser.add_argument('name')
    parser.add_argument('--manifest')
    parser.add_argument('--workdir')
    parser.add_argument('--vcpus', type=int, default=2)
    parser.add_argument('--memory-mib', type=int, default=256)
    parser.add_argument('--cmdline-extra', default='')
    parser.add_argument('--shm')
    parser.add_argument('--seconds', type=float, default=60)
    parser.add_argument('--enough', type=int, default=1000000)
    args = parser.parse_args()
    if args.action == 'read':
        args.shm = '/dev/shm/' + args.shm
    {'define': define, 'start': start, 'read': read, 'destroy': destroy}[args.action](args)


if __name__ == '__main__':
    main()
