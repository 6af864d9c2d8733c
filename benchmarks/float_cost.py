#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a CPU-bound worker loses by floating over a cpuset instead of being pinned (issue 25, 1).

    python benchmarks/float_cost.py [--cpus 0-1] [--seconds 2] [--warmup 0.5] [--repeats 4]
        [--ratios 1.0,1.5,2.0] [--working-sets 1,4,16] [--no-compute] [--json OUT]

Workers are forked processes (multiprocessing, fork), each running one CPU-bound loop:
- compute: pure compute, a Python integer loop (an LCG) whose data fits in L1;
- ws N: a walk over a working set of N MiB (a float64 array): each unit gathers 2,048
  cache lines in a fixed random order (numpy take over a permutation of the lines, so a
  pass touches every line once) and sums them. Its footprint is the set plus the index
  (1/16 of it).
At each of --ratios workers per CPU (round(ratio x CPUs) workers over the --cpus set,
default the CPUs this process may use), the same workers run twice:
- pinned: worker i on CPU i mod CPUs alone (os.sched_setaffinity), so at 1.5 some CPUs
  carry two workers and some one, as static 1:1 vCPU pins on an overcommitted host do;
- floating: every worker on the whole set; the kernel balances them.
All workers of a run set up (allocate and first-touch their set), meet at a barrier, run
--warmup seconds, then count their units for --seconds. Per worker: units per second of
wall time (throughput), units per CPU-second (from /proc/self/schedstat's run time, ns),
the kernel's migrations (`se.nr_migrations` of /proc/self/sched: this kernel's schedstat
file holds only run time, run-queue wait and timeslices, no migration count) and
involuntary context switches (getrusage). Each repeat runs every condition once pinned
and once floating, the order alternated between repeats (ABBA) so a drift of the host's
load hits both modes alike.

Printed per workload and ratio: throughput per worker pinned and floating (mean over
workers and repeats, with the standard deviation over workers), floating/pinned total
throughput per repeat (median and [min, max] over repeats), the same per CPU-second, the
implied extra work of floating (1 / ratio - 1: what `policy_sim --float-cost` charges as
extra work per step) and the migrations per second of the run (all workers). --json
keeps every run and the summary. The figures are only as good as the host is quiet:
run it where nothing else competes for the CPUs, and say which host gave them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
# one thread per worker: BLAS pools would sit beside the measured loop
for _name in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ.setdefault(_name, '1')

import argparse  # noqa: E402  pylint: disable=wrong-import-position
import json  # noqa: E402  pylint: disable=wrong-import-position
import multiprocessing  # noqa: E402  pylint: disable=wrong-import-position
import platform  # noqa: E402  pylint: disable=wrong-import-position
import resource  # noqa: E402  pylint: disable=wrong-import-position
import sys  # noqa: E402  pylint: disable=wrong-import-position
import time  # noqa: E402  pylint: disable=wrong-import-position

import numpy as np  # noqa: E402  pylint: disable=wrong-import-position

LINE = 64                 # bytes per cache line
GATHER = 2048             # cache lines per unit of a working-set walk
COMPUTE_STEPS = 4000      # LCG steps per unit of compute
MIB = 1 << 20
MIGRATIONS_KEY = 'se.nr_migrations'


# ---------------------------------------------------------------- what the kernel tells a task
def read_sched(path='/proc/self/sched'):
    """The task's migration count (se.nr_migrations), None where the kernel does not expose it."""
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith(MIGRATIONS_KEY):
                    return int(float(line.split(':', 1)[1]))
    except (IOError, OSError, ValueError, IndexError):
        return None
    return None


def read_schedstat(path='/proc/self/schedstat'):
    """(run ns, run-queue wait ns, timeslices) of the task, None where absent."""
    try:
        with open(path) as handle:
            fields = handle.read().split()
        return int(fields[0]), int(fields[1]), int(fields[2])
    except (IOError, OSError, ValueError, IndexError):
        return None


def kernel_exposes():
    """What this kernel exposes for the figures: {'migrations': source or None, 'schedstat': bool}."""
    return {'migrations': '/proc/<pid>/sched %s' % MIGRATIONS_KEY if read_sched() is not None else None,
            'schedstat': read_schedstat() is not None}


