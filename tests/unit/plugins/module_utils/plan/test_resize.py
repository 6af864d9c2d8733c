# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""plan_resize: forecasts to memory_balloon and vcpu_count entries, opt-in, bounded, never under pressure."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.adaptive.intravm.plugins.module_utils.plan.inputs import PlannerInputError
from ansible_collections.adaptive.intravm.plugins.module_utils.plan.resize import plan_resize

MIB = 1 << 20
GIB = 1 << 30
FREE = 64 * GIB


def forecast(peak_mib, cpu_share=0.25, psi=0.0, swap_in=0.0, pressure=True):
    mem = {'used_bytes': peak_mib * MIB // 2,
           'peak_bytes': dict((q, [peak_mib * MIB] * 2) for q in ('p50', 'p90', 'p99'))}
    if pressure:
        mem['pressure'] = {'psi_mem_some': psi, 'swap_in': swap_in}
    return {'horizons_s': [300, 900], 'cpu': {'p50': [cpu_share] * 2, 'p90': [cpu_share] * 2}, 'memory': mem}


def size(memory_mib=4096, max_mib=8192, vcpus=2, max_vcpus=8):
    return {'memory_bytes': memory_mib * MIB, 'max_memory_bytes': max_mib * MIB, 'vcpus': vcpus, 'max_vcpus': max_vcpus}


BOUNDS = {'min_memory': 512 * MIB, 'max_memory': 8 * GIB, 'min_vcpus': 1, 'max_vcpus': 8}


def test_the_days_floor_holds_the_size_up_when_the_period_looks_quiet():
    fc = forecast(1000)
    fc['memory']['floor_bytes'] = 4000 * MIB
    out = plan_resize({'web': fc}, {'web': size(4096)}, {'web': BOUNDS}, FREE)
    assert out['memory_balloon'][0]['memory_bytes'] >= 4000 * MIB * 1.1 - MIB


def test_nothing_is_resized_unless_the_vm_is_opted_in():
    out = plan_resize({'web': forecast(1000)}, {'web': size()}, {}, FREE)
    assert out == {'memory_balloon': [], 'vcpu_count': [], 'skipped': []}


