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
