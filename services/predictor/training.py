# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline training of the global model and online per-VM adaptation.

The global model (one set of weights) is trained with truncated BPTT on many
VMs' histories at once. OnlineLearner holds per-VM copies and, after each
chunk of new samples, takes one Adam step on every VM's own weights with the
targets that have since become known. Losses are summed over VMs, so each
VM's gradient (and Adam's elementwise update) depends on that VM alone. A VM
whose loss or weights go non-finite is reset to the global model and logged.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import logging

import numpy as np
import torch

from ansible_collections.adaptive.intravm.services.predictor import model as mdl

LOG = logging.getLogger('host_predictor')

DEFAULTS = {'hidden': 48, 'horizons': (1, 3, 6, 12), 'windows': mdl.WINDOWS, 'epochs': 20, 'chunk': 48, 'batch': 64,
            'lr': 3e-3, 'online_lr': 1e-3, 'seed': 0}


def _check_columns(net, ys):
    """ys has one target column per output of net (features.model_targets); a clear error instead of a broadcast one."""
    if ys.shape[-1] != net.n_outputs:
        raise ValueError('targets have %d columns; horizons %s and windows %s need %d (features.model_targets)'
                         % (ys.shape[-1], list(net.horizons), list(net.windows), net.n_outputs))


def train_global(xs, ys, masks, hidden=32, horizons=(1, 3, 6, 12), epochs=6, chunk=48, batch=64,
                 lr=3e-3, seed=0, progress=None, windows=mdl.WINDOWS):
    """Global model from histories xs [B, T, I], ys/masks [B, T, K + W] (numpy). Returns StackedLSTM(n_vms=1)."""
    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    net = mdl.StackedLSTM(1, xs.shape[2], hidden, horizons, seed=seed, windows=windows)
    _check_columns(net, ys)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    x_all = torch.from_numpy(np.ascontiguousarray(xs, dtype=np.float32))
    y_all = torch.from_numpy(np.ascontiguousarray(ys, dtype=np.float32))
    m_all = torch.from_numpy(np.ascontiguousarray(masks))
    n, steps = x_all.shape[0], x_all.shape[1]
    for epoch in range(epochs):
        order = rng.permutation(n)
        total, count = 0.0, 0
        for start in range(0, n, batch):
            rows = order[start:start + batch]
            state = net.zero_state(len(rows))
            for t0 in range(0, steps, chunk):
                x = x_all[rows, t0:t0 + chunk].unsqueeze(0)
                y = y_all[rows, t0:t0 + chunk].unsqueeze(0)
                m = m_all[rows, t0:t0 + chunk].unsqueeze(0)
                if not bool(m.any()):
                    state = net.zero_state(len(rows)) if t0 == 0 else state
                    continue
                pred, state = net.run(x, state)
                state = (state[0].detach(), state[1].detach())
                loss = mdl.pinball(pred, y, m)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                total += float(loss.detach())
                count += 1
        if progress:
            progress('global model epoch %d/%d: pinball %.5f' % (epoch + 1, epochs, total / max(count, 1)))
    return net


def make_adam(params, lr):
    """Adam, fused on CPU where this torch has it (about 10x faster than the default loop)."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr)


class OnlineLearner(object):
    """Per-VM models seeded from the global one; forecast a chunk, then learn from it."""

    def __init__(self, global_model, n_vms, lr=1e-3):
        self.global_model = global_model
        self.net = global_model.expand(n_vms)
        self.lr = lr
        self.opt = make_adam(self.net.parameters(), lr)
        self.state = self.net.zero_state(1)
        self.resets = 0

    @property
    def horizons(self):
        return self.net.horizons

    @property
    def leads(self):
        return self.net.leads

    def forecast(self, x):
        """x [V, C, I] (numpy or tensor) -> quantiles [V, C, K + W, 2] numpy; advances the state."""
        x = torch.as_tensor(x, dtype=torch.float32).unsqueeze(1)
        with torch.no_grad():
            pred, self.state = self.net.run(x, self.state)
        return pred[:, 0].numpy()

    def update(self, x, y, mask, start_state):
        """One Adam step on every VM from chunk x [V, C, I] with known targets y/mask [V, C, K + W].

        A target is known once its lead (net.leads) has passed. Returns the
        per-VM loss (numpy [V]); VMs whose loss is not finite are reset.
        """
        _check_columns(self.net, y)
        x = torch.as_tensor(x, dtype=torch.float32).unsqueeze(1)
        y = torch.as_tensor(y, dtype=torch.float32).unsqueeze(1)
        m = torch.as_tensor(mask).unsqueeze(1)
        pred, _last = self.net.run(x, (start_state[0].detach(), start_state[1].detach()))
        per_vm = mdl.pinball_per_vm(pred, y, m)
        bad = ~torch.isfinite(per_vm)
        loss = torch.where(bad, torch.zeros_like(per_vm), per_vm).sum()
        self.opt.zero_grad()
        if loss.requires_grad:
            loss.backward()
            if bool(bad.any()):
                for p in self.net.parameters():
                    p.grad[bad] = 0.0
                    torch.nan_to_num_(p.grad, nan=0.0, posinf=0.0, neginf=0.0)
            self.opt.step()
        # A VM's weights are non-finite iff their sum is (NaN and inf propagate through a
        # sum); one reduction per tensor is far cheaper than an elementwise isfinite.
        weights_bad = torch.zeros_like(bad)
        for p in self.net.parameters():
            weights_bad |= ~torch.isfinite(p.detach().reshape(p.shape[0], -1).sum(dim=1))
        reset = (bad | weights_bad).nonzero().flatten().tolist()
        if reset:
            self.reset(reset, 'non-finite loss or weights')
        return per_vm.detach().numpy()

    def reset(self, rows, why, count=True):
        """Back to the global model for VM rows (weights, optimizer moments, state).

        count=False is a routine (re)start of a row, not a divergence: not counted or logged.
        """
        self.net.assign(rows, self.global_model.select([0]))
        for p in self.net.parameters():
            st = self.opt.state.get(p)
            if st:
                for key in ('exp_avg', 'exp_avg_sq'):
                    if key in st:
                        st[key][rows] = 0.0
        with torch.no_grad():
            self.state[0][rows] = 0.0
            self.state[1][rows] = 0.0
        if count:
            self.resets += len(rows)
            LOG.warning('reset %d VM model(s) to the global model: %s', len(rows), why)
