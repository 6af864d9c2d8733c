# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stacked per-VM LSTMs: every VM has its own weights, all VMs run as one batched step.

Weights are tensors with a leading VM axis ([n_vms, ...]) and the cell is written
with torch.bmm, so one step (or one training update) of 1,000 VMs is a handful of
batched matrix products rather than a Python loop over models. The same class
with n_vms=1 is the global model, broadcast over a batch of VMs while it trains
offline; expand() copies it into per-VM weights that then adapt online.

Outputs are quantiles per horizon (demand at t+h), then per window (the peak
of demand over t+1..t+W, what a placement kept until the next run must hold):
P50 is the current value (input column ANCHOR) plus a learned correction, and
P90 = P50 + softplus(gap), so P50 <= P90 holds by construction and an
untrained model starts as "last value".
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math
import sys

import torch


def _import_torch_compiler():
    """Import torch._dynamo now, with the real sys.intern.

    torch imports its compiler lazily on the first optimizer step, and that
    import fails once ansible-core has replaced sys.intern with a patch object
    (ansible-core 2.19, torch 2.13). Importing it here, with the builtin put
    back for the moment, works whichever of the two was imported first.
    """
    patched = sys.intern
    sys.intern = getattr(patched, 'unpatched_implementation', patched)
    try:
        import torch._dynamo  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
    finally:
        sys.intern = patched


_import_torch_compiler()

QUANTILES = (0.5, 0.9)
WINDOWS = (3, 12)  # peak windows in steps when a caller names none (training.DEFAULTS['windows'])
ANCHOR = 0  # input column holding the current (scaled) demand
PARAM_NAMES = ('w_ih', 'w_hh', 'b', 'w_out', 'b_out')


class StackedLSTM(object):
    """n_vms independent one-layer LSTMs with linear quantile heads."""

    def __init__(self, n_vms, n_inputs, hidden, horizons, seed=0, params=None, windows=WINDOWS):
        self.n_vms = int(n_vms)
        self.n_inputs = int(n_inputs)
        self.hidden = int(hidden)
        self.horizons = tuple(int(h) for h in horizons)
        self.windows = tuple(int(w) for w in windows)
        n_out = self.n_outputs * len(QUANTILES)
        if params is None:
            gen = torch.Generator().manual_seed(seed)
            bound = 1.0 / math.sqrt(self.hidden)

            def uni(*shape):
                return (torch.rand(*shape, generator=gen) * 2 - 1) * bound

            b = torch.zeros(1, 1, 4 * self.hidden)
            b[..., self.hidden:2 * self.hidden] = 1.0  # forget-gate bias: remember by default
            params = {
                'w_ih': uni(1, self.n_inputs, 4 * self.hidden),
                'w_hh': uni(1, self.hidden, 4 * self.hidden),
                'b': b,
                'w_out': uni(1, self.hidden, n_out) * 0.1,
                'b_out': torch.zeros(1, 1, n_out),
            }
            params = dict((k, v.expand(self.n_vms, *v.shape[1:]).clone()) for k, v in params.items())
        self.params = dict((k, params[k].detach().clone().float().requires_grad_(True)) for k in PARAM_NAMES)
        self._check()

    def _check(self):
        n_out = self.n_outputs * len(QUANTILES)
        want = {'w_ih': (self.n_vms, self.n_inputs, 4 * self.hidden), 'w_hh': (self.n_vms, self.hidden, 4 * self.hidden),
                'b': (self.n_vms, 1, 4 * self.hidden), 'w_out': (self.n_vms, self.hidden, n_out), 'b_out': (self.n_vms, 1, n_out)}
        for name, shape in want.items():
            if tuple(self.params[name].shape) != shape:
                raise ValueError('parameter %s has shape %s, expected %s' % (name, tuple(self.params[name].shape), shape))

    # -- structure -------------------------------------------------------
    @property
    def n_outputs(self):
        """Forecast columns: one per horizon, then one per window."""
        return len(self.horizons) + len(self.windows)

    @property
    def leads(self):
        """Steps after which each column's target is known: h for a horizon, W for a window (all of t+1..t+W)."""
        return self.horizons + self.windows

    def parameters(self):
        return [self.params[k] for k in PARAM_NAMES]

    def bytes_per_vm(self):
        return sum(p[0].numel() * p.element_size() for p in self.parameters())

    def config(self):
        return {'n_inputs': self.n_inputs, 'hidden': self.hidden, 'horizons': list(self.horizons), 'windows': list(self.windows)}

    def expand(self, n_vms):
        """Per-VM copies of a one-VM (global) model."""
        if self.n_vms != 1:
            raise ValueError('expand() needs a global model (n_vms=1), this one has %d' % self.n_vms)
        params = dict((k, v.detach().expand(n_vms, *v.shape[1:])) for k, v in self.params.items())
        return StackedLSTM(n_vms, self.n_inputs, self.hidden, self.horizons, params=params, windows=self.windows)

    def select(self, index):
        """Weights of the VMs at index (a list of VM rows), detached."""
        return dict((k, v.detach()[index].clone()) for k, v in self.params.items())

    def assign(self, index, params):
        """Overwrite the weights of VM rows index with params (a one-VM or len(index)-VM dict)."""
        with torch.no_grad():
            for k in PARAM_NAMES:
                src = params[k]
                if src.shape[0] == 1:
                    src = src.expand(len(index), *src.shape[1:])
                self.params[k][index] = src

    def state_dict(self):
        return dict((k, v.detach().clone()) for k, v in self.params.items())

    # -- computation -----------------------------------------------------
    def zero_state(self, batch=1):
        z = torch.zeros(self.n_vms, batch, self.hidden)
        return (z, z.clone())

    def step(self, x, state):
        """One time step. x: [n_vms, batch, n_inputs]; state: (h, c) [n_vms, batch, hidden]."""
        h, c = state
        p = self.params
        gates = torch.baddbmm(p['b'], x, p['w_ih']) + torch.bmm(h, p['w_hh'])
        i, f, g, o = gates.chunk(4, dim=2)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)

    def head(self, h, x):
        """Quantiles from hidden states h [n_vms, batch, hidden] and inputs x -> [n_vms, batch, horizons + windows, 2]."""
        raw = torch.baddbmm(self.params['b_out'], h, self.params['w_out'])
        raw = raw.view(self.n_vms, h.shape[1], self.n_outputs, len(QUANTILES))
        p50 = x[:, :, ANCHOR:ANCHOR + 1] + raw[..., 0]
        p90 = p50 + torch.nn.functional.softplus(raw[..., 1])
        return torch.stack((p50, p90), dim=-1)

    def run(self, xs, state=None):
        """Sequence x [n_vms, batch, T, n_inputs] -> quantiles [n_vms, batch, T, horizons + windows, 2], last state."""
        if state is None:
            state = self.zero_state(xs.shape[1])
        outs = []
        for t in range(xs.shape[2]):
            h, state = self.step(xs[:, :, t, :], state)
            outs.append(self.head(h, xs[:, :, t, :]))
        return torch.stack(outs, dim=2), state


