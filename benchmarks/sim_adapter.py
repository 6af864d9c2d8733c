# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline LSTM forecasts for benchmarks/policy_sim.py (--forecaster lstm): one-step and window peaks.

Forecaster.forecast(demand, window) takes a (T, V) demand matrix (per-vCPU,
0..1) and returns (p50, p90) where row t uses rows < t only: of row t itself
(window None), or of the peak of rows t .. t+window-1, the demand a placement
made at t must carry until the next plan (the model's window head, as the
daemon publishes it in cpu_peak). Like the daemon, each column serves the LSTM
or the last-plus-P90-error baseline, whichever had the lower pinball loss on
the forecasts resolved in the last day (selector.CANDIDATES, PEAK_CANDIDATES). As
in the daemon, every column starts from one global model and adapts online walk-forward, the way
benchmarks/backtest.py runs it. The global model is either trained once on
other columns (pretrain(): policy_sim passes the calibration VMs, so the
simulated VMs and days are never trained on offline) or, without that, on
each matrix's first `warmup` rows. Rows before `warmup` (or before a day with
a pretrained model, for the per-column scale) are forecast by the
last-value-plus-error baseline.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import numpy as np
import torch

from ansible_collections.adaptive.intravm.services.predictor import baselines, features, selector, training

WARMUP_STEPS = 7 * features.DAY_STEPS
HORIZONS = (1,)
STEP_S = 300.0
SELECT_WINDOW = 288   # the daemon's selector window (selector.Selector)


def _arrays(demand, warm, windows):
    """(xs, ys, masks, scales) for the columns of a (T, V) matrix; scales from the first `warm` rows."""
    n_t, n_v = demand.shape
    hours = (np.arange(n_t) * STEP_S % 86400) / 3600.0
    scales = np.array([features.cpu_scale(demand[:max(warm, 1), v]) for v in range(n_v)])
    xs = np.stack([features.feature_matrix(demand[:, v], hours, scale=scales[v]) for v in range(n_v)])
    ym = [features.model_targets(demand[:, v], HORIZONS, windows, scale=scales[v]) for v in range(n_v)]
    return xs, np.stack([a for a, _m in ym]), np.stack([m for _a, m in ym]), scales


