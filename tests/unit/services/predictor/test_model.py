# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stacked per-VM LSTM: shapes, quantile order, independence of VMs, online learning, resets, window-peak heads."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import numpy as np
import pytest

torch = pytest.importorskip('torch')

from ansible_collections.adaptive.intravm.services.predictor import features, model as mdl, training  # noqa: E402

HZ = (1, 3)
WIN = mdl.WINDOWS
N_OUT = len(HZ) + len(WIN)


def sine_series(n=600, period=48, level=0.3, amp=0.2, noise=0.02, seed=0):
    rng = np.random.RandomState(seed)
    t = np.arange(n)
    return np.clip(level + amp * np.sin(2 * np.pi * t / period) + rng.randn(n) * noise, 0, None)


def test_shapes_and_quantile_order():
    net = mdl.StackedLSTM(1, 5, 8, HZ, seed=1).expand(4)
    assert net.windows == WIN == tuple(training.DEFAULTS['windows']) and net.leads == HZ + WIN
    x = torch.randn(4, 2, 7, 5)
    pred, (h, c) = net.run(x)
    assert pred.shape == (4, 2, 7, N_OUT, 2)     # horizons, then windows
    assert h.shape == c.shape == (4, 2, 8)
    assert bool((pred[..., 0] <= pred[..., 1]).all())
    assert net.bytes_per_vm() == 4 * (5 * 32 + 8 * 32 + 32 + 8 * 2 * N_OUT + 2 * N_OUT)


def test_no_windows_is_the_horizon_only_model():
    net = mdl.StackedLSTM(1, 5, 8, HZ, seed=1, windows=())
    assert net.run(torch.randn(1, 2, 3, 5))[0].shape == (1, 2, 3, len(HZ), 2)
    assert net.config() == {'n_inputs': 5, 'hidden': 8, 'horizons': list(HZ), 'windows': []}
    with pytest.raises(ValueError, match='w_out'):   # weights of a model with windows do not fit it
        mdl.StackedLSTM(1, 5, 8, HZ, windows=(), params=mdl.StackedLSTM(1, 5, 8, HZ).state_dict())


def test_p50_anchored_on_current_value_and_rows_independent():
    net = mdl.StackedLSTM(1, 3, 4, HZ).expand(3)
    x = torch.zeros(3, 1, 1, 3)
    x[1, 0, 0, mdl.ANCHOR] = 5.0
    with torch.no_grad():
        base = net.run(x)[0]
    # the anchor passes straight into P50, of the horizons and of the window peaks alike;
    # other rows are unaffected by row 1's input
    for k in range(N_OUT):
        assert float(base[1, 0, 0, k, 0] - base[0, 0, 0, k, 0]) == pytest.approx(5.0, abs=1.0)
    x2 = x.clone()
    x2[2] = torch.randn(1, 1, 3)
    with torch.no_grad():
        other = net.run(x2)[0]
    assert torch.equal(base[:2], other[:2])


def test_bad_shapes_are_rejected_naming_the_parameter():
    params = mdl.StackedLSTM(1, 3, 4, HZ).state_dict()
    params['w_hh'] = torch.zeros(1, 5, 16)
    with pytest.raises(ValueError, match='w_hh'):
        mdl.StackedLSTM(1, 3, 4, HZ, params=params)


def _series_arrays(cpus):
    xs, ys, ms = [], [], []
    for cpu in cpus:
        hours = (np.arange(len(cpu)) * 5 / 60.0) % 24
        xs.append(features.feature_matrix(cpu, hours))
        y, m = features.model_targets(cpu, HZ, WIN)
        ys.append(y)
        ms.append(m)
    return np.stack(xs), np.stack(ys), np.stack(ms)


def test_online_update_lowers_loss_on_its_own_vm_only():
    cpus = [sine_series(seed=s) for s in range(2)]
    xs, ys, ms = _series_arrays(cpus)
    glob = mdl.StackedLSTM(1, features.N_FEATURES, 8, HZ, seed=0)
    learner = training.OnlineLearner(glob, 2, lr=1e-2)
    x, y, m = (torch.from_numpy(a[:, :96]) for a in (xs, ys, ms))
    m1 = m.clone()
    m1[1] = False                      # only VM 0 has known targets
    state = learner.net.zero_state(1)
    before = learner.net.state_dict()
    first = learner.update(x, y, m1, state)
    for _step in range(30):
        last = learner.update(x, y, m1, state)
    assert last[0] < first[0]
    after = learner.net.state_dict()
    for name in mdl.PARAM_NAMES:
        assert torch.equal(before[name][1], after[name][1]), name   # VM 1 untouched
        assert not torch.equal(before[name][0], after[name][0]), name


def test_nan_loss_resets_that_vm_to_global_and_logs(caplog):
    glob = mdl.StackedLSTM(1, 4, 6, HZ, seed=3)
    learner = training.OnlineLearner(glob, 3, lr=1e-2)
    with torch.no_grad():
        learner.net.params['w_hh'][2] += float('nan')   # VM 2 has diverged
        learner.net.params['w_ih'][0] += 0.5            # VM 0 has adapted (kept)
    x = torch.randn(3, 4, 4)
    y = torch.rand(3, 4, N_OUT)
    m = torch.ones(3, 4, N_OUT, dtype=torch.bool)
    adapted = learner.net.params['w_ih'][0].detach().clone()
    with caplog.at_level('WARNING', logger='host_predictor'):
        losses = learner.update(x, y, m, learner.net.zero_state(1))
    assert not np.isfinite(losses[2])
    assert learner.resets == 1
    assert 'reset 1 VM model' in caplog.text
    for name in mdl.PARAM_NAMES:
        assert torch.equal(learner.net.params[name][2].detach(), glob.params[name][0].detach()), name
    assert not torch.equal(learner.net.params['w_ih'][0].detach(), glob.params['w_ih'][0].detach())
    assert torch.allclose(learner.net.params['w_ih'][0].detach(), adapted, atol=0.1)


