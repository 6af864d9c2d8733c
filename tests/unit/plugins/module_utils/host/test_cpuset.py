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


# ---------------------------------------------------------------- cost bounded by the text, not by its ranges

def test_a_160_kb_cpuset_of_whole_ranges_costs_milliseconds():
    """The probe's 20,000 x "0-65535": 42-57 s when each range was expanded, now merged as bounds first."""
    import time  # pylint: disable=import-outside-toplevel
    text = ','.join(['0-65535'] * 20000)
    assert len(text) == 159999
    started = time.perf_counter()
    assert cpuset.parse(text) == frozenset(range(65536))
    assert cpuset.parse(text + ',^1-65535') == frozenset([0])
    assert time.perf_counter() - started < 2


def test_a_cpuset_longer_than_any_set_needs_is_refused_unread():
    longest = ','.join(str(cpu) for cpu in range(0, 65536, 2))   # every other CPU: the longest canonical form
    assert len(longest) == 191052 <= 1 << 18
    assert len(cpuset.parse(longest)) == 32768
    with pytest.raises(cpuset.CpusetError) as err:
        cpuset.parse('1,' * (1 << 17) + '1')
    assert 'is 262145 characters long, more than the 262144 any set of CPUs 0-65535 needs' in str(err.value)
    assert len(str(err.value)) < 200, 'the message quotes the start of the text, not all of it'


spans = st.tuples(st.integers(0, 40), st.integers(0, 40)).map(sorted)


@given(st.lists(st.tuples(st.booleans(), spans), min_size=1, max_size=8))
@settings(max_examples=1000, deadline=None)
def test_fuzz_merged_bounds_mean_what_expanded_ranges_did(parts):
    """Ranges, single ids and exclusions in any order and overlap: the set the old expansion gave, or CpusetError."""
    text = ','.join('%s%s' % ('^' if excluded else '', lo if lo == hi else '%d-%d' % (lo, hi))
                    for excluded, (lo, hi) in parts)
    included = set(cpu for excluded, (lo, hi) in parts if not excluded for cpu in range(lo, hi + 1))
    excluded = set(cpu for excluded, (lo, hi) in parts if excluded for cpu in range(lo, hi + 1))
    if not included - excluded:
        with pytest.raises(cpuset.CpusetError):
            cpuset.parse(text)
    else:
        assert cpuset.parse(text) == frozenset(included - excluded)
