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
from ansible_collections.adaptive.intravm.services.predictor import baselines, checkpoint, daemon, features, model as mdl, selector  # noqa: E402

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
    assert len(peak['models']) == 2 and set(peak['models']) <= set(selector.PEAK_CANDIDATES)
    assert all(0 <= a <= b for a, b in zip(peak['p50'], peak['p90']))
    # split over the vCPUs by the same shares as the horizons' forecast (vCPU 0 is busier)
    assert sorted(peak['vcpu']) == sorted(vm['vcpu']) == ['0', '1']
    for i in ('0', '1'):
        share = vm['vcpu'][i]['p90'][0] / (2 * vm['cpu']['p90'][0])
        for q in ('p50', 'p90'):
            assert peak['vcpu'][i][q] == pytest.approx([min(v * 2 * share, 1.0) for v in peak[q]], abs=1e-5)
    assert peak['vcpu']['0']['p90'][0] > peak['vcpu']['1']['p90'][0]


def test_peaks_resolve_against_the_max_over_the_window(tmp_path):
    """Demand alternating 0.2 / 0.8: each forecast made w steps ago is scored against the max of the w steps since."""
    pred = attached(tmp_path)
    series = [0.8 if t % 2 else 0.2 for t in range(40)]
    docs = run(pred, [[v] for v in series])
    track = pred.vms[UUID]
    name = selector.SERVED_WINDOW_BASELINE
    for j, w in enumerate(pred.windows):
        losses = list(track.peak_select[j].losses[name])
        assert len(losses) == track.steps - w       # one per forecast made w steps ago or more
        b50, b90 = baselines.last_plus_peak_err_p90(np.array(series), w)
        want = [float(selector.pinball_pair(max(series[s + 1:s + w + 1]), b50[s], b90[s])) for s in range(len(losses))]
        assert losses == pytest.approx(want, abs=1e-9)
        assert len(track.peak_select[j].losses['lstm']) == len(losses)
    peak = docs[-1]['vms']['vm1']['cpu_peak']
    assert set(peak['models']) <= set(selector.PEAK_CANDIDATES)


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


def _columns(params, outputs):
    """The w_out / b_out columns of output heads `outputs` (two quantiles each)."""
    cols = [c for o in outputs for c in (2 * o, 2 * o + 1)]
    return params['w_out'][..., cols], params['b_out'][..., cols]


def test_a_vm_checkpoint_from_before_window_peaks_keeps_its_learning(tmp_path, caplog):
    """An upgrade keeps the VM's LSTM and horizon heads; each window head starts from its nearest horizon head."""
    started(tmp_path).checkpoint_all()
    path = os.path.join(str(tmp_path), 'state', 'models', UUID + '.pt')
    old = _strip_windows(torch.load(path, weights_only=True))
    torch.save(old, path)
    with caplog.at_level('INFO', logger='host_predictor'):
        pred = attached(tmp_path)
    assert 'written for peak windows [], this daemon forecasts [3, 12] (steps): kept its LSTM and horizon heads' in caplog.text
    assert 'restored model from checkpoint' in caplog.text
    assert not [n for n in os.listdir(os.path.dirname(path)) if '.corrupt-' in n]
    track = pred.vms[UUID]
    assert track.steps == old['extra']['steps']
    got = pred.bank.learner.net.select([track.row])
    assert torch.equal(got['w_ih'], old['params']['w_ih']) and torch.equal(got['w_hh'], old['params']['w_hh'])
    n_h = len(HORIZONS)
    kept = _columns(old['params'], range(n_h))
    assert all(torch.equal(a, b) for a, b in zip(_columns(got, range(n_h)), kept))
    # windows 3 and 12 start from the longest horizon <= W: 3 for both here (HORIZONS [1, 3])
    longest = _columns(old['params'], [HORIZONS.index(3)] * 2)
    assert all(torch.equal(a, b) for a, b in zip(_columns(got, [n_h, n_h + 1]), longest))
    assert 'cpu_peak' in run(pred, [[0.5]] * 3)[-1]['vms']['vm1']


def test_a_checkpoint_whose_weights_fit_no_layout_is_still_set_aside(tmp_path, caplog):
    started(tmp_path).checkpoint_all()
    path = os.path.join(str(tmp_path), 'state', 'models', UUID + '.pt')
    blob = torch.load(path, weights_only=True)
    blob['extra']['windows'] = [6]      # says one window, holds the weights of two
    torch.save(blob, path)
    with caplog.at_level('INFO', logger='host_predictor'):
        attached(tmp_path)
    assert 'output columns' in caplog.text and 'new model from the global model' in caplog.text
    assert [n for n in os.listdir(os.path.dirname(path)) if n.startswith(UUID + '.pt.corrupt-')]


def test_a_global_model_from_before_window_peaks_keeps_its_training(tmp_path, caplog):
    old = mdl.StackedLSTM(1, features.N_FEATURES, HIDDEN, HORIZONS, windows=(), seed=3)
    path = str(tmp_path / 'global.pt')
    checkpoint.save(path, old.params, {'config': old.config(), 'vms': 3})
    with caplog.at_level('INFO', logger='host_predictor'):
        pred = attached(tmp_path, global_model=path)
    assert 'global model %s: written for peak windows [], this daemon forecasts [3, 12]' % path in caplog.text
    assert 'global model loaded' in caplog.text
    assert pred.global_model.windows == (3, 12)
    assert torch.equal(pred.global_model.params['w_ih'], old.params['w_ih'])
    assert 'cpu_peak' in run(pred, [[0.5]] * 3)[-1]['vms']['vm1']


def test_a_global_model_with_the_configured_windows_loads(tmp_path, caplog):
    net = mdl.StackedLSTM(1, features.N_FEATURES, HIDDEN, HORIZONS, seed=5)
    path = str(tmp_path / 'global.pt')
    checkpoint.save(path, net.params, {'config': net.config(), 'vms': 3})
    with caplog.at_level('INFO', logger='host_predictor'):
        pred = attached(tmp_path, global_model=path)
    assert 'global model loaded' in caplog.text
    assert torch.equal(pred.global_model.params['w_out'], net.params['w_out'])
