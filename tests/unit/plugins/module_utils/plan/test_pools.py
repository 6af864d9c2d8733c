# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""placement: pool: each VM floats over one node's shared CPUs; nodes change before a forecast peak, when it pays."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset
from ansible_collections.adaptive.intravm.plugins.module_utils.plan.planner import PlannerConflictError, PlannerInputError, plan

POOL = {'placement': 'pool'}


def topo(nodes=2, cpus_per_node=4):
    """nodes x cpus_per_node CPUs, no SMT, distance 21 between nodes."""
    cpus = [{'id': n * cpus_per_node + c, 'node': n, 'core_id': c, 'siblings': str(n * cpus_per_node + c)}
            for n in range(nodes) for c in range(cpus_per_node)]
    ns = [{'id': n, 'cpus': '%d-%d' % (n * cpus_per_node, (n + 1) * cpus_per_node - 1), 'memory_bytes': 1 << 34,
           'distances': dict((m, 10 if m == n else 21) for m in range(nodes))} for n in range(nodes)]
    return {'cpus': cpus, 'nodes': ns, 'caches': [], 'cpus_online': '0-%d' % (nodes * cpus_per_node - 1)}


def on(text, n_vcpus, node=None):
    cur = {'vcpus': dict((str(i), text) for i in range(n_vcpus)), 'emulator': text, 'iothreads': {}}
    if node is not None:
        cur['numatune'] = {'mode': 'strict', 'nodeset': str(node)}
    return cur


def peak(n_vcpus, p90, p50=None):
    """A VM whose every vCPU is forecast to peak at p90 of a CPU over the coming hour."""
    p50 = p90 if p50 is None else p50
    return {'horizons_s': [300], 'vcpus': n_vcpus, 'cpu_peak': {
        'windows_s': [3600], 'p50': [p50], 'p90': [p90],
        'vcpu': dict((str(i), {'p50': [p50], 'p90': [p90]}) for i in range(n_vcpus))}}


def test_floating_vms_get_one_node_each_with_its_shared_cpus_and_memory():
    r = plan(topo(), {'a': on('0-7', 2), 'b': on('0-7', 2)}, {'a': peak(2, 0.9), 'b': peak(2, 0.9)}, POOL)
    nodes = dict((n, r['allocations'][n]['numa']['nodeset']) for n in 'ab')
    assert sorted(nodes.values()) == ['0', '1']            # 1.8 CPUs each: both fit one node, spread for room
    for name in 'ab':
        alloc = r['allocations'][name]
        pool = '0-3' if nodes[name] == '0' else '4-7'
        assert alloc['vcpus'] == {'0': pool, '1': pool} and alloc['emulator'] == pool
        assert alloc['numa'] == {'mode': 'strict', 'nodeset': nodes[name]}
    assert [m['kind'] for m in r['moves']] == ['placement', 'placement']
    assert len(r['plan']['vcpu_pin']) == 2 and len(r['plan']['numa_memory']) == 2


def test_a_settled_host_is_left_alone():
    cur = {'a': on('0-3', 2, 0), 'b': on('4-7', 2, 1)}
    r = plan(topo(), cur, {'a': peak(2, 0.9), 'b': peak(2, 0.9)}, POOL)
    assert r['moves'] == [] and r['plan']['vcpu_pin'] == [] and r['plan']['numa_memory'] == []


def test_a_node_forecast_to_peak_over_its_cpus_sends_a_vm_away_before_the_peak():
    cur = {'a': on('0-3', 2, 0), 'b': on('0-3', 2, 0), 'c': on('0-3', 2, 0), 'd': on('4-7', 1, 1)}
    fc = {'a': peak(2, 0.9), 'b': peak(2, 0.8), 'c': peak(2, 0.7), 'd': peak(1, 0.5)}   # node 0: 4.8 of 4 CPUs
    r = plan(topo(), cur, fc, POOL)
    node_moves = [m for m in r['moves'] if m['kind'] == 'node']
    assert len(node_moves) == 1 and node_moves[0]['from'] == '0' and node_moves[0]['to'] == '1'
    moved = node_moves[0]['vm']
    assert r['allocations'][moved]['vcpus'] == {'0': '4-7', '1': '4-7'}
    assert r['allocations'][moved]['numa']['nodeset'] == '1'
    assert [e['name'] for e in r['plan']['vcpu_pin']] == [moved]
    assert r['hotspots'] == [{'node': 0, 'load_before': 4.8, 'load_after': round(4.8 - 2 * {'a': .9, 'b': .8, 'c': .7}[moved], 4)}]


def test_no_move_when_the_relief_does_not_beat_moving_the_memory():
    cur = {'a': on('0-3', 2, 0), 'b': on('0-3', 3, 0), 'd': on('4-7', 1, 1)}
    fc = {'a': peak(2, 0.51), 'b': peak(3, 1.0), 'd': peak(1, 0.5)}                       # node 0: 4.02 of 4
    assert [m for m in plan(topo(), cur, fc, POOL)['moves'] if m['kind'] == 'node'] == []
    fc['a'] = peak(2, 0.8)                                                               # 4.6 of 4: worth it
    assert [m['vm'] for m in plan(topo(), cur, fc, POOL)['moves'] if m['kind'] == 'node'] == ['a']


