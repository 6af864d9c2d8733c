# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""policy_sim's reactive_pool and predictive_pool (issue 25, 4): the product's planner, placement pool, on tiny hosts."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


import numpy as np
import pytest

from ansible_collections.adaptive.intravm.tests.unit.test_policy_sim_pools import SIM_MODULE, run_sim


def args_for(*extra):
    return SIM_MODULE.parse_args(['--host-cpus', '8', '--nodes', '2', '--apply-delay', '0', '--periods', '3']
                                 + list(extra))


def host(vm_demands):
    """(demand (T, V), nvs, starts) from a list of (T, nv) arrays, one per VM."""
    nvs = [d.shape[1] for d in vm_demands]
    return np.hstack(vm_demands), nvs, np.cumsum([0] + nvs[:-1])


@pytest.fixture
def calls(monkeypatch):
    """Every planner.plan call the sim makes: (current, forecasts, policy), the real planner still answering."""
    sim = SIM_MODULE
    real = sim.planner.plan
    seen = []

    def spy(topology, current, forecasts, policy=None):
        seen.append((current, forecasts, policy))
        return real(topology, current, forecasts, policy)

    monkeypatch.setattr(sim.planner, 'plan', spy)
    return seen


def over_node_zero(t_len=12):
    """VM 0 (3 vCPUs, 2.7 CPUs) and VM 1 (2 vCPUs, 1.8) on node 0 of 4 CPUs, VM 2 (0.2) on node 1."""
    return host([np.full((t_len, 3), 0.9), np.full((t_len, 2), 0.9), np.full((t_len, 1), 0.2)])


def test_the_planner_is_called_with_placement_pool_and_its_nodeset_moves_the_vm(calls):
    sim, args = SIM_MODULE, args_for()
    demand, nvs, starts = over_node_zero()
    peak = sim.behind_max(demand, 3)
    out = sim.run_planner_pools(demand, nvs, starts, ['a', 'b', 'c'], np.array([0, 0, 1]), args, 3, (peak, peak),
                                sim.sim_topology(8, 2))
    assert calls and all(policy['placement'] == 'pool' for _c, _f, policy in calls)
    assert all(policy['max_moves'] == args.max_moves and policy['hysteresis'] == args.hysteresis
               for _c, _f, policy in calls)
    current, forecasts, _policy = calls[0]
    # each VM handed over as it runs: floating over its node's CPUs, memory strict there
    assert current['a']['vcpus'] == {'0': '0-3', '1': '0-3', '2': '0-3'} and current['c']['vcpus'] == {'0': '4-7'}
    assert current['b']['numatune'] == {'mode': 'strict', 'nodeset': '0'}
    # fed the last period's peak per vCPU (reactive_peak's feed) at the plan of step 3
    assert forecasts['a']['vcpu']['0'] == {'p50': [0.9], 'p90': [0.9]}
    # the planner sends the smaller VM to node 1 at step 3: its 2 vCPUs count as moves
    assert out['change_steps'] == [3] and out['moves'] == 2 and out['migrations'] == 1
    assert out['planner_moves'] == {'node': 1} and out['span_vm_steps'] == 0
    # no more plans once no node is forecast over its CPUs (the calls are skipped)
    assert out['plans'] == 1 and len(calls) == 1
    # served by the pool accounting numad uses: the same move gives numad's figures step for step
    numad = sim.run_pools('numad', demand, nvs, starts, np.array([0, 0, 1]), args, 3)
    assert numad['change_steps'] == [3] and numad['moves'] == 2
    assert np.allclose(out['unserved'], numad['unserved'])
    assert abs(out['remote'] - numad['remote']) < 1e-9 and out['slo_bad'] == numad['slo_bad']


