# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How much memory and how many vCPUs each opted-in VM should hold for the coming period.

plan_resize() turns the predictor's forecasts into memory_balloon and
vcpu_count entries through plan.sizing's asymmetric rules, for the VMs the
operator opted in (a VM without bounds is never resized), within each VM's
bounds and its domain's maximum, and within what the host can give
(fit_to_host). Pure: the caller reads the sizes and the host's free memory.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.adaptive.intravm.plugins.module_utils.plan.inputs import (
    PlannerInputError, check_forecast, horizon_indices, resource_peak,
)
from ansible_collections.adaptive.intravm.plugins.module_utils.plan.sizing import fit_to_host, size_memory, size_vcpus

MIB = 1 << 20
BOUND_KEYS = ('min_memory', 'max_memory', 'min_vcpus', 'max_vcpus')
# The memory need is the p90 peak of the period, but never below the day's highest use (floor_bytes):
# peaks recur (daily jobs, refilled caches). benchmarks/memory_sim.py measures this very rule.
MEMORY_QUANTILE = 'p90'
CPU_QUANTILE = 'p90'


def memory_peak(fc, name, lookahead_s):
    """Highest forecast working-set peak (bytes) within the lookahead, at least the day's floor; None without one."""
    mem = fc.get('memory')
    if mem is None or mem.get('peak_bytes') is None:
        return None
    values = mem['peak_bytes'][MEMORY_QUANTILE]
    peak = max(values[i] for i in horizon_indices(fc, name, lookahead_s))
    return max(peak, mem.get('floor_bytes', 0))


def pressure_now(fc):
    """The guest's memory pressure as sizing reads it, or None when the forecast does not say (nothing is taken)."""
    raw = (fc.get('memory') or {}).get('pressure')
    if raw is None or 'psi_mem_some' not in raw or 'swap_in' not in raw:
        return None
    return {'psi_some_avg10': raw['psi_mem_some'], 'swap_in_per_s': raw['swap_in']}


def _check_bounds(name, bounds):
    """Known keys only, each bound None or a whole number (bytes, vCPUs): parsed by the caller, never text here."""
    unknown = sorted(set(bounds) - set(BOUND_KEYS))
    if unknown:
        raise PlannerInputError('resize bounds for %r: unknown key(s) %s; known: %s'
                                % (name, ', '.join(unknown), ', '.join(BOUND_KEYS)))
    for key in BOUND_KEYS:
        value = bounds.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            shown = 'negative' if isinstance(value, int) and not isinstance(value, bool) else repr(value)[:40]
            raise PlannerInputError('resize bounds for %r: %s is %s: a whole number >= 0 is required (%s)'
                                    % (name, key, shown, 'bytes' if key.endswith('memory') else 'vCPUs'))


def plan_resize(forecasts, sizes, bounds, host_free_bytes, policy=None, lookahead_s=None):
    """{'memory_balloon': [...], 'vcpu_count': [...], 'skipped': [...]} for the VMs in `bounds`.

    sizes: {vm: {'memory_bytes', 'max_memory_bytes', 'balloon', 'vcpus', 'max_vcpus'}}
    of running domains; bounds: {vm: {'min_memory', 'max_memory' (bytes),
    'min_vcpus', 'max_vcpus'}}, a VM's memory or vCPUs being resized only
    when both of its bounds are given. Entries are made only where the size
    changes; `skipped` says why an opted-in VM was left alone.
    """
    mem_decisions, vcpu_entries, skipped = {}, [], []
    for name in sorted(bounds):
        vm_bounds = bounds[name] or {}
        _check_bounds(name, vm_bounds)
        fc = (forecasts or {}).get(name)
        if name not in sizes:
            skipped.append({'name': name, 'reason': 'not a running domain on this host'})
            continue
        if fc is None:
            skipped.append({'name': name, 'reason': 'no forecast'})
            continue
        check_forecast(name, fc)
        size = sizes[name]
        if vm_bounds.get('min_memory') is not None and vm_bounds.get('max_memory') is not None:
            upper = memory_peak(fc, name, lookahead_s)
            if not size.get('balloon', True):
                skipped.append({'name': name, 'reason': 'no balloon device: memory cannot change while it runs'})
            elif upper is None:
                skipped.append({'name': name, 'reason': 'no memory forecast (the guest profiler reports no memory yet)'})
            else:
                hi = min(vm_bounds['max_memory'], size['max_memory_bytes'])
                target, reason = size_memory(size['memory_bytes'], upper, (vm_bounds['min_memory'], hi),
                                             pressure_now(fc), policy)
                mem_decisions[name] = {'current': size['memory_bytes'], 'target': target,
                                       'reason': '%s (p90 peak or day floor %d MiB)' % (reason, upper // MIB)}
        if vm_bounds.get('min_vcpus') is not None and vm_bounds.get('max_vcpus') is not None:
            share = resource_peak(fc, name, 'cpu', CPU_QUANTILE, lookahead_s)
            if share is None:
                skipped.append({'name': name, 'reason': 'no CPU forecast'})
            else:
                upper_cpus = share * size['vcpus']
                hi = min(vm_bounds['max_vcpus'], size['max_vcpus'])
                count, reason = size_vcpus(size['vcpus'], upper_cpus, (vm_bounds['min_vcpus'], hi), policy)
                if count != size['vcpus']:
                    vcpu_entries.append({'name': name, 'count': count, 'from': size['vcpus'],
                                         'reason': '%s (p90 demand %.2f CPUs)' % (reason, upper_cpus)})
    fitted = fit_to_host(mem_decisions, host_free_bytes)
    balloon = []
    for name in sorted(fitted):
        target, reason = fitted[name]
        target -= target % MIB      # what the module is asked, in whole MiB
        current = mem_decisions[name]['current']
        if target != current and abs(target - current) >= MIB:
            balloon.append({'name': name, 'memory': '%dM' % (target // MIB), 'memory_bytes': target,
                            'from_bytes': current, 'reason': reason})
    return {'memory_balloon': balloon, 'vcpu_count': vcpu_entries, 'skipped': skipped}
