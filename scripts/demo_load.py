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


def report(static, adaptive):
    """The headline numbers from per-domain delay totals of the two phases (ns)."""
    s_total, a_total = sum(static.values()), sum(adaptive.values())
    return {
        'static_delay_s': s_total / 1e9,
        'adaptive_delay_s': a_total / 1e9,
        'ratio': (a_total / s_total) if s_total > 0 else float('nan'),
        'per_domain': {d: {'static_s': static[d] / 1e9, 'adaptive_s': adaptive.get(d, 0) / 1e9} for d in sorted(static)},
    }
