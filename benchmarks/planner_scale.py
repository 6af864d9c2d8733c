#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long one planning cycle takes on a big host.

    python benchmarks/planner_scale.py --cpus 256 --vms 400 [--vcpus-per-vm 4] [--placement vcpu|pool|both] [--json OUT]

Host: --cpus CPUs in 2 NUMA nodes, 2 SMT threads per core, one L3 group per 16
CPUs. VMs start floating; a first cycle pins them all (timed as place_ms), then
a seeded new set of forecasts with hotspots is planned from those pins
(plan_ms, the steady-state cycle; median of --repeats). For comparison the same
cycle is timed on a host a quarter of the size in the same run, so a
regression in scaling shows up as a ratio, not only as an absolute number.
Target: plan_ms <= 50 for 256 CPUs / 400 VMs / 1,600 vCPUs, for both placements
(policy placement: vcpu pins each vCPU; pool gives each VM a node's CPU pool).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), '.build', 'collections'))

from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.adaptive.intravm.plugins.module_utils.plan.planner import plan  # noqa: E402  pylint: disable=wrong-import-position

TARGET_MS = 50.0


def host(n_cpus, nodes=2, threads=2, l3=16):
    cores = n_cpus // threads
    cpus = []
    for cpu in range(n_cpus):
        core = cpu % cores
        cpus.append({'id': cpu, 'node': core * nodes // cores, 'core_id': core,
                     'siblings': cpuset.format(core + t * cores for t in range(threads))})
    per_node = dict((n, [c['id'] for c in cpus if c['node'] == n]) for n in range(nodes))
    caches = []
    for n in range(nodes):
        node_cores = sorted(set(c % cores for c in per_node[n]))
        step = l3 // threads
        for i in range(0, len(node_cores), step):
            group = [c + t * cores for c in node_cores[i:i + step] for t in range(threads)]
            caches.append({'id': len(caches), 'level': 3, 'type': 'both', 'size_bytes': 32 << 20,
                           'cpus': cpuset.format(group)})
    nodes_out = [{'id': n, 'cpus': cpuset.format(per_node[n]), 'memory_bytes': 1 << 38,
                  'distances': dict((m, 10 if m == n else 21) for m in range(nodes))} for n in range(nodes)]
    return {'cpus': cpus, 'nodes': nodes_out, 'caches': caches, 'cpus_online': '0-%d' % (n_cpus - 1)}


def forecasts(rng, n_vms, vcpus, mean):
    out = {}
    for v in range(n_vms):
        hot = rng.random() < 0.15
        per = {}
        for i in range(vcpus):
            p90 = min(1.0, rng.expovariate(1.0 / (mean * (3 if hot else 1))))
            per[str(i)] = {'p50': [p90 * 0.6, p90 * 0.6], 'p90': [p90 * 0.9, p90]}
        out['vm%04d' % v] = {'vcpus': vcpus, 'model': 'synthetic', 'horizons_s': [60, 300], 'vcpu': per}
    return out


def measure(n_cpus, n_vms, vcpus, repeats, seed, policy):
    rng = random.Random(seed)
    topo = host(n_cpus)
    mean = 0.85 * n_cpus / float(n_vms * vcpus)  # about 85 % of the host busy on average
    floating = dict(('vm%04d' % v, {'vcpus': dict((str(i), topo['cpus_online']) for i in range(vcpus)),
                                    'emulator': topo['cpus_online'], 'iothreads': {}}) for v in range(n_vms))
    first = forecasts(rng, n_vms, vcpus, mean)
    t0 = time.perf_counter()
    placed = plan(topo, floating, first, policy)
    place_ms = (time.perf_counter() - t0) * 1000
    current = dict((n, {'vcpus': a['vcpus'], 'emulator': a['emulator'], 'iothreads': {}, 'numatune': a['numa']})
                   for n, a in placed['allocations'].items())
    times, moves, hot = [], 0, 0
    for r in range(repeats):
        fc = forecasts(random.Random(seed * 1000 + r), n_vms, vcpus, mean)
        t0 = time.perf_counter()
        result = plan(topo, current, fc, policy)
        times.append((time.perf_counter() - t0) * 1000)
        moves = len(result['moves'])
        hot = len(result['hotspots'])
    times.sort()
    return {'cpus': n_cpus, 'vms': n_vms, 'vcpus': n_vms * vcpus, 'place_ms': round(place_ms, 2),
            'plan_ms': round(times[len(times) // 2], 2), 'plan_ms_max': round(times[-1], 2),
            'hotspots': hot, 'moves': moves}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--cpus', type=int, default=256)
    p.add_argument('--vms', type=int, default=400)
    p.add_argument('--vcpus-per-vm', type=int, default=4)
    p.add_argument('--max-moves', type=int, default=32)
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--smt-share', action='store_true', help='let SMT siblings run different VMs (policy smt_share_across_vms)')
    p.add_argument('--placement', choices=('vcpu', 'pool', 'both'), default='both',
                   help='the planner policy placement to time: per vCPU, node pools, or both (default) side by side')
    p.add_argument('--json', dest='json_out')
    args = p.parse_args(argv)
    out = {}
    for placement in (('vcpu', 'pool') if args.placement == 'both' else (args.placement,)):
        policy = {'max_moves': args.max_moves, 'smt_share_across_vms': args.smt_share, 'placement': placement}
        big = measure(args.cpus, args.vms, args.vcpus_per_vm, args.repeats, args.seed, policy)
        small = measure(max(16, args.cpus // 4), max(1, args.vms // 4), args.vcpus_per_vm, args.repeats, args.seed, policy)
        for r in (small, big):
            print('%-4s %4d CPUs %4d VMs %5d vCPUs: place %8.1f ms  plan %7.1f ms (max %.1f)  hotspots %d  moves %d'
                  % (placement, r['cpus'], r['vms'], r['vcpus'], r['place_ms'], r['plan_ms'], r['plan_ms_max'], r['hotspots'],
                     r['moves']))
        ratio = big['plan_ms'] / max(small['plan_ms'], 1e-9)
        print('%-4s 4x host costs %.1fx the time of the small one; plan_ms %.1f vs target %.0f ms: %s'
              % (placement, ratio, big['plan_ms'], TARGET_MS, 'MET' if big['plan_ms'] <= TARGET_MS else 'MISSED'))
        out[placement] = {'plan_ms': big['plan_ms'], 'place_ms': big['place_ms'], 'target_ms': TARGET_MS,
                          'met': big['plan_ms'] <= TARGET_MS, 'large': big, 'small': small, 'scaling_ratio': round(ratio, 2)}
    if args.json_out:
        first = out.get('vcpu') or out['pool']
        with open(args.json_out, 'w') as handle:
            json.dump(dict(first, placements=out), handle, indent=1, sort_keys=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
