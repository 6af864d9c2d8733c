# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The short form of benchmarks/fuzz.py: every untrusted-input reader, a fixed seed, zero tolerance."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.adaptive.intravm.benchmarks import fuzz


def test_bounded_fuzz_campaign_finds_nothing():
    results = fuzz.campaign(cases=400, seed=20261129, race_s=1.5)
    for target in ('channel', 'cpuset', 'forecasts', 'event_source', 'fetches', 'memory', 'hook', 'apply_plan', 'lock_records',
                   'checkpoints'):
        figures = results[target]
        assert figures['escapes'] == 0, (target, figures)
        assert figures['accepted_bad'] == 0, (target, figures)
    for target in ('forecasts', 'event_source', 'fetches', 'memory', 'hook', 'apply_plan', 'lock_records'):   # both sides reached
        assert results[target]['refused'] > 0 and results[target]['accepted'] > 0, (target, results[target])
    assert results['fetches']['past_deadline'] == 0, results['fetches']
    assert results['apply_plan']['refused_after_connect'] == 0, results['apply_plan']   # a refusal changes nothing
    assert results['channel']['max_copied_bytes'] <= results['meta']['read_budget_bytes']
    race = results['channel_race']
    assert race['accepted'] > 0 and race['false_alarms'] == 0, race
    assert race['overruns_beyond_written'] == 0, race
