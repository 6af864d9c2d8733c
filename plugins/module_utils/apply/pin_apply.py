# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vcpu_pin's logic: pin one domain's vCPUs, emulator and iothreads, restoring all of it if one call fails.

run(module) takes anything with params, check_mode, connect() and sides(dom):
the module itself, or apply_plan's view of one plan entry.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset
from ansible_collections.adaptive.intravm.plugins.module_utils.host import libvirt_conn
from ansible_collections.adaptive.intravm.plugins.module_utils.apply.pin_changes import (
    apply_to, changed_since, describe_drift, parse_request, plan_changes,
)
from ansible_collections.adaptive.intravm.plugins.module_utils.host.placement import read_pins
from ansible_collections.adaptive.intravm.plugins.module_utils.apply.rollback import Step, apply_all
from ansible_collections.adaptive.intravm.plugins.module_utils.host.topology import parse_capabilities


def pin_step(dom, change, flags, host_cpus, value):
    """A libvirt call that sets change's target to value, with its side's flags."""
    cpumap = cpuset.to_cpumap(cpuset.parse(value), host_cpus)
    if change.kind == 'vcpu':
        return lambda: dom.pinVcpuFlags(change.key, cpumap, flags)
    if change.kind == 'iothread':
        return lambda: dom.pinIOThread(change.key, cpumap, flags)
    return lambda: dom.pinEmulator(cpumap, flags)


def describe(change):
    target = 'emulator' if change.kind == 'emulator' else '%s %s' % (change.kind, change.key)
    return '%s %s %s -> %s' % (change.side, target, change.old, change.new)


def superseded(drift, before, sides):
    """The result when the domain moved since the plan: nothing changes, and what moved is named."""
    result = {
        'changed': False, 'superseded': True, 'changes': [], 'pins': before[sides[0]],
        'changed_since': [{'vcpu': index, 'expected': was, 'now': now} for index, was, now in drift],
        'msg': 'superseded: the %s pins changed since the plan was computed (%s); nothing changed'
               % (sides[0], describe_drift(drift)),
        'diff': {'before': before, 'after': before},
    }
    if len(sides) == 2:
        result['config_pins'] = before['config']
    return result


def run(module):
    params = module.params
    conn = module.connect()
    dom = libvirt_conn.lookup_domain(conn, params['name'])
    host_cpus, online_map = conn.getCPUMap()[:2]
    topology = parse_capabilities(conn.getCapabilities(), online_map)
    request = parse_request(params['vcpus'], params['emulator'], params['iothreads'],
                            params['reserved_cpus'], topology['cpus_online'])
    sides = module.sides(dom)
    before = dict((side, read_pins(dom, side)) for side in sides)
    drift = changed_since(params.get('expect'), before[sides[0]])
    if drift:
        return superseded(drift, before, sides)
    changes = plan_changes(request, before)

    expected = dict(before)
    for change in changes:
        expected[change.side] = apply_to(expected[change.side], change, change.new)
    result = {
        'changed': bool(changes),
        'superseded': False,
        'changes': [{'side': c.side, 'kind': c.kind, 'id': c.key, 'before': c.old, 'after': c.new} for c in changes],
        'diff': {'before': before, 'after': expected},
    }
    if changes and not module.check_mode:
        flags = dict((side, libvirt_conn.effective_flags(dom, side == 'live', side == 'config')) for side in sides)
        steps = [Step(describe(c), pin_step(dom, c, flags[c.side], host_cpus, c.new),
                      pin_step(dom, c, flags[c.side], host_cpus, c.old)) for c in changes]
        apply_all(steps, describe_error=libvirt_conn.error_text)
        after = dict((side, read_pins(dom, side)) for side in sides)
        result['diff']['after'] = after
    else:
        after = expected
    result['pins'] = after[sides[0]]
    if len(sides) == 2:
        result['config_pins'] = after['config']
    return result
