# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""benchmarks/float_cost.py: its --help, a seconds-long form (structure, not values) and its arithmetic."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, 'benchmarks', 'float_cost.py')


def load():
    spec = importlib.util.spec_from_file_location('float_cost_under_test', BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_help_runs():
    proc = subprocess.run([sys.executable, BENCH, '--help'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout
    assert '--seconds' in proc.stdout and '--repeats' in proc.stdout and '--json' in proc.stdout


def test_short_form(tmp_path):
    out = tmp_path / 'float_cost.json'
    proc = subprocess.run([sys.executable, BENCH, '--seconds', '0.2', '--warmup', '0.05', '--repeats', '2',
                           '--working-sets', '1', '--ratios', '1.0,1.5', '--json', str(out)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert 'float/pinned' in proc.stdout
    result = json.loads(out.read_text())
    assert set(result) == {'meta', 'summary', 'runs'}
    cpus = result['meta']['cpus']
    assert cpus == sorted(os.sched_getaffinity(0))
    assert [(e['workload'], e['ws_mib'], e['workers_per_cpu']) for e in result['summary']] == [
        ('compute', None, 1.0), ('compute', None, 1.5), ('ws', 1.0, 1.0), ('ws', 1.0, 1.5)]
    for e in result['summary']:
        assert e['workers'] == max(1, int(round(e['workers_per_cpu'] * len(cpus))))
        assert e['repeats'] == 2
        for mode in ('pinned', 'floating'):
            assert e[mode]['per_worker_rate_mean'] > 0 and e[mode]['per_worker_rate_sd'] >= 0
            assert e[mode]['involuntary_switches_per_s'] >= 0
        s = e['float_over_pinned']
        assert 0 < s['min'] <= s['median'] <= s['max']
        assert set(e['implied_float_cost']) == {'median', 'min', 'max'}
    assert len(result['runs']) == 2 * 2 * 2 * 2   # repeats x workloads x ratios x modes
    # ABBA: the first repeat runs pinned first, the second floating first
    first = [r['mode'] for r in result['runs'] if r['repeat'] == 0][:2]
    second = [r['mode'] for r in result['runs'] if r['repeat'] == 1][:2]
    assert first == ['pinned', 'floating'] and second == ['floating', 'pinned']
    exposed = result['meta']['kernel_exposes']['migrations']
    for run in result['runs']:
        assert len(run['per_worker_rate']) == run['workers'] == len(run['worker_cpus'])
        if run['mode'] == 'pinned':
            assert all(len(c) == 1 for c in run['worker_cpus'])
            assert exposed is None or run['migrations_per_s'] == 0   # one allowed CPU: nowhere to move
        else:
            assert all(c == cpus for c in run['worker_cpus'])
        assert (run['migrations_per_s'] is None) == (exposed is None)


def test_pins_round_robin_and_cpu_lists():
    fc = load()
    assert fc.pinned_cpus(3, [4, 2]) == [[2], [4], [2]]
    assert fc.cpu_list('0-2,5, 7') == [0, 1, 2, 5, 7]
    assert [fc.n_workers(r, 2) for r in (1.0, 1.5, 2.0)] == [2, 3, 4]
    assert fc.n_workers(0.1, 2) == 1


def test_reads_the_kernels_migration_count(tmp_path):
    fc = load()
    sched = tmp_path / 'sched'
    sched.write_text('python (1234, #threads: 1)\n---\nse.exec_start : 1.5\nse.nr_migrations : 17\nnr_switches : 3\n')
    assert fc.read_sched(str(sched)) == 17
    sched.write_text('nr_switches : 3\n')
    assert fc.read_sched(str(sched)) is None
    assert fc.read_sched(str(tmp_path / 'missing')) is None
    stat = tmp_path / 'schedstat'
    stat.write_text('100 20 3\n')
    assert fc.read_schedstat(str(stat)) == (100, 20, 3)


def test_summary_arithmetic():
    fc = load()

    def run(mode, rep, rates, cpu_rates):
        return {'workload': 'compute', 'ws_mib': None, 'ratio': 1.5, 'repeat': rep, 'mode': mode, 'workers': 3,
                'per_worker_rate': rates, 'per_worker_rate_cpu': cpu_rates, 'migrations_per_s': 0.0 if mode == 'pinned' else 40.0,
                'involuntary_switches_per_s': 1.0}
    runs = [run('pinned', 0, [1.0, 0.5, 0.5], [1.0, 1.0, 1.0]), run('floating', 0, [0.6, 0.6, 0.6], [0.9, 0.9, 0.9]),
            run('floating', 1, [0.64, 0.64, 0.64], [0.95, 0.95, 0.95]), run('pinned', 1, [1.0, 0.5, 0.5], [1.0, 1.0, 1.0])]
    (e,) = fc.summarize(runs)
    # floating/pinned is the ratio of mean (= total) throughput per repeat: 0.6 / (2/3) and 0.64 / (2/3)
    assert abs(e['float_over_pinned']['min'] - 0.9) < 1e-9 and abs(e['float_over_pinned']['max'] - 0.96) < 1e-9
    assert abs(e['float_over_pinned']['median'] - 0.93) < 1e-9
    assert abs(e['float_over_pinned_per_cpu_s']['median'] - 0.925) < 1e-9
    assert abs(e['implied_float_cost']['median'] - round(1 / 0.93 - 1, 5)) < 1e-9
    assert e['pinned']['migrations_per_s'] == 0.0 and e['floating']['migrations_per_s'] == 40.0
    assert abs(e['pinned']['per_worker_rate_mean'] - 2.0 / 3) < 1e-9 and e['repeats'] == 2
