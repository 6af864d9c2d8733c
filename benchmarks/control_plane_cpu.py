# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How much a busy control plane delays a guest-like task in another cgroup, per way of running it.

    python benchmarks/control_plane_cpu.py [--seconds 8] [--json OUT]     (root; cgroupfs)

A "vCPU" process (busy 60 ms of every 100 ms, pinned to CPU 0) runs in a child
cgroup of the cpu hierarchy, as libvirt puts vCPU threads in machine/...; a
busy loop on the same CPU stands for the control plane, run four ways: not at
all (baseline), at nice 19 and as SCHED_IDLE in the root cgroup, and in a
cgroup with cpu.idle=1 (scripts/control_cgroup.py; systemd's CPUWeight=idle).
Prints the vCPU's run delay (time runnable but waiting, /proc/PID/schedstat)
per way; writes {"seconds", "run_delay_s": {way: s}}.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

from ansible_collections.adaptive.intravm.scripts import control_cgroup  # noqa: E402  pylint: disable=wrong-import-position

VCPU = r'''
import os, sys, time
os.sched_setaffinity(0, {0})
end = time.time() + float(sys.argv[1])
while time.time() < end:
    t = time.time()
    while time.time() - t < 0.06:
        pass
    time.sleep(max(0.0, 0.1 - (time.time() - t)))
print(int(open('/proc/self/schedstat').read().split()[1]))
'''
BUSY = 'import os, time\nos.sched_setaffinity(0, {0})\nend = time.time() + %f\nwhile time.time() < end:\n    pass\n'


def _in_cgroup(path):
    """preexec_fn: the child joins cgroup `path` before it execs."""
    return lambda: control_cgroup.join(path, os.getpid())


def measure(seconds, way, guest_cg, idle_cg):
    vcpu = subprocess.Popen([sys.executable, '-c', VCPU, str(seconds)], stdout=subprocess.PIPE,
                            universal_newlines=True, preexec_fn=_in_cgroup(guest_cg))
    busy = None
    code = BUSY % (seconds + 0.5)
    if way == 'nice19_root':
        busy = subprocess.Popen(['nice', '-n', '19', sys.executable, '-c', code])
    elif way == 'sched_idle_root':
        busy = subprocess.Popen(['chrt', '--idle', '0', sys.executable, '-c', code])
    elif way == 'idle_cgroup':
        busy = subprocess.Popen([sys.executable, '-c', code], preexec_fn=_in_cgroup(idle_cg))
    out = vcpu.communicate()[0]
    if busy is not None:
        busy.wait()
    return int(out.strip()) / 1e9


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--seconds', type=float, default=8.0)
    ap.add_argument('--json')
    args = ap.parse_args(argv)
    base, _version = control_cgroup.cpu_hierarchy()
    if base is None:
        sys.exit('control_plane_cpu: no cgroup hierarchy with the cpu controller (needs root and cgroupfs)')
    guest_cg = os.path.join(base, 'intravm-bench-guest')
    try:
        if not os.path.isdir(guest_cg):
            os.mkdir(guest_cg)
        _base, idle_cg, knob = control_cgroup.make_idle('intravm-bench-control')
    except OSError as exc:
        sys.exit('control_plane_cpu: cannot make its cgroups under %s (needs root and a writable cgroupfs): %s' % (base, exc))
    results = {}
    try:
        for way in ('none', 'nice19_root', 'sched_idle_root', 'idle_cgroup'):
            results[way] = measure(args.seconds, way, guest_cg, idle_cg)
            print('%-16s vCPU run delay %6.3f s in %g s' % (way, results[way], args.seconds))
            time.sleep(0.5)
    finally:
        for path in (guest_cg, idle_cg):
            try:
                os.rmdir(path)
            except OSError:
                pass
    print('idle cgroup: %s' % knob)
    if args.json:
        with open(args.json, 'w') as handle:
            json.dump({'seconds': args.seconds, 'run_delay_s': results}, handle, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