def test_serve_spans_is_serve_pools_for_vms_in_one_node():
    sim, args = SIM_MODULE, args_for('--float-cost', '0.03')
    rng = np.random.default_rng(3)
    demand = rng.uniform(0.0, 1.0, 12)
    pool = rng.integers(0, 2, 12)
    remote, extra = rng.uniform(0.0, 1.0, 12), 1.0 + rng.uniform(0.0, 0.2, 12)
    share = np.eye(2)[pool]
    a = sim.serve_pools(demand, pool, np.array([4.0, 4.0]), remote, extra, args)
    b = sim.serve_spans(demand, share, np.array([4.0, 4.0]), remote, extra, args)
    assert np.allclose(a[0], b[0]) and np.allclose(a[1], b[1])


class FixedWindows(object):
    """A forecaster that, like the LSTM adapter, serves window peaks: constant p50 0.3 and p90 0.95."""
    windows = True
    label = 'fixed'
    pretrain_on = None

    def __init__(self):
        self.calls = []

    def forecast(self, demand, window=None):
        self.calls.append((demand.shape, window))
        return np.full(demand.shape, 0.3), np.full(demand.shape, 0.95)


def test_reactive_pool_is_fed_reactive_peak_and_predictive_pool_the_products_forecasts(calls):
    sim = SIM_MODULE
    args = sim.parse_args(['--host-cpus', '4', '--nodes', '2', '--apply-delay', '0', '--periods', '3'])
    t_len = 12
    busy = np.zeros((t_len, 2))
    busy[:, 0] = np.linspace(0.5, 1.0, t_len)
    busy[:, 1] = 0.8
    # static_pinning puts a (2 vCPUs) and d on node 0 (2 CPUs), b and c on node 1
    vms = [('a', 2, busy), ('b', 1, np.full((t_len, 1), 0.1)), ('c', 1, np.full((t_len, 1), 0.1)),
           ('d', 1, np.full((t_len, 1), 0.9))]
    topo = sim.sim_topology(4, 2)
    fixed = FixedWindows()
    demand = np.hstack([v[2] for v in vms])
    react = sim.run_host(vms, args, fixed, topo, ('reactive_pool',), period=3)['reactive_pool']
    assert calls and not fixed.calls
    peak = sim.behind_max(demand, 3)
    assert all(policy['placement'] == 'pool' for _c, _f, policy in calls)
    # the first plan (step 3) is fed rows 0-2's peak per vCPU
    assert calls[0][1]['a']['vcpu']['0']['p90'] == [float(peak[3, 0])]
    assert calls[0][1]['d']['vcpu']['0'] == {'p50': [0.9], 'p90': [0.9]}
    assert react['moves'] >= 1
    del calls[:]
    pred = sim.run_host(vms, args, fixed, topo, ('predictive_pool',), period=3)['predictive_pool']
    # predictive's feed: the forecaster's window head for the period (K = 3), per vCPU, p50 and p90
    assert fixed.calls == [((t_len, 5), 3)]
    assert calls and all(f[name]['vcpu'][i] == {'p50': [0.3], 'p90': [0.95]}
                         for _c, f, _p in calls for name in f for i in f[name]['vcpu'])
    assert pred['plans'] == len(calls)


def test_the_lstm_batch_is_made_once_for_predictive_and_predictive_pool():
    sim = SIM_MODULE
    args = sim.parse_args(['--host-cpus', '4', '--nodes', '2', '--apply-delay', '0', '--periods', '3'])
    t_len = 9
    vms = [('v%d' % i, 1, np.full(t_len, 0.2 + 0.1 * i)) for i in range(8)]
    fixed = FixedWindows()
    fixed.pretrain_on = 'other VMs'   # a pretrained global model: one batch over every host
    sweep = sim.Sweep(vms, args, sim.sim_topology(4, 2), fixed)
    per_host = sweep.run(1.0, 3, ('predictive', 'predictive_pool'))
    assert len(per_host) == 2 and fixed.calls == [((t_len, 8), 3)]
    sweep.run(1.0, 3, ('reactive_pool',))
    other = sim.argparse.Namespace(**vars(args))
    again = sim.Sweep(vms, other, sweep.topo, fixed)
    again.work, again.made = sweep.work, sweep.made   # what sweep_float_costs hands on
    again.run(1.0, 3, ('predictive_pool',))
    assert len(fixed.calls) == 1


