# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Boot the tiny Debian guest under the real libvirtd and read its profiler ring.

    python tiny_guest.py define NAME --manifest M --workdir D [--vcpus 2] [--cmdline-extra '...']
                                [--max-vcpus M] [--balloon-period S] [--agent]
    python tiny_guest.py start NAME
    python tiny_guest.py wait-agent NAME --seconds S   # until the guest agent answers; JSON on stdout
    python tiny_guest.py read NAME --shm SHM --seconds S     # JSON summary on stdout
    python tiny_guest.py save-restore NAME --shm SHM --workdir D --seconds S   # JSON summary on stdout
    python tiny_guest.py destroy NAME --workdir D [--shm SHM]

The domain handling lives in scripts/guests.py (shared with `make demo`).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import sys
import time

import libvirt

from ansible_collections.adaptive.intravm.plugins.module_utils.channel.shm_reader import RingReader
from ansible_collections.adaptive.intravm.scripts import guests

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
URI = guests.URI


def define(args):
    conn = libvirt.open(URI)
    guests.define(conn, args.name, guests.load_manifest(args.manifest), args.workdir, args.vcpus, args.memory_mib,
                  args.cmdline_extra, max_vcpus=args.max_vcpus, balloon_period=args.balloon_period, agent=args.agent)
    conn.close()


def wait_agent(args):
    """Wait until the guest agent answers (the guest has booted); print its vCPUs and the balloon's statistics."""
    conn = libvirt.open(URI)
    guests.wait_for_agents(conn, [args.name], args.seconds)
    dom = conn.lookupByName(args.name)
    json.dump({'vcpus': dom.guestVcpus(), 'memory_stats': dom.memoryStats()}, sys.stdout, sort_keys=True)
    conn.close()


def start(args):
    conn = libvirt.open(URI)
    guests.start(conn, args.name)
    conn.close()


def read(args):
    """Poll the ring for --seconds; print what arrived as a JSON summary."""
    reader = RingReader(args.shm)
    samples = guests.poll_until(reader, args.enough, args.seconds)
    last = dict(samples[-1].metrics) if samples else {}
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


def save_restore(args):
    """Read a few samples, `virsh save` the running guest, restore it, and read on with the same reader.

    The channel is migratable (role='master'), so the guest goes on writing its ring
    where it was: the reader sees the same boot and the sequence going on, nothing refused.
    """
    conn = libvirt.open(URI)
    dom = conn.lookupByName(args.name)
    reader = RingReader(args.shm)
    before = guests.poll_until(reader, 3, args.seconds)
    image = '%s/%s.save' % (args.workdir, args.name)
    started = time.monotonic()
    dom.save(image)
    saved = time.monotonic()
    conn.restore(image)
    restored = time.monotonic()
    after = guests.poll_until(reader, 3, args.seconds)
    conn.close()
    refused = dict((k, v) for k, v in reader.stats.items()
                   if v and k not in ('accepted', 'overruns', 'reboots', 'polls', 'empty', 'region_missing'))
    json.dump({
        'before': [s.seq for s in before], 'after': [s.seq for s in after],
        'boot_ids': sorted(set(s.boot_id for s in before + after)),
        'save_s': round(saved - started, 2), 'restore_s': round(restored - saved, 2),
        'reboots': reader.stats['reboots'], 'refused': refused,
    }, sys.stdout, sort_keys=True)


def destroy(args):
    conn = libvirt.open(URI)
    guests.destroy(conn, args.name, args.workdir, args.shm)
    conn.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('action', choices=['define', 'start', 'wait-agent', 'read', 'save-restore', 'destroy'])
    parser.add_argument('name')
    parser.add_argument('--manifest')
    parser.add_argument('--workdir')
    parser.add_argument('--vcpus', type=int, default=2)
    parser.add_argument('--memory-mib', type=int, default=256)
    parser.add_argument('--cmdline-extra', default='')
    parser.add_argument('--max-vcpus', type=int)
    parser.add_argument('--balloon-period', type=int)
    parser.add_argument('--agent', action='store_true')
    parser.add_argument('--shm')
    parser.add_argument('--seconds', type=float, default=60)
    parser.add_argument('--enough', type=int, default=1000000)
    args = parser.parse_args()
    if args.action in ('read', 'save-restore'):
        args.shm = '/dev/shm/' + args.shm
    {'define': define, 'start': start, 'wait-agent': wait_agent, 'read': read, 'save-restore': save_restore, 'destroy': destroy}[args.action](args)


if __name__ == '__main__':
    main()
