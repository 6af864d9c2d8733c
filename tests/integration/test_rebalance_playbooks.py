# -*- coding: utf-8 -*-
"""playbooks/rebalance.yml and rollback.yml against the real libvirtd: a dry run changes
nothing, a run that moves something adds one rollback history entry (pruned to the last
N) and a run that moves nothing adds none, rollback restores the latest entry or one by
id (for the domains rebalance changed since); faults between plan and apply are reported per domain; a held lock or a broken
forecasts file touches nothing; two concurrent runs leave one run's plan and say which won."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import subprocess
import sys
import time

from ansible_collections.adaptive.intravm.plugins.module_utils.apply.host_lock import HostLock
from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset
from ansible_collections.adaptive.intravm.plugins.module_utils.host.placement import read_pins

import libvirt_harness

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
ENV = dict(os.environ, ANSIBLE_NOCOLOR='1', PYTHONUNBUFFERED='1')

# Runs inside ansible-playbook: right after "Compute the plan", does what INTRAVM_FAULTS
# asks to the named domains, as another actor would between a plan and its apply.
FAULTS_CALLBACK = '''
import json
import os

import libvirt
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'between_plan_and_apply'
    CALLBACK_NEEDS_ENABLED = True

    def v2_runner_on_ok(self, result):
        if result._task.name != 'Compute the plan':
            return
        faults = json.loads(os.environ['INTRAVM_FAULTS'])
        conn = libvirt.open('qemu:///system')
        try:
            for name in faults['destroy']:
                conn.lookupByName(name).destroy()
            for name, cpu in faults['repin'].items():
                host_cpus = conn.getCPUMap()[0]
                conn.lookupByName(name).pinVcpuFlags(0, tuple(i == cpu for i in range(host_cpus)), 1)
        finally:
            conn.close()
'''


def play(name, extra, check=False, rc=0, env=None):
    cmd = [os.path.join(BIN, 'ansible-playbook'), os.path.join(ROOT, 'playbooks', name), '-i', 'localhost,',
           '-c', 'local', '-e', json.dumps(extra)]
    if check:
        cmd += ['--check', '--diff']
    proc = subprocess.run(cmd, env=env or ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=600, check=False)
    assert proc.returncode == rc, proc.stdout[-5000:]
    assert 'Traceback' not in proc.stdout, proc.stdout[-5000:]
    return proc.stdout


def forecast(names, vcpus, load):
    one = {'p50': [load], 'p90': [load]}
    return {'version': 2, 'generated_at': time.time(), 'host': 'localhost', 'step_s': 300,
            'vms': dict((n, {'vcpus': vcpus, 'model': 'recorded', 'horizons_s': [300], 'cpu': one,
                             'vcpu': dict((str(i), one) for i in range(vcpus))}) for n in names)}


def setup(tmp_path, names, vcpus=2, load=0.9):
    forecasts = tmp_path / 'forecasts.json'
    forecasts.write_text(json.dumps(forecast(names, vcpus, load)))
    state_dir = tmp_path / 'state'
    extra = {'target_hosts': 'localhost', 'ansible_python_interpreter': sys.executable,
             'rebalance_forecasts_path': str(forecasts), 'rebalance_state_dir': str(state_dir),
             'rebalance_policy': {'vms': dict((n, {'min_cpus': 1}) for n in names)}}
    return forecasts, state_dir, extra


def history(state_dir):
    folder = state_dir / 'history'
    return sorted(p.name[:-len('.json')] for p in folder.iterdir()) if folder.exists() else []


def entry(state_dir, run_id):
    return json.loads((state_dir / 'history' / ('%s.json' % run_id)).read_text())


def recorded(dom, pins, source='live'):
    return {'name': dom.name(), 'uuid': dom.UUIDString(), 'state': 'paused', 'source': source, 'vcpu_count': 2,
            'pins': pins, 'numatune': {'mode': None, 'nodeset': None, 'placement': None, 'memnodes': {}}}


def write_entry(state_dir, run_id, domains, age_s):
    """A history entry as a run that changed the pins of `domains` would have written it age_s ago."""
    (state_dir / 'history').mkdir(parents=True, exist_ok=True)
    path = state_dir / 'history' / ('%s.json' % run_id)
    path.write_text(json.dumps({'id': run_id, 'time': 'then', 'reason': 'test', 'uri': 'qemu:///system',
                                'domains': domains, 'moves': [], 'plan': {},
                                'changed': {'cpu': [d['name'] for d in domains], 'numa': [], 'network': [], 'gpu': []}}))
    then = time.time() - age_s
    os.utime(str(path), (then, then))


def test_dry_run_apply_history_and_rollback(libvirtd, make_domain, tmp_path):
    host_cpus = libvirtd.getCPUMap()[0]
    dom = make_domain('rebal', vcpus=2)
    # Shut off, so it is recorded but never planned: no run changes it, so no rollback may.
    bystander = make_domain('bystander', vcpus=1, start=False)
    libvirt_harness.pin_vcpus(dom, {0})
    start = read_pins(dom, 'live')
    state_dir, extra = setup(tmp_path, [dom.name()])[1:]
    # Two older entries: with rebalance_history_keep=2 the oldest goes when the run adds one.
    elsewhere = dict(start, vcpus={'0': '1', '1': '1'})
    write_entry(state_dir, 'old-1', [recorded(dom, start)], 300)
    gone = dict(recorded(dom, start), name='intravm-test-gone-p1-000000', uuid='00000000-0000-4000-8000-000000000001')
    write_entry(state_dir, 'old-2', [recorded(dom, elsewhere), gone], 200)
    extra['rebalance_history_keep'] = 2

    dry = play('rebalance.yml', dict(extra, rebalance_run_id='dry'), check=True)
    assert read_pins(dom, 'live') == start, 'check mode changed the domain'
    assert '--- before' in dry and '+++ after' in dry
    assert history(state_dir) == ['old-1', 'old-2'] and not (state_dir / 'rebalance.lock').exists()

    play('rebalance.yml', dict(extra, rebalance_run_id='first', rebalance_reason='hotspot_predicted'))
    bystander.pinVcpuFlags(0, cpuset.to_cpumap({1}, host_cpus), 2)  # after the placement "first" recorded
    bystander_pins = read_pins(bystander, 'config')
    after = read_pins(dom, 'live')
    assert sorted(after['vcpus'].values()) == ['0', '1'], after
    report = json.loads((state_dir / 'last-rebalance.json').read_text())
    assert report['run_id'] == 'first' and report['history_id'] == 'first'
    assert report['changed']['cpu'] == [dom.name()] and report['moves'] and not report['failed']
    assert history(state_dir) == ['first', 'old-2'], 'the oldest entry beyond rebalance_history_keep is removed'
    first = entry(state_dir, 'first')
    assert first['reason'] == 'hotspot_predicted' and first['uri'] == 'qemu:///system' and first['time']
    assert [d['pins'] for d in first['domains'] if d['name'] == dom.name()] == [start]
    assert first['moves'] == report['moves'] and first['plan']['vcpu_pin'][0]['expect'] == start['vcpus']
    assert not (state_dir / 'rebalance.lock').exists(), 'the lock is given back'
    recorded_first = (state_dir / 'history' / 'first.json').read_bytes()

    play('rebalance.yml', dict(extra, rebalance_run_id='second'))
    report = json.loads((state_dir / 'last-rebalance.json').read_text())
    assert report['changed']['cpu'] == [] and report['moves'] == [] and report['history_id'] is None
    assert history(state_dir) == ['first', 'old-2'], 'a run that changed nothing writes no history'
    assert (state_dir / 'history' / 'first.json').read_bytes() == recorded_first
    assert read_pins(dom, 'live') == after

    out = play('rollback.yml', dict(extra, rollback_id='old-2'))
    assert read_pins(dom, 'live')['vcpus'] == elsewhere['vcpus'], 'back to before old-2 (undoing "first" too)'
    assert 'skipped, no longer on this host' in out and gone['name'] in out

    play('rollback.yml', extra)
    assert read_pins(dom, 'live') == start, 'rollback restores the latest entry: the placement before "first"'
    assert read_pins(dom, 'config')['vcpus'] == start['vcpus']
    assert read_pins(bystander, 'config') == bystander_pins, 'a domain no rebalance changed is left alone'
    assert bystander.name() in [d['name'] for d in entry(state_dir, 'first')['domains']]

    out = play('rollback.yml', dict(extra, rollback_id='nope'), rc=2)
    assert 'no history entry nope' in out and 'first' in out and 'old-2' in out


def test_rollback_never_takes_an_entry_dated_ahead_for_the_latest_and_refuses_a_malformed_one(
        libvirtd, make_domain, tmp_path):
    dom = make_domain('hist', vcpus=2)
    libvirt_harness.pin_vcpus(dom, {0})
    start = read_pins(dom, 'live')
    state_dir, extra = setup(tmp_path, [dom.name()])[1:]
    elsewhere = dict(start, vcpus={'0': '1', '1': '1'})
    write_entry(state_dir, 'real', [recorded(dom, elsewhere)], 200)
    write_entry(state_dir, 'copied', [recorded(dom, start)], -86400)     # its mtime a day ahead of the clock
    out = play('rollback.yml', extra)
    assert read_pins(dom, 'live')['vcpus'] == elsewhere['vcpus'], 'the entry written last, not the one dated ahead'
    assert 'history entry copied is not used' in out

    libvirt_harness.pin_vcpus(dom, {0})
    bad = dict(entry(state_dir, 'real'), id='everything', changed='everything')
    path = state_dir / 'history' / 'everything.json'
    path.write_text(json.dumps(bad))
    then = time.time() - 100
    os.utime(str(path), (then, then))
    out = play('rollback.yml', extra, rc=2)
    assert 'history entry everything is malformed' in out and "changed 'everything'" in out
    assert read_pins(dom, 'live') == start, 'a refused rollback restores nothing'
    assert not (state_dir / 'rebalance.lock').exists(), 'and gives the lock back'


def test_faults_between_plan_and_apply_are_reported_per_domain(libvirtd, make_domain, tmp_path):
    """Shut off, undefined and re-pinned after the plan: each named, the one healthy domain applied."""
    healthy, shut, repinned = (make_domain(label, vcpus=1) for label in ('ok', 'shut', 'repin'))
    gone = make_domain('gone', vcpus=1, persistent=False)
    doms = [healthy, shut, repinned, gone]
    names = [d.name() for d in doms]
    state_dir, extra = setup(tmp_path, names, vcpus=1, load=0.1)[1:]
    before = dict((d.name(), read_pins(d, 'config')) for d in doms[:3])
    repinned_live = read_pins(repinned, 'live')['vcpus']['0']
    callbacks = tmp_path / 'callbacks'
    callbacks.mkdir()
    (callbacks / 'between_plan_and_apply.py').write_text(FAULTS_CALLBACK)
    target = 1 if repinned_live != '1' else 0
    env = dict(ENV, ANSIBLE_CALLBACK_PLUGINS=str(callbacks), ANSIBLE_CALLBACKS_ENABLED='between_plan_and_apply',
               INTRAVM_FAULTS=json.dumps({'destroy': [shut.name(), gone.name()], 'repin': {repinned.name(): target}}))

    out = play('rebalance.yml', dict(extra, rebalance_run_id='faulty'), rc=2, env=env)
    assert '2 domain(s) could not be rebalanced' in out
    report = json.loads((state_dir / 'last-rebalance.json').read_text())
    assert report['changed']['cpu'] == [healthy.name()]
    assert sorted(report['failed']) == sorted([shut.name(), gone.name()])
    assert 'shutoff' in report['failed'][shut.name()] and 'not found' in report['failed'][gone.name()]
    assert list(report['superseded']) == [repinned.name()]
    assert 'superseded' in report['superseded'][repinned.name()] and 'vcpu 0' in report['superseded'][repinned.name()]
    assert report['superseded_by'] == [], 'no other rebalance run changed it: the message says so by naming none'
    assert read_pins(repinned, 'live')['vcpus']['0'] == str(target), 'the superseded domain is left as the other actor set it'
    assert read_pins(shut, 'config') == before[shut.name()] and read_pins(repinned, 'config') == before[repinned.name()]
    assert history(state_dir) == ['faulty'] and not (state_dir / 'rebalance.lock').exists()


def test_a_held_lock_or_broken_forecasts_fail_clearly_and_touch_nothing(libvirtd, make_domain, tmp_path):
    dom = make_domain('held', vcpus=2)
    start = read_pins(dom, 'live')
    forecasts, state_dir, extra = setup(tmp_path, [dom.name()])
    state_dir.mkdir()
    lock = HostLock(str(state_dir / 'rebalance.lock'))
    lock.acquire('awx-job-7', 0, 600, note='scheduled')

    out = play('rebalance.yml', dict(extra, rebalance_lock_wait=0), rc=2)
    assert "held by run 'awx-job-7' (scheduled)" in out and 'since' in out
    assert read_pins(dom, 'live') == start and history(state_dir) == []
    assert lock.read()['owner'] == 'awx-job-7', 'a run never gives back a lock it does not hold'
    lock.release('awx-job-7')

    forecasts.write_text(forecasts.read_text()[:40])  # half-written
    out = play('rebalance.yml', extra, rc=2)
    assert 'not valid JSON' in out
    assert read_pins(dom, 'live') == start and history(state_dir) == []
    assert not (state_dir / 'rebalance.lock').exists()


def test_two_concurrent_runs_leave_one_plan_and_say_which_won(libvirtd, make_domain, tmp_path):
    """Both runs start while a third party holds the lock, so both wait; whichever gets it first
    applies its plan, the other waits for it, plans from what it left and changes nothing."""
    dom = make_domain('race', vcpus=2)
    state_dir, extra = setup(tmp_path, [dom.name()])[1:]
    state_dir.mkdir()
    holder = HostLock(str(state_dir / 'rebalance.lock'))
    holder.acquire('test-holder', 0, 600)
    procs, logs = {}, {}
    for run_id in ('run-a', 'run-b'):
        logs[run_id] = tmp_path / ('%s.log' % run_id)
        with open(str(logs[run_id]), 'w') as log:
            procs[run_id] = subprocess.Popen(
                [os.path.join(BIN, 'ansible-playbook'), os.path.join(ROOT, 'playbooks', 'rebalance.yml'), '-i', 'localhost,',
                 '-c', 'local', '-e', json.dumps(dict(extra, rebalance_run_id=run_id))],
                env=ENV, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 180
        while not all("Take this host's rebalance lock" in logs[r].read_text() for r in procs):
            assert time.time() < deadline and all(p.poll() is None for p in procs.values()), \
                '\n'.join(logs[r].read_text()[-3000:] for r in procs)
            time.sleep(0.5)
        time.sleep(2)  # both are now waiting on the lock
        holder.release('test-holder')
        for proc in procs.values():
            proc.wait(timeout=300)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
    outputs = dict((r, logs[r].read_text()) for r in procs)
    assert all(p.returncode == 0 for p in procs.values()), outputs

    assert len(history(state_dir)) == 1, 'exactly one run changed something'
    winner = history(state_dir)[0]
    loser = 'run-b' if winner == 'run-a' else 'run-a'
    planned = entry(state_dir, winner)['plan']['vcpu_pin']
    assert [e['name'] for e in planned] == [dom.name()]
    assert read_pins(dom, 'live')['vcpus'] == planned[0]['vcpus'], 'the final placement is the winner\'s plan'
    report = json.loads((state_dir / 'last-rebalance.json').read_text())
    assert report['run_id'] == loser and report['history_id'] is None, 'the loser ran last and changed nothing'
    assert report['lock']['waited_for'] == ['test-holder', winner]
    assert 'waiting' in outputs[loser] and 'for run(s) test-holder, %s, which went first' % winner in outputs[loser]
    assert not (state_dir / 'rebalance.lock').exists()


def test_resize_is_opt_in_bounded_live_only_and_runs_under_its_tag(libvirtd, make_domain, tmp_path):
    """rebalance.yml --tags vcpus hot-plugs a vCPU into the one VM opted in by rebalance_resize, up to its bound,
    live only; the VM not named keeps its size whatever its forecast; a second run changes nothing."""
    dom = make_domain('resize', vcpus=1, max_vcpus=3)
    fixed = make_domain('fixed', vcpus=1, max_vcpus=3)
    _forecasts, state_dir, extra = setup(tmp_path, [dom.name(), fixed.name()], vcpus=1, load=1.0)
    extra['rebalance_resize'] = {dom.name(): {'min_vcpus': 1, 'max_vcpus': 2}}
    reports = []
    for _run in range(2):
        out = play('rebalance.yml', extra, env=dict(ENV, ANSIBLE_RUN_TAGS='vcpus'))
        assert 'Hot-plug or unplug vCPUs' in out
        reports.append(json.loads((state_dir / 'last-rebalance.json').read_text()))
    assert reports[0]['changed']['vcpus'] == [dom.name()]
    assert reports[1]['changed']['vcpus'] == []
    assert reports[0]['changed']['cpu'] == []       # only what the tag selects was applied
    assert dom.vcpusFlags(libvirt_harness.libvirt.VIR_DOMAIN_AFFECT_LIVE) == 2
    assert dom.vcpusFlags(libvirt_harness.libvirt.VIR_DOMAIN_AFFECT_CONFIG) == 1     # live only
    assert fixed.vcpusFlags(libvirt_harness.libvirt.VIR_DOMAIN_AFFECT_LIVE) == 1


def test_the_plan_carries_the_forecast_peak_until_the_next_run(libvirtd, make_domain, tmp_path):
    """rebalance_period_s picks the window peak the placement must hold: the 15-minute peak fits one CPU,
    the hour's does not, so only a run with an hourly period moves a vCPU."""
    dom = make_domain('period', vcpus=2)
    libvirt_harness.pin_vcpus(dom, {0})
    start = read_pins(dom, 'live')
    forecasts, _state_dir, extra = setup(tmp_path, [dom.name()], load=0.4)   # both vCPUs on CPU 0: 0.8, fits
    doc = json.loads(forecasts.read_text())
    peak = {'p50': [0.4, 0.7], 'p90': [0.45, 0.8]}
    doc['vms'][dom.name()]['cpu_peak'] = {'windows_s': [900, 3600], 'p50': peak['p50'], 'p90': peak['p90'],
                                          'vcpu': {'0': peak, '1': peak}}
    forecasts.write_text(json.dumps(doc))
    quarter = play('rebalance.yml', extra, check=True)                              # default: 900 s
    hour = play('rebalance.yml', dict(extra, rebalance_period_s=3600), check=True)
    assert 'no move: the current placement already meets the forecasts' in quarter, 'the 15-minute peak (0.45 + 0.45) fits CPU 0'
    moved = re.search(r'forecast at ([0-9.]+) \(auto\) over capacity', hour)
    # the default quantile, auto, plans between P50 (0.7 + 0.7) and P90 (0.8 + 0.8): over one CPU either way
    assert moved and 1.4 <= float(moved.group(1)) <= 1.6, 'the hour peak does not fit: one vCPU moves'
    assert read_pins(dom, 'live') == start, 'check mode changed the domain'
