# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline one-step LSTM forecasts for benchmarks/policy_sim.py (--forecaster lstm).

Forecaster(args).forecast(demand) takes a (T, V) demand matrix (per-vCPU, 0..1)
and returns (p50, p90) where row t uses rows < t only. The first `warmup` rows
(a week, at most a third of T) train the global model and are forecast by the
last-value-plus-error baseline; after that every column runs its own LSTM copy
walk-forward with online updates, exactly as benchmarks/backtest.py does.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import numpy as np
import torch

from ansible_collections.adaptive.intravm.services.predictor import baselines, features, training

WARMUP_STEPS = 7 * features.DAY_STEPS


class Forecaster(object):
    def __init__(self, args=None, warmup=WARMUP_STEPS, epochs=None, max_train=128, seed=0):
        self.warmup = int(getattr(args, 'lstm_warmup', None) or warmup)
        self.epochs = epochs or training.DEFAULTS['epochs']
        self.max_train = max_train
        self.seed = int(getattr(args, 'seed', seed) or 0)
        self.label = ('services/predictor LSTM (per column, h=1, global model on the first min(%d steps, a third of the run))'
                      % self.warmup)

    def forecast(self, demand):
        demand = np.asarray(demand, dtype=np.float64)
        n_t, n_v = demand.shape
        warm = min(self.warmup, n_t // 3)
        horizons = (1,)
        hours = (np.arange(n_t) * 300.0 % 86400) / 3600.0     # 5-minute steps
        scales = np.array([features.cpu_scale(demand[:max(warm, 1), v]) for v in range(n_v)])
        xs = np.stack([features.feature_matrix(demand[:, v], hours, scale=scales[v]) for v in range(n_v)])
        ym = [features.targets(demand[:, v], horizons, scale=scales[v]) for v in range(n_v)]
        ys = np.stack([a for a, _m in ym])
        ms = np.stack([m for _a, m in ym])
        train_m = ms.copy()
        train_m[:, max(warm - 1, 0):] = False          # targets inside the warm-up only
        rows = np.arange(n_v)
        if n_v > self.max_train:
            rows = np.sort(np.random.RandomState(self.seed).choice(n_v, self.max_train, replace=False))
        glob = training.train_global(xs[rows, :warm], ys[rows, :warm], train_m[rows, :warm],
                                     hidden=training.DEFAULTS['hidden'], horizons=horizons, epochs=self.epochs,
                                     chunk=training.DEFAULTS['chunk'], batch=len(rows), seed=self.seed)
        learner = training.OnlineLearner(glob, n_v, lr=training.DEFAULTS['online_lr'])
        chunk = training.DEFAULTS['chunk']
        made = np.zeros((n_v, n_t, 2))
        for t0 in range(0, n_t, chunk):
            t1 = min(t0 + chunk, n_t)
            start = (learner.state[0].clone(), learner.state[1].clone())
            made[:, t0:t1] = learner.forecast(xs[:, t0:t1])[:, :, 0, :]
            if t1 > warm:
                known = ms[:, t0:t1].copy()
                known[:, t1 - t0 - 1:, 0] = False
                learner.update(torch.from_numpy(xs[:, t0:t1]), torch.from_numpy(ys[:, t0:t1]), torch.from_numpy(known), start)
        made *= scales[:, None, None]
        # forecast made at t-1 for t, so row t uses rows < t
        p50 = np.zeros((n_t, n_v))
        p90 = np.zeros((n_t, n_v))
        p50[1:] = made[:, :-1, 0].T
        p90[1:] = made[:, :-1, 1].T
        for v in range(n_v):
            b50, b90 = baselines.last_plus_err_p90(demand[:, v], 1)
            p50[1:warm, v] = b50[:warm - 1]
            p90[1:warm, v] = b90[:warm - 1]
        return np.clip(p50, 0.0, 1.0), np.clip(np.maximum(p90, p50), 0.0, 1.0)
