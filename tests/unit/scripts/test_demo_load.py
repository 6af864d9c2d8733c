# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure parts of `make demo`: trace -> duty-cycle mapping and the report's numbers."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math
import os
import random

import pytest

from ansible_collections.adaptive.intravm.scripts import demo_load
from ansible_collections.adaptive.intravm.services.predictor import traces


def _series(n, base=0.1, amp=0.3):
    return [base + amp * (1 + math.sin(i / 3.0)) / 2 for i in range(n)]


def test_carry_forward_fills_gaps_with_previous_value():
    nan = float('nan')
    assert demo_load.carry_forward([nan, 0.2, nan, nan, 0.5]) == [0.2, 0.2, 0.2, 0.2, 0.5]


def test_same_seed_same_schedule_other_seed_differs():
    traces = {str(i): _series(100, base=0.01 * i) for i in range(1, 8)}

    def build(seed):
        rng = random.Random(seed)
        return [(vm, off, demo_load.duty_schedule(w, 2, rng)) for vm, off, w in demo_load.pick_windows(traces, 2, 20, rng)]
    assert build(7) == build(7)
    assert build(7) != build(8)


def test_flat_or_short_vms_are_not_candidates():
    traces = {'flat': [0.0] * 100, 'short': _series(10), 'ok': _series(100)}
    picked = demo_load.pick_windows(traces, 1, 20, random.Random(1))
    assert [vm for vm, _o, _w in picked] == ['ok']
    with pytest.raises(ValueError, match='need 2'):
        demo_load.pick_windows(traces, 2, 20, random.Random(1))


def test_window_is_a_slice_of_the_trace():
    series = _series(100)
    ((_vm, off, window),) = demo_load.pick_windows({'x': series}, 1, 20, random.Random(3))
    assert window == series[off:off + 20]


def test_duty_follows_intensity_with_one_hot_vcpu():
    window = [0.0, 0.5, 1.0, 1.0, 0.25, 0.0, 1.0, 0.75]
    sched = demo_load.duty_schedule(window, 2, random.Random(5), min_dwell=2, max_dwell=3)
    u = demo_load.intensity(window)
    for row, ui in zip(sched, u):
        hot, cold = max(row), min(row)
        assert hot == int(round(100 * (demo_load.HOT_BASE + demo_load.HOT_GAIN * ui)))
        assert cold == int(round(100 * (demo_load.COLD_BASE + demo_load.COLD_GAIN * ui)))
        assert hot > cold


def test_hot_vcpu_moves_after_each_dwell():
    seq = demo_load.hot_sequence(60, 2, random.Random(11), min_dwell=3, max_dwell=6)
    runs = [1]
    for a, b in zip(seq, seq[1:]):
        if a == b:
            runs[-1] += 1
        else:
            runs.append(1)
    assert len(runs) > 1
    assert all(3 <= r <= 6 for r in runs[:-1])


def test_encode_decode_round_trip_matches_guest_format():
    sched = [[68, 14], [14, 100], [0, 5]]
    text = demo_load.encode(sched)
    assert text == '68.14,14.100,0.5'
    assert demo_load.decode(text) == sched


def test_phase_delay():
    samples = [(0.0, {'a': {0: 0, 1: 0}, 'b': {0: 0}}),
               (10.0, {'a': {0: 2e9, 1: 1e9}, 'b': {0: 1e9}}),
               (20.0, {'a': {0: 3e9, 1: 1e9}, 'b': {0: 1.5e9}})]
    assert demo_load.phase_delay(samples, 0.1, 9.8) == {'a': 3e9, 'b': 1e9}
    assert demo_load.phase_delay(samples, 10.2, 20.0) == {'a': 1e9, 'b': 0.5e9}
    assert demo_load.sample_gap(samples, 0.1, 9.8) == pytest.approx(0.2)
    assert demo_load.sample_gap(samples, 3.0, 26.0) == pytest.approx(6.0)
    assert demo_load.sample_gap([], 0, 1) == float('inf')


def test_abba_order_alternates_pairs_and_balances_position():
    order = demo_load.abba_order(8)
    assert order == ['static', 'adaptive', 'adaptive', 'static'] * 2
    # each condition's mean position is the same: a linear drift falls on both alike
    pos = dict((c, sum(i for i, o in enumerate(order) if o == c)) for c in ('static', 'adaptive'))
    assert pos['static'] == pos['adaptive']
    for bad in (0, 1, 7):
        with pytest.raises(ValueError):
            demo_load.abba_order(bad)


def test_pair_ratios_put_adaptive_over_static_whatever_the_order():
    order = demo_load.abba_order(4)
    assert demo_load.pair_ratios([10.0, 5.0, 6.0, 12.0], order) == [0.5, 0.5]
    assert math.isnan(demo_load.pair_ratios([0.0, 5.0], ['static', 'adaptive'])[0])
    with pytest.raises(ValueError):
        demo_load.pair_ratios([1.0, 2.0], ['static', 'static'])
    with pytest.raises(ValueError):
        demo_load.pair_ratios([1.0], order)


