#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Trace-driven memory sizing: static vs reactive vs window_peak vs predictive balloon targets.

    python benchmarks/memory_sim.py --traces DIR [--limit-vms N] [--json OUT] [--png OUT]
        [--period K] [--seed S] [--split eval|calib|all]

Model (documented in docs/planner.md, "Memory sizing"):
- Each VM's memory use is the traces' `Memory usage [KB]` on the 5-minute grid
  (samples in one slot averaged, as services/predictor/traces.py does), its
  ceiling the `Memory capacity provisioned [KB]` of the same step (carried over
  gaps). Steps without a use sample are not scored.
- Every --period steps (default 3 = 15 min, the loop's period) each policy sets
  the VM's balloon target from the history before that step only; the target
  holds until the next run. The allocation the guest holds moves toward the
  target at a limited rate: a balloon inflate (taking memory) at
  --inflate-mib-s, a deflate (giving it back) at --deflate-mib-s, so a big
  shrink takes more than one step. allocation[t] is where it stands at the end
  of step t; use[t] > allocation[t] is a violation. Provisioned memory is the
  ceiling at all times (a reconfiguration below the allocation cuts it at once).
- Policies: static (the provisioned memory, never resized); reactive (last use
  + --reactive-margin); window_peak (Autopilot-style moving window: the highest
  use of the last --window-hours + --window-margin; Rzadca et al., "Autopilot:
  workload autoscaling at Google", EuroSys 2020); predictive
  (plugins/module_utils/plan/sizing.size_memory fed the --quantile of the
  peak over the next period from services/predictor/memory_forecast, at least
  the highest use of the last --floor-hours, and a guest pressure reading).
  Every resizing policy holds the provisioned memory until it has --warmup-hours
  of history, and stays within [--min-mib, provisioned].
- Guest pressure (the predictive policy never shrinks under it): from the last
  step, PSI memory some avg10 = 100 x clip((use - 0.9 alloc) / (0.1 alloc), 0, 1)
  (reclaim starts when less than 10 % of the allocation is free) and swap-in
  = max(0, use - alloc) / 4 KiB / 300 s pages/s.
- Metrics over the scored VM-steps: slack_frac = sum(max(alloc - use, 0)) /
  sum(use); violation_frac = share of VM-steps with use > alloc;
  resizes_per_vm_hour = target changes per VM-hour. --seed seeds the bootstrap
  over VMs that gives the 90 % intervals in meta.bootstrap_ci90.
- Split (as in benchmarks/policy_sim.py): calib = odd-numbered VMs over days 1-7,
  used to choose every parameter; eval (default) = even-numbered VMs over days
  8-30; all = every VM, the whole month. The days before a split's window are
  history only (never scored): every policy is causal, so they only warm it up.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import re
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
try:
    import ansible_collections.adaptive.intravm.services.predictor.traces  # noqa: F401  pylint: disable=unused-import
except ImportError:  # run from a bare checkout: stage the collection path ourselves
    sys.path.insert(0, os.path.join(REPO, '.build', 'collections'))

from ansible_collections.adaptive.intravm.services.predictor import traces  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.adaptive.intravm.services.predictor import memory_forecast  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.adaptive.intravm.plugins.module_utils.plan import sizing  # noqa: E402  pylint: disable=wrong-import-position
from policy_sim import split_vms  # noqa: E402  pylint: disable=wrong-import-position  # the same splits as the CPU simulation

STEPS_PER_DAY = 288
STEP_S = traces.STEP_S
KIB = 1024
POLICIES = ('static', 'reactive', 'window_peak', 'predictive')
PAGE_KB = 4
PSI_FREE_FRAC = 0.10


# ---------------------------------------------------------------- data
class MemTrace(object):
    """One VM's memory use and provisioned memory (KiB) on the 5-minute grid; NaN use marks a gap."""

    def __init__(self, vm_id, use_kb, cap_kb):
        self.vm_id = vm_id
        self.use_kb = use_kb
        self.cap_kb = cap_kb

    def __len__(self):
        return len(self.use_kb)


def resample_memory(data):
    """(use KiB, provisioned KiB) per 5-minute slot, on the grid of traces.resample (mean of each slot)."""
    t = data[:, 0]
    start = int(t[0])
    slot = ((t - start + STEP_S // 2) // STEP_S).astype(np.int64)
    n = int(slot[-1]) + 1
    counts = np.bincount(slot, minlength=n).astype(np.float64)
    cols = traces.COLUMNS
    with np.errstate(invalid='ignore', divide='ignore'):
        use = np.where(counts > 0, np.bincount(slot, weights=data[:, cols.index('mem_kb')], minlength=n) / counts, np.nan)
        cap = np.where(counts > 0, np.bincount(slot, weights=data[:, cols.index('mem_cap_kb')], minlength=n) / counts, np.nan)
    cap[~(cap > 0)] = np.nan  # a few rows hold 0: not a real ceiling
    cap = traces.fill_gaps(cap)
    if not (cap > 0).any():
        return None, None
    cap[cap <= 0] = cap[cap > 0][0]  # before the first real value, the first real value
    return use, cap


def load_memory_traces(path, limit_vms=None, min_steps=STEPS_PER_DAY):
    """MemTrace of every VM under path with at least min_steps grid steps (as traces.load_traces)."""
    out = []
    for directory in traces.find_trace_dir(path):
        for f in traces.trace_files(directory, limit_vms):
            data = traces.read_csv(f)
            if len(data) == 0:
                continue
            use, cap = resample_memory(data)
            if use is not None and len(use) >= min_steps:
                out.append(MemTrace(re.sub(r'\.csv(\.gz)?$', '', os.path.basename(f)), use, cap))
            if limit_vms and len(out) >= limit_vms:
                return out
    return out


# ---------------------------------------------------------------- policies
def trailing_max_before(x, steps):
    """m[t] = max(x[t-steps..t-1]): what a decision at step t has seen (m[0] = NaN)."""
    m = memory_forecast.running_max(x, steps)
    return np.concatenate(([np.nan], m[:-1]))


def sizing_policy_of(args):
    return sizing.sizing_policy({'margin_frac': args.margin, 'shrink_step_frac': args.shrink_step,
                                 'min_change_frac': args.min_change})


def targets_for(policy, vm, args, hist, pol):
    """Per-step balloon targets (KiB) of one resizing policy, and the steps where it decided.

    Returns (target[t], alloc[t], changed[t] (the target changed at t), reason[t] (sizing's reason
    where the predictive policy decided, else None)), one element per step.
    The balloon's progress is simulated here because the predictive policy reads it back.
    """
    use = hist  # gaps carried forward: what the loop has seen
    cap = vm.cap_kb
    t_len = len(use)
    period = args.period
    warm = int(args.warmup_hours * 12)
    floor_kb = args.min_mib * KIB
    inflate = args.inflate_mib_s * KIB * STEP_S
    deflate = args.deflate_mib_s * KIB * STEP_S
    alloc = np.empty(t_len)
    target = np.empty(t_len)
    changed = np.zeros(t_len, dtype=bool)
    reasons = np.full(t_len, None, dtype=object)
    if policy == 'reactive':
        want = np.concatenate(([np.nan], use[:-1])) * (1.0 + args.reactive_margin)
    elif policy == 'window_peak':
        want = trailing_max_before(use, int(args.window_hours * 12)) * (1.0 + args.window_margin)
    else:
        fc = memory_forecast.peak_quantiles(use, period, (args.quantile,), window=int(args.ratio_days * STEPS_PER_DAY),
                                            floor_steps=int(args.floor_hours * 12), base_steps=args.base_steps)
        upper = np.fmax(fc[memory_forecast.key(args.quantile)], fc['floor'] if args.floor_hours > 0 else 0.0)
        want = np.concatenate(([np.nan], upper[:-1]))   # made at t-1 for the peak of steps t..t+period-1
    cur_target = cap[0]
    cur_alloc = cap[0]
    for t in range(t_len):
        hi = cap[t]
        if t < max(warm, 1) or not want[t] == want[t]:  # warming up, or nothing to go on yet: provisioned
            if t < max(warm, 1) and cur_target != hi:
                cur_target = hi
        elif t % period == 0:
            lo = min(floor_kb, hi)
            if policy == 'predictive':
                prev_use, prev_alloc = use[t - 1], alloc[t - 1]
                psi = 100.0 * min(1.0, max(0.0, (prev_use - (1 - PSI_FREE_FRAC) * prev_alloc) / (PSI_FREE_FRAC * prev_alloc)))
                swap_in = max(0.0, prev_use - prev_alloc) / PAGE_KB / STEP_S
                new, reasons[t] = sizing.size_memory(cur_target * KIB, want[t] * KIB, (int(lo * KIB), int(hi * KIB)),
                                                     {'psi_some_avg10': psi, 'swap_in_per_s': swap_in}, pol)
                new = new / float(KIB)
            else:
                new = min(max(want[t], lo), hi)
            if new != cur_target:
                changed[t] = True
                cur_target = new
        cur_target = min(cur_target, hi)
        step = cur_target - cur_alloc
        cur_alloc = min(hi, cur_alloc + (max(step, -inflate) if step < 0 else min(step, deflate)))
        target[t] = cur_target
        alloc[t] = cur_alloc
    return target, alloc, changed, reasons


def simulate_vm(vm, args, pol, policies=POLICIES):
    """({policy: (alloc[t], changed[t])}, predictive's reason[t]) for one VM over its whole series."""
    hist = traces.fill_gaps(vm.use_kb)
    out = {'static': (vm.cap_kb.copy(), np.zeros(len(vm), dtype=bool))}
    reasons = None
    for policy in policies:
        if policy != 'static':
            _target, alloc, changed, why = targets_for(policy, vm, args, hist, pol)
            out[policy] = (alloc, changed)
            if policy == 'predictive':
                reasons = why
    return out, reasons


# ---------------------------------------------------------------- metrics
def vm_sums(vm, sim, window):
    """Per-policy sums over the VM's scored steps: slack, use, violations, steps, changes."""
    use = vm.use_kb[window]
    scored = np.isfinite(use)
    u = use[scored]
    sums = {}
    for policy, (alloc, changed) in sim.items():
        a = alloc[window][scored]
        sums[policy] = np.array([np.maximum(a - u, 0.0).sum(), u.sum(), float((u > a).sum()), float(len(u)),
                                 float(changed[window].sum())])
    return sums


def summarize(per_vm, policies):
    res = {}
    for policy in policies:
        tot = np.sum([s[policy] for s in per_vm], axis=0)
        slack, used, bad, steps, changes = tot
        res[policy] = {
            'slack_frac': round(float(slack / used), 4) if used else 0.0,
            'violation_frac': round(float(bad / steps), 6) if steps else 0.0,
            'resizes_per_vm_hour': round(float(changes / (steps / 12.0)), 4) if steps else 0.0,
        }
    return res


def bootstrap(per_vm, policies, seed, n=1000):
    """90 % intervals of slack_frac and violation_frac, resampling VMs (seeded); and of predictive - window_peak."""
    rng = np.random.default_rng(seed)
    arr = dict((p, np.array([s[p] for s in per_vm])) for p in policies)
    idx = rng.integers(0, len(per_vm), size=(n, len(per_vm)))
    out, draws = {}, {}
    for p in policies:
        tot = arr[p][idx].sum(axis=1)  # (n, 5)
        slack = tot[:, 0] / np.maximum(tot[:, 1], 1e-12)
        viol = tot[:, 2] / np.maximum(tot[:, 3], 1)
        draws[p] = (slack, viol)
        out[p] = {'slack_frac': [round(float(v), 4) for v in np.percentile(slack, [5, 95])],
                  'violation_frac': [round(float(v), 6) for v in np.percentile(viol, [5, 95])]}
    if 'predictive' in draws and 'window_peak' in draws:  # paired: the same VMs in each draw
        (ps, pv), (ws, wv) = draws['predictive'], draws['window_peak']
        out['predictive_minus_window_peak'] = {
            'slack_frac': [round(float(v), 4) for v in np.percentile(ps - ws, [5, 95])],
            'violation_frac': [round(float(v), 6) for v in np.percentile(pv - wv, [5, 95])]}
    return out


def targets(res):
    """The issue's targets, where all four policies ran."""
    if any(p not in res for p in POLICIES):
        return {}
    s, w, p = res['static'], res['window_peak'], res['predictive']
    half = s['slack_frac'] / 2.0
    return {
        'predictive_slack_at_most_half_static': {'value': p['slack_frac'], 'target': round(half, 4),
                                                 'met': p['slack_frac'] <= half},
        'predictive_violations_at_most_window_peak': {'value': p['violation_frac'], 'target': w['violation_frac'],
                                                      'met': p['violation_frac'] <= w['violation_frac']},
        'predictive_violations_at_most_0.001': {'value': p['violation_frac'], 'target': 0.001,
                                                'met': p['violation_frac'] <= 0.001},
    }


def versus_window_peak(res):
    """Where predictive stands against window_peak on both axes, in words."""
    if 'predictive' not in res or 'window_peak' not in res:
        return ''
    p, w = res['predictive'], res['window_peak']

    def rel(a, b):
        return (a / b - 1.0) * 100.0 if b else float('inf') if a else 0.0
    figures = (rel(p['slack_frac'], w['slack_frac']), p['slack_frac'], w['slack_frac'],
               rel(p['violation_frac'], w['violation_frac']), p['violation_frac'], w['violation_frac'],
               p['resizes_per_vm_hour'], w['resizes_per_vm_hour'])
    return ('predictive vs window_peak: slack %+.1f %% (%.3f vs %.3f), violations %+.1f %% (%.5f vs %.5f), '
            'resizes %.2f vs %.2f per VM-hour' % figures)


def plot(res, ci, path, label):
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    fig, ax = plt.subplots(figsize=(7, 5))
    for policy, r in res.items():
        x, y = r['slack_frac'], 100.0 * r['violation_frac']
        (x_lo, x_hi), (y_lo, y_hi) = ci[policy]['slack_frac'], [100.0 * v for v in ci[policy]['violation_frac']]
        ax.errorbar([x], [y], xerr=[[max(0.0, x - x_lo)], [max(0.0, x_hi - x)]], yerr=[[max(0.0, y - y_lo)], [max(0.0, y_hi - y)]],
                    fmt='o', capsize=3, label='%s (%.2f, %.3f %%)' % (policy, x, y))
    ax.axhline(0.1, color='grey', lw=0.6, ls='--', label='0.1 % (target)')
    ax.set_xscale('log')
    ax.set_yscale('symlog', linthresh=0.01)  # static sits at 0
    ax.set_ylim(bottom=0)
    ax.set_xlabel('slack: sum(allocated - used) / sum(used) (log)')
    ax.set_ylabel('VM-steps with use above the allocation, % (symlog)')
    ax.set_title('memory_sim: slack vs violations (%s)' % label, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# ---------------------------------------------------------------- run
def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--traces', default=os.path.join(REPO, '..', 'shared', 'data', 'traces'))
    p.add_argument('--limit-vms', type=int, default=None, help='load only the first N trace files')
    p.add_argument('--seed', type=int, default=1, help='seeds the bootstrap over VMs')
    p.add_argument('--split', choices=['eval', 'calib', 'all'], default='eval')
    p.add_argument('--period', type=int, default=3, help='steps between sizing runs (3 = 15 min, the loop period)')
    p.add_argument('--inflate-mib-s', type=float, default=64.0, help='balloon inflate (taking memory) rate')
    p.add_argument('--deflate-mib-s', type=float, default=1024.0, help='balloon deflate (giving memory) rate')
    p.add_argument('--min-mib', type=float, default=256.0, help='no resizing policy goes below this (or provisioned)')
    p.add_argument('--warmup-hours', type=float, default=24.0, help='resizing policies hold provisioned until this much history')
    p.add_argument('--reactive-margin', type=float, default=0.10)
    p.add_argument('--window-hours', type=float, default=24.0, help='window_peak: trailing window')
    p.add_argument('--window-margin', type=float, default=0.10, help='window_peak: safety margin')
    p.add_argument('--quantile', type=float, default=0.9, help='predictive: quantile of the next period\'s peak')
    p.add_argument('--ratio-days', type=float, default=7.0, help='predictive: days of resolved peak ratios')
    p.add_argument('--floor-hours', type=float, default=24.0, help='predictive: floor = highest use of this many hours (0: none)')
    p.add_argument('--base-steps', type=int, default=memory_forecast.BASE_STEPS)
    p.add_argument('--margin', type=float, default=sizing.DEFAULT_SIZING_POLICY['margin_frac'], help='sizing margin_frac')
    p.add_argument('--shrink-step', type=float, default=sizing.DEFAULT_SIZING_POLICY['shrink_step_frac'],
                   help='sizing shrink_step_frac')
    p.add_argument('--min-change', type=float, default=sizing.DEFAULT_SIZING_POLICY['min_change_frac'],
                   help='sizing min_change_frac')
    p.add_argument('--policies', default=','.join(POLICIES), help='comma-separated subset (static always runs)')
    p.add_argument('--json', dest='json_out')
    p.add_argument('--png')
    args = p.parse_args(argv)
    if args.period < 1:
        p.error('--period must be >= 1')
    return args


def parameters(args):
    keys = ('period', 'inflate_mib_s', 'deflate_mib_s', 'min_mib', 'warmup_hours', 'reactive_margin', 'window_hours',
            'window_margin', 'quantile', 'ratio_days', 'floor_hours', 'margin', 'shrink_step', 'min_change')
    out = dict((k, getattr(args, k)) for k in keys)
    pol = sizing_policy_of(args)
    out['sizing_policy'] = pol
    return out


def run(args, all_traces=None):
    """(result dict, per-VM sums); all_traces may be passed in to skip loading."""
    t0 = time.time()
    if all_traces is None:
        all_traces = load_memory_traces(args.traces, args.limit_vms)
    chosen, window = split_vms(all_traces, args.split)
    chosen = [vm for vm in chosen if np.isfinite(vm.use_kb[window]).any()]
    if not chosen:
        raise SystemExit('memory_sim: no VM has memory samples in the %s split under %s' % (args.split, args.traces))
    policies = [p for p in POLICIES if p == 'static' or p in args.policies.split(',')]
    pol = sizing_policy_of(args)
    per_vm = []
    steps = 0
    decisions = {}
    for vm in chosen:
        if window.stop is not None:  # nothing after the scored window matters (every policy is causal)
            vm = MemTrace(vm.vm_id, vm.use_kb[:window.stop], vm.cap_kb[:window.stop])
        sim, reasons = simulate_vm(vm, args, pol, policies)
        per_vm.append(vm_sums(vm, sim, window))
        if reasons is not None:
            for why in reasons[window]:
                if why is not None:
                    why = re.sub(r' *\(.*?\)', '', why)
                    decisions[why] = decisions.get(why, 0) + 1
        steps = max(steps, len(vm.use_kb[window]))
    res = summarize(per_vm, policies)
    meta = {'split': args.split, 'vms': len(chosen), 'steps': steps, 'period': args.period, 'seed': args.seed,
            'scored_vm_steps': int(sum(s['static'][3] for s in per_vm)),
            'parameters': parameters(args), 'predictive_decisions': decisions, 'bootstrap_ci90': bootstrap(per_vm, policies, args.seed),
            'elapsed': round(time.time() - t0, 1)}  # seconds
    return {'policies': res, 'targets': targets(res), 'meta': meta}, per_vm


def main(argv=None):
    args = parse_args(argv)
    t0 = time.time()
    result, _per_vm = run(args)
    res, meta, tgt = result['policies'], result['meta'], result['targets']
    result['meta']['elapsed'] = round(time.time() - t0, 1)
    print('memory_sim: %(vms)d VMs, %(steps)d steps, %(scored_vm_steps)d scored VM-steps, split %(split)s, '
          'period %(period)d, seed %(seed)d' % meta)
    print('%-12s %11s %15s %20s   %s' % ('policy', 'slack_frac', 'violation_frac', 'resizes_per_vm_hour', '90% CI (bootstrap over VMs)'))
    for policy, r in res.items():
        ci = meta['bootstrap_ci90'][policy]
        print('%-12s %11.3f %15.5f %20.3f   slack %.3f-%.3f, violations %.5f-%.5f'
              % (policy, r['slack_frac'], r['violation_frac'], r['resizes_per_vm_hour'], ci['slack_frac'][0],
                 ci['slack_frac'][1], ci['violation_frac'][0], ci['violation_frac'][1]))
    for name, t in tgt.items():
        print('  %-44s %9.5f  target <= %-9s %s' % (name, t['value'], t['target'], 'MET' if t['met'] else 'MISSED'))
    line = versus_window_peak(res)
    if line:
        diff = meta['bootstrap_ci90']['predictive_minus_window_peak']
        print(line)
        print('  paired 90%% CI of predictive - window_peak: slack %+.3f to %+.3f, violations %+.5f to %+.5f'
              % (diff['slack_frac'][0], diff['slack_frac'][1], diff['violation_frac'][0], diff['violation_frac'][1]))
    print('(%.1f s)' % meta['elapsed'])
    if args.png:
        plot(res, meta['bootstrap_ci90'], args.png, '%s split, period %d' % (args.split, args.period))
    if args.json_out:
        with open(args.json_out, 'w') as handle:
            json.dump(result, handle, indent=1, sort_keys=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
