# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.adaptive.intravm.plugins.module_utils.apply.pin_changes import (
    PinChange, PinRequestError, apply_to, changed_since, describe_drift, parse_request, plan_changes,
)

CURRENT = {'vcpus': {'0': '0-3', '1': '0-3'}, 'emulator': '0-3', 'iothreads': {'1': '0-3'}}


def test_request_is_normalised():
    req = parse_request({'0': '3,2', 1: '1'}, '0', {'1': '2-3'}, '', '0-3')
    assert req == {'vcpus': {0: '2-3', 1: '1'}, 'emulator': '0', 'iothreads': {1: '2-3'}}


@pytest.mark.parametrize('vcpus, emulator, iothreads, reserved, message', [
    ({'0': 'x'}, None, None, '', "vcpus[0]: 'x' in cpuset"),
    ({'0': '4'}, None, None, '', 'vcpus[0]: CPUs 4 are not online on this host (online: 0-3)'),
    ({'0': '0-1'}, None, None, '1', 'vcpus[0]: CPUs 1 are in reserved_cpus (1)'),
    (None, '0', None, '0', 'emulator: CPUs 0 are in reserved_cpus'),
    (None, None, {'1': '9'}, '', 'iothreads[1]: CPUs 9 are not online'),
    ({'a': '0'}, None, None, '', "vcpus: key 'a' is not a non-negative integer"),
    ({'\u0661': '0'}, None, None, '', "vcpus: key '\u0661' is not a non-negative integer of ASCII digits"),
    ({'0': '\u0661'}, None, None, '', "vcpus[0]: '\u0661' in cpuset"),
    ({'0': '\u00b2'}, None, None, '', "vcpus[0]: '\u00b2' in cpuset"),
    (None, None, {'\u0661': '0'}, '', "iothreads: key '\u0661'"),
    ({'-1': '0'}, None, None, '', "vcpus: key '-1'"),
    ({'0': ' '}, None, None, '', 'vcpus[0]: empty cpuset'),
    ({'0': '0'}, None, None, 'z', "reserved_cpus: 'z'"),
])
def test_request_errors_name_the_value(vcpus, emulator, iothreads, reserved, message):
    with pytest.raises(PinRequestError) as err:
        parse_request(vcpus, emulator, iothreads, reserved, '0-3')
    assert message in str(err.value)


def test_only_differences_become_changes_live_first():
    req = parse_request({'0': '0-3', '1': '2'}, '0', None, '', '0-3')
    changes = plan_changes(req, {'config': CURRENT, 'live': CURRENT})
    assert changes == [
        PinChange('live', 'vcpu', 1, '0-3', '2'), PinChange('live', 'emulator', None, '0-3', '0'),
        PinChange('config', 'vcpu', 1, '0-3', '2'), PinChange('config', 'emulator', None, '0-3', '0'),
    ]


def test_no_change_when_already_there():
    req = parse_request({'0': '0-3'}, '0-3', {'1': '3,0-2'}, '', '0-3')
    assert plan_changes(req, {'live': CURRENT}) == []


def test_unknown_vcpu_and_iothread():
    with pytest.raises(PinRequestError, match=r'vcpus\[2\]: the domain has 2 vCPUs on its live side'):
        plan_changes(parse_request({'2': '0'}, None, None, '', '0-3'), {'live': CURRENT})
    with pytest.raises(PinRequestError, match=r'iothreads\[4\]: no such iothread on the live side \(iothreads: 1\)'):
        plan_changes(parse_request(None, None, {'4': '0'}, '', '0-3'), {'live': CURRENT})


def test_apply_to_copies():
    after = apply_to(CURRENT, PinChange('live', 'vcpu', 1, '0-3', '2'), '2')
    assert after['vcpus'] == {'0': '0-3', '1': '2'} and CURRENT['vcpus']['1'] == '0-3'
    assert apply_to(CURRENT, PinChange('live', 'emulator', None, '0-3', '1'), '1')['emulator'] == '1'
    assert apply_to(CURRENT, PinChange('live', 'iothread', 1, '0-3', '1'), '1')['iothreads'] == {'1': '1'}


def test_changed_since_compares_cpus_not_text_and_names_what_moved():
    current = {'vcpus': {'0': '0-3', '1': '2'}, 'emulator': '0-3', 'iothreads': {}}
    assert changed_since({'0': '3,0-2', 1: '2'}, current) == []
    assert changed_since(None, current) == []
    drift = changed_since({'0': '0-3', '1': '1', '2': '0'}, current)
    assert drift == [(1, '1', '2'), (2, '0', None)]
    assert describe_drift(drift) == 'vcpu 1 1 -> 2, vcpu 2 0 -> gone'


@pytest.mark.parametrize('expect, message', [
    ({'x': '0'}, "expect: key 'x'"),
    ({'0': '0-z'}, "expect[0]: 'z' in cpuset"),
])
def test_changed_since_refuses_a_malformed_expect(expect, message):
    with pytest.raises(PinRequestError) as err:
        changed_since(expect, CURRENT)
    assert message in str(err.value)
