#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: numa_memory
short_description: Set the NUMA memory policy (numatune) of a libvirt domain
version_added: 0.1.0
description:
  - Declares on which host NUMA nodes a domain's memory may live, with which policy,
    and optionally per guest NUMA cell.
  - Validates nodes against the host and cells against the domain before any change;
    if libvirt fails part-way, what was already changed is restored.
  - libvirt refuses some changes on a running domain (changing the mode, per-cell
    memnodes, some nodeset changes). The module then fails with libvirt's reason, or,
    with O(live_unsupported=config_only) and O(config=true), changes only the persistent
    config and warns that it takes effect at the next boot.
  - Reports where the domain's memory actually is (bytes per host node of the QEMU
    process), so pages can be seen moving after a nodeset change.
author:
  - adaptive.intravm contributors (@adaptive-intravm)
options:
  mode:
    description: Memory policy.
    type: str
    choices: [strict, preferred, interleave, restrictive]
  nodeset:
    description: Host NUMA nodes for the domain's memory, as a set string such as C("0-1").
    type: str
  memnodes:
    description:
      - Map of guest NUMA cell id to host nodeset, for domains with guest NUMA cells.
      - Cells use O(mode) when given, else keep their own mode.
    type: dict
  live_unsupported:
    description:
      - What to do when libvirt cannot make the change on the running domain.
      - C(fail) fails with libvirt's reason and changes nothing.
      - C(config_only) changes only the persistent config (needs O(config=true)) and
        warns that the change takes effect at the next boot.
    type: str
    choices: [fail, config_only]
    default: fail
extends_documentation_fragment:
  - adaptive.intravm.attributes.ACTION
  - adaptive.intravm.libvirt
  - adaptive.intravm.libvirt.DOMAIN
  - adaptive.intravm.libvirt.SIDES
seealso:
  - module: adaptive.intravm.vcpu_pin
  - module: adaptive.intravm.topology_info
'''

EXAMPLES = r'''
- name: Keep web01's memory on node 1
  adaptive.intravm.numa_memory:
    name: web01
    mode: strict
    nodeset: "1"

- name: Interleave a database over both nodes from its next boot
  adaptive.intravm.numa_memory:
    name: db01
    mode: interleave
    nodeset: "0-1"
    live_unsupported: config_only

- name: Bind guest cell 0 to host node 0 and guest cell 1 to host node 1 (persistent)
  adaptive.intravm.numa_memory:
    name: big01
    memnodes:
      0: "0"
      1: "1"
    live: false
'''

RETURN = r'''
numatune:
  description: numatune after the run, from the live side when O(live=true) and it was applied live, else the config.
  returned: success
  type: dict
  sample: {"mode": "strict", "nodeset": "1", "placement": "static", "memnodes": {}}
config_numatune:
  description: Persistent-config numatune after the run, when O(config=true).
  returned: success and config
  type: dict
  sample: {"mode": "strict", "nodeset": "1", "placement": "static", "memnodes": {"0": {"mode": "strict", "nodeset": "1"}}}
memory_by_node:
  description:
    - Bytes of the QEMU process's memory per host NUMA node, from C(/proc/PID/numa_maps).
    - Null when the domain is not a running local QEMU domain.
  returned: success
  type: dict
  sample: {"0": 134217728}
live_skipped_reason:
  description:
    - Why the change was not made on the running domain and went to the persistent config only
      (with O(live_unsupported=config_only)); it takes effect at the next boot. Null otherwise.
  returned: success
  type: str
  sample: "not changed live (can't change numatune mode for running domain); applied to the persistent config only, effective at the next boot"
changes:
  description: Each change made (or, in check mode, that would be made).
  returned: always
  type: list
  elements: dict
  sample: [{"side": "live", "what": "policy", "before": {"mode": "strict", "nodeset": "0"}, "after": {"mode": "strict", "nodeset": "1"}}]
