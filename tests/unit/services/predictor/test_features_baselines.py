# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Features never look ahead and never carry NaN; baselines use only the past; safeguards."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import numpy as np
import pytest

from ansible_collections.adaptive.intravm.services.predictor import baselines, features, selector


def series(n=700, seed=0):
    rng = np.random.RandomState(seed)
    return np.clip(0.3 + 0.2 * np.sin(np.arange(n) / 20.0) + rng.randn(n) * 0.05, 0, None)


def test_features_have_no_nan_and_flag_gaps():
    cpu = series()
    cpu[10:20] = np.nan
    cpu[0] = np.inf
    fm = features.feature_matrix(cpu, np.zeros(len(cpu)), mem=np.full(len(cpu), np.nan))
    assert fm.shape == (len(cpu), features.N_FEATURES)
    assert np.isfinite(fm).all()
    gap = features.FEATURES.index('gap')
    assert fm[10:20, gap].tolist() == [1.0] * 10 and fm[25, gap] == 0.0
    assert fm[15, 0] == pytest.approx(cpu[9])     # carried forward


def test_features_use_only_the_past():
    cpu = series()
    full = features.feature_matrix(cpu, np.zeros(len(cpu)))
    cut = 500
    prefix = features.feature_matrix(cpu[:cut], np.zeros(cut))
    assert np.allclose(full[:cut], prefix)


def test_scale_divides_cpu_columns_and_targets():
    cpu = series()
    s = features.cpu_scale(cpu)
    assert s == pytest.approx(np.percentile(cpu, 95))
    a = features.feature_matrix(cpu, np.zeros(len(cpu)), scale=s)
    b = features.feature_matrix(cpu, np.zeros(len(cpu)), scale=1.0)
    assert np.allclose(a[:, 0] * s, b[:, 0], atol=1e-6)
    y, m = features.targets(cpu, (1, 6), scale=s)
    assert y[0, 1] == pytest.approx(cpu[6] / s) and m[:-6, 1].all() and not m[-6:, 1].any()
    assert features.cpu_scale([0.0, 0.0, np.nan]) == features.MIN_SCALE


def test_window_peak_targets_take_the_max_of_the_next_w_observed_steps():
    cpu = np.array([0.1, np.nan, 0.5, 0.2, np.nan, np.nan, 0.3, np.inf, 3.0, 0.4])
    y, m = features.window_peak_targets(cpu, (1, 3), scale=0.5)
    assert y.shape == m.shape == (10, 2) and y.dtype == np.float32
    # W=1: the next step alone; a gap (NaN, inf) is unknown, not zero demand
    assert m[:, 0].tolist() == [False, True, True, False, False, True, False, True, True, False]
    assert y[1, 0] == pytest.approx(1.0) and y[7, 0] == pytest.approx(features.CPU_CLIP / 0.5)   # clipped, then scaled
    # W=3: max over t+1..t+3, known while one of them was observed and t+3 is inside the series
    assert m[:, 1].tolist() == [True] * 7 + [False] * 3
    assert y[0, 1] == pytest.approx(1.0) and y[3, 1] == pytest.approx(0.6) and y[4, 1] == pytest.approx(0.6) and y[5, 1] == pytest.approx(4.0)
    assert (y[~m] == 0).all()


def test_window_peaks_agree_with_a_loop_and_work_along_the_last_axis():
    rng = np.random.RandomState(1)
    x = rng.rand(3, 40)
    x[rng.rand(3, 40) < 0.3] = np.nan
    peak, ok = features.window_peaks(x, 5)
    for v in range(3):
        for t in range(40):
            window = x[v, t + 1:t + 6]
            known = t + 5 < 40 and np.isfinite(window).any()
            assert ok[v, t] == known
            assert peak[v, t] == (np.nanmax(window) if known else 0.0)
    assert not features.window_peaks(x, 40)[1].any()


def test_model_targets_put_horizons_before_windows():
    cpu = series(50)
    y, m = features.model_targets(cpu, (1, 6), (3,), scale=2.0)
    y_h, _m = features.targets(cpu, (1, 6), scale=2.0)
    assert y.shape == (50, 3) and np.array_equal(y[:, :2], y_h)
    assert y[0, 2] == pytest.approx(cpu[1:4].max() / 2.0) and m[:-3, 2].all() and not m[-3:, 2].any()


