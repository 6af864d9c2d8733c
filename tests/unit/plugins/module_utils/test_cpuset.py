# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.adaptive.intravm.plugins.module_utils import cpuset


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
