# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The policy simulator's LSTM forecaster: shapes, order of quantiles, no look-ahead."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import numpy as np
import pytest

pytest.importorskip('torch')

from ansible_collections.adaptive.intravm.benchmarks import sim_adapter  # noqa: E402


def demand(n, v=3, seed=0):
    rng = np.random.RandomState(seed)
    t = np.arange(n)[:, None]
    return np.clip(0.4 + 0.3 * np.sin(t / 15.0 + np.arange(v)) + rng.randn(n, v) * 0.05, 0, 1)


def test_forecast_shapes_order_and_no_lookahead():
    d = demand(600)
    fc = sim_adapter.Forecaster(warmup=150, epochs=2)
    p50, p90 = fc.forecast(d)
    assert p50.shape == p90.shape == d.shape
    assert (p50 <= p90).all() and (p90 <= 1).all() and (p50 >= 0).all()
    # the same first 480 rows give the same forecasts: row t never used rows >= t
    q50, q90 = sim_adapter.Forecaster(warmup=150, epochs=2).forecast(d[:480])
    assert np.allclose(p50[:480], q50, atol=1e-5) and np.allclose(p90[:480], q90, atol=1e-5)
    # changing the future leaves the past forecasts alone
    d2 = d.copy()
    d2[400:] = 1.0
    r50, _r90 = sim_adapter.Forecaster(warmup=150, epochs=2).forecast(d2)
    assert np.allclose(p50[:401], r50[:401], atol=1e-5)
    assert 'LSTM' in fc.label


def test_pretrained_global_model_is_reused_and_forecasts_stay_causal():
    fc = sim_adapter.Forecaster(epochs=2)
    fc.pretrain(demand(400, v=4, seed=1), 'other columns')
    assert 'trained once on other columns' in fc.label
    d = demand(700)
    p50, p90 = fc.forecast(d)
    glob = fc.global_models[()]
    fc.forecast(d[:600])
    assert fc.global_models[()] is glob                  # not retrained per matrix
    assert (p50 <= p90).all() and p50.shape == d.shape
    d2 = d.copy()
    d2[500:] = 1.0
    r50, _r90 = fc.forecast(d2)
    assert np.allclose(p50[:501], r50[:501], atol=1e-5)


def test_window_peaks_forecast_the_coming_peak_causally():
    """forecast(d, window=k): row t is the peak of rows t .. t+k-1, from rows < t only."""
    d = demand(600)
    fc = sim_adapter.Forecaster(warmup=150, epochs=2)
    p50, p90 = fc.forecast(d, window=6)
    assert p50.shape == d.shape and (p50 <= p90).all() and (p90 <= 1).all()
    _one50, one90 = sim_adapter.Forecaster(warmup=150, epochs=2).forecast(d)
    # the peak of six rows sits above the value of one: so do its P90s, on the whole (a
    # barely trained LSTM loses to the baselines here, whose P50 is the last value for both)
    assert p90[200:].mean() > one90[200:].mean()
    d2 = d.copy()
    d2[400:] = 1.0
    r50, r90 = sim_adapter.Forecaster(warmup=150, epochs=2).forecast(d2, window=6)
    assert np.allclose(p50[:401], r50[:401], atol=1e-5) and np.allclose(p90[:401], r90[:401], atol=1e-5)
    # a pretrained forecaster keeps one global model per set of windows
    pre = sim_adapter.Forecaster(epochs=1)
    pre.pretrain(demand(300, v=2, seed=1), 'other columns')
    pre.forecast(d[:400], window=6)
    pre.forecast(d[:400])
    assert sorted(pre.global_models) == [(), (6,)]


def test_served_picks_what_the_daemon_would_from_resolved_losses_only():
    """served(): the candidate with the lower pinball over resolved forecasts; before any resolved, the LSTM."""
    n, lead = 40, 3
    actual = np.tile(np.array([[0.2, 0.8]]), (1, n // 2))   # one column, 0.2 / 0.8 alternating
    peak = np.full((1, n), 0.8)                               # the peak of any 3 rows ahead
    right = (peak.copy(), peak.copy())
    wrong = (np.full((1, n), 0.1), np.full((1, n), 0.1))
    s50, s90 = sim_adapter.served(wrong, right, actual, lead, peak=True)
    assert (s50[0, :lead] == 0.1).all()              # nothing resolved yet: the LSTM
    assert (s50[0, lead:] == 0.8).all() and (s90[0, lead:] == 0.8).all()
    # a wrong baseline is never served once the LSTM is right
    s50, _s90 = sim_adapter.served(right, wrong, actual, lead, peak=True)
    assert (s50 == 0.8).all()
    # horizons resolve against the value lead steps ahead: here the last value is right half the time
    at = np.roll(actual, -lead, axis=1)
    s50, _s90 = sim_adapter.served((at, at), (actual, actual), actual, lead, peak=False)
    assert (s50[0, lead:n - lead] == at[0, lead:n - lead]).all()