def test_bootstrap_interval_holds_the_mean_and_narrows_with_agreement():
    rng = random.Random(1)
    mean, low, high = demo_load.bootstrap_mean_ci([0.8, 0.9, 1.0, 1.1], rng, resamples=2000)
    assert mean == pytest.approx(0.95)
    assert 0.8 <= low < mean < high <= 1.1
    mean, low, high = demo_load.bootstrap_mean_ci([0.9] * 5, rng, resamples=200)
    assert (mean, low, high) == (0.9, 0.9, 0.9)
    assert all(math.isnan(v) for v in demo_load.bootstrap_mean_ci([], rng))


def test_blocks_summary_per_sequence():
    order = demo_load.abba_order(4)
    blocks = [{'sequence': 'loop', 'condition': c, 'delay_s': {'a': d, 'b': 1.0}}
              for c, d in zip(order, [9.0, 4.0, 4.0, 9.0])]
    blocks += [{'sequence': 'control', 'condition': c, 'delay_s': {'a': 4.0}} for c in order]
    out = demo_load.blocks_summary(blocks, random.Random(0))
    assert out['loop']['pair_ratios'] == [0.5, 0.5]
    assert out['loop']['ci95'] == [0.5, 0.5]
    assert out['loop']['static_delay_s'] == 20.0 and out['loop']['ratio_of_totals'] == 0.5
    assert out['control']['mean_ratio'] == 1.0


def test_cross_ratio_sets_one_sequence_against_another_pair_by_pair():
    loop = {'pair_ratios': [0.6, 0.8, 0.7]}
    flt = {'pair_ratios': [0.6, 0.4, float('nan')]}
    cross = demo_load.cross_ratio(loop, flt, random.Random(1))
    assert cross['pair_ratios'][:2] == [1.0, 2.0] and math.isnan(cross['pair_ratios'][2])
    assert cross['mean_ratio'] == 1.5 and cross['ci95'][0] <= 1.5 <= cross['ci95'][1]


def test_hot_switches_and_response_latencies():
    assert demo_load.hot_switch_offsets([[90, 10], [90, 10], [10, 90], [10, 90], [80, 5]]) == [2, 4]
    runs = [{'t': 100.0, 'duration_s': 15.0, 'moves': [{'vm': 'a'}]},
            {'t': 130.0, 'duration_s': 10.0, 'moves': [{'vm': 'b'}]},
            {'t': 300.0, 'duration_s': 10.0, 'moves': [{'vm': 'a'}]}]
    # a's switch at 90 is answered by the run ending at 115; b's at 95 by the one ending at 140;
    # a's switch at 200 gets no run before its block ends at 250
    lat, missed = demo_load.response_latencies([(90.0, 'a'), (95.0, 'b'), (200.0, 'a')], runs, [150.0, 250.0, 400.0])
    assert lat == [25.0, 45.0] and missed == 1
    assert demo_load.median([3.0, 1.0, 2.0]) == 2.0 and demo_load.median([1.0, 2.0]) == 1.5
    assert math.isnan(demo_load.median([]))


def test_stalled_names_a_guest_whose_vcpus_did_not_run():
    rows = [{'t': t, 'time': {'a': {0: t * 0.6e9, 1: t * 0.2e9}, 'b': {0: 5e9, 1: 0}}} for t in range(0, 12)]
    assert demo_load.stalled(rows, 1, 11) == ['b']
    assert demo_load.stalled(rows, 1, 11, min_busy_s=10.0) == ['a', 'b']
    assert demo_load.stalled(rows, 50, 60) == ['a', 'b']      # no samples in the phase: nothing ran that we saw
    assert demo_load.stalled([], 0, 1) == []


def test_steal_from_proc_stat_and_per_phase():
    text = 'cpu  100 0 50 900 10 0 3 250 0 0\ncpu0 50 0 25 450 5 0 1 125 0 0\nintr 1\n'
    assert demo_load.steal_seconds(text, hz=100) == 2.5
    assert demo_load.steal_seconds('intr 1\n') is None
    rows = [{'t': 0, 'steal_s': 1.0}, {'t': 10, 'steal_s': 1.5}, {'t': 20, 'steal_s': 6.5}, {'t': 21, 'steal_s': None}]
    assert demo_load.phase_steal(rows, 0, 10) == 0.5
    assert demo_load.phase_steal(rows, 10, 20) == 5.0
    assert demo_load.phase_steal([{'t': 0}], 0, 10) is None


def test_the_trace_excerpt_in_the_repository_feeds_the_demo():
    """`make demo` on a clone without ../shared: the excerpt in data/traces gives the two guests their load."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    excerpt = os.path.join(root, 'data', 'traces')
    assert os.path.isfile(os.path.join(excerpt, 'README.md')), 'the excerpt travels with its citation and terms'
    vms = traces.load_traces(excerpt, limit_vms=40)
    assert len(vms) >= 30 and all(len(vm) >= 288 for vm in vms)
    picked = demo_load.pick_windows({vm.vm_id: list(vm.cpu_demand) for vm in vms}, 2, 20, random.Random(7))
    assert len(picked) == 2 and all(len(window) == 20 for _vm, _offset, window in picked)
