# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Quantiles of a VM's PEAK memory use over the next W steps, walk-forward.

Memory is sized for the peak of the coming loop period, not for its mean, so
this forecasts y[t] = max(x[t+1], ..., x[t+W]) from x[0..t] only:

    upper_q[t] = base[t] x Q_q{ r[s] : s resolved by t, in the trailing window }

where base[t] is the highest use of the last base_steps steps, and
r[s] = y[s] / base[s] is the ratio the same rule would have needed at an
earlier step s; r[s] is known only once y[s] is (s + W <= t), and only the
last `window` of them count. Empirical quantiles of past ratios are a
conformal-style, distribution-free bound that follows each VM's own
burstiness; scaling by base keeps it valid whatever the unit (bytes,
KiB, fractions of the provisioned memory).
floor[t] is the VM's highest use over the last floor_steps: memory peaks
recur (daily jobs, caches refilled), so a sizer may hold at least that.
Quantiles come from a log-spaced histogram of the ratios (BINS_PER_OCTAVE
bins per factor of 2, the upper edge of the bin is returned, so a quantile
errs high by at most 2**(1/BINS_PER_OCTAVE) - 1, about 4.4 %): one pass of
cumulative sums, cheap for 500 VMs x 8600 steps. Gaps (NaN) are carried
forward. Steps with fewer than min_ratios resolved ratios get NaN.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import numpy as np

from ansible_collections.adaptive.intravm.services.predictor.features import DAY_STEPS, carry_forward

QUANTILES = (0.5, 0.9, 0.99)
HORIZON = 3                 # steps: the loop's period (15 min of 5-minute steps)
WINDOW = 7 * DAY_STEPS      # resolved ratios kept
BASE_STEPS = 1              # the base is the highest use of the last this-many steps
FLOOR_STEPS = DAY_STEPS     # the floor is the highest use of the last this-many steps
MIN_RATIOS = 12             # fewer resolved ratios than this: no forecast (NaN)
MIN_BASE_FRAC = 0.01        # a base below this fraction of the floor is raised to it
BINS_PER_OCTAVE = 16
LOG2_LO, LOG2_HI = -12, 12  # ratios outside 2**-12 .. 2**12 fall in the end bins


def key(q):
    """'p50', 'p90', 'p99', 'p99.9' for 0.5, 0.9, 0.99, 0.999."""
    return 'p%s' % ('%.6f' % (100.0 * q)).rstrip('0').rstrip('.')


def running_max(x, w):
    """m[t] = max(x[t-w+1..t]) (shorter at the start), by doubling: O(T log w)."""
    x = np.asarray(x, dtype=np.float64)
    w = max(1, int(w))
    out = x.copy()
    span = 1
    while span * 2 <= w:
        shifted = np.concatenate((out[:span], out[:-span])) if span < len(out) else out
        out = np.maximum(out, shifted)
        span *= 2
    if span < w:  # two overlapping windows of `span` cover w
        k = w - span
        shifted = np.concatenate((out[:k], out[:-k])) if k < len(out) else np.repeat(out[:1], len(out))
        out = np.maximum(out, shifted)
    return out


def future_peak(x, horizon):
    """y[t] = max(x[t+1..t+horizon]); NaN where the future is not (fully) in x."""
    x = np.asarray(x, dtype=np.float64)
    y = np.full(len(x), np.nan)
    if horizon < len(x):
        y[:len(x) - horizon] = running_max(x, horizon)[horizon:]
    return y


def _bins(ratio):
    """Histogram bin of each ratio: 0 below 2**LOG2_LO (zeros too), the last above 2**LOG2_HI."""
    n_bins = (LOG2_HI - LOG2_LO) * BINS_PER_OCTAVE + 2
    with np.errstate(divide='ignore', invalid='ignore'):
        pos = np.floor((np.log2(ratio) - LOG2_LO) * BINS_PER_OCTAVE) + 1
    pos = np.where(ratio > 0, pos, 0)
    return np.clip(np.nan_to_num(pos, nan=0), 0, n_bins - 1).astype(np.int64), n_bins


def _upper_edges(n_bins):
    edges = 2.0 ** (LOG2_LO + np.arange(n_bins) / float(BINS_PER_OCTAVE))
    edges[-1] = 2.0 ** LOG2_HI
    return edges


