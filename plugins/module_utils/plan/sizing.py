# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Memory and vCPU sizing inside a running VM: forecasts in, target sizes and reasons out.

The policy is asymmetric on purpose, since running short costs far more
than holding spare memory for a while:
  - grow at once, before the predicted peak, to the forecast's upper
    quantile plus a margin;
  - shrink slowly: at most shrink_step_frac of the current allocation per
    loop run (one vCPU per run), never below the forecast's upper quantile
    plus the margin, never below the VM's minimum;
  - never take anything from a guest under memory pressure now (PSI memory
    "some" avg10 or swap-in rate above the thresholds, or no reading at
    all), whatever the forecast says;
  - no change smaller than min_change_frac (hysteresis), unless the current
    allocation is already below the forecast itself.
fit_to_host() then makes the grows of one host fit what it can give.
Pure functions, no I/O; sizes are in bytes (memory) and counts (vCPUs).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math

from ansible_collections.adaptive.intravm.plugins.module_utils.plan.inputs import PlannerInputError

__all__ = ['DEFAULT_SIZING_POLICY', 'sizing_policy', 'size_memory', 'size_vcpus', 'fit_to_host', 'PlannerInputError']

MIB = 1 << 20

DEFAULT_SIZING_POLICY = {
    'margin_frac': 0.10,          # memory headroom over the forecast's upper quantile of the peak
    'vcpu_margin_frac': 0.20,     # vCPU headroom over the forecast's upper quantile (in CPUs)
    'shrink_step_frac': 0.10,     # at most this fraction of the current allocation given back per run
    'min_change_frac': 0.05,      # hysteresis: no resize for less than this fraction of the current size
    'psi_some_avg10_max': 5.0,    # PSI memory "some" avg10 (%) above which nothing is taken from the VM
    'swap_in_per_s_max': 10.0,    # swap-in (pages/s) above which nothing is taken from the VM
    'granularity_bytes': MIB,     # memory targets are whole multiples of this (rounded up)
}


def _num(value, where):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or math.isinf(value):
        raise PlannerInputError('%s must be a finite number, got %r' % (where, value))
    return value


def sizing_policy(policy=None):
    """DEFAULT_SIZING_POLICY overlaid with policy (a dict, or None), validated."""
    if policy is None:
        policy = {}
    if not isinstance(policy, dict):
        raise PlannerInputError('sizing policy must be a dict, got %r' % (policy,))
    unknown = sorted(set(policy) - set(DEFAULT_SIZING_POLICY))
    if unknown:
        raise PlannerInputError('unknown sizing policy key(s) %s; known: %s'
                                % (', '.join(unknown), ', '.join(sorted(DEFAULT_SIZING_POLICY))))
    merged = dict(DEFAULT_SIZING_POLICY)
    merged.update(policy)
    for key in DEFAULT_SIZING_POLICY:
        _num(merged[key], 'sizing policy %s' % key)
        if merged[key] < 0:
            raise PlannerInputError('sizing policy %s must be >= 0, got %r' % (key, merged[key]))
    for key in ('shrink_step_frac', 'min_change_frac'):
        if merged[key] >= 1:
            raise PlannerInputError('sizing policy %s must be below 1, got %r' % (key, merged[key]))
    if merged['granularity_bytes'] < 1:
        raise PlannerInputError('sizing policy granularity_bytes must be >= 1, got %r' % (merged['granularity_bytes'],))
    return merged


def _bounds(bounds, lo_key, hi_key):
    """(lo, hi) from a dict {lo_key, hi_key} (either may be None or absent) or a (lo, hi) pair."""
    if bounds is None:
        lo, hi = None, None
    elif isinstance(bounds, dict):
        lo, hi = bounds.get(lo_key), bounds.get(hi_key)
    else:
        lo, hi = bounds
    lo = 0 if lo is None else _num(lo, lo_key)
    hi = float('inf') if hi is None else _num(hi, hi_key)
    if lo < 0 or hi < lo:
        raise PlannerInputError('bounds need 0 <= %s <= %s, got %r and %r' % (lo_key, hi_key, lo, hi))
    return lo, hi


def _clamp(value, lo, hi):
    return min(max(value, lo), hi)


def _under_pressure(pressure, pol):
    """A reason string when the guest must not lose memory now, else None."""
    if pressure is None:
        return 'hold: no pressure reading from the guest'
    psi = pressure.get('psi_some_avg10')
    swap_in = pressure.get('swap_in_per_s')
    if psi is None and swap_in is None:
        return 'hold: no pressure reading from the guest'
    if psi is not None and _num(psi, 'pressure psi_some_avg10') > pol['psi_some_avg10_max']:
        return 'hold: under memory pressure (psi some %.1f%%)' % psi
    if swap_in is not None and _num(swap_in, 'pressure swap_in_per_s') > pol['swap_in_per_s_max']:
        return 'hold: under memory pressure (swap-in %.0f pages/s)' % swap_in
    return None


def _round_up(value, unit, hi):
    """value rounded up to a multiple of unit, but not above hi."""
    return int(min(math.ceil(value / unit - 1e-9) * unit, hi))


