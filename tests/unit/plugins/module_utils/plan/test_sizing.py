# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""sizing: grow at once, shrink slowly, never take from a guest under pressure, fit the host."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.adaptive.intravm.plugins.module_utils.plan import sizing
from ansible_collections.adaptive.intravm.plugins.module_utils.plan.sizing import (
    PlannerInputError, fit_to_host, size_memory, size_vcpus, sizing_policy,
)

GIB = 1 << 30
MIB = 1 << 20
CALM = {'psi_some_avg10': 0.0, 'swap_in_per_s': 0.0}
BOUNDS = {'min_memory': 1 * GIB, 'max_memory': 16 * GIB}


def test_grows_at_once_to_the_forecast_plus_margin():
    target, reason = size_memory(4 * GIB, 8 * GIB, BOUNDS, CALM)
    assert target == int(math.ceil(8 * GIB * 1.10 / MIB)) * MIB
    assert reason == 'grow before predicted peak'


def test_grow_is_clamped_to_max_memory_and_grows_even_under_pressure():
    target = size_memory(4 * GIB, 40 * GIB, BOUNDS, {'psi_some_avg10': 80.0, 'swap_in_per_s': 5000.0})[0]
    assert target == 16 * GIB


def test_shrinks_at_most_one_step_per_run():
    target, reason = size_memory(16 * GIB, 1 * GIB, BOUNDS, CALM, {'shrink_step_frac': 0.25})
    assert target == 12 * GIB
    assert reason.startswith('shrink slowly')


def test_shrink_stops_at_the_forecast_plus_margin_and_at_min_memory():
    target, reason = size_memory(10 * GIB, 8 * GIB, BOUNDS, CALM, {'shrink_step_frac': 0.5})
    assert target == int(math.ceil(8 * GIB * 1.10 / MIB)) * MIB and reason == 'shrink to forecast'
    target = size_memory(1200 * MIB, 0, BOUNDS, CALM, {'shrink_step_frac': 0.5})[0]
    assert target == 1 * GIB


def test_repeated_runs_converge_from_above_without_undershooting():
    current = 16 * GIB
    for _run in range(200):
        current = size_memory(current, 2 * GIB, BOUNDS, CALM)[0]
    assert 2 * GIB * 1.10 <= current <= 2 * GIB * 1.10 * 1.06
    assert size_memory(current, 2 * GIB, BOUNDS, CALM)[0] == current  # settled: no churn


def test_hysteresis_holds_small_changes_but_not_a_shortfall():
    # forecast x margin is 2 % above current: held
    cur = 10 * GIB
    target, reason = size_memory(cur, cur * 1.02 / 1.10, BOUNDS, CALM)
    assert target == cur and 'hysteresis' in reason
    # 3 % below: held
    target, reason = size_memory(cur, cur * 0.97 / 1.10, BOUNDS, CALM)
    assert target == cur and 'hysteresis' in reason
    # the forecast itself is above current: grow, however small
    target = size_memory(cur, cur * 1.01, BOUNDS, CALM)[0]
    assert target > cur


@pytest.mark.parametrize('pressure, word', [
    ({'psi_some_avg10': 12.0, 'swap_in_per_s': 0.0}, 'psi some 12.0%'),
    ({'psi_some_avg10': 0.0, 'swap_in_per_s': 800.0}, 'swap-in 800 pages/s'),
    ({'swap_in_per_s': 50.0}, 'swap-in'),
    (None, 'no pressure reading'),
    ({}, 'no pressure reading'),
])
def test_holds_under_pressure_whatever_the_forecast(pressure, word):
    target, reason = size_memory(8 * GIB, 0, BOUNDS, pressure)
    assert target == 8 * GIB
    assert reason.startswith('hold') and word in reason


@settings(max_examples=400, deadline=None)
@given(current=st.integers(0, 64 * GIB),
       forecast=st.one_of(st.just(0), st.floats(0, 128 * GIB, allow_nan=False)),
       lo=st.integers(0, 8 * GIB), span=st.one_of(st.none(), st.integers(0, 64 * GIB)),
       psi=st.floats(0, 100, allow_nan=False), swap_in=st.floats(0, 1e5, allow_nan=False),
       rising=st.booleans(),
       step=st.floats(0, 0.9), margin=st.floats(0, 1), hysteresis=st.floats(0, 0.5))
def test_nothing_is_ever_taken_from_a_guest_under_pressure(current, forecast, lo, span, psi, swap_in, rising,
                                                           step, margin, hysteresis):
    """PSI above its threshold or swap-in rising: the target is never below current, however low the forecast."""
    pol = {'shrink_step_frac': step, 'margin_frac': margin, 'min_change_frac': hysteresis}
    limits = sizing_policy(pol)
    if rising:
        pressure = {'psi_some_avg10': 0.0, 'swap_in_per_s': limits['swap_in_per_s_max'] + 1.0 + swap_in}
    else:
        pressure = {'psi_some_avg10': limits['psi_some_avg10_max'] + 0.1 + psi * 0.9, 'swap_in_per_s': 0.0}
    bounds = {'min_memory': lo, 'max_memory': None if span is None else lo + span}
    target, reason = size_memory(current, forecast, bounds, pressure, pol)
    assert target >= current, (target, current, reason)
    # and without pressure the same call stays inside the bounds
    target, reason = size_memory(current, forecast, bounds, CALM, pol)
    if current >= lo and (span is None or current <= lo + span):
        assert lo <= target and (span is None or target <= lo + span), (target, reason)