def peak_quantiles(x, horizon=HORIZON, quantiles=QUANTILES, window=WINDOW, base_steps=BASE_STEPS,
                   floor_steps=FLOOR_STEPS, min_ratios=MIN_RATIOS):
    """Forecasts of the peak of x over the next `horizon` steps, made at every step from the past only.

    x: one VM's memory use per step (any unit, NaN for gaps). Returns a dict:
    key(q) -> array (element t: the q-quantile of max(x[t+1..t+horizon]) made
    from x[0..t]; NaN before min_ratios ratios are resolved), 'base', 'floor'
    (highest use over the last floor_steps) and 'n' (ratios the quantiles
    stand on), all of len(x).
    """
    base_eff, floor, pos, valid, n_bins = _binned_ratios(x, horizon, base_steps, floor_steps)
    t_len, horizon = len(pos), max(1, int(horizon))
    # cum[s + 1, b]: valid ratios r[0..s] in bin b. At t the resolved ones are s <= t - horizon,
    # the last `window` of them: cum[t - horizon + 1] - cum[t - horizon + 1 - window] (clipped at 0).
    onehot = np.zeros((t_len + 1, n_bins), dtype=np.int32)
    onehot[np.arange(1, t_len + 1)[valid], pos[valid]] = 1
    cum = np.cumsum(onehot, axis=0, dtype=np.int32)
    del onehot
    counts = np.zeros((t_len, n_bins), dtype=np.int32)
    if t_len >= horizon:
        counts[horizon - 1:] = cum[:t_len - horizon + 1]
        if t_len >= horizon + window:
            counts[horizon - 1 + window:] -= cum[:t_len - horizon + 1 - window]
    del cum
    ccum = np.cumsum(counts, axis=1, dtype=np.int32)
    del counts
    out = {'base': base_eff, 'floor': floor, 'n': ccum[:, -1]}
    out.update(_quantiles(ccum, base_eff, quantiles, min_ratios, n_bins))
    return out


def _binned_ratios(x, horizon, base_steps, floor_steps):
    """(base, floor, histogram bin of each ratio r[s], whether r[s] is known at all, bin count) for x."""
    x, _observed = carry_forward(x)
    x = np.maximum(x, 0.0)
    base = running_max(x, base_steps)
    floor = running_max(x, floor_steps)
    base_eff = np.maximum(base, MIN_BASE_FRAC * floor)
    y = future_peak(x, max(1, int(horizon)))
    valid = np.isfinite(y) & (base_eff > 0)
    with np.errstate(divide='ignore', invalid='ignore'):
        ratio = np.where(valid, y / np.where(base_eff > 0, base_eff, 1.0), 0.0)
    pos, n_bins = _bins(ratio)
    return base_eff, floor, pos, valid, n_bins


def _quantiles(ccum, base, quantiles, min_ratios, n_bins):
    """{key(q): base x the upper edge of the bin holding the q-quantile} per row of cumulative bin counts."""
    n = ccum[:, -1]
    edges = _upper_edges(n_bins)
    out = {}
    for q in quantiles:
        rank = np.maximum(np.ceil(q * n - 1e-9), 1)
        idx = np.argmax(ccum >= rank[:, None], axis=1)
        fc = base * edges[idx]
        fc[n < max(1, min_ratios)] = np.nan
        out[key(q)] = fc
    return out


def latest(x, horizon=HORIZON, quantiles=QUANTILES, **kwargs):
    """{key(q): value, 'floor': value} of the forecast made at the last step of history x (None: no forecast yet)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0:
        return dict((key(q), None) for q in quantiles)
    window = kwargs.get('window', WINDOW)
    base_steps, floor_steps = kwargs.get('base_steps', BASE_STEPS), kwargs.get('floor_steps', FLOOR_STEPS)
    tail = x[-(window + horizon + max(base_steps, floor_steps) + 1):]
    # peak_quantiles(tail)'s last row, without its (steps x bins) table: the daemon asks this of
    # every VM, for every horizon, at every step.
    base, floor, pos, valid, n_bins = _binned_ratios(tail, horizon, base_steps, floor_steps)
    resolved = slice(max(0, len(tail) - max(1, int(horizon)) - window), max(0, len(tail) - max(1, int(horizon))))
    counts = np.bincount(pos[resolved][valid[resolved]], minlength=n_bins)
    fc = _quantiles(np.cumsum(counts)[None, :], base[-1:], quantiles, kwargs.get('min_ratios', MIN_RATIOS), n_bins)
    fc['floor'] = floor[-1:]
    out = {}
    for name in [key(q) for q in quantiles] + ['floor']:
        v = float(fc[name][-1])
        out[name] = v if np.isfinite(v) else None
    return out
