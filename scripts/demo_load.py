# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure parts of `make demo`: real traces -> per-vCPU duty cycles, and the report's numbers.

The mapping (documented in docs/demo.md), all driven by one seeded random.Random:
  1. candidate VMs: the first trace files whose CPU demand varies (P95 > 2 % of capacity);
     pick `n` of them at random;
  2. per VM a window of `steps` consecutive 5-minute samples at a random offset, gaps
     carried forward; each sample becomes one demo step (time compression 300 s -> step_s);
  3. per step the VM's intensity u = demand / P95(window), clipped to [0, 1];
  4. one vCPU is hot: duty 30 % + 65 % * u; the others are cold: 5 % + 15 % * u;
  5. the hot vCPU changes after a random dwell of `min_dwell`..`max_dwell` steps.
No I/O here: callers pass arrays in and get plain lists and dicts out.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math

HOT_BASE, HOT_GAIN = 0.30, 0.65
COLD_BASE, COLD_GAIN = 0.05, 0.15


def _p95(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(math.ceil(0.95 * len(ordered))) - 1)]


def carry_forward(series):
    """NaN gaps take the previous value (the first finite value for a leading gap)."""
    finite = [v for v in series if not math.isnan(v)]
    last = finite[0] if finite else 0.0
    out = []
    for value in series:
        if not math.isnan(value):
            last = value
        out.append(float(last))
    return out


def pick_windows(series_by_vm, n, steps, rng, min_p95=0.02):
    """[(vm_id, offset, window)] for n VMs whose window varies; series_by_vm: {vm_id: list}."""
    candidates = []
    for vm_id in sorted(series_by_vm, key=str):
        series = carry_forward(series_by_vm[vm_id])
        if len(series) >= steps and _p95(series) > min_p95:
            candidates.append((vm_id, series))
    if len(candidates) < n:
        raise ValueError('only %d trace VMs with %d steps and varying CPU; need %d' % (len(candidates), steps, n))
    chosen = rng.sample(candidates, n)
    out = []
    for vm_id, series in chosen:
        offset = rng.randrange(0, len(series) - steps + 1)
        out.append((vm_id, offset, series[offset:offset + steps]))
    return out


def intensity(window):
    """Per step demand / P95 of the window, clipped to [0, 1]."""
    scale = max(_p95(window), 1e-3)
    return [min(1.0, max(0.0, v / scale)) for v in window]


def hot_sequence(steps, n_vcpus, rng, min_dwell=3, max_dwell=6):
    """Index of the hot vCPU per step; it moves to another vCPU after each random dwell."""
    hot = rng.randrange(n_vcpus)
    seq = []
    while len(seq) < steps:
        seq.extend([hot] * rng.randint(min_dwell, max_dwell))
        hot = (hot + rng.randrange(1, n_vcpus)) % n_vcpus if n_vcpus > 1 else 0
    return seq[:steps]


def duty_schedule(window, n_vcpus, rng, min_dwell=3, max_dwell=6):
    """[[percent per vCPU] per step] (integers 0..100) for one VM's trace window."""
    hot = hot_sequence(len(window), n_vcpus, rng, min_dwell, max_dwell)
    sched = []
    for u, h in zip(intensity(window), hot):
        row = []
        for cpu in range(n_vcpus):
            frac = HOT_BASE + HOT_GAIN * u if cpu == h else COLD_BASE + COLD_GAIN * u
            row.append(int(round(100 * frac)))
        sched.append(row)
    return sched


def encode(schedule):
    """The guest's intravm.duty= value: steps joined by ',', vCPUs by '.'."""
    return ','.join('.'.join(str(p) for p in row) for row in schedule)


def decode(text):
    """Inverse of encode (the guest init parses the same way)."""
    return [[int(p) for p in step.split('.')] for step in text.split(',') if step]


def stalled(rows, start, end, min_busy_s=1.0):
    """Guests whose vCPUs ran less than min_busy_s between start and end.

    A guest that did not boot or stopped makes any delay ratio meaningless, so
    the demo fails on it instead of reporting one. rows: [{'t', 'time': {domain:
    {vcpu: cumulative ns}}}] in time order.
    """
    inside = [r for r in rows if start <= r['t'] <= end]
    if len(inside) < 2:
        return sorted(rows[-1]['time']) if rows else []
    first, last = inside[0]['time'], inside[-1]['time']
    return sorted(n for n in last if sum(last[n].values()) - sum(first.get(n, {}).values()) < min_busy_s * 1e9)


def _ends(records, start, end, when):
    """The records nearest in time to start and to end (when(record) gives its time)."""
    return (min(records, key=lambda r: abs(when(r) - start)),
            min(records, key=lambda r: abs(when(r) - end)))


def phase_delay(samples, start, end):
    """Total vCPU delay (ns) per domain between the samples nearest to start and end.

    samples: [(t, {domain: {vcpu: cumulative delay ns}})] in time order.
    """
    if not samples:
        raise ValueError('no samples')
    first, last = _ends(samples, start, end, lambda s: s[0])
    out = {}
    for dom, vcpus in last[1].items():
        before = first[1].get(dom, {})
        out[dom] = sum(v - before.get(i, 0) for i, v in vcpus.items())
    return out


def sample_gap(samples, start, end):
    """Seconds between start/end and the samples nearest them (the larger): how far phase_delay's ends miss."""
    if not samples:
        return float('inf')
    first, last = _ends(samples, start, end, lambda s: s[0])
    return max(abs(first[0] - start), abs(last[0] - end))


