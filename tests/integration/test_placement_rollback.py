# -*- coding: utf-8 -*-
"""A libvirt failure part-way through an apply leaves the real domain as it was, and an apply
whose plan was made from pins that changed since leaves them too (vcpu_pin's expect)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import libvirt
import pytest

from ansible_collections.adaptive.intravm.plugins.modules import numa_memory, vcpu_pin
from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset
from ansible_collections.adaptive.intravm.plugins.module_utils.host.placement import read_numatune, read_pins
from ansible_collections.adaptive.intravm.plugins.module_utils.apply.rollback import PartialApplyError
from module_stub import ModuleStub


class FailingDomain(object):
    """The real domain, except that the Nth call of one method raises libvirtError."""

    def __init__(self, dom, method, fail_on_call):
        self._dom = dom
        self._method = method
        self._fail_on = fail_on_call
        self.calls = 0

    def __getattr__(self, name):
        real = getattr(self._dom, name)
        if name != self._method:
            return real

        def wrapper(*args):
            self.calls += 1
            if self.calls == self._fail_on:
                raise libvirt.libvirtError('injected failure on call %d of %s' % (self.calls, name))
            return real(*args)
        return wrapper


class ConnWith(object):
    """The real connection, returning a wrapped domain from lookupByName."""

    def __init__(self, conn, wrap):
        self._conn = conn
        self._wrap = wrap

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def lookupByName(self, name):  # noqa: N802  libvirt's name
        return self._wrap(self._conn.lookupByName(name))


def test_vcpu_pin_restores_pins_after_failure_on_second_change(libvirtd, make_domain):
    dom = make_domain('rb', vcpus=2, iothreads=1)
    before = {side: read_pins(dom, side) for side in ('live', 'config')}
    failing = []
    conn = ConnWith(libvirtd, lambda d: failing.append(FailingDomain(d, 'pinVcpuFlags', 2)) or failing[-1])
    params = dict(name=dom.name(), uri='qemu:///system', vcpus={'0': '1', '1': '0'}, emulator='0',
                  iothreads={'1': '1'}, live=True, config=True, reserved_cpus='')
    with pytest.raises(PartialApplyError) as err:
        vcpu_pin.run(ModuleStub(params, conn=conn))
    assert 'injected failure on call 2' in str(err.value)
    assert err.value.rolled_back == ['live vcpu 0 0-1 -> 1'] and not err.value.rollback_errors
    # The first change really happened, then was undone (call 3 is the undo).
    assert failing[0].calls == 3
    assert {side: read_pins(dom, side) for side in ('live', 'config')} == before


def test_vcpu_pin_failure_late_in_config_side_restores_live_side_too(libvirtd, make_domain):
    dom = make_domain('rb', vcpus=2)
    before = {side: read_pins(dom, side) for side in ('live', 'config')}
    conn = ConnWith(libvirtd, lambda d: FailingDomain(d, 'pinVcpuFlags', 4))
    params = dict(name=dom.name(), uri='qemu:///system', vcpus={'0': '1', '1': '0'}, emulator=None,
                  iothreads=None, live=True, config=True, reserved_cpus='')
    with pytest.raises(PartialApplyError) as err:
        vcpu_pin.run(ModuleStub(params, conn=conn))
    assert len(err.value.rolled_back) == 3
    assert {side: read_pins(dom, side) for side in ('live', 'config')} == before


def test_vcpu_pin_applies_when_expect_matches_and_is_superseded_when_the_pins_moved(libvirtd, make_domain):
    """Compare-and-swap: a plan made from pins that changed since is not applied over them."""
    dom = make_domain('cas', vcpus=2)
    planned_from = read_pins(dom, 'live')['vcpus']
    base = dict(name=dom.name(), uri='qemu:///system', emulator=None, iothreads=None, live=True, config=True,
                reserved_cpus='')
    dom.pinVcpuFlags(1, cpuset.to_cpumap({0}, libvirtd.getCPUMap()[0]), 1)  # another actor, after the plan
    before = {side: read_pins(dom, side) for side in ('live', 'config')}
    late = vcpu_pin.run(ModuleStub(dict(base, vcpus={'0': '1', '1': '1'}, expect=planned_from), conn=libvirtd))
    assert late['superseded'] and not late['changed'] and late['changes'] == []
    assert late['changed_since'] == [{'vcpu': 1, 'expected': planned_from['1'], 'now': '0'}]
    assert late['msg'] == ('superseded: the live pins changed since the plan was computed (vcpu 1 %s -> 0); nothing changed'
                           % planned_from['1'])
    assert {side: read_pins(dom, side) for side in ('live', 'config')} == before

    fresh = vcpu_pin.run(ModuleStub(dict(base, vcpus={'0': '1', '1': '1'}, expect=before['live']['vcpus']), conn=libvirtd))
    assert fresh['changed'] and not fresh['superseded']
    assert read_pins(dom, 'live')['vcpus'] == {'0': '1', '1': '1'}


def test_numa_memory_restores_live_nodeset_when_config_redefinition_fails(multi_node_conn, make_test_domain):
    """2-node test driver: live nodeset 0 -> 1 succeeds, the config step fails, live goes back to 0."""
    dom = make_test_domain(vcpus=2, cells=2)
    base = dict(name=dom.name(), uri='test:///default', mode='strict', memnodes=None, live_unsupported='fail')
    numa_memory.run(ModuleStub(dict(base, nodeset='0', live=True, config=True), conn=multi_node_conn))
    before = {side: read_numatune(dom, side) for side in ('live', 'config')}
    assert before['live']['nodeset'] == '0'

    class FailingConn(ConnWith):
        def defineXML(self, xml):  # noqa: N802
            raise libvirt.libvirtError('injected defineXML failure')

    with pytest.raises(PartialApplyError) as err:
        numa_memory.run(ModuleStub(dict(base, nodeset='1', live=True, config=True), conn=FailingConn(multi_node_conn, lambda d: d)))
    assert 'injected defineXML failure' in str(err.value) and len(err.value.rolled_back) == 1
    assert {side: read_numatune(dom, side) for side in ('live', 'config')} == before
