# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every planner rule on small hand-made topologies (2 NUMA nodes, SMT)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json
import math

import pytest

from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset
from ansible_collections.adaptive.intravm.plugins.module_utils.plan.planner import (
    PlannerConflictError, PlannerInputError, plan,
)


def topo(nodes=2, cores=4, threads=2, caches=None):
    """nodes x cores x threads host; CPU ids like Linux: sibling threads are cores*nodes apart."""
    cpus, ns = [], []
    for n in range(nodes):
        ids = []
        for c in range(cores):
            base = n * cores + c
            sib = [base + t * nodes * cores for t in range(threads)]
            for i in sib:
                cpus.append({'id': i, 'node': n, 'core_id': c, 'siblings': cpuset.format(sib)})
                ids.append(i)
        ns.append({'id': n, 'cpus': cpuset.format(ids), 'memory_bytes': 1 << 34,
                   'distances': dict((m, 10 if m == n else 21) for m in range(nodes))})
    cpus.sort(key=lambda c: c['id'])
    return {'cpus': cpus, 'nodes': ns, 'caches': caches or [], 'cpus_online': '0-%d' % (nodes * cores * threads - 1)}


def vm(pins, node=None):
    cur = {'vcpus': dict((str(i), p) for i, p in enumerate(pins)), 'emulator': '', 'iothreads': {}}
    if node is not None:
        cur['numatune'] = {'mode': 'strict', 'nodeset': str(node)}
    return cur


def fc(*per_vcpu, **kw):
    """Forecast with per-vCPU P90 (P50 = half of it), one 60 s horizon."""
    out = {'horizons_s': [60], 'vcpus': len(per_vcpu),
           'vcpu': dict((str(i), {'p50': [v / 2.0], 'p90': [v]}) for i, v in enumerate(per_vcpu))}
    out.update(kw)
    return out


def moves_of(result, kind=None):
    return [m for m in result['moves'] if kind is None or m['kind'] == kind]


NO_SMT = dict(threads=1)


