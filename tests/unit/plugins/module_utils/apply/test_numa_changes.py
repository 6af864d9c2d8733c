# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.adaptive.intravm.plugins.module_utils.apply.numa_changes import (
    NumaRequestError, differs, parse_request, target, with_numatune,
)
from ansible_collections.adaptive.intravm.plugins.module_utils.host.placement import parse_numatune

NONE = {'mode': None, 'nodeset': None, 'placement': None, 'memnodes': {}}


@pytest.mark.parametrize('kwargs, message', [
    (dict(mode=None, nodeset=None, memnodes=None), 'at least one of'),
    (dict(mode='fast', nodeset=None, memnodes=None), "mode 'fast'"),
    (dict(mode=None, nodeset='2', memnodes=None), 'nodeset: NUMA nodes 2 do not exist on this host (nodes: 0-1)'),
    (dict(mode=None, nodeset='0-x', memnodes=None), "'x' in nodeset"),
    (dict(mode=None, nodeset=None, memnodes={'3': '0'}), 'memnodes[3]: the domain has no guest NUMA cell 3 (cells: 0, 1)'),
    (dict(mode=None, nodeset=None, memnodes={'c': '0'}), "memnodes: key 'c'"),
    (dict(mode=None, nodeset=None, memnodes={'\u0661': '0'}), "memnodes: key '\u0661' is not a non-negative integer of ASCII digits"),
    (dict(mode=None, nodeset='\u0661', memnodes=None), "'\u0661' in nodeset"),
    (dict(mode=None, nodeset=None, memnodes={'1': '5'}), 'memnodes[1]: NUMA nodes 5 do not exist'),
])
def test_errors_name_the_value(kwargs, message):
    with pytest.raises(NumaRequestError) as err:
        parse_request(host_nodes=[0, 1], guest_cells=[0, 1], **kwargs)
    assert message in str(err.value)


def test_target_lays_request_over_current():
    req = parse_request(None, '1', {'0': '0'}, [0, 1], [0, 1])
    want = target(req, NONE)
    assert want['mode'] == 'strict' and want['nodeset'] == '1'
    assert want['memnodes'] == {'0': {'mode': 'strict', 'nodeset': '0'}}
    assert differs(NONE, want) == (True, True)
    assert differs(want, want) == (False, False)


def test_missing_mode_reads_as_strict():
    current = {'mode': 'strict', 'nodeset': '0', 'placement': 'static', 'memnodes': {}}
    assert differs(current, dict(current, mode=None)) == (False, False)


def test_with_numatune_round_trips_through_parse():
    xml = "<domain><name>x</name><vcpu>2</vcpu><os><type>hvm</type></os></domain>"
    tune = {'mode': 'interleave', 'nodeset': '0-1', 'placement': 'static',
            'memnodes': {'1': {'mode': 'strict', 'nodeset': '1'}}}
    new = with_numatune(xml, tune)
    assert parse_numatune(new) == tune
    assert new.index('<numatune>') < new.index('<os>')
    # Replacing keeps one numatune element.
    again = with_numatune(new, dict(tune, nodeset='0'))
    assert again.count('<numatune>') == 1 and parse_numatune(again)['nodeset'] == '0'