def steal_seconds(proc_stat, hz=100):
    """Seconds of steal, summed over CPUs, from the text of /proc/stat (None if absent).

    Steal is time this machine's CPUs were taken by the hypervisor it runs on;
    during it every runnable vCPU thread here waits, so it inflates vCPU delay
    in whichever phase it falls and is reported beside the ratio.
    """
    for line in proc_stat.splitlines():
        fields = line.split()
        if fields and fields[0] == 'cpu':
            return int(fields[8]) / float(hz) if len(fields) > 8 else None
    return None


def phase_steal(rows, start, end):
    """Host steal seconds between the rows nearest to start and end (None without data)."""
    marked = [r for r in rows if r.get('steal_s') is not None]
    if not marked:
        return None
    first, last = _ends(marked, start, end, lambda r: r['t'])
    return last['steal_s'] - first['steal_s']


# --- counterbalanced blocks (issue 14): static and adaptive blocks in ABBA order ---------------

def abba_order(n_blocks):
    """['static', 'adaptive', 'adaptive', 'static', ...]: pairs alternate SA and AS.

    A drift that grows or shrinks over the run (a guest's page cache warming,
    the host quietening) then falls on both conditions alike, which a
    static-then-adaptive design cannot separate from the loop's effect.
    """
    if n_blocks < 2 or n_blocks % 2:
        raise ValueError('blocks must be an even number >= 2, got %d' % n_blocks)
    out = []
    for pair in range(n_blocks // 2):
        out.extend(['static', 'adaptive'] if pair % 2 == 0 else ['adaptive', 'static'])
    return out


def pair_ratios(delays, order):
    """Adaptive/static total delay per consecutive pair of blocks (one SA or AS pair each)."""
    if len(delays) != len(order):
        raise ValueError('%d block delays for %d blocks' % (len(delays), len(order)))
    out = []
    for k in range(0, len(order) - 1, 2):
        pair = dict(zip(order[k:k + 2], delays[k:k + 2]))
        if set(pair) != {'static', 'adaptive'}:
            raise ValueError('blocks %d and %d are not one static and one adaptive block' % (k, k + 1))
        out.append(pair['adaptive'] / pair['static'] if pair['static'] > 0 else float('nan'))
    return out


def cross_ratio(first, second, rng):
    """One sequence's per-pair ratios over another's, pair by pair, each already over its own static block.

    first, second: blocks_summary entries (e.g. loop and float); pair k of one
    is set against pair k of the other, so each ratio is (A/S of the first) /
    (A/S of the second) with both static blocks cancelling the drift between them.
    """
    ratios = [a / b if b > 0 else float('nan') for a, b in zip(first['pair_ratios'], second['pair_ratios'])]
    mean, low, high = bootstrap_mean_ci(ratios, rng)
    return {'pair_ratios': ratios, 'mean_ratio': mean, 'ci95': [low, high]}


def bootstrap_mean_ci(values, rng, resamples=10000, level=0.95):
    """(mean, low, high): percentile bootstrap interval of the mean, pairs resampled with replacement."""
    vals = [v for v in values if not math.isnan(v)]
    if not vals:
        return float('nan'), float('nan'), float('nan')
    n = len(vals)
    means = sorted(sum(vals[rng.randrange(n)] for _draw in range(n)) / n for _resample in range(resamples))
    tail = (1.0 - level) / 2.0
    low = means[int(math.floor(tail * (resamples - 1)))]
    high = means[int(math.ceil((1.0 - tail) * (resamples - 1)))]
    return sum(vals) / n, low, high


def hot_switch_offsets(schedule):
    """Step indices (from the block's start) at which the hottest vCPU of a schedule changes."""
    hot = [max(range(len(row)), key=lambda c: row[c]) for row in schedule]
    return [i for i in range(1, len(hot)) if hot[i] != hot[i - 1]]


def response_latencies(switches, runs, block_ends):
    """Seconds from each hot-vCPU switch of a guest to the end of the first run that moved that guest.

    switches: [(t, guest)]; runs: [{'t', 'duration_s', 'moves': [{'vm'}]}];
    block_ends: sorted end times of the adaptive blocks. A switch the loop
    did not answer within its block has no latency (it is counted apart).
    Returns (latencies, unanswered).
    """
    latencies, unanswered = [], 0
    for t_switch, guest in switches:
        end = min([e for e in block_ends if e > t_switch] or [float('inf')])
        done = [r['t'] + r['duration_s'] for r in runs
                if r['t'] + r['duration_s'] > t_switch and r['t'] + r['duration_s'] <= end
                and any(m.get('vm') == guest for m in r.get('moves', []))]
        if done:
            latencies.append(min(done) - t_switch)
        else:
            unanswered += 1
    return latencies, unanswered


def median(values):
    vals = sorted(values)
    if not vals:
        return float('nan')
    mid = len(vals) // 2
    return vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2.0


def blocks_summary(blocks, rng):
    """Per sequence (loop, control): per-pair ratios, their mean with a 95 % bootstrap interval, totals.

    blocks: [{'sequence', 'condition', 'delay_s': {domain: seconds}}] in run order.
    """
    out = {}
    for seq in sorted({b['sequence'] for b in blocks}):
        mine = [b for b in blocks if b['sequence'] == seq]
        totals = [sum(b['delay_s'].values()) for b in mine]
        ratios = pair_ratios(totals, [b['condition'] for b in mine])
        mean, low, high = bootstrap_mean_ci(ratios, rng)
        by_cond = dict((c, sum(t for t, b in zip(totals, mine) if b['condition'] == c)) for c in ('static', 'adaptive'))
        out[seq] = {'pair_ratios': ratios, 'mean_ratio': mean, 'ci95': [low, high], 'blocks': len(mine),
                    'static_delay_s': by_cond['static'], 'adaptive_delay_s': by_cond['adaptive'],
                    'ratio_of_totals': by_cond['adaptive'] / by_cond['static'] if by_cond['static'] > 0 else float('nan')}
    return out
