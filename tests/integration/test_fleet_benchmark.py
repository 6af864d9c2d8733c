# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""benchmarks/fleet.py in a small form, so the benchmark keeps working: a job across 3
hosts and one event-source activation across 8 predictor endpoints. Times are printed by
the benchmark, never asserted here."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_fleet_benchmark_runs_the_job_and_follows_the_endpoints(libvirtd, tmp_path):  # pylint: disable=unused-argument
    out = tmp_path / 'fleet.json'
    proc = subprocess.run([sys.executable, os.path.join(ROOT, 'benchmarks', 'fleet.py'), '--hosts', '3', '--domains', '2',
                           '--forks', '3', '--endpoints', '8', '--json', str(out)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-4000:]
    result = json.loads(out.read_text())
    run = result['runs'][0]
    assert run['hosts'] == 3 and run['rc'] == 0 and run['failed_hosts'] == 0, run
    assert run['changed_hosts'] >= 1, 'the first host applies the plan; the others find it made'
    assert run['cpu_s_per_host'] > 0 and run['plan_s_per_host'] > 0
    assert 'Compute the plan' in run['task_s_per_host']
    assert any('apply_plan' in name or 'one call for every domain' in name for name in run['task_s_per_host'])
    source = result['event_source'][0]
    assert source['endpoints'] == 8 and source['events_per_poll'] == source['hot_endpoints'] == 2
    assert '3 hosts' in proc.stdout and 'event source: 8 endpoints' in proc.stdout