def test_a_vm_no_node_can_hold_spans_both_with_its_memory_interleaved(calls):
    sim, args = SIM_MODULE, args_for()
    t_len = 9
    demand, nvs, starts = host([np.full((t_len, 5), 0.95), np.full((t_len, 1), 0.1)])
    peak = sim.behind_max(demand, 3)
    out = sim.run_planner_pools(demand, nvs, starts, ['big', 'small'], np.array([0, 1]), args, 3, (peak, peak),
                                sim.sim_topology(8, 2))
    # 4.75 CPUs forecast, 5 needed: the planner places it over both nodes (a 'placement' move of 5 vCPUs)
    assert out['planner_moves'].get('placement') == 1 and out['moves'] == 5 and out['change_steps'] == [3]
    assert out['migrations'] == 1 and out['span_vm_steps'] == t_len - 3
    # before: 5 vCPUs in node 0's 4 CPUs serve 4 of 4.75
    assert np.allclose(out['unserved'][:3], 0.75)
    # after the migration step: over 8 CPUs, half its memory remote, each vCPU needs 0.95 x 1.075 > 1 CPU: capped
    # at one, which does 1/1.075 of a vCPU's work
    assert np.allclose(out['unserved'][4:], 5 * (0.95 - 1.0 / 1.075))
    # the span is kept while it is still needed: planned again, nothing moves back
    assert out['plans'] == 2 and len(calls) == 2


def test_skipped_plans_would_change_nothing(monkeypatch):
    sim, args = SIM_MODULE, args_for('--apply-delay', '0.1', '--max-moves', '2')
    rng = np.random.default_rng(7)
    t_len = 48
    vms = [np.clip(rng.gamma(2.0, 0.25, (t_len, n)), 0.0, 1.0) for n in (3, 2, 2, 1, 1)]
    demand, nvs, starts = host(vms)
    homes = np.array([0, 0, 1, 1, 0])
    peak = sim.behind_max(demand, 3)
    topo = sim.sim_topology(8, 2)
    names = ['a', 'b', 'c', 'd', 'e']
    skipped = sim.run_planner_pools(demand, nvs, starts, names, homes, args, 3, (peak, peak), topo)
    monkeypatch.setattr(sim, 'pool_plan_needed', lambda *a: True)
    every = sim.run_planner_pools(demand, nvs, starts, names, homes, args, 3, (peak, peak), topo)
    assert every['plans'] == t_len // 3 - 1 > skipped['plans'] > 0
    assert np.array_equal(every['unserved'], skipped['unserved'])
    assert every['moves'] == skipped['moves'] and every['change_steps'] == skipped['change_steps']


def test_planner_pools_in_a_run(tmp_path):
    stdout, result = run_sim(tmp_path, '0', 'reactive_peak,numad,reactive_pool,predictive_pool')
    (run,) = result['runs']
    assert set(run['policies']) == {'static', 'reactive_peak', 'numad', 'reactive_pool', 'predictive_pool'}
    assert set(run['float_cost_sweep']['0']) == {'numad', 'reactive_pool', 'predictive_pool'}
    for p in ('reactive_pool', 'predictive_pool'):
        assert run['float_cost_sweep']['0'][p]['unserved_frac'] <= run['policies'][p]['unserved_frac']
        assert set(run['planner_pools'][p]) == {'planner_moves', 'plans', 'span_vm_step_frac', 'planner_ms_per_plan'}
        assert set(run['planner_pools'][p]['planner_moves']) <= {'node', 'placement', 'pool'}
    assert run['comparison_product']['best_other'] in ('numad', 'reactive_peak', 'reactive_pool')
    assert 'predictive_pool_cut_vs_reactive_pool' in run['comparison_product']
    assert 'product (predictive_pool, above the floor)' in stdout
