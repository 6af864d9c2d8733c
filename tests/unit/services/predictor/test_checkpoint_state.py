# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checkpoint round trip, corrupt files set aside, archive; state document; counter arithmetic."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

torch = pytest.importorskip('torch')

from ansible_collections.adaptive.intravm.plugins.module_utils.channel import forecast_format  # noqa: E402
from ansible_collections.adaptive.intravm.plugins.module_utils.plan import forecast_doc  # noqa: E402
from ansible_collections.adaptive.intravm.services.predictor import (  # noqa: E402
    checkpoint, daemon, model as mdl, sources, state as state_file)


def test_round_trip(tmp_path):
    net = mdl.StackedLSTM(1, 4, 6, (1, 3), seed=2)
    path = str(tmp_path / 'vm.pt')
    checkpoint.save(path, net.params, {'scale': 0.25, 'history': torch.arange(6.0).reshape(3, 2), 'name': 'a'})
    params, extra = checkpoint.load(path, dict((k, tuple(v.shape)) for k, v in net.params.items()))
    for k in mdl.PARAM_NAMES:
        assert torch.equal(params[k], net.params[k].detach())
    assert extra['scale'] == 0.25 and extra['name'] == 'a' and extra['history'].shape == (3, 2)
    assert os.listdir(str(tmp_path)) == ['vm.pt']   # no temporary left behind


