# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a process's memory physically is, from /proc/<pid>/numa_maps.

Lets an operator see pages move after a nodeset change: numatune says where
memory should be, numa_maps says where it is.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

_NODE = re.compile(r'^N(\d+)=(\d+)$')
_PAGESIZE = re.compile(r'^kernelpagesize_kB=(\d+)$')


def bytes_per_node(numa_maps_text):
    """{node id (str): bytes} summed over every mapping in numa_maps text."""
    totals = {}
    for line in numa_maps_text.splitlines():
        fields = line.split()
        page_kib = 4
        counts = []
        for field in fields[2:]:
            node = _NODE.match(field)
            if node:
                counts.append((node.group(1), int(node.group(2))))
                continue
            size = _PAGESIZE.match(field)
            if size:
                page_kib = int(size.group(1))
        for node, pages in counts:
            totals[node] = totals.get(node, 0) + pages * page_kib * 1024
    return dict(sorted(totals.items(), key=lambda kv: int(kv[0])))


def qemu_pid(domain_name, run_dir='/run/libvirt/qemu'):
    """PID of a local QEMU domain from libvirt's pid file, or None."""
    try:
        with open(os.path.join(run_dir, '%s.pid' % domain_name)) as handle:
            return int(handle.read().strip())
    except (IOError, OSError, ValueError):
        return None


def domain_memory_by_node(domain_name, proc_root='/proc', run_dir='/run/libvirt/qemu'):
    """{node: bytes} for a running local QEMU domain, or None when it cannot be read."""
    pid = qemu_pid(domain_name, run_dir)
    if pid is None:
        return None
    try:
        with open(os.path.join(proc_root, str(pid), 'numa_maps')) as handle:
            return bytes_per_node(handle.read())
    except (IOError, OSError):
        return None