'''

from ansible_collections.adaptive.intravm.plugins.module_utils.host import libvirt_conn
from ansible_collections.adaptive.intravm.plugins.module_utils.apply.numa_changes import (
    NumaRequestError, differs, parse_request, target, with_numatune,
)
from ansible_collections.adaptive.intravm.plugins.module_utils.host.numa_maps import domain_memory_by_node
from ansible_collections.adaptive.intravm.plugins.module_utils.host.placement import (
    NUMA_MODE_IDS, XML_INACTIVE, guest_cells, read_numatune,
)
from ansible_collections.adaptive.intravm.plugins.module_utils.apply.rollback import PartialApplyError, Step, apply_all
from ansible_collections.adaptive.intravm.plugins.module_utils.module_base import LIBVIRT, IntravmModule
from ansible_collections.adaptive.intravm.plugins.module_utils.host.topology import parse_capabilities

XML_SECURE = 1  # VIR_DOMAIN_XML_SECURE: keep passwords when redefining
# libvirt error codes that mean "not possible on a running domain"
LIVE_REFUSALS = (55, 84, 67)  # OPERATION_INVALID, OPERATION_UNSUPPORTED, ARGUMENT_UNSUPPORTED


class LiveRefused(Exception):
    """libvirt (or libvirt's API surface) cannot make this change live."""


def live_steps(dom, current, wanted):
    """Steps for the running domain; memnodes cannot change live through libvirt's API."""
    policy, memnodes = differs(current, wanted)
    if memnodes:
        raise LiveRefused('libvirt has no API to change per-cell memnodes of a running domain')
    if not policy:
        return []
    flags = libvirt_conn.effective_flags(dom, True, False)

    def setter(tune):
        def do():
            params = {}
            if (tune['mode'] or 'strict') != (dom_mode(dom, flags)):
                params['numa_mode'] = NUMA_MODE_IDS[tune['mode'] or 'strict']
            if tune['nodeset'] is None:
                raise libvirt_conn.IntravmLibvirtError('cannot return the live nodeset to unset')
            params['numa_nodeset'] = tune['nodeset']
            dom.setNumaParameters(params, flags)
        return do

    return [Step('live policy %s/%s -> %s/%s' % (current['mode'], current['nodeset'], wanted['mode'], wanted['nodeset']),
                 setter(wanted), setter(current))]


def dom_mode(dom, flags):
    mode_id = dom.numaParameters(flags).get('numa_mode', 0)
    return dict((v, k) for k, v in NUMA_MODE_IDS.items()).get(mode_id, 'strict')


def config_steps(conn, dom, current, wanted):
    """One redefinition of the persistent XML carries policy and memnodes together."""
    if differs(current, wanted) == (False, False):
        return []
    old_xml = dom.XMLDesc(XML_INACTIVE | XML_SECURE)
    new_xml = with_numatune(old_xml, wanted)
    return [Step('config numatune', lambda: conn.defineXML(new_xml), lambda: conn.defineXML(old_xml))]


def change_records(side, current, wanted):
    policy, memnodes = differs(current, wanted)
    records = []
    if policy:
        records.append({'side': side, 'what': 'policy', 'before': {'mode': current['mode'], 'nodeset': current['nodeset']},
                        'after': {'mode': wanted['mode'], 'nodeset': wanted['nodeset']}})
    if memnodes:
        records.append({'side': side, 'what': 'memnodes', 'before': current['memnodes'], 'after': wanted['memnodes']})
    return records


def run(module):
    params = module.params
    conn = module.connect()
    dom = libvirt_conn.lookup_domain(conn, params['name'])
    sides = module.sides(dom)
    if params['live_unsupported'] == 'config_only' and not params['config']:
        raise NumaRequestError('live_unsupported: config_only needs config: true')
    topology = parse_capabilities(conn.getCapabilities())
    host_nodes = [n['id'] for n in topology['nodes']] or [0]
    request = parse_request(params['mode'], params['nodeset'], params['memnodes'], host_nodes,
                            guest_cells(dom.XMLDesc(XML_INACTIVE if dom.isPersistent() else 0)))
    before = dict((side, read_numatune(dom, side)) for side in sides)
    wanted = dict((side, target(request, before[side])) for side in sides)
    warnings = []

    live = []
    if 'live' in sides:
        try:
            live = live_steps(dom, before['live'], wanted['live'])
        except LiveRefused as exc:
            live = refuse_live(params, str(exc), warnings)
            wanted['live'] = before['live']
    config = config_steps(conn, dom, before['config'], wanted['config']) if 'config' in sides else []

    records = []
    for side in sides:
        records.extend(change_records(side, before[side], wanted[side]))
    result = {'changed': bool(records), 'changes': records, 'diff': {'before': before, 'after': wanted}}

    if records and not module.check_mode:
        try:
            apply_all(live + config, describe_error=libvirt_conn.error_text)
        except PartialApplyError as exc:
            first_live_refused = live and exc.failed == live[0].description and not exc.rolled_back
            if not (first_live_refused and _is_refusal(exc.cause_exc)):
                raise
            # libvirt refused the live change before anything changed.
            refuse_live(params, exc.cause, warnings)
            wanted['live'] = before['live']
            result['changes'] = [r for r in records if r['side'] != 'live']
            result['changed'] = bool(result['changes'])
            apply_all(config, describe_error=libvirt_conn.error_text)
        after = dict((side, read_numatune(dom, side)) for side in sides)
        result['diff']['after'] = after
    else:
        after = wanted
    result['numatune'] = after[sides[0]]
    if 'config' in sides:
        result['config_numatune'] = after['config']
    result['memory_by_node'] = domain_memory_by_node(dom.name()) if dom.isActive() and conn.getType() == 'QEMU' else None
    result['live_skipped_reason'] = warnings[0] if warnings else None
    for warning in warnings:
        module.warn(warning)
    return result


def refuse_live(params, reason, warnings):
    """Fail, or fall back to config only when the operator allowed it."""
    if params['live_unsupported'] != 'config_only':
        raise NumaRequestError('libvirt cannot make this change on the running domain: %s. '
                               'Set live_unsupported: config_only to apply it to the persistent config '
                               '(effective at next boot), or live: false.' % reason)
    warnings.append('%s: not changed live (%s); applied to the persistent config only, effective at the next boot'
                    % (params['name'], reason))
    return []


def _is_refusal(exc):
    return (libvirt_conn.libvirt is not None and isinstance(exc, libvirt_conn.libvirt.libvirtError)
            and exc.get_error_code() in LIVE_REFUSALS)


def main():
    module = IntravmModule(
        domain=True,
        argument_spec=dict(
            mode=dict(type='str', choices=['strict', 'preferred', 'interleave', 'restrictive']),
            nodeset=dict(type='str'),
            memnodes=dict(type='dict'),
            live_unsupported=dict(type='str', choices=['fail', 'config_only'], default='fail'),
        ),
        sides=True,
        requires=[LIBVIRT],
    )
    module.run_and_exit(run)


if __name__ == '__main__':
    main()