@pytest.mark.parametrize('damage', ['truncate', 'garbage', 'shape', 'nan'])
def test_corrupt_checkpoint_is_set_aside(tmp_path, damage, caplog):
    net = mdl.StackedLSTM(1, 4, 6, (1,), seed=2)
    shapes = dict((k, tuple(v.shape)) for k, v in net.params.items())
    path = str(tmp_path / 'vm.pt')
    params = net.state_dict()
    if damage == 'shape':
        params['b'] = torch.zeros(1, 1, 5)
    if damage == 'nan':
        params['w_ih'][0, 0, 0] = float('nan')
    checkpoint.save(path, params, {})
    if damage == 'truncate':
        data = open(path, 'rb').read()
        open(path, 'wb').write(data[:len(data) // 2])
    if damage == 'garbage':
        open(path, 'wb').write(b'not a checkpoint')
    with caplog.at_level('WARNING', logger='host_predictor'):
        assert checkpoint.load(path, shapes) is None
    assert not os.path.exists(path)
    assert [n for n in os.listdir(str(tmp_path)) if n.startswith('vm.pt.corrupt-')]
    assert 'set aside' in caplog.text


def test_pickled_code_is_refused(tmp_path):
    path = str(tmp_path / 'evil.pt')

    class Evil(object):
        def __reduce__(self):
            return (os.system, ('true',))

    torch.save({'format': checkpoint.FORMAT, 'params': {}, 'extra': Evil()}, path)
    assert checkpoint.load(path) is None       # weights_only=True refuses to unpickle code


def test_archive(tmp_path):
    path = tmp_path / 'm.pt'
    path.write_bytes(b'x')
    dest = checkpoint.archive(str(path), str(tmp_path / 'archive'))
    assert not path.exists() and open(dest, 'rb').read() == b'x'
    assert checkpoint.archive(str(path), str(tmp_path / 'archive')) is None


def test_state_document_shape(tmp_path):
    peak = forecast_format.peak_block([900, 3600], ['lstm', 'last_period_peak'], ([0.25, 0.3], [0.5, 0.7]),
                                      vcpu={0: ([0.2, 0.3], [0.4, 0.6])})
    entry = forecast_format.vm_entry('u-1', 2, 'lstm', [300, 900], ([0.1, 0.2], [0.3, 0.4]),
                                     vcpu={1: ([0.1, 0.1], [0.2, 0.2])}, net=([10.0, 11.0], [20.0, 21.0]), actual_cpu=0.15,
                                     cpu_peak=peak)
    doc = forecast_format.document('h', 12.5, 300, {'vm1': entry})
    path = str(tmp_path / 'f.json')
    state_file.write_atomic(path, doc)
    back = json.load(open(path))
    assert back['version'] == 2 and back['step_s'] == 300 and back['generated_at'] == 12.5
    vm = back['vms']['vm1']
    assert vm['cpu'] == {'p50': [0.1, 0.2], 'p90': [0.3, 0.4]}
    assert vm['vcpu']['1']['p90'] == [0.2, 0.2] and vm['net']['p50'] == [10.0, 11.0]
    assert 'gpu' not in vm and vm['actual'] == {'cpu': 0.15}
    assert vm['cpu_peak'] == {'windows_s': [900, 3600], 'models': ['lstm', 'last_period_peak'], 'p50': [0.25, 0.3],
                              'p90': [0.5, 0.7], 'vcpu': {'0': {'p50': [0.2, 0.3], 'p90': [0.4, 0.6]}}}
    assert forecast_doc.check(back, 'the state file') is back      # what the collection's reader accepts
    assert 'cpu_peak' not in forecast_format.vm_entry('u-1', 2, 'lstm', [300], ([0.1], [0.3]))
    assert forecast_format.peak_block([1.5, 6.0], ['lstm'] * 2, ([0, 0], [0, 0]))['windows_s'] == [1.5, 6]   # a sub-second step


def test_rates_from_bulk_stats():
    prev = sources.counters({'vcpu.current': 2, 'vcpu.0.time': 1e9, 'vcpu.1.time': 2e9, 'vcpu.0.delay': 0,
                             'vcpu.1.delay': 0, 'net.count': 1, 'net.0.rx.bytes': 1000, 'net.0.tx.bytes': 0,
                             'block.count': 1, 'block.0.rd.bytes': 0, 'block.0.wr.bytes': 0})
    cur = sources.counters({'vcpu.current': 2, 'vcpu.0.time': 2e9, 'vcpu.1.time': 2.5e9, 'vcpu.0.delay': 2e8,
                            'vcpu.1.delay': 0, 'net.count': 1, 'net.0.rx.bytes': 3000, 'net.0.tx.bytes': 1000,
                            'block.count': 1, 'block.0.rd.bytes': 2048, 'block.0.wr.bytes': 2048})
    r = sources.rates_from_stats(prev, cur, 2.0)
    # demand = time run + time waited to run: vCPU 0 ran 0.5 and waited 0.1 of the 2 s
    assert r['vcpu'] == {0: pytest.approx(0.6), 1: 0.25}
    assert r['cpu'] == pytest.approx(0.425)
    assert r['steal'] == pytest.approx(0.05)
    assert r['net'] == pytest.approx(1500.0) and r['disk'] == pytest.approx(2.0)
    # a restarted domain's counters go back: no negative rate, no sample
    assert sources.rates_from_stats(cur, prev, 2.0) is None
    assert sources.rates_from_stats(prev, cur, 0) is None


def test_ring_path_from_domain_xml():
    xml = "<domain><devices><shmem name='other'/><shmem name='intravm-ab'><size unit='M'>2</size></shmem></devices></domain>"
    assert sources.ring_path(xml) == '/dev/shm/intravm-ab'
    assert sources.ring_path('<domain/>') is None
    assert sources.ring_path('not xml') is None


def test_config_errors_name_the_value(tmp_path):
    with pytest.raises(daemon.ConfigError, match='step_s'):
        daemon.load_config(overrides={'step_s': 0})
    with pytest.raises(daemon.ConfigError, match='nonsense'):
        daemon.load_config(overrides={'nonsense': 1})
    with pytest.raises(daemon.ConfigError, match="'localhost'"):
        daemon.load_config(overrides={'listen': 'localhost'})
    for share in (0, 2.5, True):
        with pytest.raises(daemon.ConfigError, match='vcpu_share_steps'):
            daemon.load_config(overrides={'vcpu_share_steps': share})
    bad = tmp_path / 'c.json'
    bad.write_text('{')
    with pytest.raises(daemon.ConfigError, match='not valid JSON'):
        daemon.load_config(str(bad))
    assert daemon.load_config(overrides={'listen': 'unix:/run/p.sock', 'horizons': [6, 1]})['horizons'] == [1, 6]
    for windows in ([], [0], [3, 289], [True], 3, [1.5]):
        with pytest.raises(daemon.ConfigError, match='windows'):
            daemon.load_config(overrides={'windows': windows})
    assert daemon.load_config(overrides={'windows': [12, 3, 12]})['windows'] == [3, 12]


def test_config_model_defaults_match_training_defaults():
    from ansible_collections.adaptive.intravm.services.predictor import config, training  # pylint: disable=import-outside-toplevel
    for key in ('hidden', 'chunk', 'online_lr'):
        assert config.DEFAULT_CONFIG[key] == training.DEFAULTS[key], key
    assert config.DEFAULT_CONFIG['horizons'] == list(training.DEFAULTS['horizons'])
    assert config.DEFAULT_CONFIG['windows'] == list(training.DEFAULTS['windows'])
