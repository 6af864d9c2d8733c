# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cost of vcpu_pin on a domain with many vCPUs: a no-op apply and a full re-pin.

Runs the module's own run() against libvirt's test:///default driver (a
domain with --vcpus vCPUs) and counts libvirt round-trips with a proxy. The
baseline in the same run is the naive apply: set every listed vCPU's pin
whether or not it changed. The no-op apply must not grow with the vCPUs.

    python benchmarks/placement_apply.py --vcpus 32 --repeat 20 [--json OUT]
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import sys
import time

import libvirt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests'))

from ansible_collections.adaptive.intravm.plugins.modules import vcpu_pin  # noqa: E402
from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset  # noqa: E402
import libvirt_harness  # noqa: E402
from module_stub import ModuleStub  # noqa: E402


class Counting(object):
    """Proxy counting every method call that reaches libvirt."""

    def __init__(self, target, counter):
        self._target = target
        self._counter = counter

    def __getattr__(self, name):
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            self._counter[0] += 1
            result = attr(*args, **kwargs)
            return Counting(result, self._counter) if isinstance(result, libvirt.virDomain) else result
        return call


def measure(fn, repeat):
    counter = [0]
    start = time.perf_counter()
    for dummy in range(repeat):  # noqa: B007
        fn(counter)
    elapsed = (time.perf_counter() - start) / repeat
    return elapsed * 1e3, counter[0] / float(repeat)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--vcpus', type=int, default=32)
    parser.add_argument('--repeat', type=int, default=20)
    parser.add_argument('--json')
    args = parser.parse_args()

    conn = libvirt.open(libvirt_harness.MULTI_NODE_URI)
    dom = libvirt_harness.create(conn, libvirt_harness.test_driver_xml('bench-pin', args.vcpus))
    host_cpus = conn.getCPUMap()[0]  # the test driver pins within its 8-CPU map
    layouts = [dict((str(v), str((v + shift) % host_cpus)) for v in range(args.vcpus)) for shift in (0, 1)]

    def module_apply(vcpus):
        def run(counter):
            params = dict(name='bench-pin', uri=libvirt_harness.MULTI_NODE_URI, vcpus=vcpus, emulator=None,
                          iothreads=None, live=True, config=False, reserved_cpus='')
            vcpu_pin.run(ModuleStub(params, conn=Counting(conn, counter)))
        return run

    def naive_apply(vcpus):
        def run(counter):
            d = Counting(conn, counter).lookupByName('bench-pin')
            for index, cpus in vcpus.items():
                d.pinVcpuFlags(int(index), cpuset.to_cpumap(cpuset.parse(cpus), host_cpus), 0)
        return run

    module_apply(layouts[0])([0])
    results = {'vcpus': args.vcpus}
    results['noop_ms'], results['noop_calls'] = measure(module_apply(layouts[0]), args.repeat)
    results['naive_noop_ms'], results['naive_noop_calls'] = measure(naive_apply(layouts[0]), args.repeat)

    flip = [0]

    def repin(counter):
        flip[0] ^= 1
        module_apply(layouts[flip[0]])(counter)
    results['repin_ms'], results['repin_calls'] = measure(repin, args.repeat)
    conn.close()

    print('vcpu_pin on a %d-vCPU domain (test:///default), mean of %d runs' % (args.vcpus, args.repeat))
    print('%-28s %10s %14s' % ('case', 'ms', 'libvirt calls'))
    for label, key in (('no-op apply (module)', 'noop'), ('no-op apply (naive baseline)', 'naive_noop'),
                       ('full re-pin (module)', 'repin')):
        print('%-28s %10.2f %14.1f' % (label, results[key + '_ms'], results[key + '_calls']))
    if args.json:
        with open(args.json, 'w') as handle:
            json.dump(results, handle, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
