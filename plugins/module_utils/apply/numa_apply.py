# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""numa_memory's logic: set one domain's memory policy live and in its config, restoring both if one fails.

run(module) takes anything with params, check_mode, connect(), sides(dom) and
warn(): the module itself, or apply_plan's view of one plan entry.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.adaptive.intravm.plugins.module_utils.host import libvirt_conn
from ansible_collections.adaptive.intravm.plugins.module_utils.apply.numa_changes import (
    NumaRequestError, differs, parse_request, target, with_numatune,
)
from ansible_collections.adaptive.intravm.plugins.module_utils.host.numa_maps import domain_memory_by_node
from ansible_collections.adaptive.intravm.plugins.module_utils.host.placement import (
    NUMA_MODE_IDS, NUMA_MODES, guest_cells, read_numatune,
)
from ansible_collections.adaptive.intravm.plugins.module_utils.apply.rollback import PartialApplyError, Step, apply_all
from ansible_collections.adaptive.intravm.plugins.module_utils.host.topology import parse_capabilities

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
            live_mode = NUMA_MODES.get(dom.numaParameters(flags).get('numa_mode', 0), 'strict')
            if (tune['mode'] or 'strict') != live_mode:
                params['numa_mode'] = NUMA_MODE_IDS[tune['mode'] or 'strict']
            if tune['nodeset'] is None:
                raise libvirt_conn.IntravmLibvirtError('cannot return the live nodeset to unset')
            params['numa_nodeset'] = tune['nodeset']
            dom.setNumaParameters(params, flags)
        return do

    return [Step('live policy %s/%s -> %s/%s' % (current['mode'], current['nodeset'], wanted['mode'], wanted['nodeset']),
                 setter(wanted), setter(current))]


def config_steps(conn, dom, current, wanted):
    """One redefinition of the persistent XML carries policy and memnodes together."""
    if differs(current, wanted) == (False, False):
        return []
    old_xml = dom.XMLDesc(libvirt_conn.XML_INACTIVE | libvirt_conn.XML_SECURE)
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
                            guest_cells(dom.XMLDesc(libvirt_conn.XML_INACTIVE if dom.isPersistent() else 0)))
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
