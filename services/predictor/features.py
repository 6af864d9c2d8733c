# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Model inputs and targets from one VM's history, the same code for backtest and daemon.

Row t of the feature matrix uses only values at or before t (the day-ago
features look 287..276 steps back), so a walk-forward evaluation never sees
the future. Gaps (NaN) are carried forward and flagged; NaN never leaves here.
Targets look ahead by design: the value at t+h (targets) and the peak over
t+1..t+W (window_peak_targets), each with a mask of where it was observed.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import numpy as np

DAY_STEPS = 288          # one day of 5-minute steps
HOUR_STEPS = 12
CPU_CLIP = 2.0           # demand above 2x provisioned is a recording glitch
FEATURES = ('cpu', 'cpu_mean_1h', 'cpu_max_1h', 'mem', 'net_log', 'disk_log', 'steal',
            'tod_sin', 'tod_cos', 'cpu_day_ago', 'cpu_day_ago_1h', 'gap', 'log_scale')
SCALED = (0, 1, 2, 9, 10)  # columns divided by the VM's scale (CPU demand, like the targets)
MIN_SCALE = 0.01
N_FEATURES = len(FEATURES)


def carry_forward(series):
    """(values with NaN/inf carried forward, leading gap as 0; mask of observed steps)."""
    x = np.asarray(series, dtype=np.float64)
    observed = np.isfinite(x)
    if not observed.any():
        return np.zeros_like(x), observed
    idx = np.where(observed, np.arange(len(x)), 0)
    np.maximum.accumulate(idx, out=idx)
    out = x[idx]
    out[:np.argmax(observed)] = 0.0
    return out, observed


def _rolling(x, window, fn):
    """fn over the trailing window ending at each step (shorter at the start)."""
    pad = np.concatenate((np.full(window - 1, np.nan), x))
    view = np.lib.stride_tricks.sliding_window_view(pad, window)
    with np.errstate(all='ignore'):
        import warnings  # pylint: disable=import-outside-toplevel
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)
            return fn(view, axis=1)


def _lag(x, k):
    """x shifted k steps into the past (x[t-k]); the first k steps take the first value."""
    if k <= 0:
        return x.copy()
    out = np.empty_like(x)
    out[k:] = x[:-k] if k < len(x) else x[:0]
    out[:min(k, len(x))] = x[0] if len(x) else 0.0
    return out


def cpu_scale(cpu_history):
    """Per-VM normaliser: P95 of the demand seen so far (at least MIN_SCALE).

    The model sees and predicts demand in units of this scale, so an idle VM
    at 1 % and a busy one at 80 % look alike to the shared global weights.
    """
    x = np.asarray(cpu_history, dtype=np.float64)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return 1.0
    return float(max(np.percentile(np.clip(x, 0.0, CPU_CLIP), 95), MIN_SCALE))


def feature_matrix(cpu, hours, mem=None, net=None, disk=None, steal=None, scale=1.0):
    """[T, N_FEATURES] float32 inputs; cpu is demand / provisioned capacity (1.0 = all vCPUs busy).

    CPU columns are divided by scale (see cpu_scale); column 0 is the current
    demand, which the model uses as the anchor of its P50.
    """
    cpu_f, observed = carry_forward(cpu)
    cpu_f = np.clip(cpu_f, 0.0, CPU_CLIP)
    n = len(cpu_f)

    def aux(series, transform):
        if series is None:
            return np.zeros(n)
        return transform(np.clip(carry_forward(series)[0], 0.0, None))

    mean_1h = np.nan_to_num(_rolling(cpu_f, HOUR_STEPS, np.nanmean))
    max_1h = np.nan_to_num(_rolling(cpu_f, HOUR_STEPS, np.nanmax))
    day_next = _lag(cpu_f, DAY_STEPS - 1)
    day_1h = _lag(mean_1h, DAY_STEPS - 1 - HOUR_STEPS)
    angle = 2 * np.pi * np.asarray(hours, dtype=np.float64) / 24.0
    cols = (cpu_f, mean_1h, max_1h, aux(mem, lambda v: np.clip(v, 0, 1.5)),
            aux(net, lambda v: np.log1p(v) / 10.0), aux(disk, lambda v: np.log1p(v) / 10.0),
            aux(steal, lambda v: np.clip(v, 0, 1)), np.sin(angle), np.cos(angle),
            day_next, day_1h, (~observed).astype(np.float64), np.full(n, np.log10(scale)))
    out = np.stack(cols, axis=1)
    out[:, SCALED] /= scale
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def targets(cpu, horizons, scale=1.0):
    """(y [T, K] future demand / scale at t+h for each horizon, mask [T, K] where it was observed)."""
    x = np.asarray(cpu, dtype=np.float64)
    n = len(x)
    y = np.zeros((n, len(horizons)), dtype=np.float32)
    mask = np.zeros((n, len(horizons)), dtype=bool)
    for j, h in enumerate(horizons):
        if h < n:
            fut = x[h:]
            ok = np.isfinite(fut)
            y[:n - h, j] = np.where(ok, np.clip(np.nan_to_num(fut), 0.0, CPU_CLIP) / scale, 0.0)
            mask[:n - h, j] = ok
    return y, mask


def window_peaks(x, window):
    """(peak [..., T], ok [..., T]): max of the observed x[..., t+1..t+window], for each t along the last axis.

    ok is False where t+window lies beyond the series or the window holds no
    finite value (its peak is then 0), so a gap is never read as zero demand.
    """
    x = np.asarray(x, dtype=np.float64)
    peak = np.zeros(x.shape)
    ok = np.zeros(x.shape, dtype=bool)
    n = x.shape[-1]
    if window < n:
        view = np.lib.stride_tricks.sliding_window_view(np.where(np.isfinite(x[..., 1:]), x[..., 1:], -np.inf), window, axis=-1)
        top = view.max(axis=-1)
        ok[..., :n - window] = np.isfinite(top)
        peak[..., :n - window] = np.where(ok[..., :n - window], top, 0.0)
    return peak, ok


def window_peak_targets(cpu, windows, scale=1.0):
    """(y [T, len(windows)] peak demand / scale over the next W steps, t+1..t+W; mask [T, len(windows)]).

    The planner keeps a placement until the loop's next run, so what it needs is
    the highest demand over that window, not the value at its end.
    """
    x = np.asarray(cpu, dtype=np.float64)
    x = np.where(np.isfinite(x), np.clip(x, 0.0, CPU_CLIP), np.nan)   # inf is a glitch, a gap like NaN
    y = np.zeros((len(x), len(windows)), dtype=np.float32)
    mask = np.zeros((len(x), len(windows)), dtype=bool)
    for j, w in enumerate(windows):
        peak, mask[:, j] = window_peaks(x, w)
        y[:, j] = peak / scale
    return y, mask


def model_targets(cpu, horizons, windows, scale=1.0):
    """Targets of every model output, horizons then windows: (y [T, K + W], mask [T, K + W])."""
    y_h, m_h = targets(cpu, horizons, scale)
    y_w, m_w = window_peak_targets(cpu, windows, scale)
    return np.concatenate((y_h, y_w), axis=1), np.concatenate((m_h, m_w), axis=1)
