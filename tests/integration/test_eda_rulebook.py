# -*- coding: utf-8 -*-
"""The real ansible-rulebook, fed by our forecasts source from a live HTTP
endpoint, runs playbooks/rebalance.yml for the host with a predicted hotspot."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from forecast_endpoint import Endpoint

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def java_home():
    for base in ('/usr/lib/jvm/java-17-openjdk-amd64', '/usr/lib/jvm/java-17-openjdk-arm64'):
        if os.path.isdir(base):
            return base
    return None


@pytest.mark.skipif(java_home() is None, reason='ansible-rulebook needs Java 17 (openjdk-17-jre-headless)')
def test_predicted_hotspot_runs_the_rebalance_playbook(libvirtd, make_domain, tmp_path):
    dom = make_domain('eda', vcpus=2)
    host_cpus = libvirtd.getCPUMap()[0]
    state = {'version': 2, 'generated_at': time.time(), 'host': 'localhost', 'host_cpus': host_cpus, 'step_s': 300,
             'vms': {dom.name(): {'vcpus': 2, 'model': 'recorded', 'horizons_s': [300],
                                  'cpu': {'p50': [0.9], 'p90': [1.0]}}}}
    endpoint = Endpoint(state)
    state_dir = tmp_path / 'state'
    inventory = tmp_path / 'inventory.yml'
    inventory.write_text(json.dumps({'all': {'hosts': {'localhost': {
        'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
        'rebalance_forecasts_url': endpoint.url, 'rebalance_state_dir': str(state_dir)}}}}))
    variables = tmp_path / 'vars.yml'
    variables.write_text(json.dumps({'forecasts_url': endpoint.url, 'forecasts_interval': 0.2,
                                     'forecasts_debounce': 2, 'forecasts_max_events': 1}))
    env = dict(os.environ, JAVA_HOME=java_home(), ANSIBLE_NOCOLOR='1',
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.build', 'collections'),
               PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
    try:
        proc = subprocess.run([os.path.join(BIN, 'ansible-rulebook'), '--rulebook',
                               os.path.join(ROOT, 'extensions', 'eda', 'rulebooks', 'rebalance.yml'),
                               '-i', str(inventory), '--vars', str(variables), '--print-events'],
                              cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=300, check=False)
    finally:
        endpoint.close()
    report = state_dir / 'last-rebalance.json'
    assert report.exists(), 'the rebalance playbook did not run:\n%s' % proc.stdout[-5000:]
    ran = json.loads(report.read_text())
    assert ran['reason'] == 'hotspot_predicted'
    assert (state_dir / 'placement-before-rebalance.json').exists()
    assert 'hotspot_predicted' in proc.stdout
    shutil.rmtree(str(state_dir))
