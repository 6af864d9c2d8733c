# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation and normalisation of what the planner is fed.

Forecasts, policy and current allocations arrive as plain dicts from JSON or
Ansible. Everything is checked here, before any planning, so a bad value
fails with a message that names it and the planner itself can trust its input.
Pure functions, no I/O.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import math

from ansible_collections.adaptive.intravm.plugins.module_utils.channel import forecast_format
from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset
from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError

QUANTILES = ('p50', 'p90', 'auto')   # auto: between them, as much headroom as the host has room for
PLACEMENTS = ('vcpu', 'pool')       # the unit a plan places: each vCPU on a CPU, or each VM on a node's CPU pool

DEFAULT_VM_POLICY = {
    'min_cpus': 1,        # distinct host CPUs the VM's vCPUs must spread over at least
    'max_cpus': None,     # ... and at most (None: one per vCPU)
    'dedicated': False,   # every vCPU alone on its CPU, no other VM on its SMT siblings
    'weight': 1.0,        # multiplies the benefit of relieving this VM's vCPUs
}

DEFAULT_COST = {
    'cache': 0.02,         # warm-cache refill, per unit of the moved vCPU's demand
    'cache_domain': 0.05,  # extra when the move leaves the vCPU's last-level cache group
    'numa': 0.10,          # per unit of demand run away from the VM's memory node, per (distance/10 - 1)
    'churn': 0.01,         # fixed cost of any move (a libvirt call, a migration of the thread)
}

DEFAULT_POLICY = {
    'capacity': 1.0,        # load one host CPU carries before it is a hotspot
    'quantile': 'auto',     # forecast quantile that defines demand; 'auto': p50 plus the share of (p90 - p50) the host fits
    'lookahead_s': None,    # horizons up to this are considered (None: all)
    'max_moves': 8,         # moves per planning cycle (placements of floating vCPUs excluded)
    'max_evaluations': 128,  # target searches per cycle before rebalancing stops
    'hysteresis': 0.05,     # benefit must exceed cost by this much (CPU fraction)
    'reserved_cpus': '',    # host CPUs never used
    'unknown_vcpu_demand': 1.0,  # demand assumed for vCPUs of VMs without a CPU forecast
    'smt_share_across_vms': False,
    'memory_mode': 'strict',
    'placement': 'vcpu',    # 'vcpu': each vCPU pinned to one CPU; 'pool': each VM floats over its node's shared CPUs
    'cost': DEFAULT_COST,
    'default_vm': DEFAULT_VM_POLICY,
    'vms': {},
    'bandwidth': {},
    'gpu': {},
}


class PlannerInputError(IntravmError, ValueError):
    """Forecast, policy or allocation that cannot be planned from; names the value."""


class PlannerConflictError(IntravmError, ValueError):
    """A policy that cannot be satisfied on this host; names the conflict."""