# ------------------------------------------------------------------ placement
def test_floating_vm_is_pinned_on_one_node_with_its_memory():
    t = topo(**NO_SMT)  # 2 nodes x 4 CPUs
    r = plan(t, {'a': vm(['0-7'] * 3)}, {'a': fc(0.5, 0.5, 0.5)})
    cpus = set(int(c) for c in r['allocations']['a']['vcpus'].values())
    assert len(cpus) == 3
    assert len(set(c // 4 for c in cpus)) == 1  # one NUMA node
    assert r['plan']['numa_memory'] == [{'name': 'a', 'mode': 'strict', 'nodeset': str(min(cpus) // 4)}]
    assert r['plan']['vcpu_pin'][0]['emulator'] == cpuset.format(cpus)
    assert all(m['kind'] == 'placement' and m['from'] == '0-7' for m in r['moves'])


def test_a_vcpu_pin_entry_carries_the_pins_it_was_planned_from():
    """vcpu_pin's compare-and-swap: `expect` is the current placement, so a domain moved since is skipped."""
    current = {'a': vm(['0-7', '0-7']), 'b': vm(['5'])}
    r = plan(topo(**NO_SMT), current, {'a': fc(0.5, 0.5), 'b': fc(0.1)})
    entries = dict((e['name'], e) for e in r['plan']['vcpu_pin'])
    assert entries['a']['expect'] == {'0': '0-7', '1': '0-7'}
    assert entries['b']['expect'] == {'0': '5'}  # b stays on 5 (its emulator changes): expect is its pins as they are


def test_vm_too_big_for_one_node_spans_two_and_interleaves_memory():
    t = topo(**NO_SMT)
    r = plan(t, {'a': vm(['0-7'] * 6)}, {'a': fc(*[0.9] * 6)}, {'default_vm': {'min_cpus': 6}})
    assert r['allocations']['a']['nodes'] == '0-1'
    assert r['plan']['numa_memory'][0]['mode'] == 'interleave'


def test_hotspot_relieved_with_benefit_cost_and_reason():
    t = topo(**NO_SMT)
    cur = {'a': vm(['0', '0']), 'b': vm(['1'])}
    r = plan(t, cur, {'a': fc(0.8, 0.7), 'b': fc(0.1)})
    reb = moves_of(r, 'rebalance')
    assert len(reb) == 1
    move = reb[0]
    assert move['vm'] == 'a' and move['from'] == '0'
    assert int(move['to']) // 4 == 0  # stays on the home node
    assert move['benefit'] > move['cost'] > 0
    assert 'CPU 0' in move['reason'] and 'hysteresis' in move['reason']
    assert r['hotspots'] == [{'cpu': 0, 'load_before': 1.5, 'load_after': r['hotspots'][0]['load_after']}]
    assert r['hotspots'][0]['load_after'] <= 1.0


def test_hysteresis_keeps_a_small_gain_unmoved():
    t = topo(**NO_SMT)
    cur = {'a': vm(['0', '0'])}
    forecasts = {'a': fc(0.52, 0.52)}  # 0.04 over capacity
    assert moves_of(plan(t, cur, forecasts, {'hysteresis': 0.05})) == []
    assert len(moves_of(plan(t, cur, forecasts, {'hysteresis': 0.0}))) == 1


def test_cost_model_can_outweigh_benefit():
    t = topo(**NO_SMT)
    cur = {'a': vm(['0', '0'])}
    forecasts = {'a': fc(0.6, 0.6)}
    assert len(moves_of(plan(t, cur, forecasts))) == 1
    assert moves_of(plan(t, cur, forecasts, {'cost': {'churn': 0.5}})) == []


def test_move_budget_and_highest_ratio_first():
    t = topo(nodes=1, cores=8, threads=1)
    # three hot CPUs; the one with the largest overflow gives the best ratio
    cur = {'a': vm(['0', '0']), 'b': vm(['1', '1']), 'c': vm(['2', '2'])}
    forecasts = {'a': fc(0.9, 0.9), 'b': fc(0.6, 0.6), 'c': fc(0.75, 0.75)}
    r = plan(t, cur, forecasts, {'max_moves': 2})
    reb = moves_of(r, 'rebalance')
    assert [m['vm'] for m in reb] == ['a', 'c']
    assert reb[0]['benefit'] / reb[0]['cost'] >= reb[1]['benefit'] / reb[1]['cost']
    assert moves_of(plan(t, cur, forecasts, {'max_moves': 0})) == []


def test_numa_cost_prefers_home_node_and_crosses_only_when_it_pays():
    t = topo(nodes=2, cores=2, threads=1)  # node 0: 0-1, node 1: 2-3
    cur = {'a': vm(['0', '0'], node=0), 'x': vm(['1'], node=0)}
    forecasts = {'a': fc(0.7, 0.7), 'x': fc(0.2)}
    r = plan(t, cur, forecasts)
    assert moves_of(r)[0]['to'] == '1'  # same node although node 1 is empty
    # with CPU 1 busy, crossing to node 1 is the only relief and is worth it
    r = plan(t, cur, {'a': fc(0.7, 0.7), 'x': fc(0.9)})
    move = moves_of(r)[0]
    assert move['to'] in ('2', '3')
    assert r['plan']['numa_memory'] == [{'name': 'a', 'mode': 'interleave', 'nodeset': '0-1'}]
    # a prohibitive NUMA cost keeps it home
    assert moves_of(plan(t, cur, {'a': fc(0.7, 0.7), 'x': fc(0.9)}, {'cost': {'numa': 2.0}})) == []


def test_crossing_nodes_costs_the_whole_vms_remote_memory_once_it_interleaves():
    """Splitting a VM over two nodes interleaves all of its memory: every vCPU, not just the moved one, goes half remote."""
    t = topo(nodes=2, cores=4, threads=1)  # node 0: 0-3, node 1: 4-7
    # CPU 0 is 0.2 over; node 1 is empty. Moving one 0.6 vCPU over costs 0.1 x 1.1 x 0.6 = 0.066 for it
    # alone (taken), but 0.1 x 1.1 x 3.0 / 2 = 0.165 once the VM's memory interleaves: not worth 0.2 of relief
    cur = {'a': vm(['0', '0', '1', '2'], node=0), 'x': vm(['3'], node=0)}
    r = plan(t, cur, {'a': fc(0.6, 0.6, 0.9, 0.9), 'x': fc(0.9)})
    assert moves_of(r, 'rebalance') == [] and r['plan']['numa_memory'] == []
    # a VM already spread over both nodes pays no NUMA cost for a move between them
    cur = {'a': vm(['0', '0', '4'], node=None), 'x': vm(['1', '2', '3'], node=0)}
    r = plan(t, cur, {'a': fc(0.6, 0.6, 0.5), 'x': fc(0.9, 0.9, 0.9)})
    move = moves_of(r, 'rebalance')[0]
    assert move['to'] in ('5', '6', '7') and move['cost'] == pytest.approx(0.01 + 0.02 * 0.6 + 0.05 * 0.6)


def test_cache_domain_is_preferred():
    caches = [{'id': 0, 'level': 3, 'type': 'both', 'size_bytes': 1, 'cpus': '0-1'},
              {'id': 1, 'level': 3, 'type': 'both', 'size_bytes': 1, 'cpus': '2-3'}]
    t = topo(nodes=1, cores=4, threads=1, caches=caches)
    cur = {'a': vm(['0', '0']), 'b': vm(['1']), 'c': vm(['2'])}
    # CPU 1 (same L3) is busier than CPU 3 (other L3): leaving the cache group
    # is worth it only while it is cheap enough
    forecasts = {'a': fc(0.6, 0.6), 'b': fc(0.5), 'c': fc(0.9)}
    assert moves_of(plan(t, cur, forecasts, {'cost': {'cache_domain': 0.2}}))[0]['to'] == '1'
    assert moves_of(plan(t, cur, forecasts, {'cost': {'cache_domain': 0.0}}))[0]['to'] == '3'


# ------------------------------------------------------------------ hard rules
def test_reserved_cpus_are_never_used_and_are_vacated():
    t = topo(nodes=1, cores=4, threads=1)
    cur = {'a': vm(['0', '0-3']), 'b': vm(['0-3'] * 3)}
    r = plan(t, cur, {'a': fc(0.9, 0.9), 'b': fc(0.9, 0.9, 0.9)}, {'reserved_cpus': '0'})
    used = set(c for a in r['allocations'].values() for c in a['vcpus'].values())
    assert '0' not in used
    assert any('reserved CPU 0' in m['reason'] for m in r['moves'])


def test_reserved_cpu_not_on_host_is_an_error():
    with pytest.raises(PlannerInputError, match='reserved_cpus names CPUs 99'):
        plan(topo(), {'a': vm(['0'])}, {'a': fc(0.1)}, {'reserved_cpus': '99'})


def test_smt_siblings_shared_only_within_a_vm():
    t = topo(nodes=1, cores=2, threads=2)  # cores {0,2} and {1,3}
    # b sits on CPU 2, sibling of CPU 0 where a is
    r = plan(t, {'a': vm(['0', '0-3']), 'b': vm(['2'])}, {'a': fc(0.5, 0.5), 'b': fc(0.5)})
    alloc = r['allocations']
    core = {0: 0, 2: 0, 1: 1, 3: 1}
    owners = {}
    for name, a in alloc.items():
        for cpu in a['vcpus'].values():
            owners.setdefault(core[int(cpu)], {}).setdefault(int(cpu), set()).add(name)
    for threads in owners.values():
        if len(threads) > 1:  # both threads of a core in use: one VM only
            assert len(set().union(*threads.values())) == 1
    # the pre-existing violation is repaired, never kept
    assert any('SMT siblings' in m['reason'] for m in r['moves'])
    # with sharing allowed, nothing needs to move for SMT
    r = plan(t, {'a': vm(['0']), 'b': vm(['2'])}, {'a': fc(0.5), 'b': fc(0.5)}, {'smt_share_across_vms': True})
    assert r['moves'] == []


def test_a_vm_may_use_both_threads_of_a_core():
    t = topo(nodes=1, cores=1, threads=2)
    r = plan(t, {'a': vm(['0', '1'])}, {'a': fc(0.9, 0.9)})
    assert r['moves'] == []


def test_dedicated_vcpus_get_cpus_and_cores_to_themselves():
    t = topo(nodes=1, cores=4, threads=2)  # cores {0,4} {1,5} {2,6} {3,7}
    cur = {'db': vm(['0-7', '0-7']), 'web': vm(['0-7'] * 3)}
    r = plan(t, cur, {'db': fc(0.9, 0.9), 'web': fc(0.3, 0.3, 0.3)}, {'vms': {'db': {'dedicated': True}}})
    sib = dict((c['id'], cpuset.parse(c['siblings'])) for c in t['cpus'])
    db = [int(c) for c in r['allocations']['db']['vcpus'].values()]
    web = set(int(c) for c in r['allocations']['web']['vcpus'].values())
    assert len(set(db)) == 2
    for cpu in db:
        assert not (sib[cpu] & web)


def test_dedicated_vcpu_sharing_a_cpu_is_moved_apart():
    t = topo(nodes=1, cores=4, threads=1)
    cur = {'db': vm(['0', '1']), 'web': vm(['0'])}
    r = plan(t, cur, {'db': fc(0.2, 0.2), 'web': fc(0.1)}, {'vms': {'db': {'dedicated': True}}})
    db = set(r['allocations']['db']['vcpus'].values())
    assert len(db) == 2 and r['allocations']['web']['vcpus']['0'] not in db
    assert any('dedicated' in m['reason'] for m in r['moves'])


def test_min_cpus_spreads_and_max_cpus_caps():
    t = topo(nodes=1, cores=8, threads=1)
    r = plan(t, {'a': vm(['0'] * 4)}, {'a': fc(0.1, 0.1, 0.1, 0.1)}, {'vms': {'a': {'min_cpus': 3}}})
    assert len(set(r['allocations']['a']['vcpus'].values())) == 3
    assert any(m['kind'] == 'repair' for m in r['moves'])
    r = plan(t, {'a': vm(['0-7'] * 4)}, {'a': fc(0.9, 0.9, 0.9, 0.9)}, {'vms': {'a': {'max_cpus': 2}}})
    assert len(set(r['allocations']['a']['vcpus'].values())) == 2


def test_unsatisfiable_minimums_fail_naming_the_conflict():
    t = topo(nodes=1, cores=4, threads=1)
    cur = {'db': vm(['0-3'] * 3), 'web': vm(['0-3'] * 2)}
    with pytest.raises(PlannerConflictError) as err:
        plan(t, cur, {'db': fc(0.5, 0.5, 0.5), 'web': fc(0.5, 0.5)},
             {'vms': {'db': {'dedicated': True}, 'web': {'min_cpus': 2}}})
    assert 'db needs 3 (dedicated)' in str(err.value) and 'web needs 2 (min_cpus)' in str(err.value)
    with pytest.raises(PlannerConflictError, match='min_cpus=5 but VM .a. has only 2 vCPUs'):
        plan(t, {'a': vm(['0', '1'])}, {'a': fc(0.5, 0.5)}, {'vms': {'a': {'min_cpus': 5}}})
    with pytest.raises(PlannerConflictError, match='every online CPU'):
        plan(t, {'a': vm(['0'])}, {'a': fc(0.5)}, {'reserved_cpus': '0-3'})


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize('bad, where', [
    (float('nan'), 'p90[0]'), (-0.1, 'p90[0]'), (float('inf'), 'p90[0]'), ('high', 'p90[0]'),
])
def test_nan_negative_or_non_numeric_forecasts_are_rejected(bad, where):
    forecasts = {'web': {'horizons_s': [60], 'cpu': {'p50': [0.1], 'p90': [bad]}}}
    with pytest.raises(PlannerInputError) as err:
        plan(topo(), {'web': vm(['0'])}, forecasts)
    assert "'web'" in str(err.value) and where in str(err.value)


def test_nan_in_a_per_vcpu_or_net_forecast_is_rejected():
    with pytest.raises(PlannerInputError, match=r"vcpu\[1\]\.p[59]0\[0\] is nan"):
        plan(topo(), {'a': vm(['0', '1'])}, {'a': fc(0.1, float('nan'))})
    bad = fc(0.1, net={'p50': [1.0], 'p90': [-5.0]})
    with pytest.raises(PlannerInputError, match=r"net\.p90\[0\]"):
        plan(topo(), {'a': vm(['0'])}, {'a': bad})


def test_per_vcpu_forecast_keys_are_ascii_numbers_only():
    """A key that is not an ASCII vCPU index is not of the format: refused, as in cpu_peak.vcpu."""
    forecast = fc(0.1, 0.2)
    forecast['vcpu']['\u0661'] = {'p50': [0.9], 'p90': [0.95]}
    with pytest.raises(PlannerInputError, match="vcpu: '\u0661' is not a vCPU index"):
        plan(topo(), {'a': vm(['0', '1'])}, {'a': forecast})


def test_unknown_vms_are_ignored_and_reported_and_unforecast_vms_keep_their_pins():
    t = topo(**NO_SMT)
    r = plan(t, {'a': vm(['0']), 'b': vm(['0-7'])}, {'a': fc(0.5), 'ghost': fc(0.9)})
    assert r['ignored'] == ['ghost']
    assert r['unplanned'] == ['b']
    assert set(r['allocations']) == {'a'}


def test_bad_policy_values_are_named():
    with pytest.raises(PlannerInputError, match='unknown policy key'):
        plan(topo(), {'a': vm(['0'])}, {'a': fc(0.5)}, {'max_move': 3})
    with pytest.raises(PlannerInputError, match='policy.quantile'):
        plan(topo(), {'a': vm(['0'])}, {'a': fc(0.5)}, {'quantile': 'p99'})
    with pytest.raises(PlannerInputError, match=r"policy.vms\['a'\].min_cpus"):
        plan(topo(), {'a': vm(['0'])}, {'a': fc(0.5)}, {'vms': {'a': {'min_cpus': 0}}})


def test_forecast_quantile_and_lookahead_are_used():
    t = topo(**NO_SMT)
    cur = {'a': vm(['0', '0'])}
    forecasts = {'a': {'horizons_s': [60, 600], 'cpu': {'p50': [0.3, 0.3], 'p90': [0.4, 0.7]}}}
    assert len(moves_of(plan(t, cur, forecasts))) == 1            # P90 at 600 s: 1.4 > 1
    assert moves_of(plan(t, cur, forecasts, {'lookahead_s': 60})) == []  # 0.8 within capacity
    assert moves_of(plan(t, cur, forecasts, {'quantile': 'p50'})) == []


def test_window_peaks_cover_the_lookahead_and_win_over_horizons():
    """The placement holds until the next run: plan for the peak of the shortest window that covers it."""
    t = topo(**NO_SMT)
    cur = {'a': vm(['0', '0'])}
    point = {'horizons_s': [60], 'cpu': {'p50': [0.3], 'p90': [0.4]}}   # alone: 0.8, within one CPU
    peaks = {'windows_s': [900, 3600], 'p50': [0.35, 0.5], 'p90': [0.45, 0.7]}
    forecasts = {'a': dict(point, cpu_peak=peaks)}
    assert moves_of(plan(t, cur, {'a': point}, {'lookahead_s': 900})) == []
    assert moves_of(plan(t, cur, forecasts, {'lookahead_s': 900})) == []        # 15-min peak: 0.9
    assert len(moves_of(plan(t, cur, forecasts, {'lookahead_s': 1800}))) == 1   # the hour's peak: 1.4
    assert len(moves_of(plan(t, cur, forecasts, {'lookahead_s': 7200}))) == 1   # longer than any: the longest
    assert len(moves_of(plan(t, cur, forecasts))) == 1                          # no lookahead: the longest
    # per-vCPU peaks win over the VM-wide ones: vCPU 1 alone is hot
    per = dict(peaks, vcpu={'0': {'p50': [0.3, 0.3], 'p90': [0.3, 0.3]}, '1': {'p50': [0.9, 0.9], 'p90': [0.95, 0.95]}})
    assert len(moves_of(plan(t, cur, {'a': dict(point, cpu_peak=per)}, {'lookahead_s': 900}))) == 1   # 0.3 + 0.95 > 1
    for bad, match in (({'windows_s': []}, 'windows_s must be a list'), (dict(peaks, windows_s=[900, -1]), r'windows_s\[1\]'),
                       (dict(peaks, p90=[0.45]), 'one value per'), (dict(peaks, p90=[0.45, float('nan')]), r'p90\[1\]')):
        with pytest.raises(PlannerInputError, match=match):
            plan(t, cur, {'a': dict(point, cpu_peak=bad)}, {'lookahead_s': 900})


# ------------------------------------------------------------------ devices
def test_vf_min_rates_never_exceed_link_speed():
    forecasts = {
        'a': fc(0.1, net={'p50': [800e6 / 8], 'p90': [1200e6 / 8]}),
        'b': fc(0.1, net={'p50': [600e6 / 8], 'p90': [900e6 / 8]}),
    }
    cur = {'a': vm(['0']), 'b': vm(['1'])}
    pol = {'bandwidth': {'link_mbps': {'ens1f0': 1000}}}
    r = plan(topo(), cur, forecasts, pol)
    rates = r['plan']['vf_bandwidth']
    assert [e['name'] for e in rates] == ['a', 'b']
    assert sum(e['min_tx_rate'] for e in rates) <= 1000
    assert all(e['max_tx_rate'] <= 1000 and e['max_tx_rate'] >= e['min_tx_rate'] for e in rates)
    assert any('scaled' in w for w in r['warnings'])
    # uncontended link: minimums follow P50, maximums P90 with headroom
    r = plan(topo(), cur, forecasts, {'bandwidth': {'link_mbps': {'ens1f0': 25000}}})
    assert r['plan']['vf_bandwidth'][0] == {'name': 'a', 'min_tx_rate': 800, 'max_tx_rate': 1500}


def test_vf_rates_need_a_known_pf():
    forecasts = {'a': fc(0.1, net={'p50': [1e6], 'p90': [2e6]})}
    r = plan(topo(), {'a': vm(['0'])}, forecasts)
    assert r['plan']['vf_bandwidth'] == [] and 'no PF' in r['warnings'][0]


def test_vgpu_scheduler_and_shares_from_gpu_demand():
    forecasts = {'a': fc(0.1, gpu={'p50': [0.5], 'p90': [0.9]}), 'b': fc(0.1, gpu={'p50': [0.2], 'p90': [0.3]})}
    cur = {'a': vm(['0']), 'b': vm(['1'])}
    pol = {'gpu': {'vm_gpu': {'a': '0000:3b:00.0', 'b': '0000:3b:00.0'}}}
    entry = plan(topo(), cur, forecasts, pol)['plan']['vgpu'][0]
    assert entry['gpu'] == '0000:3b:00.0' and entry['scheduler'] == 'equal_share'
    assert math.isclose(entry['shares']['a'] + entry['shares']['b'], 1.0, abs_tol=1e-3)
    assert entry['shares']['a'] > entry['shares']['b']
    forecasts['a']['gpu']['p90'] = [0.5]
    assert plan(topo(), cur, forecasts, pol)['plan']['vgpu'][0]['scheduler'] == 'best_effort'
    pol['gpu']['current_scheduler'] = {'0000:3b:00.0': 'best_effort'}
    assert plan(topo(), cur, forecasts, pol)['plan']['vgpu'] == []


# ------------------------------------------------------------------ determinism
def test_same_input_same_plan_whatever_the_dict_order():
    t = topo()
    cur = dict(('vm%d' % i, vm(['0-15'] * 3)) for i in range(8))
    forecasts = dict(('vm%d' % i, fc(0.3 + 0.05 * i, 0.6, 0.2)) for i in range(8))
    first = plan(t, cur, forecasts, {'max_moves': 5})
    again = plan(copy.deepcopy(t), dict(reversed(list(cur.items()))), dict(reversed(list(forecasts.items()))),
                 {'max_moves': 5})
    assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)


def test_replanning_a_plan_is_stable():
    t = topo()
    cur = dict(('vm%d' % i, vm(['0-15'] * 2)) for i in range(6))
    forecasts = dict(('vm%d' % i, fc(0.7, 0.4)) for i in range(6))
    first = plan(t, cur, forecasts)
    applied = dict((n, dict(vcpus=a['vcpus'], emulator=a['emulator'], iothreads={}, numatune=a['numa']))
                   for n, a in first['allocations'].items())
    second = plan(t, applied, forecasts)
    assert second['moves'] == [] and second['plan']['vcpu_pin'] == [] and second['plan']['numa_memory'] == []


def test_auto_headroom_takes_what_the_host_has_room_for():
    from ansible_collections.adaptive.intravm.plugins.module_utils.plan.planner import auto_headroom
    low = {('a', 0): 0.2, ('b', 0): 0.2}
    high = {('a', 0): 0.6, ('b', 0): 0.6}
    assert auto_headroom(low, high, 4.0) == 1.0          # a quiet host: the whole p90
    assert auto_headroom(low, high, 0.8) == pytest.approx(0.5)   # room for half the spread
    assert auto_headroom(low, high, 0.3) == 0.0          # crowded: the median, never below
    assert auto_headroom(low, low, 0.1) == 1.0           # no uncertainty, nothing to choose


def test_auto_quantile_plans_with_the_median_on_a_crowded_host_and_says_how_much_headroom():
    t = topo()
    cur = {'a': vm(['0']), 'b': vm(['0'])}
    both = {'p50': [0.45], 'p90': [0.9]}
    forecasts = dict((n, {'vcpus': 1, 'horizons_s': [300], 'cpu': both, 'vcpu': {'0': both}}) for n in cur)
    quiet = plan(t, cur, forecasts, {'quantile': 'auto'})
    assert quiet['headroom'] == 1.0 and moves_of(quiet)            # room for the p90: the hotspot is split
    crowded = plan(t, cur, forecasts, {'quantile': 'auto', 'capacity': 0.45, 'reserved_cpus': '2-%d' % (len(t['cpus']) - 1)})
    assert crowded['headroom'] < 1.0
    assert 'headroom' not in plan(t, cur, forecasts, {'quantile': 'p90'})