@settings(max_examples=300, deadline=None)
@given(current=st.integers(1, 64 * GIB), forecast=st.floats(0, 128 * GIB, allow_nan=False), step=st.floats(0.01, 0.9))
def test_a_shrink_never_gives_back_more_than_one_step_nor_goes_below_the_forecast(current, forecast, step):
    pol = {'shrink_step_frac': step}
    target = size_memory(current, forecast, None, CALM, pol)[0]
    if target < current:
        assert target >= current * (1 - step) - 1
        assert target >= forecast * 1.10 - 1


def test_policy_is_validated():
    with pytest.raises(PlannerInputError, match='unknown sizing policy'):
        sizing_policy({'margin': 0.1})
    with pytest.raises(PlannerInputError, match='below 1'):
        sizing_policy({'shrink_step_frac': 1.0})
    with pytest.raises(PlannerInputError, match='finite'):
        size_memory(GIB, float('nan'), None, CALM)
    with pytest.raises(PlannerInputError, match='bounds'):
        size_memory(GIB, GIB, {'min_memory': 2 * GIB, 'max_memory': GIB}, CALM)
    assert sizing_policy() == sizing.DEFAULT_SIZING_POLICY


def test_vcpus_grow_at_once_and_shrink_one_at_a_time():
    assert size_vcpus(2, 3.5, {'max_vcpus': 8}) == (5, 'grow before predicted peak')  # ceil(3.5 x 1.2) = 5
    assert size_vcpus(2, 30, {'max_vcpus': 8})[0] == 8
    assert size_vcpus(8, 0.5, {'min_vcpus': 2, 'max_vcpus': 8}) == (7, 'shrink by one vCPU toward forecast')
    assert size_vcpus(3, 0.1, {'min_vcpus': 2})[0] == 2
    assert size_vcpus(2, 0.1, {'min_vcpus': 2}) == (2, 'hold: at forecast')
    assert size_vcpus(1, 0.0) == (1, 'hold: at forecast')
    assert size_vcpus(12, 1, {'max_vcpus': 8})[0] == 8


@pytest.mark.parametrize('upper', [0.0, 0.4, 1.0, 1.01, 2.5, 3.3, 5.9])
def test_vcpus_never_shrink_below_the_forecast(upper):
    current = 16
    for _run in range(40):
        current = size_vcpus(current, upper, {'max_vcpus': 16})[0]
        assert current >= math.ceil(upper - 1e-9)
    assert current == max(1, int(math.ceil(upper * 1.2 - 1e-9)))


def test_fit_to_host_scales_grows_down_proportionally():
    decisions = {
        'a': {'current': 4 * GIB, 'target': 8 * GIB, 'reason': 'grow before predicted peak'},  # asks 4 GiB
        'b': {'current': 2 * GIB, 'target': 4 * GIB},                                        # asks 2 GiB
        'c': {'current': 8 * GIB, 'target': 7 * GIB},                                        # gives 1 GiB
        'd': {'current': GIB, 'target': GIB},
    }
    out = fit_to_host(decisions, 2 * GIB)  # 2 GiB free + 1 GiB given back = 3 GiB for 6 GiB asked: half each
    assert out['a'][0] == 6 * GIB and out['b'][0] == 3 * GIB
    assert out['c'] == (7 * GIB, 'shrink') and out['d'] == (GIB, 'hold')
    assert 'scaled to 50%' in out['a'][1] and out['a'][1].startswith('grow before predicted peak')
    grown = sum(out[n][0] - decisions[n]['current'] for n in out if out[n][0] > decisions[n]['current'])
    assert grown <= 2 * GIB + 1 * GIB


def test_fit_to_host_leaves_grows_alone_when_they_fit():
    decisions = {'a': {'current': GIB, 'target': 3 * GIB}, 'b': {'current': 4 * GIB, 'target': 2 * GIB}}
    out = fit_to_host(decisions, 0)
    assert out == {'a': (3 * GIB, 'grow'), 'b': (2 * GIB, 'shrink')}
    with pytest.raises(PlannerInputError):
        fit_to_host({'a': {'current': GIB}}, GIB)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text('abcdef', min_size=1, max_size=3),
                       st.tuples(st.integers(0, 64 * GIB), st.integers(0, 64 * GIB)), min_size=1, max_size=12),
       st.integers(0, 32 * GIB))
def test_fit_to_host_never_promises_more_than_the_host_has(vms, free):
    decisions = dict((n, {'current': c, 'target': t}) for n, (c, t) in vms.items())
    out = fit_to_host(decisions, free)
    grown = sum(max(0, out[n][0] - decisions[n]['current']) for n in out)
    given_back = sum(max(0, decisions[n]['current'] - decisions[n]['target']) for n in out)
    assert grown <= free + given_back
    for n in out:
        cur, tgt = decisions[n]['current'], decisions[n]['target']
        assert min(cur, tgt) <= out[n][0] <= max(cur, tgt)
