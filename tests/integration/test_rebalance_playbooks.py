# -*- coding: utf-8 -*-
"""playbooks/rebalance.yml and rollback.yml against the real libvirtd: a dry run
changes nothing, the first run moves a vCPU off a predicted hotspot, the second
run moves nothing, and rollback restores the recorded pins."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys
import time

from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset
from ansible_collections.adaptive.intravm.plugins.module_utils.host.placement import read_pins

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def play(name, extra, check=False):
    cmd = [os.path.join(BIN, 'ansible-playbook'), os.path.join(ROOT, 'playbooks', name), '-i', 'localhost,',
           '-c', 'local', '-e', json.dumps(extra)]
    if check:
        cmd += ['--check', '--diff']
    proc = subprocess.run(cmd, env=dict(os.environ, ANSIBLE_NOCOLOR='1'), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-5000:]
    return proc.stdout


def test_rebalance_dry_run_apply_idempotent_and_rollback(libvirtd, make_domain, tmp_path):
    host_cpus = libvirtd.getCPUMap()[0]
    dom = make_domain('rebal', vcpus=2)
    both_on_0 = cpuset.to_cpumap({0}, host_cpus)
    for vcpu in (0, 1):
        dom.pinVcpuFlags(vcpu, both_on_0, 0)
        dom.pinVcpuFlags(vcpu, both_on_0, 2)
    start = read_pins(dom, 'live')
    forecasts = tmp_path / 'forecasts.json'
    forecasts.write_text(json.dumps({
        'version': 1, 'generated_at': time.time(), 'host': 'localhost', 'step_s': 300,
        'vms': {dom.name(): {'vcpus': 2, 'model': 'recorded', 'horizons_s': [300],
                             'cpu': {'p50': [0.8], 'p90': [0.9]},
                             'vcpu': {'0': {'p50': [0.8], 'p90': [0.9]}, '1': {'p50': [0.8], 'p90': [0.9]}}}}}))
    state_dir = tmp_path / 'state'
    extra = {'target_hosts': 'localhost', 'ansible_python_interpreter': sys.executable,
             'rebalance_forecasts_path': str(forecasts), 'rebalance_state_dir': str(state_dir),
             'rebalance_policy': {'vms': {dom.name(): {'min_cpus': 1}}}}

    dry = play('rebalance.yml', extra, check=True)
    assert read_pins(dom, 'live') == start, 'check mode changed the domain'
    assert '--- before' in dry and '+++ after' in dry

    play('rebalance.yml', extra)
    after = read_pins(dom, 'live')
    assert sorted(after['vcpus'].values()) == ['0', '1'], after
    first = json.loads((state_dir / 'last-rebalance.json').read_text())
    assert first['changed']['cpu'] == [dom.name()] and first['moves']

    play('rebalance.yml', extra)
    second = json.loads((state_dir / 'last-rebalance.json').read_text())
    assert second['changed']['cpu'] == [] and second['moves'] == []
    assert read_pins(dom, 'live') == after

    play('rollback.yml', extra)
    assert read_pins(dom, 'live') == after, 'rollback restores the placement before the LAST rebalance'
    # The last rebalance recorded `after` as its starting point; roll back to `start` by
    # replaying the first record.
    (state_dir / 'placement-before-rebalance.json').write_text(json.dumps(
        {'uri': 'qemu:///system', 'domains': [{'name': dom.name(), 'source': 'live', 'pins': start,
                                              'numatune': {'mode': None, 'nodeset': None}}]}))
    play('rollback.yml', extra)
    assert read_pins(dom, 'live') == start
    assert read_pins(dom, 'config')['vcpus'] == start['vcpus']
