# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""policy_sim's pool baselines (issue 25, 2): float, numad and pool_oracle, on tiny synthetic hosts."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIM = os.path.join(ROOT, 'benchmarks', 'policy_sim.py')
EXCERPT = os.path.join(ROOT, 'data', 'traces')


def load_sim():
    spec = importlib.util.spec_from_file_location('policy_sim_pools_under_test', SIM)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SIM_MODULE = load_sim()


def args_for(*extra):
    return SIM_MODULE.parse_args(['--host-cpus', '8', '--nodes', '2', '--apply-delay', '0'] + list(extra))


def host(vm_demands):
    """(demand (T, V), nvs, starts) from a list of (T, nv) arrays, one per VM."""
    nvs = [d.shape[1] for d in vm_demands]
    return np.hstack(vm_demands), nvs, np.cumsum([0] + nvs[:-1])


def test_a_pool_over_its_cpus_serves_exactly_its_cpus():
    sim, args = SIM_MODULE, args_for()
    demand = np.array([0.9] * 6 + [0.5, 0.5])
    pool = np.array([0] * 6 + [1, 1])
    served, rem = sim.serve_pools(demand, pool, np.array([4.0, 4.0]), np.zeros(8), np.ones(8), args)
    assert abs(served[:6].sum() - 4.0) < 1e-12          # min(5.4, 4)
    assert np.allclose(served[:6], 4.0 / 6)             # every vCPU the same fraction of what it needs
    assert np.allclose(served[6:], 0.5)                 # under its CPUs: all of it
    assert not rem.any()


def test_each_vcpu_is_capped_at_one_cpu():
    sim, args = SIM_MODULE, args_for()
    # one busy vCPU with all its memory remote needs 1.15 CPUs: an idle 4-CPU pool still gives it one
    served, rem = sim.serve_pools(np.array([1.0, 0.1]), np.array([0, 0]), np.array([4.0]), np.array([1.0, 0.0]),
                                  np.ones(2), args)
    assert abs(served[0] - 1.0 / 1.15) < 1e-12 and abs(served[1] - 0.1) < 1e-12
    assert abs(rem[0] - served[0]) < 1e-12 and rem[1] == 0.0


def test_float_cost_is_extra_work_in_a_saturated_pool():
    sim = SIM_MODULE
    demand, pool, cpus = np.full(6, 0.8), np.zeros(6, dtype=int), np.array([4.0])
    for cost in (0.0, 0.1):
        args = args_for('--float-cost', str(cost))
        served, _rem = sim.serve_pools(demand, pool, cpus, np.zeros(6), np.ones(6), args)
        assert abs(served.sum() - 4.0 / (1.0 + cost)) < 1e-12
    # a pool with room serves all of it, whatever the cost (up to one CPU a vCPU)
    served, _rem = sim.serve_pools(np.full(2, 0.5), np.zeros(2, dtype=int), cpus, np.zeros(2), np.ones(2),
                                   args_for('--float-cost', '0.1'))
    assert np.allclose(served, 0.5)


def test_float_serves_min_of_total_and_cpus_but_pays_remote_memory():
    sim = SIM_MODULE
    t_len = 10
    # 2 + 4 + 4 vCPUs on a 2 x 4-CPU host; memory first touched on node 0, 0 and 1
    a = np.full((t_len, 2), 0.75)
    b = np.full((t_len, 4), 0.75)
    c = np.zeros((t_len, 4))
    a[2:], b[2:], c[2:] = 1.0, 1.0, 1.0   # 4.5 CPUs of demand for two steps, then 10
    demand, nvs, starts = host([a, b, c])
    home = np.array([0, 0, 1])
    free = sim.run_pools('float', demand, nvs, starts, home, args_for('--remote-penalty', '0'), 1)
    # no remote cost: the whole host serves min(demand, 8 CPUs) in every step, though node 0 holds 6 vCPUs
    assert np.allclose(free['unserved'], [0.0, 0.0] + [2.0] * (t_len - 2))
    assert free['moves'] == 0 and free['migrations'] == 0 and free['plans'] == 0
    # half of each vCPU's time on the node without its memory: half its service remote
    assert abs(free['remote'] / free['served'] - 0.5) < 1e-12
    paid = sim.run_pools('float', demand, nvs, starts, home, args_for(), 1)
    # with the remote penalty (0.15 x 1/2) each vCPU needs 1.075 x its demand: 4.84 < 8 CPUs, all served;
    # then every vCPU is capped at one CPU (10 > 8: 0.8 of one each), each CPU doing 1/1.075 of a vCPU's work
    assert np.allclose(paid['unserved'][:2], 0.0)
    assert np.allclose(paid['unserved'][2:], 10.0 - 10.0 * 0.8 / 1.075)
    # the same host at a float cost of 2 %: the work per step grows by 2 % more
    dear = sim.run_pools('float', demand, nvs, starts, home, args_for('--float-cost', '0.02'), 1)
    assert np.allclose(dear['unserved'][2:], 10.0 - 10.0 * 0.8 / (1.075 * 1.02))