def size_memory(current, forecast_upper, bounds=None, pressure=None, policy=None):
    """(target_bytes, reason) for one VM's memory.

    current: bytes the guest holds now (balloon target). forecast_upper: the
    forecast's upper quantile of the VM's peak use over the next loop period,
    in bytes. bounds: {'min_memory', 'max_memory'} in bytes (or a (min, max)
    pair; None for no bound). pressure: {'psi_some_avg10': percent,
    'swap_in_per_s': pages/s} read from the guest now, or None when unknown
    (then nothing is taken). policy: see DEFAULT_SIZING_POLICY.
    Under pressure the target is never below current.
    """
    pol = sizing_policy(policy)
    current = _num(current, 'current memory')
    forecast_upper = max(0, _num(forecast_upper, 'forecast upper quantile'))
    lo, hi = _bounds(bounds, 'min_memory', 'max_memory')
    if hi != float('inf'):  # whole bytes: a fractional bound must not round a target outside [lo, hi]
        hi = int(math.floor(hi))
    lo = min(int(math.ceil(lo)), hi)
    unit = pol['granularity_bytes']
    need = _clamp(forecast_upper, lo, hi)
    want = _clamp(forecast_upper * (1.0 + pol['margin_frac']), lo, hi)
    if current < lo:
        return _round_up(want, unit, hi), 'grow to min_memory'
    if want > current:
        if want - current < pol['min_change_frac'] * current and current >= need:
            return current, 'hold: grow under hysteresis (%.1f%%)' % (100.0 * (want - current) / current)
        return _round_up(want, unit, hi), 'grow before predicted peak'
    held = _under_pressure(pressure, pol)
    if current > hi:
        if held:
            return current, held + '; above max_memory'
        return hi, 'shrink to max_memory'
    if want >= current:
        return current, 'hold: at forecast'
    if held:
        return current, held
    if current - want < pol['min_change_frac'] * current:
        return current, 'hold: shrink under hysteresis (%.1f%%)' % (100.0 * (current - want) / current)
    step = current * (1.0 - pol['shrink_step_frac'])
    if step > want:
        target, reason = _round_up(step, unit, current), 'shrink slowly toward forecast (%d%% step)' % round(100 * pol['shrink_step_frac'])
    else:
        target, reason = _round_up(want, unit, current), 'shrink to forecast'
    if target >= current:
        return current, 'hold: shrink under %d bytes' % unit
    return target, reason


def size_vcpus(current, forecast_upper_cpus, bounds=None, policy=None):
    """(target_count, reason) for one VM's online vCPUs.

    forecast_upper_cpus: the forecast's upper quantile of the VM's CPU demand
    over the next period, in CPUs (1.0 = one vCPU fully busy). Grows at once
    to ceil(upper x (1 + vcpu_margin_frac)); shrinks by one vCPU per run,
    never below that same count (so never below ceil(upper)); within
    bounds {'min_vcpus', 'max_vcpus'} (min defaults to 1).
    """
    pol = sizing_policy(policy)
    current = int(_num(current, 'current vCPUs'))
    upper = max(0, _num(forecast_upper_cpus, 'forecast upper quantile (CPUs)'))
    lo, hi = _bounds(bounds, 'min_vcpus', 'max_vcpus')
    lo = max(1, int(math.ceil(lo)))
    hi = hi if hi == float('inf') else int(math.floor(hi))
    if hi < lo:
        raise PlannerInputError('bounds need 1 <= min_vcpus <= max_vcpus, got %r and %r' % (lo, hi))
    want = int(_clamp(int(math.ceil(upper * (1.0 + pol['vcpu_margin_frac']) - 1e-9)), lo, hi))
    if current < lo:
        return max(want, lo), 'grow to min_vcpus'
    if current > hi:
        return int(hi), 'shrink to max_vcpus'
    if want > current:
        return want, 'grow before predicted peak'
    if want == current:
        return current, 'hold: at forecast'
    return current - 1, 'shrink by one vCPU toward forecast'


def fit_to_host(decisions, host_free_bytes):
    """Scale the memory grows of one host down so they never exceed what it can give.

    decisions: {vm: {'current': bytes, 'target': bytes, 'reason': str}} (a
    reason is optional). What the host can give is host_free_bytes plus the
    sum of the shrinks (current - target of VMs that shrink), counted as
    given back although a balloon gives it back over time. When the grows
    together ask for more, every grow is scaled by the same factor
    available / asked (proportional to what each VM asked), rounded down
    to whole bytes. Shrinks and holds are unchanged.
    Returns {vm: (target_bytes, reason)}.
    """
    if not isinstance(decisions, dict):
        raise PlannerInputError('decisions must be a dict of VM name to {current, target}, got %r' % (decisions,))
    free = max(0, _num(host_free_bytes, 'host_free_bytes'))
    grows, shrinks = 0, 0
    for name in sorted(decisions):
        dec = decisions[name]
        if not isinstance(dec, dict) or 'current' not in dec or 'target' not in dec:
            raise PlannerInputError('decision for %s must be a dict with current and target, got %r' % (name, dec))
        cur, tgt = _num(dec['current'], '%s current' % name), _num(dec['target'], '%s target' % name)
        if tgt > cur:
            grows += tgt - cur
        else:
            shrinks += cur - tgt
    available = free + shrinks
    scale = 1.0 if grows <= available else available / float(grows)
    out = {}
    for name in sorted(decisions):
        dec = decisions[name]
        cur, tgt = dec['current'], dec['target']
        reason = dec.get('reason') or ('grow' if tgt > cur else 'hold' if tgt == cur else 'shrink')
        if tgt > cur and scale < 1.0:
            new = cur + int(math.floor((tgt - cur) * scale))
            out[name] = (new, '%s; scaled to %d%% of the grow to fit the host (%d MiB free + %d MiB given back)'
                         % (reason, int(100 * scale), int(free // MIB), int(shrinks // MIB)))
        else:
            out[name] = (tgt, reason)
    return out
