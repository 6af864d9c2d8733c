# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The daemon's window-peak forecasts (cpu_peak) and the checkpoints written before them.

The Predictor is driven directly with fake bulk stats (no libvirt), as in test_daemon_faults.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import numpy as np

import pytest

torch = pytest.importorskip('torch')

from ansible_collections.adaptive.intravm.plugins.module_utils.plan import forecast_doc  # noqa: E402
from ansible_collections.adaptive.intravm.services.predictor import checkpoint, daemon, features, model as mdl  # noqa: E402

from unit.services.predictor.test_daemon_faults import HIDDEN, HORIZONS, UUID, make_cfg, started  # noqa: E402


def run(pred, demand):
    """Step pred through per-step demand of each vCPU (fractions of one CPU, one second a step); returns the documents."""
    busy = [0.0] * len(demand[0])
    docs = []
    for t, step in enumerate([[0.0] * len(busy)] + list(demand)):
        busy = [b + d for b, d in zip(busy, step)]
        rec = {'vcpu.current': len(busy)}
        for i, b in enumerate(busy):
            rec['vcpu.%d.time' % i] = b * 1e9
            rec['vcpu.%d.delay' % i] = 0
        docs.append(pred.step({UUID: rec}, now=1000.0 + t))
    return docs


def attached(tmp_path, **overrides):
    cfg = make_cfg(tmp_path)
    cfg.update(overrides)
    pred = daemon.Predictor(cfg, clock=lambda: 1000.0)
    pred.events.put(('active', UUID, 'vm1'))
    pred.drain_events()
    return pred


def test_cpu_peak_is_published_per_vm_and_per_vcpu_in_the_units_of_cpu(tmp_path):
    pred = attached(tmp_path)
    docs = run(pred, [[0.9 if t % 5 == 0 else 0.3, 0.1] for t in range(30)])
    doc = docs[-1]
    assert doc['version'] == 2 and forecast_doc.check(doc, 'the daemon') is doc
    vm = doc['vms']['vm1']
    peak = vm['cpu_peak']
    assert peak['windows_s'] == [3, 12]                      # steps of step_s = 1 s
    assert len(peak['models']) == 2 and set(peak['models']) <= set(daemon.PEAK_CANDIDATES)
    assert all(0 <= a <= b for a, b in zip(peak['p50'], peak['p90']))
    # split over the vCPUs by the same shares as the horizons' forecast (vCPU 0 is busier)
    assert sorted(peak['vcpu']) == sorted(vm['vcpu']) == ['0', '1']
    for i in ('0', '1'):
        share = vm['vcpu'][i]['p90'][0] / (2 * vm['cpu']['p90'][0])
        for q in ('p50', 'p90'):
            assert peak['vcpu'][i][q] == pytest.approx([min(v * 2 * share, 1.0) for v in peak[q]], abs=1e-5)
    assert peak['vcpu']['0']['p90'][0] > peak['vcpu']['1']['p90'][0]


def test_peaks_resolve_against_the_max_over_the_window(tmp_path):
    """Demand alternating 0.2 / 0.8: the peak of every window of 3 or more is 0.8, which the last 3 steps' peak forecasts exactly."""
    pred = attached(tmp_path)
    docs = run(pred, [[0.8 if t % 2 else 0.2] for t in range(40)])
    track = pred.vms[UUID]
    for j, w in enumerate(pred.windows):
        losses = track.peak_select[j].losses
        assert len(losses['last_period_peak']) == track.steps - w       # one per forecast made w steps ago or more
        assert max(list(losses['last_period_peak'])[1:]) == pytest.approx(0.0, abs=1e-6)   # the first saw one step only
        assert np.mean(losses['last_value']) > 0.3                       # right only after the 0.8 steps
    peak = docs[-1]['vms']['vm1']['cpu_peak']
    assert peak['models'] == ['last_period_peak', 'last_period_peak']
    assert peak['p50'] == peak['p90'] == pytest.approx([0.8, 0.8], abs=1e-6)


def test_targets_of_the_online_update_include_the_window_peaks(tmp_path):
    pred = attached(tmp_path)
    bank = pred.bank
    row = pred.vms[UUID].row
    ys_all = np.full((bank.capacity, bank.chunk + max(bank.learner.leads)), np.nan)
    ys_all[row] = np.arange(ys_all.shape[1]) % 7
    y, m = bank._targets(ys_all)  # pylint: disable=protected-access
    k = len(HORIZONS)
    assert y.shape == (bank.capacity, bank.chunk, k + 2)
    for t in range(bank.chunk):
        for j, w in enumerate(pred.windows):
            assert y[row, t, k + j] == max(ys_all[row, t + 1:t + w + 1])
    assert m[row].all() and not m[[r for r in range(bank.capacity) if r != row]].any()


def _strip_windows(blob):
    """blob as written before window peaks: no windows in extra, output weights for the horizons only."""
    n_out = 2 * len(HORIZONS)
    blob['extra'].pop('windows')
    blob['params']['w_out'] = blob['params']['w_out'][..., :n_out].clone()
    blob['params']['b_out'] = blob['params']['b_out'][..., :n_out].clone()
    return blob


def test_a_vm_checkpoint_from_before_window_peaks_is_set_aside_with_a_clear_log(tmp_path, caplog):
    started(tmp_path).checkpoint_all()
    path = os.path.join(str(tmp_path), 'state', 'models', UUID + '.pt')
    torch.save(_strip_windows(torch.load(path, weights_only=True)), path)
    with caplog.at_level('INFO', logger='host_predictor'):
        pred = started(tmp_path, steps=3)
    assert 'written for peak windows None, this daemon forecasts windows [3, 12]' in caplog.text
    assert 'new model from the global model' in caplog.text
    assert pred.vms[UUID].steps == 3 and 'cpu_peak' in pred.doc['vms']['vm1']
    assert [n for n in os.listdir(os.path.dirname(path)) if n.startswith(UUID + '.pt.corrupt-')]


def test_a_global_model_from_before_window_peaks_falls_back_to_an_untrained_one(tmp_path, caplog):
    old = mdl.StackedLSTM(1, features.N_FEATURES, HIDDEN, HORIZONS, windows=())
    path = str(tmp_path / 'global.pt')
    checkpoint.save(path, old.params, {'config': old.config(), 'vms': 3})
    with caplog.at_level('INFO', logger='host_predictor'):
        pred = attached(tmp_path, global_model=path)
    assert 'written for peak windows [], this daemon forecasts windows [3, 12]' in caplog.text
    assert 'starting from an untrained model' in caplog.text
    assert pred.global_model.windows == (3, 12)
    assert 'cpu_peak' in run(pred, [[0.5]] * 3)[-1]['vms']['vm1']


def test_a_global_model_with_the_configured_windows_loads(tmp_path, caplog):
    net = mdl.StackedLSTM(1, features.N_FEATURES, HIDDEN, HORIZONS, seed=5)
    path = str(tmp_path / 'global.pt')
    checkpoint.save(path, net.params, {'config': net.config(), 'vms': 3})
    with caplog.at_level('INFO', logger='host_predictor'):
        pred = attached(tmp_path, global_model=path)
    assert 'global model loaded' in caplog.text
    assert torch.equal(pred.global_model.params['w_out'], net.params['w_out'])
