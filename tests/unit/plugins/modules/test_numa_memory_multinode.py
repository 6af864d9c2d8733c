# -*- coding: utf-8 -*-
"""numa_memory on a 2-node host (libvirt's test:///default driver): nodesets on
node 1 and per-cell memnodes, which our 1-node machines cannot show."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.adaptive.intravm.plugins.modules import numa_memory
from ansible_collections.adaptive.intravm.plugins.module_utils.apply.numa_changes import NumaRequestError
from ansible_collections.adaptive.intravm.plugins.module_utils.host.placement import read_numatune
from module_stub import ModuleStub


def params(dom, **kw):
    base = dict(name=dom.name(), uri='test:///default', mode=None, nodeset=None, memnodes=None,
                live=True, config=True, live_unsupported='fail')
    base.update(kw)
    return base


def test_nodeset_on_node_1_live_and_config(multi_node_conn, make_test_domain):
    dom = make_test_domain(vcpus=2, cells=2)
    first = numa_memory.run(ModuleStub(params(dom, nodeset='1'), conn=multi_node_conn))
    assert first['changed'] and first['numatune']['nodeset'] == '1'
    assert read_numatune(dom, 'live')['nodeset'] == '1'
    assert read_numatune(dom, 'config')['nodeset'] == '1'
    second = numa_memory.run(ModuleStub(params(dom, nodeset='1'), conn=multi_node_conn))
    assert not second['changed'] and second['changes'] == []


def test_check_mode_changes_nothing(multi_node_conn, make_test_domain):
    dom = make_test_domain(cells=2)
    result = numa_memory.run(ModuleStub(params(dom, nodeset='0-1'), check_mode=True, conn=multi_node_conn))
    assert result['changed'] and result['diff']['after']['live']['nodeset'] == '0-1'
    assert read_numatune(dom, 'live')['nodeset'] is None
    assert read_numatune(dom, 'config')['nodeset'] is None


def test_memnodes_across_both_nodes(multi_node_conn, make_test_domain):
    dom = make_test_domain(vcpus=2, cells=2)
    want = {'0': '0', '1': '1'}
    first = numa_memory.run(ModuleStub(params(dom, memnodes=want, live=False), conn=multi_node_conn))
    assert first['changed']
    assert read_numatune(dom, 'config')['memnodes'] == {
        '0': {'mode': 'strict', 'nodeset': '0'}, '1': {'mode': 'strict', 'nodeset': '1'}}
    assert not numa_memory.run(ModuleStub(params(dom, memnodes=want, live=False), conn=multi_node_conn))['changed']


def test_node_beyond_the_host_is_refused_and_nothing_changes(multi_node_conn, make_test_domain):
    dom = make_test_domain(cells=2)
    before = dom.XMLDesc(2)
    with pytest.raises(NumaRequestError, match='NUMA nodes 2 do not exist on this host'):
        numa_memory.run(ModuleStub(params(dom, nodeset='1-2'), conn=multi_node_conn))
    assert dom.XMLDesc(2) == before
