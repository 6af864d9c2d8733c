# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The short form of benchmarks/memory_sim.py, on the in-repository trace excerpt (40 VMs, 3 days)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIM = os.path.join(ROOT, 'benchmarks', 'memory_sim.py')
EXCERPT = os.path.join(ROOT, 'data', 'traces')
METRICS = {'slack_frac', 'violation_frac', 'resizes_per_vm_hour'}


def run(tmp_path, *extra):
    out = tmp_path / 'memory_sim.json'
    proc = subprocess.run([sys.executable, SIM, '--traces', EXCERPT, '--json', str(out)] + list(extra),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return json.loads(out.read_text()), proc.stdout


def test_memory_sim_on_the_excerpt(tmp_path):
    png = tmp_path / 'memory_sim.png'
    result, stdout = run(tmp_path, '--split', 'all', '--seed', '3', '--png', str(png))
    pol = result['policies']
    assert set(pol) == {'static', 'reactive', 'window_peak', 'predictive'}
    for name, figures in pol.items():
        assert set(figures) == METRICS, name
        assert all(isinstance(v, float) and v >= 0 for v in figures.values()), (name, figures)
    meta = result['meta']
    for key in ('split', 'vms', 'steps', 'period', 'seed', 'parameters', 'elapsed'):
        assert key in meta, key
    assert meta['split'] == 'all' and meta['period'] == 3 and meta['seed'] == 3 and meta['vms'] >= 30
    assert meta['steps'] >= 3 * 288
    # the point of sizing at all: far less slack than the provisioned memory
    assert pol['static']['slack_frac'] >= pol['predictive']['slack_frac']
    assert pol['static']['slack_frac'] >= 2 * pol['window_peak']['slack_frac']
    # nothing goes above provisioned, so only static's steps (use recorded above it) are shared violations
    assert pol['predictive']['violation_frac'] >= pol['static']['violation_frac']
    assert pol['static']['resizes_per_vm_hour'] == 0.0 and pol['predictive']['resizes_per_vm_hour'] > 0
    # last use + 10 % runs short far more often than a policy sized for the peak
    assert pol['reactive']['violation_frac'] > 10 * pol['predictive']['violation_frac']
    assert set(result['targets']) == {'predictive_slack_at_most_half_static', 'predictive_violations_at_most_window_peak',
                                      'predictive_violations_at_most_0.001'}
    assert 'predictive vs window_peak' in stdout
    assert png.stat().st_size > 10000


def test_memory_sim_hourly_period_and_subset(tmp_path):
    result, _stdout = run(tmp_path, '--split', 'calib', '--period', '12', '--policies', 'predictive', '--limit-vms', '12')
    assert set(result['policies']) == {'static', 'predictive'} and result['targets'] == {}
    assert result['meta']['period'] == 12 and result['meta']['split'] == 'calib'
    assert result['meta']['parameters']['period'] == 12
    # at most one resize per run: 1 per VM-hour at an hourly period
    assert result['policies']['predictive']['resizes_per_vm_hour'] <= 1.0
