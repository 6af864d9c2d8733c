# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared-device parts of a plan: SR-IOV VF rates and the vGPU scheduler.

VF rates: min_tx_rate from the forecast P50 (what a VM needs most of the
time), max_tx_rate from the P90 with headroom; the minimums on one PF are
scaled down together when they would exceed its link speed, since the NIC
cannot guarantee more than the wire carries.
vGPU: per-VM share of a GPU from its forecast demand, and the GPU's
scheduler: best_effort (work-conserving) while the forecast fits the GPU,
equal_share once it is contended so no VM starves.
Pure, no I/O.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math

from ansible_collections.adaptive.intravm.plugins.module_utils.plan.inputs import (
    PlannerInputError, check_keys, resource_peak,
)

BANDWIDTH_KEYS = ('link_mbps', 'vm_pf', 'headroom', 'reserve_frac', 'lookahead_s')
GPU_KEYS = ('vm_gpu', 'current_scheduler', 'lookahead_s')


def _mbps(bytes_per_s):
    return bytes_per_s * 8.0 / 1e6


def _check_keys(block, known, where):
    if not isinstance(block, dict):
        raise PlannerInputError('%s must be a dict, got %r' % (where, block))
    check_keys(block, known, where)


def vf_rates(forecasts, planned, bandwidth, warnings):
    """[{name, min_tx_rate, max_tx_rate}] (Mbps) for VMs with a net forecast and a known PF."""
    bandwidth = bandwidth or {}
    _check_keys(bandwidth, BANDWIDTH_KEYS, 'policy.bandwidth')
    links = bandwidth.get('link_mbps') or {}
    if not isinstance(links, dict):
        raise PlannerInputError('policy.bandwidth.link_mbps must map PF name to link speed in Mbps, got %r' % (links,))
    for pf, speed in links.items():
        if isinstance(speed, bool) or not isinstance(speed, (int, float)) or speed <= 0 or math.isnan(speed):
            raise PlannerInputError('policy.bandwidth.link_mbps[%r] is %r: a link speed in Mbps above 0 is required'
                                    % (pf, speed))
    vm_pf = bandwidth.get('vm_pf') or {}
    headroom = float(bandwidth.get('headroom', 1.25))
    reserve = float(bandwidth.get('reserve_frac', 0.0))
    if headroom < 1.0:
        raise PlannerInputError('policy.bandwidth.headroom is %r: it must be at least 1.0' % headroom)
    if not 0.0 <= reserve < 1.0:
        raise PlannerInputError('policy.bandwidth.reserve_frac is %r: it must be in [0, 1)' % reserve)
    lookahead = bandwidth.get('lookahead_s')
    wanted = {}
    for name in planned:
        fc = forecasts[name]
        if fc.get('net') is None:
            continue
        pf = vm_pf.get(name)
        if pf is None and len(links) == 1 and not vm_pf:
            pf = next(iter(links))
        if pf is None or pf not in links:
            warnings.append('VM %r has a network forecast but no PF with a known link speed '
                            '(policy.bandwidth.vm_pf / link_mbps); no VF rates planned for it' % name)
            continue
        p50 = resource_peak(fc, name, 'net', 'p50', lookahead)
        p90 = resource_peak(fc, name, 'net', 'p90', lookahead)
        wanted.setdefault(pf, []).append((name, _mbps(p50), _mbps(max(p90, p50)) * headroom))
    out = []
    for pf in sorted(wanted):
        link = float(links[pf])
        room = math.floor(link * (1.0 - reserve))
        mins = [(w[0], int(math.ceil(w[1]))) for w in wanted[pf]]
        total = sum(m[1] for m in mins)
        if total > room:
            scale = room / float(total)
            mins = [(m[0], int(math.floor(m[1] * scale))) for m in mins]
            warnings.append('forecast minimum rates on PF %s sum to %d Mbps, above the %d Mbps it can guarantee; '
                            'scaled by %.3f' % (pf, total, room, scale))
        for (name, lo), want in zip(mins, wanted[pf]):
            hi = want[2]
            hi = int(min(link, max(math.ceil(hi), lo, 1)))
            out.append({'name': name, 'min_tx_rate': lo, 'max_tx_rate': hi})
    return sorted(out, key=lambda e: e['name'])


def gpu_shares(forecasts, planned, gpu_policy, warnings):
    """[{gpu, scheduler, demand, shares}] per GPU from forecast vGPU demand (1.0 = a whole GPU)."""
    gpu_policy = gpu_policy or {}
    _check_keys(gpu_policy, GPU_KEYS, 'policy.gpu')
    vm_gpu = gpu_policy.get('vm_gpu') or {}
    current = gpu_policy.get('current_scheduler') or {}
    lookahead = gpu_policy.get('lookahead_s')
    per_gpu = {}
    for name in planned:
        fc = forecasts[name]
        if fc.get('gpu') is None:
            continue
        gpu = vm_gpu.get(name)
        if gpu is None:
            warnings.append('VM %r has a GPU forecast but policy.gpu.vm_gpu names no GPU for it; no vGPU share planned'
                            % name)
            continue
        per_gpu.setdefault(str(gpu), []).append((name, resource_peak(fc, name, 'gpu', 'p90', lookahead)))
    out = []
    for gpu in sorted(per_gpu):
        demand = sum(e[1] for e in per_gpu[gpu])
        scheduler = 'equal_share' if demand > 1.0 else 'best_effort'
        denominator = max(demand, 1.0)
        shares = dict((n, round(d / denominator, 4)) for n, d in per_gpu[gpu])
        if current.get(gpu) == scheduler:
            continue
        out.append({'gpu': gpu, 'scheduler': scheduler, 'demand': round(demand, 4), 'shares': shares})
    return out