def test_max_moves_bounds_node_moves():
    cur = dict(('v%d' % i, on('0-3', 2, 0)) for i in range(4))
    fc = dict(('v%d' % i, peak(2, 0.9)) for i in range(4))                                # node 0: 7.2 of 4
    assert len([m for m in plan(topo(), cur, fc, dict(POOL, max_moves=1))['moves'] if m['kind'] == 'node']) == 1
    assert len([m for m in plan(topo(), cur, fc, dict(POOL, max_moves=8))['moves'] if m['kind'] == 'node']) == 2


def test_a_vm_that_cannot_fit_one_node_spans_the_nearest_with_interleaved_memory():
    r = plan(topo(), {'big': on('0-7', 6)}, {'big': peak(6, 0.9)}, POOL)                 # 5.4 CPUs > 4 per node
    alloc = r['allocations']['big']
    assert alloc['vcpus']['0'] == '0-7' and alloc['numa'] == {'mode': 'interleave', 'nodeset': '0-1'}
    spanned = dict(on('0-7', 6), numatune={'mode': 'interleave', 'nodeset': '0-1'})
    again = plan(topo(), {'big': spanned}, {'big': peak(6, 0.9)}, POOL)
    assert again['moves'] == [] and again['plan']['vcpu_pin'] == []                     # a needed span stays


def test_a_span_comes_home_only_when_the_remote_share_won_back_pays_for_the_move():
    """The second probe of pools (issue 25): a VM at 4.1, 3.9, 4.1 ... CPUs on 4-CPU nodes flipped every plan."""
    spanned = {'big': dict(on('0-7', 5), numatune={'mode': 'interleave', 'nodeset': '0-1'})}
    short = plan(topo(), spanned, {'big': peak(5, 3.9 / 5)}, dict(POOL, lookahead_s=300))
    assert short['moves'] == [] and short['allocations']['big']['numa']['nodeset'] == '0-1'   # 5 min: not worth it
    long = plan(topo(), spanned, {'big': peak(5, 3.9 / 5)}, dict(POOL, lookahead_s=3600))
    assert [(m['kind'], m['from'], m['to']) for m in long['moves']] == [('node', '0-1', '0')]  # an hour: it pays
    assert long['allocations']['big']['numa'] == {'mode': 'strict', 'nodeset': '0'}
    assert plan(topo(), spanned, {'big': peak(5, 3.9 / 5)}, dict(POOL, lookahead_s=3600, max_moves=0))['moves'] == []


def test_relief_is_counted_once_whatever_the_period():
    """A peak does not last the period: 0.2 CPU over at the peak never pays for moving 1.2 CPUs' caches and memory."""
    cur = {'a': on('0-3', 2, 0), 'b': on('0-3', 3, 0), 'd': on('4-7', 1, 1)}
    over = {'a': peak(2, 0.6), 'b': peak(3, 1.0), 'd': peak(1, 0.5)}                     # node 0: 4.2 of 4
    for lookahead in (300, 3600):
        assert [m for m in plan(topo(), cur, over, dict(POOL, lookahead_s=lookahead))['moves'] if m['kind'] == 'node'] == []


def test_dedicated_vms_take_exclusive_cpus_out_of_the_pools():
    cur = {'db': on('0-7', 2), 'web': on('0-7', 2)}
    pol = dict(POOL, vms={'db': {'dedicated': True}})
    r = plan(topo(), cur, {'db': peak(2, 1.0), 'web': peak(2, 0.5)}, pol)
    db = r['allocations']['db']['vcpus']
    assert len(set(db.values())) == 2 and all(cpuset.is_number(v) for v in db.values())
    taken = set(int(v) for v in db.values())
    web = cpuset.parse(r['allocations']['web']['vcpus']['0'])
    assert not web & taken


def test_max_cpus_bounds_a_pool_and_unplanned_vms_count_as_load():
    r = plan(topo(), {'a': on('0-7', 2)}, {'a': peak(2, 0.5)}, dict(POOL, vms={'a': {'max_cpus': 2}}))
    assert len(cpuset.parse(r['allocations']['a']['vcpus']['0'])) == 2
    busy = dict(('bg%d' % i, on('0-3', 1)) for i in range(4))                           # node 0 full of unplanned load
    r = plan(topo(), dict(busy, a=on('0-7', 2)), {'a': peak(2, 0.9)}, POOL)
    assert r['allocations']['a']['numa']['nodeset'] == '1' and set(r['unplanned']) == set(busy)


def test_placement_is_checked_and_a_dedicated_vm_that_cannot_fit_is_a_conflict():
    with pytest.raises(PlannerInputError, match='policy.placement'):
        plan(topo(), {'a': on('0-7', 1)}, {'a': peak(1, 0.5)}, {'placement': 'node'})
    with pytest.raises(PlannerConflictError, match="dedicated VM 'db' needs 6 CPUs of one node"):
        plan(topo(), {'db': on('0-7', 6)}, {'db': peak(6, 0.5)}, dict(POOL, vms={'db': {'dedicated': True}}))


def test_vcpus_pinned_inside_their_node_are_let_float_over_its_pool():
    cur = {'a': {'vcpus': {'0': '0', '1': '1'}, 'emulator': '0-1', 'iothreads': {}, 'numatune': {'mode': 'strict', 'nodeset': '0'}}}
    r = plan(topo(), cur, {'a': peak(2, 0.9)}, POOL)
    assert [(m['kind'], m['vm'], m['vcpu'], m['from'], m['to'], m['cpus']) for m in r['moves']] == [
        ('pool', 'a', None, '0', '0', '0-3')]
    assert r['plan']['vcpu_pin'][0]['vcpus'] == {'0': '0-3', '1': '0-3'} and r['plan']['numa_memory'] == []