# ---------------------------------------------------------------- the workloads
def make_unit(ws_mib, seed):
    """A callable doing one unit of work and returning how many units of its kind it did.

    ws_mib None: compute (LCG steps); else a gather over a working set of ws_mib MiB (cache lines).
    """
    if ws_mib is None:
        state = [seed | 1]

        def compute():
            x = state[0]
            for _i in range(COMPUTE_STEPS):
                x = (x * 1103515245 + 12345) & 0x7fffffff
            state[0] = x
            return COMPUTE_STEPS
        return compute
    lines = max(GATHER, int(ws_mib * MIB) // LINE)
    data = np.ones(lines * (LINE // 8))                       # float64: 8 per line; first touch here
    rng = np.random.default_rng(seed)
    index = (rng.permutation(lines) * (LINE // 8)).astype(np.int64 if lines * 8 >= 2 ** 31 else np.int32)
    where = [0]
    sink = [0.0]

    def walk():
        j = where[0]
        if j + GATHER > lines:
            j = 0
        sink[0] += float(data.take(index[j:j + GATHER]).sum())
        where[0] = j + GATHER
        return GATHER
    return walk


def pinned_cpus(n_workers, cpus):
    """Worker i alone on cpus[i mod len(cpus)] (static 1:1 pins, round-robin past one per CPU)."""
    cpus = sorted(cpus)
    return [[cpus[i % len(cpus)]] for i in range(n_workers)]


def _worker(i, ws_mib, cpus, barrier, warmup, seconds, conn):
    os.sched_setaffinity(0, cpus)
    unit = make_unit(ws_mib, 1000 + i)
    unit()
    barrier.wait()
    now = time.monotonic()
    end = now + warmup
    while now < end:
        unit()
        now = time.monotonic()
    mig0, st0, ru0 = read_sched(), read_schedstat(), resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    end = t0 + seconds
    units = 0
    now = t0
    while now < end:
        units += unit()
        now = time.monotonic()
    mig1, st1, ru1 = read_sched(), read_schedstat(), resource.getrusage(resource.RUSAGE_SELF)
    wall = now - t0
    cpu_s = (st1[0] - st0[0]) / 1e9 if st0 and st1 else (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime)
    conn.send({'units': units, 'wall_s': wall, 'cpu_s': cpu_s,
               'wait_s': (st1[1] - st0[1]) / 1e9 if st0 and st1 else None,
               'migrations': None if mig0 is None or mig1 is None else mig1 - mig0,
               'involuntary_switches': ru1.ru_nivcsw - ru0.ru_nivcsw,
               'cpus': sorted(os.sched_getaffinity(0))})
    conn.close()


def run_condition(ws_mib, n_workers, cpus, mode, warmup, seconds):
    """One run: n_workers workers pinned or floating over cpus; its per-worker figures."""
    ctx = multiprocessing.get_context('fork')
    places = pinned_cpus(n_workers, cpus) if mode == 'pinned' else [sorted(cpus)] * n_workers
    barrier = ctx.Barrier(n_workers)
    procs, pipes = [], []
    for i, place in enumerate(places):
        here, there = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_worker, args=(i, ws_mib, place, barrier, warmup, seconds, there))
        proc.start()
        there.close()
        procs.append(proc)
        pipes.append(here)
    workers = []
    try:
        for here in pipes:
            workers.append(here.recv())
    finally:
        for proc in procs:
            proc.join(timeout=max(10.0, 3 * (warmup + seconds)))
            if proc.is_alive():
                proc.terminate()
                proc.join()
    if any(proc.exitcode != 0 for proc in procs):
        raise RuntimeError('float_cost: a worker failed (exit codes %s)' % [p.exitcode for p in procs])
    wall = max(w['wall_s'] for w in workers)
    migs = [w['migrations'] for w in workers]
    return {
        'mode': mode, 'workers': n_workers,
        'per_worker_rate': [w['units'] / w['wall_s'] for w in workers],
        'per_worker_rate_cpu': [w['units'] / w['cpu_s'] if w['cpu_s'] > 0 else 0.0 for w in workers],
        'units': sum(w['units'] for w in workers), 'cpu_s': sum(w['cpu_s'] for w in workers), 'wall_s': wall,
        'migrations_per_s': None if any(m is None for m in migs) else sum(migs) / wall,
        'involuntary_switches_per_s': sum(w['involuntary_switches'] for w in workers) / wall,
        'wait_share': (None if any(w['wait_s'] is None for w in workers)
                       else sum(w['wait_s'] for w in workers) / sum(w['wall_s'] for w in workers)),
        'worker_cpus': [w['cpus'] for w in workers],
    }


# ---------------------------------------------------------------- the sweep
def workloads(args):
    out = [] if args.no_compute else [('compute', None)]
    return out + [('ws', float(x)) for x in args.working_sets]


def n_workers(ratio, n_cpus):
    return max(1, int(round(ratio * n_cpus)))


def sweep(args, cpus, log=sys.stderr):
    """Every run: [{workload, ws_mib, ratio, repeat, mode, ...run_condition's figures}]."""
    runs = []
    for rep in range(args.repeats):
        order = ('pinned', 'floating') if rep % 2 == 0 else ('floating', 'pinned')
        for name, ws in workloads(args):
            for ratio in args.ratios:
                for mode in order:
                    res = run_condition(ws, n_workers(ratio, len(cpus)), cpus, mode, args.warmup, args.seconds)
                    res.update(workload=name, ws_mib=ws, ratio=ratio, repeat=rep)
                    runs.append(res)
        log.write('float_cost: repeat %d of %d done\n' % (rep + 1, args.repeats))
    return runs


def _spread(values):
    values = sorted(values)
    return {'median': float(np.median(values)), 'min': values[0], 'max': values[-1]}


def summarize(runs):
    """Per (workload, ws, ratio): pinned and floating per worker, floating/pinned per repeat, its implied cost."""
    out = []
    keys = []
    for r in runs:
        key = (r['workload'], r['ws_mib'], r['ratio'])
        if key not in keys:
            keys.append(key)
    for key in keys:
        mine = [r for r in runs if (r['workload'], r['ws_mib'], r['ratio']) == key]
        by = dict((m, [r for r in mine if r['mode'] == m]) for m in ('pinned', 'floating'))
        reps = sorted(set(r['repeat'] for r in by['pinned']) & set(r['repeat'] for r in by['floating']))
        ratio_wall, ratio_cpu = [], []
        for rep in reps:
            p = [r for r in by['pinned'] if r['repeat'] == rep][0]
            f = [r for r in by['floating'] if r['repeat'] == rep][0]
            ratio_wall.append(float(np.mean(f['per_worker_rate']) / np.mean(p['per_worker_rate'])))
            ratio_cpu.append(float(np.mean(f['per_worker_rate_cpu']) / np.mean(p['per_worker_rate_cpu'])))
        entry = {'workload': key[0], 'ws_mib': key[1], 'workers_per_cpu': key[2],
                 'workers': mine[0]['workers'], 'repeats': len(reps)}
        for mode, runs_m in by.items():
            rates = [x for r in runs_m for x in r['per_worker_rate']]
            migs = [r['migrations_per_s'] for r in runs_m]
            entry[mode] = {
                'per_worker_rate_mean': float(np.mean(rates)),
                'per_worker_rate_sd': float(np.mean([np.std(r['per_worker_rate']) for r in runs_m])),
                'migrations_per_s': None if any(m is None for m in migs) else float(np.mean(migs)),
                'involuntary_switches_per_s': float(np.mean([r['involuntary_switches_per_s'] for r in runs_m])),
            }
        if reps:
            entry['float_over_pinned'] = _spread(ratio_wall)
            entry['float_over_pinned_per_cpu_s'] = _spread(ratio_cpu)
            entry['implied_float_cost'] = dict((k, round(1.0 / v - 1.0, 5) if v > 0 else None)
                                               for k, v in _spread(ratio_wall).items())
        out.append(entry)
    return out


def print_summary(summary, meta):
    print('float_cost: CPUs %s (%d), %s; %.2f s per run after %.2f s warm-up, %d repeat(s), pinned/floating '
          'order alternated; migrations from %s'
          % (meta['cpus_list'], len(meta['cpus']), meta['host'], meta['seconds'], meta['warmup'], meta['repeats'],
             meta['kernel_exposes']['migrations'] or 'nowhere (not exposed by this kernel)'))
    print('rates: compute in LCG steps/s, ws in cache lines/s, per worker (sd over workers)')
    print('%-8s %7s %8s %7s %22s %22s %26s %20s %12s %12s'
          % ('workload', 'ws_MiB', 'per_CPU', 'workers', 'pinned/worker', 'floating/worker',
             'float/pinned med [min,max]', 'per CPU-s med', 'float_cost', 'migr/s p|f'))
    for e in summary:
        def rate(mode):
            return '%.4g (%.2g)' % (e[mode]['per_worker_rate_mean'], e[mode]['per_worker_rate_sd'])

        def mig(mode):
            m = e[mode]['migrations_per_s']
            return 'n/a' if m is None else '%.0f' % m
        if 'float_over_pinned' in e:
            s, c = e['float_over_pinned'], e['float_over_pinned_per_cpu_s']
            ratio = '%.4f [%.4f, %.4f]' % (s['median'], s['min'], s['max'])
            per_cpu = '%.4f' % c['median']
            cost = '%+.4f' % e['implied_float_cost']['median']
        else:
            ratio = per_cpu = cost = 'n/a'
        print('%-8s %7s %8.2f %7d %22s %22s %26s %20s %12s %12s'
              % (e['workload'], '-' if e['ws_mib'] is None else '%g' % e['ws_mib'], e['workers_per_cpu'],
                 e['workers'], rate('pinned'), rate('floating'), ratio, per_cpu, cost,
                 '%s|%s' % (mig('pinned'), mig('floating'))))


def float_list(text):
    return [float(x) for x in text.split(',') if x.strip()]


def cpu_list(text):
    out = set()
    for part in text.split(','):
        part = part.strip()
        if not part:
            continue
        if '-' in part:
            a, b = part.split('-', 1)
            out.update(range(int(a), int(b) + 1))
        else:
            out.add(int(part))
    return sorted(out)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0].replace('%', '%%'))
    p.add_argument('--cpus', default=None, help='the cpuset, e.g. 0-7 (default: the CPUs this process may use)')
    p.add_argument('--seconds', type=float, default=2.0, help='measured seconds per run (default 2)')
    p.add_argument('--warmup', type=float, default=0.5, help='seconds each run warms up before counting (default 0.5)')
    p.add_argument('--repeats', type=int, default=4, help='repeats of every condition (default 4)')
    p.add_argument('--ratios', type=float_list, default=[1.0, 1.5, 2.0],
                   help='workers per CPU, comma-separated (default 1.0,1.5,2.0)')
    p.add_argument('--working-sets', type=float_list, default=[1.0, 4.0, 16.0],
                   help='working-set walks, MiB, comma-separated (default 1,4,16; empty: none)')
    p.add_argument('--no-compute', action='store_true', help='leave out the pure-compute workload')
    p.add_argument('--json', dest='json_out', help='write every run and the summary here')
    args = p.parse_args(argv)
    if args.seconds <= 0 or args.warmup < 0 or args.repeats < 1:
        p.error('--seconds must be > 0, --warmup >= 0, --repeats >= 1')
    if not args.ratios or min(args.ratios) <= 0:
        p.error('--ratios: positive workers per CPU')
    if not workloads(args):
        p.error('nothing to run: --no-compute and no --working-sets')
    return args


def main(argv=None):
    args = parse_args(argv)
    cpus = cpu_list(args.cpus) if args.cpus else sorted(os.sched_getaffinity(0))
    allowed = os.sched_getaffinity(0)
    if not set(cpus) <= allowed:
        raise SystemExit('float_cost: --cpus %s is not within the CPUs this process may use (%s)'
                         % (args.cpus, sorted(allowed)))
    n_runs = args.repeats * len(workloads(args)) * len(args.ratios) * 2
    sys.stderr.write('float_cost: %d runs of %.2f s + %.2f s warm-up: about %.0f s\n'
                     % (n_runs, args.seconds, args.warmup, n_runs * (args.seconds + args.warmup + 0.1)))
    t0 = time.time()
    runs = sweep(args, cpus)
    summary = summarize(runs)
    meta = {'cpus': cpus, 'cpus_list': ','.join(str(c) for c in cpus), 'host': '%s, %s, kernel %s, %d CPUs online'
            % (platform.node(), platform.processor() or platform.machine(), platform.release(), os.cpu_count()),
            'kernel_exposes': kernel_exposes(), 'seconds': args.seconds, 'warmup': args.warmup,
            'repeats': args.repeats, 'ratios': args.ratios, 'working_sets_mib': args.working_sets,
            'compute': not args.no_compute, 'load_average': list(os.getloadavg()),
            'elapsed_s': round(time.time() - t0, 1)}
    print_summary(summary, meta)
    print('(%.1f s; load average at the end %s)' % (meta['elapsed_s'], ', '.join('%.2f' % x for x in meta['load_average'])))
    if args.json_out:
        with open(args.json_out, 'w') as handle:
            json.dump({'meta': meta, 'summary': summary, 'runs': runs}, handle, indent=1, sort_keys=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
