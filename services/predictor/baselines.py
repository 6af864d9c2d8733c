# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The forecasts a user would pick instead of an LSTM, scored in the same harness.

Each function takes one VM's gap-filled history x[0..T-1] and a horizon h and
returns (p50, p90) arrays of length T: element t is the forecast made at time t
for time t+h, using only x[0..t]. Point forecasts use the same value for both.
The WINDOW_BASELINES take a window w instead and forecast the peak of
x[t+1..t+w], still from x[0..t] only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import numpy as np

DAY_STEPS = 288
EWMA_ALPHA = 0.3
VPA_MARGIN = 1.15
ERR_QUANTILE = 90


def _window(x, window):
    pad = np.concatenate((np.full(window - 1, x[0] if len(x) else 0.0), x))
    return np.lib.stride_tricks.sliding_window_view(pad, window)


def last_value(x, h):
    return x.copy(), x.copy()


def ewma(x, h, alpha=EWMA_ALPHA):
    out = np.empty_like(x)
    acc = x[0] if len(x) else 0.0
    for i, v in enumerate(x):
        acc = alpha * v + (1 - alpha) * acc
        out[i] = acc
    return out, out.copy()


def seasonal_naive(x, h, period=DAY_STEPS):
    """The value one period before the target time: x[t + h - period]."""
    k = period - h
    out = np.empty_like(x)
    if k <= 0:
        return x.copy(), x.copy()
    out[k:] = x[:-k] if k < len(x) else x[:0]
    out[:min(k, len(x))] = x[0] if len(x) else 0.0
    return out, out.copy()


def window_p90(x, h, window=DAY_STEPS):
    """Median and P90 of the last day."""
    view = _window(x, window)
    return np.median(view, axis=1), np.percentile(view, 90, axis=1)


def vpa_p90(x, h, window=DAY_STEPS, margin=VPA_MARGIN):
    """Kubernetes VPA-style recommendation: window P90 x 1.15 (a point forecast)."""
    p90 = np.percentile(_window(x, window), 90, axis=1) * margin
    return p90, p90.copy()


def _last_plus_resolved_p90(x, outcome, lag, window):
    """Last value, and last value plus the P90 of the errors (outcome[t] - x[t - lag]) already resolved in the last day."""
    err = np.zeros_like(x)
    if lag < len(x):
        err[lag:] = outcome[lag:] - x[:-lag]   # the forecast made at t-lag is resolved at t
    p90_err = np.percentile(_window(err, window), ERR_QUANTILE, axis=1)
    p90_err[:lag] = 0.0
    return x.copy(), x + np.maximum(p90_err, 0.0)


def last_plus_err_p90(x, h, window=DAY_STEPS):
    """Last value, and last value plus the P90 of the h-step errors already resolved in the last day."""
    return _last_plus_resolved_p90(x, x, h, window)


def _trailing_max(x, w):
    """max of x[t-w+1..t] (fewer at the start)."""
    return _window(x, w).max(axis=1)


def last_period_peak(x, w):
    """The peak of the last w steps, as the peak of the next w (a point forecast)."""
    peak = _trailing_max(x, w)
    return peak, peak.copy()


def last_plus_peak_err_p90(x, w, window=DAY_STEPS):
    """Last value, and last value plus the P90 of (peak of the next w - last value) over the windows that ended in the last day."""
    return _last_plus_resolved_p90(x, _trailing_max(x, w), w, window)


BASELINES = (
    ('last_value', last_value),
    ('ewma', ewma),
    ('seasonal_naive', seasonal_naive),
    ('window_p90', window_p90),
    ('vpa_p90', vpa_p90),
    ('last_plus_err_p90', last_plus_err_p90),
)

WINDOW_BASELINES = (
    ('last_value', last_value),
    ('last_period_peak', last_period_peak),
    ('last_plus_peak_err_p90', last_plus_peak_err_p90),
)


def latest(name, x, h, table=BASELINES):
    """(p50, p90) of baseline `name` of table (BASELINES, or WINDOW_BASELINES with a window for h) made at the last step of history x."""
    fn = dict(table)[name]
    tail = np.asarray(x[-(2 * DAY_STEPS):], dtype=np.float64)
    if len(tail) == 0:
        return 0.0, 0.0
    p50, p90 = fn(tail, h)
    return float(p50[-1]), float(p90[-1])
