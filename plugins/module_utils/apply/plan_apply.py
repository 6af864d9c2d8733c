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

import traceback

from ansible_collections.adaptive.intravm.plugins.module_utils.apply import numa_apply, numa_changes, pin_apply, pin_changes
from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError

KINDS = ('cpu', 'numa')
PIN_KEYS = ('vcpus', 'emulator', 'iothreads', 'expect')
NUMA_KEYS = ('mode', 'nodeset', 'memnodes')

# What each list's entries must hold, checked for every entry before the first domain changes:
# the single-domain module's own shape check (vcpu_pin's, numa_memory's), given the entry's values.
SHAPES = {
    'vcpu_pin': lambda entry: pin_changes.check_shape(*[entry.get(k) for k in PIN_KEYS]),
    'numa_memory': lambda entry: numa_changes.check_shape(*[entry.get(k) for k in NUMA_KEYS]),
}


class PlanError(IntravmError):
    """A plan that is not allocation_plan's shape; nothing was applied."""


class ApplyInterrupted(IntravmError):
    """An unexpected error while applying; what changed before it is reported (facts), not lost."""


def entries(plan, key, allowed):
    """The plan's `key` list, each entry a dict with a domain name, only `allowed` keys besides and values
    of the shape its module takes (SHAPES); checked whole, so a bad entry anywhere changes nothing."""
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
        if key in SHAPES:
            try:
                SHAPES[key](entry)
            except IntravmError as exc:
                raise PlanError('plan.%s[%d] (%s): %s; nothing was applied' % (key, i, entry['name'], exc))
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
    steps = [('cpu', entry['name'], pin_apply.run,
              dict(common, reserved_cpus=params['reserved_cpus'], **dict((k, entry.get(k)) for k in PIN_KEYS)))
             for entry in pins]
    steps += [('numa', entry['name'], numa_apply.run,
               dict(common, live_unsupported=params['live_unsupported'], **dict((k, entry.get(k)) for k in NUMA_KEYS)))
              for entry in numa]
    for kind, name, logic, view in steps:
        if kind == 'numa' and (name in outcome['failures'] or name in outcome['superseded']):
            continue
        try:
            _apply(module, conn, outcome, kind, name, logic, view)
        except Exception as exc:  # pylint: disable=broad-except  # what changed before it must still be reported
            raise interrupted(outcome, kind, name, exc)
    outcome['msg'] = '%d domain(s) changed, %d failed, %d superseded' % (
        len(_changed(outcome)), len(outcome['failures']), len(outcome['superseded']))
    return outcome


def _changed(outcome):
    return sorted(set(outcome['changed_domains']['cpu']) | set(outcome['changed_domains']['numa']))


def interrupted(outcome, kind, name, exc):
    """ApplyInterrupted for an unexpected error at (kind, name): the module fails, reporting what changed before it.

    Its facts are the outcome so far (changed, changed_domains, domains,
    failures, superseded) with the interrupted domain among the failures, and
    the traceback; the domains after it were not tried.
    """
    text = '%s: unexpected error while applying its %s part: %s: %s' % (name, kind, type(exc).__name__, exc)
    outcome['failures'][name] = text
    outcome['domains'].setdefault(name, {})[kind] = {'changed': None, 'failed': True, 'msg': text}
    changed = _changed(outcome)
    msg = ('%s; its state was not read back, check it; applied before it: %s; the domains after it were not tried'
           % (text, ', '.join(changed) if changed else 'nothing'))
    facts = dict((k, v) for k, v in outcome.items() if k != 'diff')
    return ApplyInterrupted(msg, exception=traceback.format_exc(), **facts)


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