@pytest.mark.parametrize('name', [n for n, _f in baselines.WINDOW_BASELINES])
@pytest.mark.parametrize('w', [3, 12])
def test_window_baselines_never_look_ahead_and_latest_matches(name, w):
    fn = dict(baselines.WINDOW_BASELINES)[name]
    x = series()
    p50, p90 = fn(x, w)
    cut = 650
    q50, q90 = fn(x[:cut], w)
    assert np.allclose(p50[:cut], q50) and np.allclose(p90[:cut], q90)
    assert (p90 >= p50 - 1e-12).all()
    assert baselines.latest(name, x[:cut], w, baselines.WINDOW_BASELINES) == pytest.approx((q50[-1], q90[-1]))


def test_named_window_baseline_values():
    x = np.array([3.0, 1.0, 2.0, 0.0, 0.0, 5.0])
    assert baselines.last_period_peak(x, 2)[0].tolist() == [3.0, 3.0, 2.0, 2.0, 0.0, 5.0]
    ramp = np.arange(300, dtype=float)
    p50, p90 = baselines.last_plus_peak_err_p90(ramp, 3)
    # the peak of the next 3 steps of a ramp is always 3 above the last value; known 3 steps on
    assert p50[299] == 299 and p90[299] == pytest.approx(302) and p90[2] == 2


@pytest.mark.parametrize('name', [n for n, _f in baselines.BASELINES])
@pytest.mark.parametrize('h', [1, 6])
def test_baselines_never_look_ahead_and_latest_matches(name, h):
    fn = dict(baselines.BASELINES)[name]
    x = series()
    p50, p90 = fn(x, h)
    cut = 650
    q50, q90 = fn(x[:cut], h)
    assert np.allclose(p50[:cut], q50) and np.allclose(p90[:cut], q90)
    assert (p90 >= p50 - 1e-12).all()
    a, b = baselines.latest(name, x[:cut], h)
    # latest() looks at a bounded tail; the window baselines only need the last day of it
    if name in ('last_value', 'seasonal_naive', 'window_p90', 'vpa_p90', 'last_plus_err_p90'):
        assert a == pytest.approx(q50[-1]) and b == pytest.approx(q90[-1])


def test_named_baseline_values():
    x = np.arange(300, dtype=float)
    assert baselines.seasonal_naive(x, 1)[0][299] == 299 + 1 - 288
    assert baselines.window_p90(x, 1)[1][299] == pytest.approx(np.percentile(x[12:300], 90))
    assert baselines.vpa_p90(x, 1)[0][299] == pytest.approx(1.15 * np.percentile(x[12:300], 90))
    p50, p90 = baselines.last_plus_err_p90(x, 3)
    assert p50[299] == 299 and p90[299] == pytest.approx(302)


def test_rolling_choice_picks_recently_better_model_after_resolution():
    n = 40
    losses = np.zeros((2, 1, n))
    losses[0, 0, :20] = 1.0      # model 0 bad early
    losses[1, 0, 20:] = 1.0      # model 1 bad late
    choice = selector.rolling_choice(losses, np.ones((1, n), dtype=bool), h=2, window=5)
    assert choice[0, 0] == 0          # nothing resolved yet
    assert choice[0, 10] == 1
    assert choice[0, 21] == 1         # the losses at 20, 21 not resolved yet at h=2
    assert choice[0, 30] == 0


def test_calibration_moves_coverage_to_target():
    rng = np.random.RandomState(0)
    y = rng.rand(1, 5000)
    p50 = np.full_like(y, 0.5)
    p90 = np.full_like(y, 0.6)             # covers only 60 %
    gamma = selector.CAL_GAMMA_TRIED
    out = selector.calibrate_series(p50, p90, y, np.ones_like(y, dtype=bool), h=1, gamma=gamma)
    cover = (y[:, 2000:] <= out[:, 2000:]).mean()
    assert 0.86 < cover < 0.94
    cal = selector.Calibrator(gamma)
    for v in y[0]:
        cal.observe(v, cal.apply(0.5, 0.6))
    assert cal.apply(0.5, 0.6) > 0.8
    # gain 0 (the default) leaves the forecast as it is
    assert np.array_equal(selector.calibrate_series(p50, p90, y, np.ones_like(y, dtype=bool), h=1, gamma=0.0), p90)
    off = selector.Calibrator(0.0)
    off.observe(1.0, 0.6)
    assert off.apply(0.5, 0.6) == 0.6


def test_selector_online_prefers_lower_loss():
    sel = selector.Selector(('lstm', 'last_value'), window=4)
    assert sel.best() == 'lstm'
    for _step in range(4):
        sel.observe('lstm', 0.3)
        sel.observe('last_value', 0.1)
        sel.observe('lstm', float('nan'))
    assert sel.best() == 'last_value'
