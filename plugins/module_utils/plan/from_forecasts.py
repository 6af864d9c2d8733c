# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one planning entry point: a forecast document and a host's state in, a plan out.

allocation_plan and the demo's event gate both call plan_from_forecasts(), so
they refuse stale forecasts, treat the `names` filter and merge the policy the
same way. Pure: the caller reads the checked forecasts (forecast_doc) and the host
(host.placement.host_state) and hands them in.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.adaptive.intravm.plugins.module_utils.channel import forecast_format
from ansible_collections.adaptive.intravm.plugins.module_utils.plan.planner import PlannerInputError, plan

FUTURE_TOLERANCE_S = 60


def empty_result(reason, age):
    """A plan that moves nothing, with why."""
    result = {
        'changed': False,
        'plan': {'vcpu_pin': [], 'numa_memory': [], 'vf_bandwidth': [], 'vgpu': [], 'memory_balloon': [], 'vcpu_count': []},
        'moves': [], 'allocations': {}, 'hotspots': [], 'ignored': [], 'unplanned': [], 'warnings': [], 'resize_skipped': [],
        'forecast_age_s': age,
    }
    if reason:
        result['reason'] = reason
    return result


def staleness(doc, now, max_age):
    """(age in seconds, why the forecasts must not be planned from, or None)."""
    age = forecast_format.age_s(doc, now)
    if age > max_age:
        return age, 'forecasts generated %.0f s ago are older than max_age %d s; not planning from them' % (age, max_age)
    if age < -FUTURE_TOLERANCE_S:
        return age, 'forecasts are dated %.0f s in the future; the host clock or the predictor is wrong' % -age
    return age, None


def merged_policy(policy, reserved_cpus=None, max_moves=None):
    """The policy with the module-level shortcuts (reserved_cpus, max_moves) laid over it."""
    policy = dict(policy or {})
    if reserved_cpus:
        policy['reserved_cpus'] = ','.join(p for p in (policy.get('reserved_cpus'), reserved_cpus) if p)
    if max_moves is not None:
        policy['max_moves'] = max_moves
    return policy


def plan_from_forecasts(doc, topology, current, now, max_age=300, names=None, policy=None, host='this host'):
    """Plan for the running domains in `current` from a checked forecast document.

    names: plan only these domains, which must be running; the other running
    ones keep their placement and count as load (reported in `unplanned`).
    """
    missing = sorted(set(names or ()) - set(current))
    if missing:
        raise PlannerInputError('domain(s) %s named in names are not running on %s' % (', '.join(missing), host))
    age, refused = staleness(doc, now, max_age)
    if refused:
        return empty_result(refused, age)
    forecasts = doc['vms']
    ignored_by_name = []
    if names:
        keep = set(names)
        ignored_by_name = sorted(n for n in forecasts if n not in keep and n in current)
        forecasts = dict((n, f) for n, f in forecasts.items() if n in keep or n not in current)
    result = plan(topology, current, forecasts, policy or {})
    result['unplanned'] = sorted(set(result['unplanned']) | set(ignored_by_name))
    result['changed'] = False
    result['forecast_age_s'] = age
    return result