class Forecaster(object):
    windows = True   # forecast(demand, window=K) gives the peak of the next K rows

    def __init__(self, args=None, warmup=WARMUP_STEPS, epochs=None, max_train=128, seed=0):
        self.warmup = int(getattr(args, 'lstm_warmup', None) or warmup)
        self.epochs = epochs or training.DEFAULTS['epochs']
        self.max_train = max_train
        self.seed = int(getattr(args, 'seed', seed) or 0)
        self.global_models = {}   # windows -> the pretrained global model with those window heads
        self.pretrain_on = None
        self.label = ('services/predictor LSTM (per column, h=1, global model on the first min(%d steps, a third of the run))'
                      % self.warmup)

    def _train(self, xs, ys, masks, windows):
        rows = np.arange(xs.shape[0])
        if len(rows) > self.max_train:
            rows = np.sort(np.random.RandomState(self.seed).choice(len(rows), self.max_train, replace=False))
        return training.train_global(xs[rows], ys[rows], masks[rows], hidden=training.DEFAULTS['hidden'],
                                     horizons=HORIZONS, windows=windows, epochs=self.epochs, chunk=training.DEFAULTS['chunk'],
                                     batch=len(rows), seed=self.seed)

    def pretrain(self, demand, source):
        """Keep a (T, V) matrix of other columns to train each global model on once; forecast() then reuses it."""
        self.pretrain_on = np.asarray(demand, dtype=np.float64)
        self.warmup = features.DAY_STEPS
        self.label = ('services/predictor LSTM (per column, h=1 and window peaks; global model trained once on %s, '
                      '%d columns; online from the first step, baseline for the first day)' % (source, demand.shape[1]))

    def _global(self, windows):
        """The pretrained global model with these window heads (trained on first use), or None."""
        if self.pretrain_on is None:
            return None
        if windows not in self.global_models:
            xs, ys, ms, _scales = _arrays(self.pretrain_on, self.pretrain_on.shape[0], windows)
            self.global_models[windows] = self._train(xs, ys, ms, windows)
        return self.global_models[windows]

    def forecast(self, demand, window=None):
        """(p50, p90) per row and column: of the row itself, or (window) of the peak of rows t .. t+window-1."""
        demand = np.asarray(demand, dtype=np.float64)
        n_t, n_v = demand.shape
        windows = (int(window),) if window else ()
        col = len(HORIZONS) if window else 0
        lead = int(window) if window else HORIZONS[0]
        warm = min(self.warmup, n_t // 3)
        xs, ys, ms, scales = _arrays(demand, warm, windows)
        glob = self._global(windows)
        if glob is None:
            train_m = ms.copy()
            for j, known_after in enumerate(HORIZONS + windows):
                train_m[:, max(warm - known_after, 0):, j] = False   # targets inside the warm-up only
            glob = self._train(xs[:, :warm], ys[:, :warm], train_m[:, :warm], windows)
            learn_from = warm
        else:
            learn_from = 0
        learner = training.OnlineLearner(glob, n_v, lr=training.DEFAULTS['online_lr'])
        chunk = training.DEFAULTS['chunk']
        made = np.zeros((n_v, n_t, 2))
        for t0 in range(0, n_t, chunk):
            t1 = min(t0 + chunk, n_t)
            start = (learner.state[0].clone(), learner.state[1].clone())
            made[:, t0:t1] = learner.forecast(xs[:, t0:t1])[:, :, col, :]
            if t1 > learn_from:
                known = ms[:, t0:t1].copy()
                for j, known_after in enumerate(learner.leads):
                    known[:, max(0, t1 - t0 - known_after):, j] = False   # not resolved by t1 yet
                learner.update(torch.from_numpy(xs[:, t0:t1]), torch.from_numpy(ys[:, t0:t1]), torch.from_numpy(known), start)
        made = np.maximum(made * scales[:, None, None], 0.0)
        made[:, :, 1] = np.maximum(made[:, :, 1], made[:, :, 0])
        base = baselines.last_plus_peak_err_p90 if window else baselines.last_plus_err_p90
        b50, b90 = np.zeros((n_v, n_t)), np.zeros((n_v, n_t))
        for v in range(n_v):
            b50[v], b90[v] = base(demand[:, v], lead)
        s50, s90 = served((made[:, :, 0], made[:, :, 1]), (b50, b90), demand.T, lead, bool(window), learn_from)
        # made at t-1 for row t (or rows t .. t+window-1), so row t uses rows < t
        p50 = np.zeros((n_t, n_v))
        p90 = np.zeros((n_t, n_v))
        p50[1:] = s50[:, :-1].T
        p90[1:] = s90[:, :-1].T
        p50[1:warm] = b50[:, :warm - 1].T
        p90[1:warm] = b90[:, :warm - 1].T
        return np.clip(p50, 0.0, 1.0), np.clip(np.maximum(p90, p50), 0.0, 1.0)


def served(lstm, base, demand, lead, peak, scored_from=0, window=SELECT_WINDOW):
    """(p50, p90) [V, T] made at t: the LSTM's or the baseline's, whichever the daemon's selector serves.

    As services/predictor/daemon.py does per VM: the lower pinball loss over
    the forecasts resolved in the last `window` steps (one made at t resolves
    at t + lead against demand[t + lead], or with peak against the peak of
    demand[t + 1 .. t + lead]). demand is [V, T]. Forecasts made before
    scored_from (the rows the global model was trained on) are not scored:
    their losses would flatter the LSTM.
    """
    n_v, n_t = demand.shape
    target = np.zeros((n_v, n_t))
    known = np.zeros((n_v, n_t), dtype=bool)
    if n_t > lead:
        ahead = np.lib.stride_tricks.sliding_window_view(demand[:, 1:], lead, axis=1)
        target[:, :n_t - lead] = ahead.max(axis=2) if peak else demand[:, lead:]
        known[:, scored_from:n_t - lead] = True
    _choice, p50, p90 = selector.serve_series([lstm, base], target, known, lead, window)
    return p50, p90
