# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""host_predictor against the real libvirtd: discovery by event, endpoint, kill -9 and restart, archive."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytest.importorskip('torch')

import libvirt_harness  # noqa: E402  pylint: disable=import-error

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULE = 'ansible_collections.adaptive.intravm.services.predictor'
START_TIMEOUT = 180   # importing torch takes a while on a loaded 2-core machine


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Daemon(object):
    def __init__(self, tmp_path):
        self.dir = tmp_path
        self.port = free_port()
        self.cfg = {'step_s': 1, 'checkpoint_interval_s': 2, 'state_dir': str(tmp_path / 'state'),
                    'state_file': str(tmp_path / 'run' / 'forecasts.json'), 'listen': '127.0.0.1:%d' % self.port,
                    'chunk': 4, 'horizons': [1, 3], 'gpu': False}
        (tmp_path / 'config.json').write_text(json.dumps(self.cfg))
        self.proc = None
        self.logs = []

    def start(self):
        log = open(str(self.dir / ('daemon-%d.log' % len(self.logs))), 'w')
        self.logs.append(log.name)
        env = dict(os.environ, PYTHONPATH=os.path.join(REPO, '.build', 'collections'))
        self.proc = subprocess.Popen([sys.executable, '-m', MODULE, 'run', '--config', str(self.dir / 'config.json')],
                                     stdout=log, stderr=subprocess.STDOUT, env=env)

    def log(self):
        return open(self.logs[-1]).read()

    def get(self, path='/forecasts'):
        with urllib.request.urlopen('http://127.0.0.1:%d%s' % (self.port, path), timeout=5) as resp:
            return resp.read()

    def wait_vm(self, name, min_samples=1, timeout=START_TIMEOUT):
        deadline = time.time() + timeout
        while time.time() < deadline:
            assert self.proc.poll() is None, 'daemon exited:\n' + self.log()
            try:
                doc = json.loads(self.get())
                vm = doc['vms'].get(name)
                if vm and vm.get('samples', 0) >= min_samples:
                    return doc
            except (OSError, ValueError):
                pass
            time.sleep(0.5)
        raise AssertionError('%s never served with %d samples:\n%s' % (name, min_samples, self.log()))

    def kill(self, sig):
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=60)


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path)
    yield d
    if d.proc and d.proc.poll() is None:
        d.proc.kill()
        d.proc.wait()


def test_daemon_serves_restarts_from_checkpoint_and_archives(libvirtd, make_domain, daemon):
    dom = make_domain('pred', vcpus=2)
    name, uuid = dom.name(), dom.UUIDString()
    daemon.start()
    doc = daemon.wait_vm(name, min_samples=4)
    assert doc['version'] == 2 and doc['step_s'] == 1 and doc['host'] == socket.gethostname()
    vm = doc['vms'][name]
    assert vm['uuid'] == uuid and vm['vcpus'] == 2 and vm['horizons_s'] == [1, 3]
    assert vm['actual']['cpu'] == 0.0                        # a paused domain uses no CPU
    for p50, p90 in zip(vm['cpu']['p50'], vm['cpu']['p90']):
        assert 0.0 <= p50 <= p90
    assert sorted(vm['vcpu']) == ['0', '1']
    peak = vm['cpu_peak']                                    # default windows of 3 and 12 steps of 1 s
    assert peak['windows_s'] == [3, 12] and sorted(peak['vcpu']) == ['0', '1']
    assert all(0.0 <= p50 <= p90 for p50, p90 in zip(peak['p50'], peak['p90']))
    assert vm['model'] in ('lstm', 'last_value', 'ewma', 'seasonal_naive', 'window_p90', 'vpa_p90', 'last_plus_err_p90')
    on_disk = json.load(open(daemon.cfg['state_file']))
    assert on_disk['version'] == 2 and name in on_disk['vms']
    metrics = daemon.get('/metrics').decode()
    assert 'intravm_actual_cpu{domain="%s"}' % name in metrics
    assert 'intravm_forecast_cpu{domain="%s",horizon_s="3",quantile="p90"}' % name in metrics

    ckpt = os.path.join(daemon.cfg['state_dir'], 'models', uuid + '.pt')
    deadline = time.time() + 30
    while not os.path.exists(ckpt) and time.time() < deadline:
        time.sleep(0.5)
    assert os.path.exists(ckpt), daemon.log()
    time.sleep(3)                                               # at least one more checkpoint interval
    assert daemon.kill(signal.SIGKILL) == -signal.SIGKILL
    import torch  # pylint: disable=import-outside-toplevel
    saved = torch.load(ckpt, weights_only=True)['extra']['steps']
    assert saved >= 4

    daemon.start()
    daemon.wait_vm(name, min_samples=saved + 1)
    assert 'restored model from checkpoint (%d samples seen)' % saved in daemon.log()

    # a corrupt checkpoint is set aside and the VM restarts from the global model
    assert daemon.kill(signal.SIGKILL) == -signal.SIGKILL
    with open(ckpt, 'wb') as handle:
        handle.write(b'\x00garbage')
    daemon.start()
    doc = daemon.wait_vm(name, min_samples=1)
    assert doc['vms'][name]['samples'] < saved + 1
    assert 'set aside' in daemon.log()
    assert [n for n in os.listdir(os.path.dirname(ckpt)) if n.startswith(uuid + '.pt.corrupt-')]

    # the domain is undefined: its model is archived (found by the lifecycle event)
    libvirt_harness.remove(libvirtd, name)
    archive = os.path.join(daemon.cfg['state_dir'], 'archive')
    deadline = time.time() + 30
    while time.time() < deadline and not [n for n in os.listdir(archive) if n.startswith(uuid)]:
        time.sleep(0.5)
    assert [n for n in os.listdir(archive) if n.startswith(uuid)], daemon.log()
    deadline = time.time() + 10
    while time.time() < deadline and name in json.loads(daemon.get())['vms']:
        time.sleep(0.5)
    assert name not in json.loads(daemon.get())['vms']

    assert daemon.kill(signal.SIGTERM) == 0                     # clean shutdown checkpoints and exits 0
    assert 'stopping: checkpointing' in daemon.log()
