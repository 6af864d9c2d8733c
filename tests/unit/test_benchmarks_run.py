# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every benchmark still runs as a new user would run it (issue 27, point 7).

Each script in benchmarks/ answers --help, and runs a seconds-long form of itself
to the end (rc 0, its JSON written), in a subprocess with the staged collection
on PYTHONPATH, as docs/benchmarks.md tells a user to run it. A benchmark whose
short form is already run by another test is only asked for --help here; one
that needs root, libvirtd or real guests runs only its --help (and its short
form where it has one and the machine allows it).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCHMARKS = os.path.join(ROOT, 'benchmarks')
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')
EXCERPT = os.path.join(ROOT, 'data', 'traces')

# name -> (arguments of a seconds-long form, the JSON keys it must write)
SHORT_FORMS = {
    'backtest': (['--traces', EXCERPT, '--limit-vms', '4', '--epochs', '1', '--max-train-vms', '4', '--windows', '3'],
                 ('models', 'summary', 'windows')),
    'channel': (['--records', '2000'], ('write_us', 'read_us', 'reader_refusals')),
    'control_plane_cpu': (['--seconds', '0.3'], ('run_delay_s',)),
    'placement_apply': (['--vcpus', '4', '--repeat', '1'], ()),
    'planner_scale': (['--cpus', '16', '--vms', '8', '--repeats', '1'], ()),
    'predictor_scale': (['--vms', '20', '--repeat', '1', '--loop-vms', '2'], ()),
    'profiler_overhead': (['--seconds', '1', '--warmup', '0.3', '--interval', '0.1'], ('samples', 'cpu_percent_of_core')),
}
# name -> where its short form runs instead (here: --help only)
RUN_ELSEWHERE = {
    'faults': 'tests/integration/test_faults.py (root, real libvirtd)',
    'fleet': 'tests/integration/test_fleet_benchmark.py',
    'fuzz': 'tests/unit/test_fuzz_campaign.py',
    'memory_sim': 'tests/unit/test_memory_sim.py',
    'loop_on_guests': 'make demo (root, libvirtd, two real guests)',
    'policy_sim': 'tests/unit/test_policy_sim_period.py and tests/unit/test_policy_sim_pools.py',
    'float_cost': 'tests/unit/test_float_cost.py',
}
NEEDS_ROOT = {'control_plane_cpu'}


def benchmark_names():
    """The scripts in benchmarks/ that run as programs (modules they import are not benchmarks)."""
    names = []
    for path in sorted(glob.glob(os.path.join(BENCHMARKS, '*.py'))):
        with open(path) as handle:
            if "if __name__ == '__main__':" in handle.read():
                names.append(os.path.splitext(os.path.basename(path))[0])
    return names


def run(name, *args, **kwargs):
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(p for p in (COLLECTIONS, env.get('PYTHONPATH')) if p)
    env['PYTHONDONTWRITEBYTECODE'] = '1'
    env['MPLBACKEND'] = 'Agg'
    return subprocess.run([sys.executable, os.path.join(BENCHMARKS, name + '.py')] + list(args), cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=kwargs.get('timeout', 120), check=False)


def test_every_benchmark_is_listed_here():
    """A new benchmark gets a short form here, or says which test runs it."""
    names = set(benchmark_names())
    assert {'channel', 'fuzz', 'loop_on_guests'} <= names          # the glob finds them
    listed = set(SHORT_FORMS) | set(RUN_ELSEWHERE)
    assert not set(SHORT_FORMS) & set(RUN_ELSEWHERE)
    assert names == listed, 'benchmarks/ and this list differ: %s' % sorted(names ^ listed)


@pytest.mark.parametrize('name', sorted(set(SHORT_FORMS) | set(RUN_ELSEWHERE)))
def test_help(name):
    proc = run(name, '--help', timeout=60)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert 'usage:' in proc.stdout and '--help' in proc.stdout, proc.stdout[-4000:]


@pytest.mark.parametrize('name', sorted(SHORT_FORMS))
def test_short_form(name, tmp_path):
    if name in NEEDS_ROOT and os.geteuid() != 0:
        pytest.skip('%s needs root' % name)
    args, keys = SHORT_FORMS[name]
    out = tmp_path / ('%s.json' % name)
    extra = ['--png', str(tmp_path / 'plot.png')] if name == 'backtest' else []
    proc = run(name, *(args + extra + ['--json', str(out)]))
    if name in NEEDS_ROOT and proc.returncode != 0 and 'needs root' in proc.stdout:
        pytest.skip(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert 'Traceback' not in proc.stdout, proc.stdout[-4000:]
    result = json.loads(out.read_text())
    assert result
    for key in keys:
        assert key in result, (key, sorted(result))
    if name == 'channel':
        assert result['reader_refusals'] == {} and result['write_us'] > 0 and result['read_us'] > 0
    if name == 'control_plane_cpu':
        assert set(result['run_delay_s']) == {'none', 'nice19_root', 'sched_idle_root', 'idle_cgroup'}
