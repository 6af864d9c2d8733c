# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""memory_forecast: quantiles of the next period's peak, from the past only, calibrated, cheap."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

import numpy as np
import pytest

from ansible_collections.adaptive.intravm.services.predictor import memory_forecast as mf


def bursty(n=3000, seed=0, noise=0.05):
    """A working set with a daily cycle, noise and rare bursts (bytes)."""
    rng = np.random.RandomState(seed)
    t = np.arange(n)
    x = 2e9 * (1 + 0.3 * np.sin(2 * np.pi * t / 288.0)) * np.exp(rng.randn(n) * noise)
    burst = rng.rand(n) < 0.01
    x[burst] *= 1 + 3 * rng.rand(burst.sum())
    return x


def brute_force(x, t, horizon, q, window, base_steps, floor_steps):
    """The documented rule, step by step, with exact order statistics."""
    def base(s):
        b = x[max(0, s - base_steps + 1):s + 1].max()
        return max(b, mf.MIN_BASE_FRAC * x[max(0, s - floor_steps + 1):s + 1].max())
    ratios = [x[s + 1:s + 1 + horizon].max() / base(s) for s in range(max(0, t - horizon - window + 1), t - horizon + 1)]
    rank = int(np.ceil(q * len(ratios) - 1e-9))
    return base(t) * np.sort(ratios)[max(rank, 1) - 1]


def test_running_max_and_future_peak():
    x = np.array([3.0, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5])
    for w in (1, 2, 3, 4, 5, 7, 20):
        expect = [x[max(0, t - w + 1):t + 1].max() for t in range(len(x))]
        assert mf.running_max(x, w).tolist() == expect, w
    y = mf.future_peak(x, 3)
    assert y[:-3].tolist() == [x[t + 1:t + 4].max() for t in range(len(x) - 3)]
    assert np.isnan(y[-3:]).all()


@pytest.mark.parametrize('horizon, q, base_steps', [(3, 0.9, 1), (3, 0.99, 1), (12, 0.5, 1), (3, 0.9, 12)])
def test_matches_the_documented_rule_within_one_bin(horizon, q, base_steps):
    x = bursty(1500)
    fc = mf.peak_quantiles(x, horizon, (q,), window=500, base_steps=base_steps, floor_steps=288)
    bin_factor = 2 ** (1.0 / mf.BINS_PER_OCTAVE)
    for t in (600, 901, 1250, 1499):
        exact = brute_force(x, t, horizon, q, 500, base_steps, 288)
        got = fc[mf.key(q)][t]
        assert exact <= got * (1 + 1e-9) <= exact * bin_factor * (1 + 1e-9), (t, exact, got)


def test_never_looks_ahead():
    """The forecast made at t is the same whether or not the future is in the array."""
    x = bursty(2500, seed=3)
    full = mf.peak_quantiles(x, 3, (0.5, 0.9, 0.99))
    for cut in (700, 1601, 2400):
        part = mf.peak_quantiles(x[:cut], 3, (0.5, 0.9, 0.99))
        for name in ('p50', 'p90', 'p99', 'floor', 'base', 'n'):
            assert np.array_equal(full[name][:cut], part[name], equal_nan=True), (name, cut)
    # and changing the future changes nothing before it
    changed = x.copy()
    changed[1800:] *= 50.0
    other = mf.peak_quantiles(changed, 3, (0.99,))
    assert np.array_equal(other['p99'][:1800], full['p99'][:1800], equal_nan=True)


def test_is_calibrated_and_ordered_on_a_noisy_series():
    """Coverage near the nominal level (each quantile errs high by up to one 4.4 % bin, so use noise wider than that)."""
    x = bursty(4000, seed=1, noise=0.3)
    fc = mf.peak_quantiles(x, 3, (0.5, 0.9, 0.99), window=2016)
    y = mf.future_peak(x, 3)
    ok = np.isfinite(fc['p99']) & np.isfinite(y)
    ok[:2016] = False  # a full window of ratios
    cover = dict((k, np.mean(y[ok] <= fc[k][ok])) for k in ('p50', 'p90', 'p99'))
    assert 0.42 <= cover['p50'] <= 0.62 and 0.86 <= cover['p90'] <= 0.95 and cover['p99'] >= 0.975, cover
    assert (fc['p50'][ok] <= fc['p90'][ok]).all() and (fc['p90'][ok] <= fc['p99'][ok]).all()


def test_scale_free_gaps_and_cold_start():
    x = bursty(1200, seed=2)
    a = mf.peak_quantiles(x, 3, (0.9,))['p90']
    b = mf.peak_quantiles(x / 2.0 ** 20, 3, (0.9,))['p90']  # bytes or MiB: the same forecast
    assert np.allclose(a[np.isfinite(a)] / 2.0 ** 20, b[np.isfinite(b)])
    assert np.isnan(a[:mf.MIN_RATIOS + 1]).all() and np.isfinite(a[mf.MIN_RATIOS + 3:]).all()
    gappy = x.copy()
    gappy[500:520] = np.nan
    fc = mf.peak_quantiles(gappy, 3, (0.9,))
    assert np.isfinite(fc['p90'][30:]).all() and np.isfinite(fc['floor']).all()
    zeros = mf.peak_quantiles(np.zeros(400), 3, (0.9,))
    assert (np.nan_to_num(zeros['p90']) == 0).all()


def test_latest_is_the_last_row():
    x = bursty(3000, seed=4)
    fc = mf.peak_quantiles(x, 3, (0.5, 0.99))
    last = mf.latest(x, 3, (0.5, 0.99))
    assert last['p50'] == pytest.approx(fc['p50'][-1]) and last['p99'] == pytest.approx(fc['p99'][-1])
    assert last['floor'] == pytest.approx(fc['floor'][-1])
    assert mf.latest([], 3) == {'p50': None, 'p90': None, 'p99': None}
    assert mf.latest([1.0, 2.0], 3)['p90'] is None
    assert mf.key(0.999) == 'p99.9' and mf.key(0.5) == 'p50'


@pytest.mark.parametrize('length', [0, 2, 5, 40, 400])
@pytest.mark.parametrize('horizon', [1, 3, 12])
def test_latest_equals_the_full_computation_on_its_tail(length, horizon):
    """latest() counts only the last row's ratios; it must give exactly what peak_quantiles gives there."""
    x = bursty(max(length, 1), seed=length + horizon)[:length]
    if length > 10:
        x[3:7] = np.nan                   # a gap, carried forward
    kwargs = dict(window=50, base_steps=2, floor_steps=30, min_ratios=3)
    last = mf.latest(x, horizon, (0.5, 0.9, 0.99), **kwargs)
    if length == 0:
        return
    tail = x[-(kwargs['window'] + horizon + kwargs['floor_steps'] + 1):]
    full = mf.peak_quantiles(tail, horizon, (0.5, 0.9, 0.99), **kwargs)
    for name in ('p50', 'p90', 'p99', 'floor'):
        want = float(full[name][-1])
        assert last[name] == (want if np.isfinite(want) else None)


def test_is_cheap():
    """500 VMs x 8600 steps must take well under a minute: one VM well under 0.1 s."""
    x = bursty(8600, seed=5)
    mf.peak_quantiles(x, 3, (0.5, 0.9, 0.99))
    t0 = time.time()
    for _run in range(3):
        mf.peak_quantiles(x, 3, (0.5, 0.9, 0.99))
    assert (time.time() - t0) / 3 < 0.25  # generous on a shared machine; about 0.04 s alone
