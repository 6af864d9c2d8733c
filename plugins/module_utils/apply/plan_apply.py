# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""apply_plan's logic: a whole plan's CPU pins and memory placement in one module call.

Each domain goes through the very logic vcpu_pin and numa_memory run
(pin_apply, numa_apply), with their compare-and-swap, validation and
rollback. A domain that fails, or whose pins moved since the plan
(superseded), is reported and the others still apply; such a domain keeps its
memory where it is. One process and one libvirt connection for all of them:
on a host of 40 VMs that is one module start instead of up to 80, which is
what a fleet job spends most of its time on (benchmarks/fleet.py).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.adaptive.intravm.plugins.module_utils.apply import numa_apply, pin_apply
from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError

KINDS = ('cpu', 'numa')
PIN_KEYS = ('vcpus', 'emulator', 'iothreads', 'expect')
NUMA_KEYS = ('mode', 'nodeset', 'memnodes')


class PlanError(IntravmError):
    """A plan that is not allocation_plan's shape; nothing was applied."""


def entries(plan, key, allowed):
    """The plan's `key` list, each entry a dict with a domain name and only `allowed` keys besides; checked whole."""
    found = plan.get(key) or []
    if not isinstance(found, list):
        raise PlanError('plan.%s must be a list, got %s' % (key, type(found).__name__))
    seen = set()
    for i, entry in enumerate(found):
        if not isinstance(entry, dict) or not isinstance(entry.get('name'), str) or not entry['name']:
            raise PlanError('plan.%s[%d] must be a dict with a domain name' % (key, i))
        unknown = sorted(set(entry) - set(allowed) - {'name'})
        if unknown:
            raise PlanError('plan.%s[%d] (%s): unknown key(s) %s' % (key, i, entry['name'], ', '.join(unknown)))
        if entry['name'] in seen:
            raise PlanError('plan.%s names domain %r twice' % (key, entry['name']))
        seen.add(entry['name'])
    return found


def run(module):
    """module: an IntravmModule (its entry(), handled_errors() and error_text() run each domain as its own module would)."""
    params = module.params
    plan = params['plan']
    pins = entries(plan, 'vcpu_pin', PIN_KEYS) if 'cpu' in params['kinds'] else []
    numa = entries(plan, 'numa_memory', NUMA_KEYS) if 'numa' in params['kinds'] else []
    outcome = {'changed': False, 'domains': {}, 'changed_domains': {'cpu': [], 'numa': []}, 'failures': {},
               'superseded': {}, 'diff': {'before': {}, 'after': {}}}
    if not pins and not numa:
        return outcome
    conn = module.connect()
    common = {'live': True, 'config': True}
    for entry in pins:
        view = dict(common, reserved_cpus=params['reserved_cpus'], **dict((k, entry.get(k)) for k in PIN_KEYS))
        _apply(module, conn, outcome, 'cpu', entry['name'], pin_apply.run, view)
    for entry in numa:
        if entry['name'] in outcome['failures'] or entry['name'] in outcome['superseded']:
            continue
        view = dict(common, live_unsupported=params['live_unsupported'], **dict((k, entry.get(k)) for k in NUMA_KEYS))
        _apply(module, conn, outcome, 'numa', entry['name'], numa_apply.run, view)
    outcome['msg'] = '%d domain(s) changed, %d failed, %d superseded' % (
        len(set(outcome['changed_domains']['cpu']) | set(outcome['changed_domains']['numa'])),
        len(outcome['failures']), len(outcome['superseded']))
    return outcome


def _apply(module, conn, outcome, kind, name, logic, params):
    """One domain, one kind: its result under outcome['domains'][name][kind]; a failure is recorded, not raised."""
    params = dict(params, name=name)
    record = outcome['domains'].setdefault(name, {})
    try:
        result = logic(module.entry(conn, params))
    except module.handled_errors() as exc:
        text = module.error_text(exc)
        rollback_incomplete = bool(getattr(exc, 'rollback_errors', None))
        record[kind] = {'changed': rollback_incomplete, 'failed': True, 'msg': text}
        outcome['failures'][name] = '%s: %s' % (name, text)
        outcome['changed'] = outcome['changed'] or rollback_incomplete
        return
    diff = result.pop('diff', None) or {}
    record[kind] = result
    if result.get('superseded'):
        outcome['superseded'][name] = result['msg']
    if result.get('changed'):
        outcome['changed'] = True
        outcome['changed_domains'][kind].append(name)
    for side in ('before', 'after'):
        outcome['diff'][side].setdefault(name, {})[kind] = diff.get(side)