def test_grows_at_once_before_a_peak_and_shrinks_slowly():
    grow = plan_resize({'web': forecast(6000)}, {'web': size(4096)}, {'web': BOUNDS}, FREE)['memory_balloon'][0]
    assert grow['memory_bytes'] >= 6000 * MIB * 1.1 - MIB and grow['reason'].startswith('grow before predicted peak')
    shrink = plan_resize({'web': forecast(1000)}, {'web': size(4096)}, {'web': BOUNDS}, FREE)['memory_balloon'][0]
    assert shrink['memory_bytes'] >= 4096 * MIB * 0.9 - MIB    # one slow step, not down to 1.1 GiB at once
    assert shrink['from_bytes'] == 4096 * MIB and shrink['memory'] == '%dM' % (shrink['memory_bytes'] // MIB)


@pytest.mark.parametrize('pressure', [dict(psi=20.0), dict(swap_in=500.0), dict(pressure=False)])
def test_nothing_is_taken_from_a_vm_under_memory_pressure_whatever_the_forecast(pressure):
    out = plan_resize({'web': forecast(100, **pressure)}, {'web': size(4096)}, {'web': BOUNDS}, FREE)
    assert out['memory_balloon'] == []


def test_a_vm_under_pressure_still_grows():
    out = plan_resize({'web': forecast(6000, psi=50.0)}, {'web': size(4096)}, {'web': BOUNDS}, FREE)
    assert out['memory_balloon'][0]['memory_bytes'] > 4096 * MIB


def test_bounds_and_the_domain_maximum_cap_the_size():
    out = plan_resize({'web': forecast(20000)}, {'web': size(4096, max_mib=6144)}, {'web': BOUNDS}, FREE)
    assert out['memory_balloon'][0]['memory_bytes'] == 6144 * MIB
    out = plan_resize({'web': forecast(100, psi=0.0)}, {'web': size(600)}, {'web': dict(BOUNDS, min_memory=600 * MIB)}, FREE)
    assert out['memory_balloon'] == []


def test_grows_fit_what_the_host_can_give():
    fcs = {'a': forecast(6000), 'b': forecast(6000)}
    out = plan_resize(fcs, {'a': size(4096), 'b': size(4096)}, {'a': BOUNDS, 'b': BOUNDS}, 1 * GIB)
    grown = sum(e['memory_bytes'] - e['from_bytes'] for e in out['memory_balloon'])
    assert grown <= 1 * GIB and all('fit the host' in e['reason'] for e in out['memory_balloon'])


def test_vcpus_follow_the_cpu_forecast_within_bounds():
    out = plan_resize({'b': forecast(2000, cpu_share=1.0)}, {'b': size(2048, vcpus=2, max_vcpus=3)}, {'b': BOUNDS}, FREE)
    assert out['vcpu_count'] == [dict(out['vcpu_count'][0], name='b', count=3, **{'from': 2})]
    out = plan_resize({'b': forecast(2000, cpu_share=0.1)}, {'b': size(2048, vcpus=4)}, {'b': BOUNDS}, FREE)
    assert out['vcpu_count'][0]['count'] == 3       # one vCPU per run


def test_opted_in_vms_without_what_sizing_needs_are_reported():
    fc = forecast(1000)
    del fc['memory']
    out = plan_resize({'web': fc}, {'web': size(), 'db': size()}, {'web': BOUNDS, 'db': BOUNDS, 'gone': BOUNDS}, FREE)
    assert [s['name'] for s in out['skipped']] == ['db', 'gone', 'web']
    no_balloon = dict(size(), balloon=False)
    out = plan_resize({'web': forecast(6000)}, {'web': no_balloon}, {'web': BOUNDS}, FREE)
    assert out['memory_balloon'] == [] and 'no balloon device' in out['skipped'][0]['reason']
    with pytest.raises(PlannerInputError, match='unknown key'):
        plan_resize({}, {}, {'web': {'max_mem': 1}}, FREE)


@pytest.mark.parametrize('key, value', [('min_vcpus', '\u0661'), ('max_vcpus', '2'), ('min_memory', '1G'),
                                        ('max_memory', 2.5e9), ('min_vcpus', True), ('min_vcpus', -1)])
def test_bounds_are_whole_numbers_parsed_before_they_get_here(key, value):
    """Probe 26 #8: bounds are numbers (allocation_plan parses them with the one grammar), never text taken as one."""
    with pytest.raises(PlannerInputError, match='resize bounds for .web.: %s is .*a whole number >= 0' % key):
        plan_resize({'web': forecast(1000)}, {'web': size()}, {'web': dict(BOUNDS, **{key: value})}, FREE)


@pytest.mark.parametrize('block, value, message', [
    ('peak_bytes', {'p50': ['1G'] * 2, 'p90': ['1G'] * 2}, r"peak_bytes\.p50\[0\] is '1G'"),   # was a raw TypeError
    ('peak_bytes', {'p50': [GIB] * 2, 'p90': [10 ** 400] * 2}, r'peak_bytes\.p90\[0\] is 1000'),   # int too large to convert
    ('peak_bytes', {'p50': [-GIB] * 2, 'p90': [-GIB] * 2}, r'peak_bytes\.p50\[0\] is -1073741824'),   # was a planned shrink
    ('floor_bytes', '1G', r"floor_bytes is '1G'"),                                   # was silently ignored
])
def test_an_odd_memory_forecast_is_refused_by_name_and_nothing_is_planned(block, value, message):
    """Issue 26, defect 5: the memory block goes through the forecast document's one check."""
    fc = forecast(1024)
    fc['memory'][block] = value
    with pytest.raises(PlannerInputError, match=message):
        plan_resize({'web': fc}, {'web': size()}, {'web': BOUNDS}, FREE)


def test_a_cpu_forecast_beyond_a_floats_range_is_refused_before_vcpus_are_sized():
    fc = forecast(1024)
    fc['cpu'] = {'p50': [0.1] * 2, 'p90': [10 ** 400] * 2}
    with pytest.raises(PlannerInputError, match=r'cpu\.p90\[0\] is 1000'):
        plan_resize({'web': fc}, {'web': size()}, {'web': BOUNDS}, FREE)
