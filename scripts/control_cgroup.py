# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Put the demo's control plane (the predictor, ansible-playbook) in an idle CPU cgroup.

libvirt runs the guests' vCPU threads in their own cgroups (machine/...). A
SCHED_IDLE or nice-19 task outside them is idle only among its own siblings:
measured on this host, a SCHED_IDLE busy loop in the root cgroup gave a
duty-cycled task in machine/ 2.5 s of run delay in 8 s; the same loop in a
cgroup with cpu.idle=1 gave 0.02 s. So the control plane takes a cgroup that
is idle at the level where it meets the guests' cgroups (what systemd's
CPUWeight=idle sets for the host_predictor service). The demo process itself,
which samples the guests once a second and must keep time, stays outside:
starved in that cgroup, its samples (and so its blocks) fell behind the
guests' clock on a saturated host.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os


def cpu_hierarchy(root='/sys/fs/cgroup'):
    """(directory, version) of the hierarchy with the cpu controller, or (None, None)."""
    if os.path.exists(os.path.join(root, 'cgroup.controllers')):
        return root, 2
    for name in ('cpu', 'cpu,cpuacct'):
        path = os.path.join(root, name)
        if os.path.exists(os.path.join(path, 'cpu.shares')):
            return path, 1
    return None, None


def _write(path, value):
    with open(path, 'w') as handle:
        handle.write(value)


def join(path, pid):
    """Move process pid into the cgroup directory path."""
    _write(os.path.join(path, 'cgroup.procs'), str(pid))


def make_idle(name='intravm-control', root='/sys/fs/cgroup'):
    """Create (or reuse) cgroup NAME next to the guests' with the lowest CPU claim.

    Returns (hierarchy, path, knob); knob names the setting written. Raises
    OSError when cgroups cannot be written here.
    """
    base, version = cpu_hierarchy(root)
    if base is None:
        raise OSError(errno.ENOENT, 'no cgroup hierarchy with the cpu controller under %s' % root)
    if version == 2:
        try:
            _write(os.path.join(base, 'cgroup.subtree_control'), '+cpu')
        except OSError:
            pass  # already enabled, or not allowed: the knob below then fails clearly
    path = os.path.join(base, name)
    if not os.path.isdir(path):
        os.mkdir(path)
    if os.path.exists(os.path.join(path, 'cpu.idle')):
        _write(os.path.join(path, 'cpu.idle'), '1')
        how = 'cpu.idle=1'
    elif version == 2:
        _write(os.path.join(path, 'cpu.weight'), '1')
        how = 'cpu.weight=1'
    else:
        _write(os.path.join(path, 'cpu.shares'), '2')
        how = 'cpu.shares=2'
    return base, path, how


def spawn_in(path):
    """A Popen preexec_fn: the new child joins cgroup path before it runs its program (so do its children)."""
    def preexec():
        join(path, os.getpid())
    return preexec


def remove(path):
    """Remove the cgroup once empty; one that still holds a task is left (it is harmless)."""
    try:
        os.rmdir(path)
    except OSError:
        pass