def _number(value, where, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PlannerInputError('%s is %r: a number is required' % (where, value))
    if math.isnan(value) or math.isinf(value):
        raise PlannerInputError('%s is %r: forecasts and policy values must be finite' % (where, value))
    if value < 0:
        raise PlannerInputError('%s is %r: negative values are not allowed' % (where, value))
    return float(value)


def _whole(value, where, least):
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise PlannerInputError('%s is %r: a whole number >= %d is required' % (where, value, least))


def check_keys(given, known, where):
    """Refuse the keys of given that are not in known (listed in the message in the order given)."""
    extra = sorted(set(given) - set(known))
    if extra:
        raise PlannerInputError('unknown %s key(s) %s; known: %s' % (where, ', '.join(extra), ', '.join(known)))


def check_forecast(name, fc):
    """fc when every value of one VM's forecast is of the document's format (channel.forecast_format.check_vm).

    The planner's entries (plan, plan_resize) call it for each VM they read,
    so what follows indexes the forecast without checking it again.
    """
    try:
        return forecast_format.check_vm(fc, 'forecast vms[%r]' % (name,))
    except forecast_format.ForecastFormatError as exc:
        raise PlannerInputError(str(exc))


def horizon_indices(fc, name, lookahead_s):
    """Indices of the horizons at or below lookahead_s (all when None)."""
    hs = fc.get('horizons_s')
    if not hs:
        raise PlannerInputError('forecast for VM %r has no horizons_s list' % name)
    if lookahead_s is None:
        return list(range(len(hs)))
    chosen = [i for i, h in enumerate(hs) if h <= lookahead_s]
    return chosen or [hs.index(min(hs))]


def resource_peak(fc, name, resource, quantile, lookahead_s):
    """Highest forecast value of one resource within the lookahead, or None if absent."""
    block = fc.get(resource)
    if block is None:
        return None
    values = block[quantile]
    return max(values[i] for i in horizon_indices(fc, name, lookahead_s))


def peak_window(fc, name, lookahead_s):
    """Index of the cpu_peak window the placement must hold for, or None without window peaks.

    A placement holds until the loop's next run, so the planner wants the peak
    over that period: the shortest published window that covers lookahead_s,
    else the longest there is (also when lookahead_s is None).
    """
    block = fc.get('cpu_peak')
    if block is None:
        return None
    ws = block['windows_s']
    covering = [i for i, w in enumerate(ws) if lookahead_s is not None and w >= lookahead_s]
    if covering:
        return min(covering, key=lambda i: ws[i])
    return ws.index(max(ws))


def vcpu_demands(fc, name, n_vcpus, quantile, lookahead_s, unknown):
    """Per-vCPU demand (fraction of one host CPU, at most 1) from one VM's forecast.

    Window peaks (cpu_peak, the demand's highest point over the coming window)
    win over point forecasts at horizons, per vCPU and VM-wide; per-vCPU
    forecasts win over VM-wide ones (a fraction of all its vCPUs, so the same
    fraction of each); without any, `unknown`.
    """
    if fc is None:
        return [unknown] * n_vcpus, []
    idx = horizon_indices(fc, name, lookahead_s) if (fc.get('cpu') or fc.get('vcpu')) else []
    k = peak_window(fc, name, lookahead_s)
    peaks = fc['cpu_peak'] if k is not None else {}
    whole = peaks[quantile][k] if k is not None else resource_peak(fc, name, 'cpu', quantile, lookahead_s)
    per = fc.get('vcpu') or {}
    per_peak = peaks.get('vcpu') or {}
    warnings = []
    out = []
    for i in range(n_vcpus):
        block = per.get(str(i))
        peak = per_peak.get(str(i))
        if peak is not None:
            value = peak[quantile][k]
        elif block is not None:
            values = block[quantile]
            value = max(values[j] for j in idx)
        elif whole is not None:
            value = whole
        else:
            value = unknown
        out.append(min(1.0, value))
    extra = sorted((key for key in per if int(key) >= n_vcpus), key=int)
    if extra:
        warnings.append('forecast for VM %r names vCPUs %s it does not have (%d vCPUs); ignored'
                        % (name, ', '.join(str(k) for k in extra), n_vcpus))
    return out, warnings


def _index(key):
    try:
        return cpuset.index(key)
    except cpuset.CpusetError:
        return None


def merge_policy(policy):
    """Policy with defaults filled in and every value checked."""
    policy = policy or {}
    if not isinstance(policy, dict):
        raise PlannerInputError('policy must be a dict, got %r' % (policy,))
    check_keys(policy, sorted(DEFAULT_POLICY), 'policy')
    merged = copy.deepcopy(DEFAULT_POLICY)
    for key, value in policy.items():
        if key in ('cost', 'default_vm'):
            check_keys(value or {}, sorted(merged[key]), 'policy.%s' % key)
            merged[key].update(value or {})
        elif value is not None:
            merged[key] = copy.deepcopy(value)
    for key in ('capacity', 'hysteresis', 'unknown_vcpu_demand'):
        _number(merged[key], 'policy.%s' % key)
    if merged['capacity'] <= 0:
        raise PlannerInputError('policy.capacity is %r: it must be above 0' % merged['capacity'])
    _number(merged['lookahead_s'], 'policy.lookahead_s', allow_none=True)
    for key, value in merged['cost'].items():
        _number(value, 'policy.cost.%s' % key)
    if merged['quantile'] not in QUANTILES:
        raise PlannerInputError('policy.quantile is %r; choose one of %s' % (merged['quantile'], ', '.join(QUANTILES)))
    _whole(merged['max_moves'], 'policy.max_moves', 0)
    _whole(merged['max_evaluations'], 'policy.max_evaluations', 1)
    if merged['placement'] not in PLACEMENTS:
        raise PlannerInputError('policy.placement is %r; choose one of %s' % (merged['placement'], ', '.join(PLACEMENTS)))
    if merged['memory_mode'] not in ('strict', 'preferred', 'interleave', 'restrictive'):
        raise PlannerInputError('policy.memory_mode is %r; choose strict, preferred, interleave or restrictive'
                                % (merged['memory_mode'],))
    try:
        merged['reserved'] = cpuset.parse(merged['reserved_cpus'] or '')
    except cpuset.CpusetError as exc:
        raise PlannerInputError('policy.reserved_cpus: %s' % exc)
    if not isinstance(merged['vms'], dict):
        raise PlannerInputError('policy.vms must be a dict of VM name to settings, got %r' % (merged['vms'],))
    return merged


def vm_policy(policy, name, n_vcpus):
    """One VM's settings: defaults, then its own entry; checked against its vCPU count."""
    entry = dict(policy['default_vm'])
    own = policy['vms'].get(name) or {}
    where = 'policy.vms[%r]' % name
    check_keys(own, sorted(DEFAULT_VM_POLICY), where)
    entry.update(own)
    _whole(entry['min_cpus'], where + '.min_cpus', 1)
    if entry['max_cpus'] is not None:
        _whole(entry['max_cpus'], where + '.max_cpus', 1)
    _number(entry['weight'], '%s.weight' % where)
    if entry['max_cpus'] is None:
        entry['max_cpus'] = n_vcpus
    if entry['dedicated']:
        entry['min_cpus'] = entry['max_cpus'] = n_vcpus
    if entry['min_cpus'] > n_vcpus:
        raise PlannerConflictError('%s.min_cpus=%d but VM %r has only %d vCPUs to spread'
                                   % (where, entry['min_cpus'], name, n_vcpus))
    if entry['min_cpus'] > entry['max_cpus']:
        raise PlannerConflictError('%s.min_cpus=%d is above its max_cpus=%d'
                                   % (where, entry['min_cpus'], entry['max_cpus']))
    return entry


def current_vcpus(name, alloc, online, memo=None):
    """{vCPU index: frozenset of host CPUs} from a placement dict, checked against the host."""
    memo = {} if memo is None else memo
    if not isinstance(alloc, dict) or not isinstance(alloc.get('vcpus'), dict) or not alloc['vcpus']:
        raise PlannerInputError('current allocation of VM %r must have a non-empty vcpus dict, got %r' % (name, alloc))
    out = {}
    for key, text in alloc['vcpus'].items():
        idx = _index(key)
        if idx is None or idx < 0:
            raise PlannerInputError('current allocation of VM %r: vCPU index %r is not a number' % (name, key))
        cpus = memo.get(text)
        if cpus is None:
            try:
                cpus = cpuset.parse(text) & online
            except cpuset.CpusetError as exc:
                raise PlannerInputError('current allocation of VM %r vCPU %s: %s' % (name, key, exc))
            memo[text] = cpus = cpus or online  # pinned only to offline CPUs: treat as floating
        out[idx] = cpus
    if sorted(out) != list(range(len(out))):
        raise PlannerInputError('current allocation of VM %r: vCPU indices %s are not 0..%d'
                                % (name, sorted(out), len(out) - 1))
    return out
