# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset


@pytest.mark.parametrize('text, expected', [
    ('', set()),
    ('3', {3}),
    ('0-3', {0, 1, 2, 3}),
    ('0-3,6', {0, 1, 2, 3, 6}),
    (' 2 , 4-5 ', {2, 4, 5}),
    ('0-7,^3', {0, 1, 2, 4, 5, 6, 7}),
    (5, {5}),
])
def test_parse(text, expected):
    assert cpuset.parse(text) == frozenset(expected)


@pytest.mark.parametrize('text', ['a', '1-', '-1', '3-1', '1,,2', '0-70000', '^1', '1.5', None, [1]])
def test_parse_rejects_with_message(text):
    with pytest.raises(cpuset.CpusetError) as err:
        cpuset.parse(text)
    assert str(err.value)


def test_format_collapses_ranges():
    assert cpuset.format([6, 0, 1, 2, 3, 9, 10]) == '0-3,6,9-10'
    assert cpuset.format([]) == ''


def test_normalize_makes_equal_sets_equal_text():
    assert cpuset.normalize('3,0-2') == cpuset.normalize('0-3') == '0-3'


def test_cpumap_round_trip():
    cpumap = cpuset.to_cpumap({1, 3}, 4)
    assert cpumap == (False, True, False, True)
    assert cpuset.from_cpumap(cpumap) == frozenset({1, 3})


# Digits outside ASCII: str.isdigit() accepts them and int() reads "١" as 1, so a
# pin could move on a character no operator meant as a CPU number.
@pytest.mark.parametrize('text', ['\u0661', '\u00b2', '0-\u0663', '\uff11', '1_0', '\u0661,2', '1\u2003', '1' * 5000, '0-' + '9' * 4400])
def test_parse_takes_ascii_digits_only(text):
    with pytest.raises(cpuset.CpusetError):
        cpuset.parse(text)


@pytest.mark.parametrize('value, expected', [(0, 0), (7, 7), ('3', 3), (' 12 ', 12)])
def test_index_reads_ascii_numbers(value, expected):
    assert cpuset.index(value) == expected


@pytest.mark.parametrize('value', ['\u0661', '\u00b2', '-1', -1, '1_0', '1.0', True, None, 1.0, '', '65536', '1' * 5000])
def test_index_refuses_everything_else(value):
    with pytest.raises(cpuset.CpusetError) as err:
        cpuset.index(value, 'vCPU key')
    assert 'vCPU key' in str(err.value)


@given(st.text(max_size=24))
@settings(max_examples=2000, deadline=None)
def test_fuzz_parse_means_only_ascii_numbers(text):
    """Any string either parses to ids written in ASCII digits, or fails with CpusetError only."""
    try:
        ids = cpuset.parse(text)
    except cpuset.CpusetError:
        return
    assert all(0 <= i <= cpuset.MAX_CPU_ID for i in ids)
    if not ids:
        return
    stripped = ''.join(ch for ch in text if ch not in ' \t\r\n,-^')
    assert stripped.isascii() and stripped.isdigit()
    assert cpuset.parse(cpuset.format(ids)) == ids


@given(st.one_of(st.text(max_size=8), st.integers(), st.none(), st.booleans(), st.floats()))
@settings(max_examples=1000, deadline=None)
def test_fuzz_index_is_int_or_cpuset_error(value):
    try:
        number = cpuset.index(value)
    except cpuset.CpusetError:
        return
    assert isinstance(number, int) and not isinstance(number, bool)
    assert str(number) == (str(value).strip(' \t\r\n').lstrip('0') or '0')