def test_numad_moves_a_vm_off_a_node_over_its_cpus_and_its_memory_follows():
    sim = SIM_MODULE
    t_len = 12
    hot = np.full((t_len, 3), 0.9)           # VM 0: 2.7 CPUs
    warm = np.full((t_len, 2), 0.9)          # VM 1: 1.8 CPUs, same node: 4.5 > 4
    cold = np.full((t_len, 1), 0.2)          # VM 2 on node 1
    demand, nvs, starts = host([hot, warm, cold])
    home = np.array([0, 0, 1])
    args = args_for('--periods', '3')
    out = sim.run_pools('numad', demand, nvs, starts, home, args, 3)
    # steps 0-2 on the first placement: node 0 serves exactly its 4 CPUs of 4.5
    assert np.allclose(out['unserved'][:3], 0.5)
    # the plan at step 3 moves the smaller VM (2 vCPUs) to node 1: one change, its vCPUs counted as moves
    assert out['change_steps'] == [3] and out['moves'] == 2 and out['migrations'] == 1
    # in the move's step its vCPUs pay the cold caches and the memory migration (remote decays over it)
    assert out['unserved'][3] > 0
    assert np.allclose(out['unserved'][4:], 0.0)        # 2.7 + 0 on node 0, 1.8 + 0.2 on node 1, memory local
    oracle = sim.run_pools('pool_oracle', demand, nvs, starts, home, args, 3)
    assert oracle['moves'] == 2 and oracle['change_steps'] == [3]


def test_pool_oracle_moves_for_the_coming_peak_numad_after_the_last():
    sim = SIM_MODULE
    t_len = 12
    steady = np.full((t_len, 3), 0.9)
    jumps = np.zeros((t_len, 2))
    jumps[6:] = 0.9                           # VM 1 wakes at step 6: node 0 goes over from then on
    demand, nvs, starts = host([steady, jumps, np.full((t_len, 1), 0.1)])
    home = np.array([0, 0, 1])
    args = args_for('--periods', '3')
    oracle = sim.run_pools('pool_oracle', demand, nvs, starts, home, args, 3)
    numad = sim.run_pools('numad', demand, nvs, starts, home, args, 3)
    assert oracle['change_steps'] == [6]      # the plan at step 6 knows steps 6-8
    assert numad['change_steps'] == [9]       # the plan at step 9 has seen them
    assert numad['unserved'][6:9].sum() > 0 and oracle['unserved'][7:].sum() < 1e-12
    assert oracle['unserved'].sum() < numad['unserved'].sum()


def test_choose_nodes():
    sim = SIM_MODULE
    args = args_for()
    cpus = np.array([4.0, 4.0])
    nvs = np.array([3, 2, 1])
    # nothing over its CPUs: nothing moves
    nodes, moved = sim.choose_nodes(np.array([2.0, 1.5, 0.5]), np.array([0, 0, 1]), nvs, cpus, args, 3)
    assert moved == [] and list(nodes) == [0, 0, 1]
    # over: the move that cuts most (either VM 0 or 1 cuts the 0.5 over; the one with fewer vCPUs goes)
    nodes, moved = sim.choose_nodes(np.array([2.7, 1.8, 0.2]), np.array([0, 0, 1]), nvs, cpus, args, 3)
    assert moved == [1] and list(nodes) == [0, 1, 1]
    # the same cut over one step (K = 1) is worth less than what moving costs once (0.375 x 1.8 + 0.02)
    nodes, moved = sim.choose_nodes(np.array([2.7, 1.8, 0.2]), np.array([0, 0, 1]), nvs, cpus, args, 1)
    assert moved == []
    # at most --max-moves VMs a plan, each once
    many = np.array([1.0] * 8 + [0.0])
    nodes, moved = sim.choose_nodes(many, np.array([0] * 8 + [1]), np.ones(9, dtype=int), cpus, args, 12)
    assert moved == [0, 1, 2, 3] and list(nodes).count(1) == 5
    nodes, moved = sim.choose_nodes(many, np.array([0] * 8 + [1]), np.ones(9, dtype=int), cpus,
                                    args_for('--max-moves', '2'), 12)
    assert len(moved) == 2
    # a VM larger than the other node's CPUs never goes there
    nodes, moved = sim.choose_nodes(np.array([4.5, 0.0]), np.array([0, 0]), np.array([5, 1]), cpus, args, 3)
    assert moved == []


def run_sim(tmp_path, sweep, policies):
    """(stdout, JSON result) of a seconds-long policy_sim run on the excerpt: one period, one overcommit."""
    out = tmp_path / 'sim.json'
    proc = subprocess.run([sys.executable, SIM, '--traces', EXCERPT, '--split', 'all', '--days', '1', '--host-cpus', '8',
                           '--periods', '3', '--overcommits', '3.0', '--capacity-period', '0', '--float-cost', '0.01',
                           '--float-cost-sweep', sweep, '--policies', policies, '--json', str(out)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return proc.stdout, json.loads(out.read_text())


def test_pool_policies_in_a_run(tmp_path):
    stdout, result = run_sim(tmp_path, '0,0.02', 'reactive_peak,oracle,float,numad,pool_oracle')
    (run,) = result['runs']
    assert set(run['policies']) == {'static', 'reactive_peak', 'oracle', 'float', 'numad', 'pool_oracle'}
    assert run['policies']['float']['moves_per_vm_hour'] == 0.0 and run['numa_migrations_per_vm_hour']['float'] == 0.0
    assert run['policies']['float']['numa_remote_frac'] == 0.5
    assert result['meta']['costs']['float_cost'] == 0.01
    for p in ('float', 'numad', 'pool_oracle'):
        assert run['unserved_above_floor_frac'][p] >= 0.0
    # the sweep reruns the pool policies only, at each cost; more extra work never serves more
    sweep = run['float_cost_sweep']
    assert set(sweep) == {'0', '0.02'} and all(set(v) == {'float', 'numad', 'pool_oracle'} for v in sweep.values())
    for p in ('float', 'numad', 'pool_oracle'):
        low, high = sweep['0'][p]['unserved_frac'], sweep['0.02'][p]['unserved_frac']
        assert low <= run['policies'][p]['unserved_frac'] <= high, (p, low, high)
    assert set(run['comparison_pools']) == {'better_pool', 'better_reactive', 'better_pool_vs_better_reactive',
                                            'pool_oracle_vs_oracle'}
    assert '--float-cost 0.02' in stdout and 'pools (above the floor)' in stdout