def regrow_heads(params, horizons, windows, new_windows):
    """Weights of a model with (horizons, windows) output heads, re-laid for (horizons, new_windows).

    What an upgrade or a changed `windows` setting needs instead of discarding a
    VM's learning: the LSTM and the horizon heads are kept as they are; a window
    it had keeps its head; a new window W starts from the head of the longest
    horizon <= W (the forecast of demand at t+W, below the peak of t+1..t+W but
    read from the same hidden state), or the shortest horizon without one, and
    the online updates train it on the window's peaks from there.
    """
    horizons, windows, new_windows = list(horizons), list(windows), list(new_windows)
    n_q = len(QUANTILES)

    def source(w):
        if w in windows:
            return len(horizons) + windows.index(w)
        shorter = [h for h in horizons if h <= w]
        return horizons.index(max(shorter) if shorter else min(horizons))

    cols = []
    for o in list(range(len(horizons))) + [source(w) for w in new_windows]:
        cols.extend(range(o * n_q, (o + 1) * n_q))
    out = dict(params)
    for name in ('w_out', 'b_out'):
        if params[name].shape[-1] != (len(horizons) + len(windows)) * n_q:
            raise ValueError('%s has %d output columns, not %d for horizons %s and windows %s'
                             % (name, params[name].shape[-1], (len(horizons) + len(windows)) * n_q, horizons, windows))
        out[name] = params[name][..., cols].clone()
    return out


def pinball(pred, target, mask=None):
    """Summed-over-quantiles pinball loss, mean over valid entries.

    pred [..., 2] (P50, P90), target [...] (same leading shape), mask [...] bool or None.
    """
    q = torch.tensor(QUANTILES, dtype=pred.dtype)
    diff = target.unsqueeze(-1) - pred
    loss = torch.maximum(q * diff, (q - 1) * diff).sum(-1)
    if mask is None:
        return loss.mean()
    maskf = mask.to(loss.dtype)
    return (loss * maskf).sum() / maskf.sum().clamp(min=1.0)


def pinball_per_vm(pred, target, mask):
    """Pinball loss per VM row [n_vms]: summed over VMs it keeps each VM's gradient independent of n_vms."""
    q = torch.tensor(QUANTILES, dtype=pred.dtype)
    diff = target.unsqueeze(-1) - pred
    loss = torch.maximum(q * diff, (q - 1) * diff).sum(-1)
    maskf = mask.to(loss.dtype)
    dims = tuple(range(1, loss.dim()))
    return (loss * maskf).sum(dim=dims) / maskf.sum(dim=dims).clamp(min=1.0)