def test_global_training_beats_untrained_on_synthetic_series():
    cpus = [sine_series(n=400, seed=s) for s in range(4)]
    xs, ys, ms = _series_arrays(cpus)
    untrained = mdl.StackedLSTM(1, features.N_FEATURES, 8, HZ, seed=0)
    trained = training.train_global(xs, ys, ms, hidden=8, horizons=HZ, epochs=4, chunk=50, batch=4, lr=1e-2)
    x, y, m = (torch.from_numpy(a) for a in (xs, ys, ms))
    with torch.no_grad():
        loss0 = mdl.pinball(untrained.run(x.unsqueeze(0))[0], y.unsqueeze(0), m.unsqueeze(0))
        loss1 = mdl.pinball(trained.run(x.unsqueeze(0))[0], y.unsqueeze(0), m.unsqueeze(0))
    assert float(loss1) < float(loss0)


def test_targets_without_the_window_columns_are_a_clear_error():
    xs, ys, ms = _series_arrays([sine_series(n=100)])
    with pytest.raises(ValueError, match=r'targets have 2 columns; horizons \[1, 3\] and windows \[3, 12\] need 4'):
        training.train_global(xs, ys[..., :len(HZ)], ms[..., :len(HZ)], hidden=4, horizons=HZ, epochs=1)
    learner = training.OnlineLearner(mdl.StackedLSTM(1, features.N_FEATURES, 4, HZ), 1)
    with pytest.raises(ValueError, match='need 4'):
        learner.update(xs[:, :8], ys[:, :8, :len(HZ)], ms[:, :8, :len(HZ)], learner.net.zero_state(1))


def test_window_heads_learn_the_peak_above_the_point_forecast():
    """On a series with short bursts the peak over 12 steps sits well above the value 1 step ahead; the heads learn that."""
    rng = np.random.RandomState(0)
    cpus = []
    for _vm in range(4):
        cpu = np.full(600, 0.2) + rng.rand(600) * 0.02
        cpu[rng.choice(600, 60, replace=False)] = 0.8
        cpus.append(cpu)
    xs, ys, ms = _series_arrays(cpus)
    net = training.train_global(xs, ys, ms, hidden=8, horizons=HZ, epochs=6, chunk=50, batch=4, lr=1e-2)
    with torch.no_grad():
        pred = net.run(torch.from_numpy(xs).unsqueeze(0))[0][0, :, 100:]
    w12 = len(HZ) + WIN.index(12)
    assert float(pred[..., w12, 0].mean()) > float(pred[..., 0, 0].mean()) + 0.2   # P50 of the 1-h peak vs of the next step
    peaks = torch.from_numpy(ys[:, 100:, w12])
    cover = (peaks <= pred[..., w12, 1])[torch.from_numpy(ms[:, 100:, w12])].float().mean()
    assert 0.7 <= float(cover) <= 1.0


def test_training_works_after_ansible_core_patched_sys_intern():
    """ansible-core swaps sys.intern for a patch object; torch's lazy compiler import then broke Adam."""
    import os
    import subprocess
    import sys
    code = ('import ansible.module_utils.basic, sys\n'
            'assert not isinstance(sys.intern, type(len)), "ansible-core no longer patches sys.intern"\n'
            'from ansible_collections.adaptive.intravm.services.predictor import training\n'
            'import torch\n'
            'p = torch.zeros(2, requires_grad=True)\n'
            'opt = training.make_adam([p], 1e-2)\n'
            'p.sum().backward(); opt.step()\n'
            'print(float(p[0]))\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=os.environ.copy(), timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.split()[-1]) < 0


def test_regrow_heads_keeps_the_lstm_and_lays_out_windows_from_the_nearest_horizon():
    net = mdl.StackedLSTM(2, 5, 3, (1, 3, 6), seed=1, windows=(3,))
    out = mdl.regrow_heads(net.params, (1, 3, 6), (3,), (12, 3, 2))
    grown = mdl.StackedLSTM(2, 5, 3, (1, 3, 6), params=out, windows=(12, 3, 2))   # shapes check
    w = net.params['w_out']
    head = dict((o, w[..., 2 * o:2 * o + 2]) for o in range(4))   # horizons 1, 3, 6, then window 3
    want = [head[0], head[1], head[2], head[2], head[3], head[0]]  # 12 <- horizon 6; 3 kept; 2 <- horizon 1
    for o, cols in enumerate(want):
        assert torch.equal(grown.params['w_out'][..., 2 * o:2 * o + 2], cols)
    for name in ('w_ih', 'w_hh', 'b'):
        assert torch.equal(grown.params[name], net.params[name])
    with pytest.raises(ValueError, match='output columns'):
        mdl.regrow_heads(net.params, (1, 3, 6), (), (3,))
