#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Trace-driven host simulation of the loop: static, reactive, reactive_peak, predictive and oracle pinning, and pools.

    python benchmarks/policy_sim.py --traces ../shared/data/traces [--limit-vms N] [--days D]
        [--periods 1,3,12] [--overcommits auto,2.5] [--apply-delay 0.1] [--capacity-period 3]
        [--seed S] [--split eval|calib|all] [--forecaster baseline|predictor-baseline|lstm]
        [--float-cost C] [--float-cost-sweep 0,C,2C] [--json OUT] [--png OUT] [--png-sweep OUT] [--jobs N]

Model (all seeded by --seed, documented in docs/planner.md):
- Hosts: --host-cpus CPUs (default 32) in --nodes NUMA nodes (default 2, distance 21),
  no SMT. VMs are packed onto hosts in a seeded random order at an overcommit of vCPUs
  per host CPU. --overcommits lists the levels run (default auto,2.5); auto is the
  lowest of OVERCOMMIT_LEVELS at which static pinning leaves at least 5 % of the
  simulated demand unserved (decided by the static policy alone).
- A VM has min(8, its median provisioned cores) vCPUs. Its demand in CPU units is
  min(1, usage/provisioned) x vCPUs, gaps carried forward.
- Per-vCPU demand: the VM's demand is split by weights drawn from a
  Dirichlet(--alpha) distribution (uneven), redrawn at the start of each phase;
  phase lengths are geometric with mean --phase-hours (shifting over time). A vCPU
  carries at most one CPU; the excess is poured into the others (water-filling).
- Each 5-minute step a CPU with load L serves min(L, 1): every vCPU on it gets the
  same fraction of what it needs. What a vCPU needs is its demand times
  (1 + --remote-penalty x remote) x (1 + --move-penalty if its pin changed this step)
  x (1 + --migrate-penalty x m while its VM's memory migrates), see below.
- The loop (issue 14): a plan is made every --period K steps (at steps K, 2K, ...: a
  scheduled job every K x 5 minutes) from the data up to the end of the step before.
  Its pins take effect --apply-delay steps after the plan (default 0.1: 30 s of a
  5-minute step, what one rebalance run took in `make demo`) and then hold until the
  next plan's pins do. A fractional delay serves the step it ends in for that fraction
  of the step on the old pins and memory, the rest on the new ones (a time-weighted mix
  of the two); a delay of 1.5 holds the old pins for one whole step and half the next.
  The delay must be below the period. --periods lists the periods run (default 1,3,12).
- Policies, all at the same period, feed the planner per-vCPU demand for the coming
  period, the steps t .. t+K-1 of a plan made at step t:
  static (balanced initial pinning, never changed); reactive (the demand of step t-1);
  reactive_peak (the highest demand of steps t-K .. t-1, the last period: what numad-
  or VPA-style reactive tools size on; the same as reactive at K = 1); predictive (the
  product's forecasts from history up to t-1: at K = 1 the one-step forecaster chosen by
  --forecaster, at K > 1 the P90 (and P50) of the peak of the next K steps: with
  --forecaster lstm what the predictor serves in cpu_peak (its window head or the
  last-plus-P90-of-peak-errors baseline, per column by the daemon's selector), else
  services/predictor/memory_forecast.peak_quantiles, a causal, distribution-free
  forecaster of a window's peak, run per vCPU column; the last value where it has too
  little history yet); oracle (the true peak demand of steps t .. t+K-1; at K = 1 the
  true demand of step t). All planner policies share one planner policy (a move budget
  per plan, hysteresis, costs), so they differ only in what they are fed.
- Pool baselines (issue 25: what operators run on overcommitted hosts), vCPUs not
  pinned but floating in a pool of CPUs that the kernel balances: a pool serves
  min(what its vCPUs need, its CPUs), each vCPU capped at one CPU, every vCPU the same
  fraction of what it needs (serve_pools). float (libvirt's default: every vCPU over the
  whole host, memory where first touched, i.e. on the VM's first node, and a vCPU on
  each node in proportion to its CPUs, so half its memory is remote on 2 nodes; never
  re-placed); numad (each VM floating in one node's CPUs with strict memory there, its
  first node to start with; every K steps the node is re-chosen from each VM's peak
  demand over the last period, greedily cutting the demand above the nodes' CPUs, at
  most --max-moves VMs a plan, a move taken only where its cut over the period beats
  its one-off costs; applied after --apply-delay; its vCPUs pay --move-penalty in the
  step and its memory migrates as above); pool_oracle (numad's placement fed the true
  peak of the coming period). Floating costs --float-cost (default 0) more work on every
  step (cache refills after the kernel moves a vCPU; benchmarks/float_cost.py measures
  it); --float-cost-sweep reruns the pool policies at other costs. A VM's change of
  node counts its vCPUs as moves. numad never spans a VM over nodes: one with more vCPUs
  than a node has CPUs is held to that node's CPUs (never at the default 8 vCPUs and
  16-CPU nodes; on the small hosts of the unit tests, yes).
- The product in pool mode (issue 25, 4): reactive_pool and predictive_pool are the
  planner itself (planner.plan, the pinning policies' planner policy with placement:
  pool) fed what reactive_peak and predictive are fed (with --forecaster lstm the
  predictor's cpu_peak, one batch shared with predictive), so reactive_pool isolates
  what the forecasts add. Each VM floats in its node's pool as in numad (the same
  first node, the same pool accounting, serve_spans); every K steps the planner gets
  each VM as it runs (its nodeset's CPUs, its numatune) and its
  allocations[vm]['numa']['nodeset'] becomes the VM's node(s). A VM it spans over
  several nodes (one no node can hold) runs on each in proportion to its CPUs with its
  memory interleaved over them, as float and the pinning policies' interleave do
  (never at the defaults; the run prints the share of VM-steps spanning). A nodeset
  change costs what numad's does (its vCPUs counted as moves, --move-penalty, the
  memory migration); the pool must be whole nodes' CPUs (the planner makes smaller
  ones only for max_cpus or dedicated VMs, which the sim has not). The run compares
  predictive_pool with the best of float, numad, reactive_peak and reactive_pool,
  with pool_oracle and with reactive_pool (comparison_product), and prints the
  planner's moves by kind and its time per plan (planner_pools).
- Costs of a move. Cache: a vCPU needs --move-penalty (0.10) more CPU in the step its pin
  changes (cold caches). Memory (--memory follow, the default: the role applies the
  plan's numatune): a VM's memory lies evenly over its nodeset (one node, strict, or
  interleaved over several when the plan spreads its vCPUs), and a vCPU needs
  --remote-penalty (0.15) x the share of its VM's memory off its CPU's node more CPU.
  A nodeset change moves the share m of the VM's memory (1 from one node to another,
  1/2 into or out of interleaving over 2 nodes) over --migrate-steps steps (default 1):
  the placement goes linearly from old to new (each step counts the placement at its
  midpoint, so the remote-access penalty decays as the pages arrive) and every vCPU of
  the VM needs --migrate-penalty (0.2) x m more CPU while it lasts (the page copies and
  the faults on pages in flight, as a share of the work, like the other penalties).
  --memory static keeps each VM's memory on its first node for good (the model of the
  per-step simulation before issue 14; with --periods 1 --apply-delay 0 it reproduces it).
- Outputs: a table per period and overcommit; unserved demand that no pinning can
  avoid (host demand above its CPU count, the floor); a capacity figure: at
  --capacity-period (default 3), the highest of OVERCOMMIT_LEVELS at which each policy
  keeps unserved demand <= 1 % (levels tried in order, a policy stops at its first miss),
  i.e. how many vCPUs a host carries at the same service level; --json, --png (hourly
  unserved demand of the default run: period 1, or the first period listed, at the
  first overcommit) and --png-sweep (unserved demand against moves per VM-hour, every
  policy and period, one panel per overcommit). Each run also compares the better of
  float and numad with the better reactive policy and pool_oracle with oracle, in unserved
  demand above the floor (comparison_pools), and holds the pool policies at each
  --float-cost-sweep cost (float_cost_sweep; the capacity figure too). Issue 6's per-step
  targets are judged on the period-1 run only ("not run" without period 1).
- Split: VMs with odd trace numbers and the first 7 days form the calibration set
  (used to pick forecaster and planner parameters); even-numbered VMs
  over days 8-30 are the evaluation set reported by default.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import math
import multiprocessing
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, '.build', 'collections'))

from ansible_collections.adaptive.intravm.services.predictor import traces  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.adaptive.intravm.services.predictor import memory_forecast  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.adaptive.intravm.plugins.module_utils.plan import planner  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset  # noqa: E402  pylint: disable=wrong-import-position

STEPS_PER_DAY = 288
PINNED_POLICIES = ('static', 'reactive', 'reactive_peak', 'predictive', 'oracle')   # one CPU per vCPU
PLANNER_POOLS = ('reactive_pool', 'predictive_pool')   # the product's planner with placement: pool (issue 25, 4)
POOL_FEED = {'reactive_pool': 'reactive_peak', 'predictive_pool': 'predictive'}   # fed what these pinning policies are
POOL_POLICIES = ('float', 'numad', 'pool_oracle') + PLANNER_POOLS   # vCPUs floating in a pool of CPUs (issue 25, 2, 4)
POLICIES = PINNED_POLICIES + POOL_POLICIES
UNPLANNED = ('static', 'float')   # never re-placed: their results do not depend on the period
LEGACY_POLICIES = ('static', 'reactive', 'predictive', 'oracle')   # the per-step targets of issue 6
PLANNED = ('reactive', 'reactive_peak', 'predictive', 'oracle')
FED_PREDICTIVE = ('predictive', 'predictive_pool')   # the policies fed the product's forecasts
OVERCOMMIT_LEVELS = (1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0)   # vCPUs per host CPU, tried in order
STATIC_UNSERVED_MIN = 0.05    # the issue: pack where static pinning leaves >= 5 % unserved
CAPACITY_UNSERVED_MAX = 0.01  # the capacity figure: highest overcommit at which unserved <= 1 %
PEAK_QUANTILE = 0.9           # predictive at K > 1: the P90 of the window peak (the planner's quantile)


# ---------------------------------------------------------------- workload model
def vm_vcpus(trace, max_vcpus):
    cores = trace.cores[np.isfinite(trace.cores) & (trace.cores > 0)]
    return int(min(max_vcpus, max(1, np.median(cores) if len(cores) else 1)))


def waterfill(total, weights):
    """Split total (<= len(weights)) by weights, no share above 1, excess poured into the rest."""
    share = np.zeros_like(weights)
    free = np.ones(len(weights), dtype=bool)
    left = total
    for _round in range(len(weights)):
        w = weights * free
        if left <= 1e-12 or w.sum() <= 0:
            break
        part = left * w / w.sum()
        over = free & (share + part > 1.0)
        if not over.any():
            share = share + part
            break
        left -= (1.0 - share[over]).sum()
        share[over] = 1.0
        free &= ~over
    return share


def vcpu_demand(vm_demand, n_vcpus, rng, alpha, phase_steps):
    """(T, n_vcpus) per-vCPU demand from a VM's (T,) demand in CPU units."""
    t_len = len(vm_demand)
    out = np.zeros((t_len, n_vcpus))
    t = 0
    while t < t_len:
        length = int(rng.geometric(1.0 / phase_steps))
        w = rng.dirichlet(np.full(n_vcpus, alpha)) if n_vcpus > 1 else np.ones(1)
        end = min(t_len, t + length)
        seg = vm_demand[t:end]
        direct = np.outer(seg, w)
        if (direct > 1.0).any():
            for i in np.nonzero((direct > 1.0).any(axis=1))[0]:
                direct[i] = waterfill(seg[i], w)
        out[t:end] = direct
        t = end
    return out


def split_vms(all_traces, split):
    def num(tr):
        try:
            return int(tr.vm_id)
        except ValueError:
            return 0
    if split == 'calib':
        return [t for t in all_traces if num(t) % 2 == 1], slice(0, 7 * STEPS_PER_DAY)
    if split == 'eval':
        return [t for t in all_traces if num(t) % 2 == 0], slice(7 * STEPS_PER_DAY, None)
    return list(all_traces), slice(0, None)


def build_hosts(vms, args, rng, overcommit):
    """[(names, n_vcpus list, (T, V) demand, vm index of each vCPU)] per host."""
    order = rng.permutation(len(vms))
    per_host = int(round(args.host_cpus * overcommit))
    hosts, cur = [], []
    used = 0
    for i in order:
        name, nv, dem = vms[i]
        if used + nv > per_host and cur:
            hosts.append(cur)
            cur, used = [], 0
        cur.append((name, nv, dem))
        used += nv
    if cur and used >= per_host * 0.8:
        hosts.append(cur)  # a nearly-full last host counts; a small remainder is dropped
    if args.max_hosts:
        hosts = hosts[:args.max_hosts]
    return hosts


# ---------------------------------------------------------------- host and planner
def sim_topology(host_cpus, nodes):
    per = host_cpus // nodes
    cpus = [{'id': c, 'node': c // per, 'siblings': str(c)} for c in range(host_cpus)]
    ns = [{'id': n, 'cpus': '%d-%d' % (n * per, (n + 1) * per - 1), 'memory_bytes': 1 << 36,
           'distances': dict((m, 10 if m == n else 21) for m in range(nodes))} for n in range(nodes)]
    return {'cpus': cpus, 'nodes': ns, 'caches': [], 'cpus_online': '0-%d' % (host_cpus - 1)}


def static_pinning(host, host_cpus, nodes):
    """Balanced by vCPU count: VMs to the node with fewest vCPUs, vCPUs to its emptiest CPUs."""
    per = host_cpus // nodes
    node_count = [0] * nodes
    cpu_count = np.zeros(host_cpus, dtype=int)
    pins, home = [], []
    for _name, nv, _dem in host:
        node = int(np.argmin(node_count))
        node_count[node] += nv
        home.append(node)
        for _vcpu in range(nv):
            cpus = np.arange(node * per, (node + 1) * per)
            cpu = int(cpus[np.argmin(cpu_count[cpus])])
            cpu_count[cpu] += 1
            pins.append(cpu)
    return np.array(pins), np.array(home)


def serve(demand, pins, remote, extra, args, host_cpus):
    """(served per vCPU, remote-served per vCPU) for one step.

    remote: per vCPU, the share of its VM's memory off its CPU's node (0..1);
    extra: per vCPU, the factor (>= 1) of move and migration costs.
    """
    need = demand * (1.0 + args.remote_penalty * remote) * extra
    load = np.bincount(pins, weights=need, minlength=host_cpus)
    frac = np.where(load > 1.0, 1.0 / np.maximum(load, 1e-12), 1.0)
    served = demand * frac[pins]
    return served, served * remote


def serve_pools(demand, pool, pool_cpus, remote, extra, args):
    """(served per vCPU, remote-served per vCPU) for one step when vCPUs float in pools of CPUs.

    pool: per vCPU, the index of its pool; pool_cpus: CPUs per pool. A pool serves
    min(what its vCPUs need, its CPUs) with each vCPU capped at one CPU, every vCPU
    the same fraction of what it needs (a pinned CPU's rule, over the pool). What a
    vCPU needs: demand x (1 + remote_penalty x remote) x extra x (1 + --float-cost),
    the last the extra work a floating vCPU does (cache refills after the kernel moves it).
    """
    need = demand * (1.0 + args.remote_penalty * remote) * extra * (1.0 + args.float_cost)
    capped = np.minimum(need, 1.0)
    load = np.bincount(pool, weights=capped, minlength=len(pool_cpus))
    frac = np.where(load > pool_cpus, pool_cpus / np.maximum(load, 1e-12), 1.0)
    served = demand * frac[pool] * np.where(need > 1.0, 1.0 / np.maximum(need, 1e-12), 1.0)
    return served, served * remote


def choose_nodes(peaks, node_of, nvs, node_cpus, args, period):
    """numad's re-choice: (new node per VM, VMs moved), from each VM's peak demand.

    Greedy, one VM at a time, at most --max-moves VMs per plan, each VM once:
    the move that most cuts the demand over the nodes' CPUs (the sum over nodes
    of max(0, sum of its VMs' peaks - its CPUs)), taken while its cut over the
    period (K steps at the peak) beats what moving costs the VM once: its
    memory's migration (--migrate-penalty, plus --remote-penalty on the half
    still away, for --migrate-steps steps) and the cold caches (--move-penalty),
    on its peak, and the planner's --hysteresis (with --memory static: the remote
    penalty over the whole period instead of the migration). A VM must fit its
    node's CPUs.
    Nothing moves where no node is over its CPUs.
    """
    node_of = node_of.copy()
    load = np.bincount(node_of, weights=peaks, minlength=len(node_cpus))
    moved = []
    if args.memory == 'follow':
        once = (args.migrate_penalty + 0.5 * args.remote_penalty) * max(1, args.migrate_steps) + args.move_penalty
    else:   # the memory stays behind: remote for the whole period
        once = args.remote_penalty * period + args.move_penalty
    for _round in range(args.max_moves):
        over = np.maximum(load - node_cpus, 0.0)
        if over.sum() <= 1e-9:
            break
        best = None
        for v in np.nonzero(over[node_of] > 0)[0]:
            if v in moved:
                continue
            a = node_of[v]
            for b in range(len(node_cpus)):
                if b == a or nvs[v] > node_cpus[b]:
                    continue
                after = (max(load[a] - peaks[v] - node_cpus[a], 0.0) + max(load[b] + peaks[v] - node_cpus[b], 0.0))
                cut = over[a] + over[b] - after
                if cut * period <= once * peaks[v] + args.hysteresis:
                    continue
                key = (-cut, nvs[v], int(v), b)
                if best is None or key < best[0]:
                    best = (key, int(v), b)
        if best is None:
            break
        _key, v, b = best
        load[node_of[v]] -= peaks[v]
        load[b] += peaks[v]
        node_of[v] = b
        moved.append(v)
    return node_of, moved


def run_pools(policy, demand, nvs, starts, vm_home, args, period):
    """One host's figures for a pool policy (float, numad, pool_oracle), as run_host's for the others.

    float: every vCPU floats over the whole host; memory stays where first touched
    (each VM's first node, the static placement's), and a vCPU runs on each node
    in proportion to its CPUs, so the share of its memory off its CPU's node is
    1 - sum over nodes of (node CPUs / host CPUs) x (the VM's memory there):
    1/2 on 2 equal nodes. Never re-placed, no migrations.
    numad: each VM floats in one node's CPUs with strict memory there (its first
    node to start with); every K steps the node is re-chosen from each VM's peak
    demand over the last period (choose_nodes), applied after --apply-delay like a
    plan; a VM's change of node counts its vCPUs as moves, its vCPUs pay
    --move-penalty in that step and its memory migrates as the planner policies'
    does (with --memory follow).
    pool_oracle: numad's placement fed the true peak of the coming period.
    All pay --float-cost on every step (serve_pools).
    """
    t_len, n_v = demand.shape
    nodes = args.nodes
    per = args.host_cpus // nodes
    node_cpus = np.full(nodes, float(per))
    vm_of = np.repeat(np.arange(len(nvs)), nvs)
    nvs_a = np.array(nvs)
    vm_dem = np.add.reduceat(demand, starts, axis=1)   # (T, VMs)
    mem = Memory(vm_home, nodes, args.migrate_steps)
    no_extra = np.ones(n_v)
    follow = args.memory == 'follow'
    delay_steps = int(math.floor(args.apply_delay))
    delay_frac = args.apply_delay - delay_steps
    if policy == 'float':
        pool, pool_cpus = np.zeros(n_v, dtype=int), np.array([float(args.host_cpus)])
        feed = None
    else:
        pool_cpus = node_cpus
        feed = behind_max(vm_dem, period) if policy == 'numad' else ahead_max(vm_dem, period)
    node_of = np.array(vm_home, dtype=int)

    def step(t, node_of, moved):
        place, migrating = mem.at(t)
        if policy == 'float':
            remote = 1.0 - place[vm_of].dot(node_cpus / args.host_cpus)
            here = pool
        else:
            here = node_of[vm_of]
            remote = 1.0 - place[vm_of, here]
        extra = no_extra if moved is None else 1.0 + args.move_penalty * moved
        if migrating.any():
            extra = extra * (1.0 + args.migrate_penalty * migrating[vm_of])
        return serve_pools(demand[t], here, pool_cpus, remote, extra, args)

    tally = Tally(demand, starts, vm_dem)
    moves = migrations = plans = 0
    change_steps = []
    pending = None
    for t in range(t_len):
        if feed is not None and t > 0 and t % period == 0:
            peaks = feed[t]
            if (np.bincount(node_of, weights=peaks, minlength=nodes) > node_cpus + 1e-9).any():
                plans += 1
                new, moved_vms = choose_nodes(peaks, node_of, nvs_a, node_cpus, args, period)
                if moved_vms:
                    moves += int(nvs_a[moved_vms].sum())
                    numa = {}
                    if follow:
                        for v in moved_vms:
                            row = np.zeros(nodes)
                            row[new[v]] = 1.0
                            numa[v] = row
                    pending = (t + delay_steps, new, numa)
        if pending is not None and pending[0] == t:
            _when, new, numa = pending
            pending = None
            if delay_frac > 0:
                old_served, old_rem = step(t, node_of, None)
            moved = (new != node_of)[vm_of]
            if moved.any():
                change_steps.append(t)
            node_of = new
            migrations += mem.apply(t, numa)
            served, rem = step(t, node_of, moved)
            if delay_frac > 0:
                served = delay_frac * old_served + (1.0 - delay_frac) * served
                rem = delay_frac * old_rem + (1.0 - delay_frac) * rem
        else:
            served, rem = step(t, node_of, None)
        tally.step(t, served, rem)
    return dict(tally.figures(), moves=moves, migrations=migrations, plans=plans, change_steps=change_steps,
                vm_steps=t_len * len(nvs), vm_hours=t_len * len(nvs) / 12.0, host_hours=t_len / 12.0)


def serve_spans(demand, share, node_cpus, remote, extra, args):
    """serve_pools for vCPUs that may float over several nodes' pools: (served, remote-served) per vCPU.

    share: (vCPUs, nodes), the part of each vCPU's time on each node (rows sum
    to 1): one-hot for a VM in one node's pool (then this is serve_pools with a
    pool per node), and each node's share of the span's CPUs for a VM the
    planner spans over several (the kernel spreads it like float spreads a VM
    over the host). A node serves min(what is there, its CPUs), each vCPU capped
    at one CPU; a vCPU gets the time-weighted fraction of its nodes.
    """
    need = demand * (1.0 + args.remote_penalty * remote) * extra * (1.0 + args.float_cost)
    capped = np.minimum(need, 1.0)
    load = capped.dot(share)
    frac = np.where(load > node_cpus, node_cpus / np.maximum(load, 1e-12), 1.0)
    served = demand * share.dot(frac) * np.where(need > 1.0, 1.0 / np.maximum(need, 1e-12), 1.0)
    return served, served * remote


def pool_planner_policy(args, period):
    """The planner policy of the pinning policies (planner_policy), with placement: pool and the loop's period
    as lookahead_s (what the rebalance role sets from rebalance_period_s): a move's relief counts for the period."""
    pol = planner_policy(args)
    pol['placement'] = 'pool'
    pol['lookahead_s'] = period * 300
    return pol


class Tally(object):
    """What every policy's loop counts each step, the same way: demand unserved, remote and served CPU, SLO misses."""

    def __init__(self, demand, starts, vm_dem):
        self.demand, self.starts, self.vm_dem = demand, starts, vm_dem
        self.unserved = np.zeros(demand.shape[0])
        self.remote = self.served = 0.0
        self.slo_bad = 0        # VM-steps served below 90 % of their demand

    def step(self, t, served, rem):
        self.unserved[t] = self.demand[t].sum() - served.sum()
        self.remote += rem.sum()
        self.served += served.sum()
        vm_srv = np.add.reduceat(served, self.starts)
        self.slo_bad += int(np.sum(vm_srv < 0.9 * self.vm_dem[t] - 1e-9))

    def figures(self):
        return {'unserved': self.unserved, 'total': self.demand.sum(axis=1), 'remote': self.remote, 'served': self.served,
                'slo_bad': self.slo_bad}


def node_shares(nodesets, node_cpus):
    """(VMs, nodes): each VM's time on each node of its nodeset, in proportion to the nodes' CPUs."""
    out = np.zeros((len(nodesets), len(node_cpus)))
    for v, nodes in enumerate(nodesets):
        nodes = list(nodes)
        out[v, nodes] = node_cpus[nodes] / node_cpus[nodes].sum()
    return out


def pool_plan_needed(p90, vcpu_share, node_cpus, nodesets, nvs):
    """Whether the planner could change anything: a node forecast over its CPUs, or a VM that spans or overfills one.

    Without either, plan() with placement: pool keeps every VM on its node (it
    fits, and no node is hot even at the p90, which bounds the auto demand) and
    its pool is already that node's CPUs: no move, so the call is skipped.
    """
    if (np.minimum(p90, 1.0).dot(vcpu_share) > node_cpus + 1e-9).any():
        return True
    return any(len(nodes) > 1 or nv > node_cpus[nodes[0]] for nodes, nv in zip(nodesets, nvs))


def pool_plan_step(topo, names, nodesets, numatunes, p50, p90, pol, vcpu_slices, node_cpuset):
    """(nodeset per VM, {move kind: count}) from the product's planner with placement: pool.

    Each VM is handed to plan() as it runs: every vCPU (and the emulator) on its
    nodeset's CPUs, numatune as its memory lies. The plan's
    allocations[vm]['numa']['nodeset'] is the VM's new node(s); its pool
    (allocations[vm]['vcpus']) must be those nodes' CPUs, all of them (the
    sim has no pools below a node: the planner makes none without max_cpus or
    dedicated VMs, which this policy has not).
    """
    current, forecasts, text = {}, {}, {}
    for v, name in enumerate(names):
        nodes = nodesets[v]
        if nodes not in text:
            text[nodes] = cpuset.format(sorted(c for n in nodes for c in node_cpuset[n]))
        sl = vcpu_slices[v]
        current[name] = {'vcpus': dict((str(i), text[nodes]) for i in range(sl.stop - sl.start)),
                         'emulator': text[nodes], 'iothreads': {}, 'numatune': numatunes[v]}
        forecasts[name] = {'horizons_s': [300], 'vcpu': dict(
            (str(i), {'p50': [float(a)], 'p90': [float(b)]}) for i, (a, b) in enumerate(zip(p50[sl], p90[sl])))}
    result = planner.plan(topo, current, forecasts, pol)
    new, pools = [], {}
    for name in names:
        alloc = result['allocations'][name]
        nodes = tuple(sorted(cpuset.parse(alloc['numa']['nodeset'])))
        want = frozenset(c for n in nodes for c in node_cpuset[n])
        for cpus in alloc['vcpus'].values():
            if cpus not in pools:
                pools[cpus] = cpuset.parse(cpus)
            if pools[cpus] != want:
                raise ValueError('policy_sim: the planner gave VM %s the pool %s, not all CPUs of its node(s) %s: '
                                 'the sim models pools of whole nodes only' % (name, cpus, cpuset.format(nodes)))
        new.append(nodes)
    kinds = {}
    for move in result['moves']:
        kinds[move['kind']] = kinds.get(move['kind'], 0) + 1
    return new, kinds


def run_planner_pools(demand, nvs, starts, names, vm_home, args, period, feed, topo):
    """One host's figures for reactive_pool or predictive_pool (issue 25, 4), as run_pools' for numad.

    Every K steps the product's planner (planner.plan, placement: pool) is fed
    the feed (p50, p90) per vCPU: reactive_peak's for reactive_pool, predictive's
    for predictive_pool. Each VM floats in its nodeset's pool, as numad's VMs in
    their node (the same start: each VM's first node), served by the same pool
    accounting (serve_spans: serve_pools with a pool per node); a VM the planner
    spans over several nodes runs on each in proportion to its CPUs with its
    memory interleaved over them (1/2 of it remote on 2 nodes, as the pinning
    policies' interleave). A plan applies after --apply-delay; a VM whose
    nodeset changes counts its vCPUs as moves, pays --move-penalty in that step
    and its memory migrates as numad's (with --memory follow). Also returned:
    the planner's moves by kind, the VM-steps spent spanning, and the planner's
    time.
    """
    t_len, n_v = demand.shape
    nodes = args.nodes
    per = args.host_cpus // nodes
    node_cpus = np.full(nodes, float(per))
    node_cpuset = [list(range(n * per, (n + 1) * per)) for n in range(nodes)]
    vm_of = np.repeat(np.arange(len(nvs)), nvs)
    nvs_a = np.array(nvs)
    slices = [slice(int(s), int(s) + n) for s, n in zip(starts, nvs)]
    vm_dem = np.add.reduceat(demand, starts, axis=1)   # (T, VMs)
    mem = Memory(vm_home, nodes, args.migrate_steps)
    no_extra = np.ones(n_v)
    follow = args.memory == 'follow'
    delay_steps = int(math.floor(args.apply_delay))
    delay_frac = args.apply_delay - delay_steps
    pol = pool_planner_policy(args, period)
    p50, p90 = feed
    nodesets = [(int(h),) for h in vm_home]
    share = node_shares(nodesets, node_cpus)[vm_of]   # (vCPUs, nodes)

    def step(t, share, moved):
        place, migrating = mem.at(t)
        remote = 1.0 - (share * place[vm_of]).sum(axis=1)
        extra = no_extra if moved is None else 1.0 + args.move_penalty * moved
        if migrating.any():
            extra = extra * (1.0 + args.migrate_penalty * migrating[vm_of])
        return serve_spans(demand[t], share, node_cpus, remote, extra, args)

    tally = Tally(demand, starts, vm_dem)
    planner_s = 0.0
    moves = migrations = plans = span_steps = 0
    change_steps, kinds = [], {}
    pending = None
    for t in range(t_len):
        if t > 0 and t % period == 0 and pool_plan_needed(np.maximum(p50[t], p90[t]), share, node_cpus, nodesets, nvs):
            plans += 1
            tunes = [mem.numatune(v) for v in range(len(names))]
            began = time.time()
            new, got = pool_plan_step(topo, names, nodesets, tunes, p50[t], p90[t], pol, slices, node_cpuset)
            planner_s += time.time() - began
            for kind, n in got.items():
                kinds[kind] = kinds.get(kind, 0) + n
            changed = [v for v in range(len(names)) if new[v] != nodesets[v]]
            if changed:
                moves += int(nvs_a[changed].sum())
                numa = {}
                if follow:
                    for v in changed:
                        row = np.zeros(nodes)
                        row[list(new[v])] = 1.0 / len(new[v])
                        numa[v] = row
                pending = (t + delay_steps, new, numa)
        if pending is not None and pending[0] == t:
            _when, new, numa = pending
            pending = None
            if delay_frac > 0:
                old_served, old_rem = step(t, share, None)
            moved_vm = np.array([new[v] != nodesets[v] for v in range(len(names))])
            moved = moved_vm[vm_of]
            if moved.any():
                change_steps.append(t)
            nodesets = new
            share = node_shares(nodesets, node_cpus)[vm_of]
            migrations += mem.apply(t, numa)
            served, rem = step(t, share, moved)
            if delay_frac > 0:
                served = delay_frac * old_served + (1.0 - delay_frac) * served
                rem = delay_frac * old_rem + (1.0 - delay_frac) * rem
        else:
            served, rem = step(t, share, None)
        span_steps += sum(1 for n in nodesets if len(n) > 1)
        tally.step(t, served, rem)
    return dict(tally.figures(), moves=moves, migrations=migrations, plans=plans, change_steps=change_steps,
                vm_steps=t_len * len(nvs), vm_hours=t_len * len(nvs) / 12.0, host_hours=t_len / 12.0,
                planner_moves=kinds, span_vm_steps=span_steps, planner_s=planner_s)


class Memory(object):
    """Each VM's memory placement: the share of its memory on each node, and its migration.

    to[v]: where the last applied nodeset puts it (even over the nodeset);
    frm[v], start[v], moved[v]: where it was when that nodeset was applied,
    the step, and the share of the memory that moves (half the L1 distance).
    A migration lasts `steps` steps; step start + j counts the placement at its
    midpoint, frm + (to - frm) x (j + 0.5) / steps.
    """

    def __init__(self, homes, nodes, steps):
        self.to = np.zeros((len(homes), nodes))
        self.to[np.arange(len(homes)), homes] = 1.0
        self.frm = self.to.copy()
        self.start = np.full(len(homes), -10 ** 9)
        self.moved = np.zeros(len(homes))
        self.steps = steps
        self.until = -1   # the last step any migration runs in

    def at(self, t):
        """(placement (VMs, nodes), migrating share m per VM (0 where none)) during step t."""
        if t > self.until:
            return self.to, np.zeros(len(self.to))
        j = t - self.start
        done = np.clip((j + 0.5) / self.steps, 0.0, 1.0)
        place = self.frm + (self.to - self.frm) * done[:, None]
        active = (j >= 0) & (j < self.steps)
        return place, np.where(active, self.moved, 0.0)

    def apply(self, t, changes):
        """changes: {vm index: new placement row}, applied from step t; returns how many actually move."""
        place, _m = self.at(t)
        n = 0
        for v, row in changes.items():
            moved = 0.5 * float(np.abs(row - place[v]).sum())
            if moved < 1e-9:
                continue
            n += 1
            self.frm[v] = place[v]
            self.to[v] = row
            self.moved[v] = moved
            self.start[v] = t
            if self.steps > 0:
                self.until = max(self.until, t + self.steps - 1)
            else:
                self.frm[v] = row
        return n

    def numatune(self, v):
        nodes = [int(n) for n in np.nonzero(self.to[v] > 1e-9)[0]]
        if len(nodes) == 1:
            return {'mode': 'strict', 'nodeset': str(nodes[0])}
        return {'mode': 'interleave', 'nodeset': cpuset.format(nodes)}


def planner_policy(args):
    return {'max_moves': args.max_moves, 'hysteresis': args.hysteresis, 'capacity': 1.0,
            'quantile': args.planner_quantile, 'memory_mode': 'strict'}


def plan_step(topo, names, vcpu_slices, pins, numatunes, p50, p90, pol, planner_homes, nodes):
    """(new pins, rebalance moves, {vm index: new memory placement row} for nodeset changes)."""
    current, forecasts = {}, {}
    for v, name in enumerate(names):
        sl = vcpu_slices[v]
        current[name] = {'vcpus': dict((str(i), str(int(c))) for i, c in enumerate(pins[sl])),
                         'emulator': '', 'iothreads': {}, 'numatune': numatunes[v]}
        forecasts[name] = {'horizons_s': [300], 'vcpu': dict(
            (str(i), {'p50': [float(a)], 'p90': [float(b)]}) for i, (a, b) in enumerate(zip(p50[sl], p90[sl])))}
    result = planner.plan(topo, current, forecasts, pol)
    new = pins.copy()
    for move in result['moves']:
        v = planner_homes[move['vm']]
        new[vcpu_slices[v].start + move['vcpu']] = int(move['to'])
    numa = {}
    for entry in result['plan']['numa_memory']:
        on = sorted(cpuset.parse(entry['nodeset']))
        row = np.zeros(nodes)
        row[on] = 1.0 / len(on)
        numa[planner_homes[entry['name']]] = row
    return new, len([m for m in result['moves'] if m['kind'] == 'rebalance']), numa


# ---------------------------------------------------------------- forecasters
class BaselineForecaster(object):
    """Per-vCPU baseline forecasts from history only (row t uses rows < t).

    kinds: last_err = last value + P(q) of the last `window` one-step changes;
    window_max = highest of the last `window` values; seasonal = the larger of
    last_err and the value one day earlier at the forecast step. The simple
    alternative to the predictor's LSTM (--forecaster lstm); labelled
    'baseline' in every output.
    """

    def __init__(self, kind, window, q):
        self.kind = kind
        self.window = window
        self.q = q
        self.label = 'baseline %s (window %d, q %.2f)' % (kind, window, q)

    def forecast(self, demand):
        """(p50, p90) arrays shaped like demand."""
        from numpy.lib.stride_tricks import sliding_window_view  # pylint: disable=import-outside-toplevel
        t_len, w = demand.shape[0], self.window
        last = np.vstack([demand[:1] * 0, demand[:-1]])
        padded = np.vstack([np.zeros((w, demand.shape[1])), demand])
        if self.kind == 'window_max':
            win = sliding_window_view(padded, w, axis=0)  # row t: demand rows t-w..t-1
            return last, win[:t_len].max(axis=2)
        err = np.vstack([np.zeros((1, demand.shape[1])), np.diff(demand, axis=0)])
        err_pad = np.vstack([np.zeros((w, demand.shape[1])), err])
        qs = np.quantile(sliding_window_view(err_pad, w, axis=0)[:t_len], self.q, axis=2)  # errors of rows t-w..t-1
        p90 = np.clip(last + np.maximum(qs, 0.0), 0.0, 1.0)
        if self.kind == 'seasonal' and t_len > STEPS_PER_DAY:
            p90[STEPS_PER_DAY:] = np.maximum(p90[STEPS_PER_DAY:], demand[:-STEPS_PER_DAY])
        return last, p90


class PredictorBaselineForecaster(object):
    """One of the predictor engineer's baselines (services/predictor/baselines.py), per vCPU.

    Their functions return, at element t, the forecast made at t for t+h; with
    h = 1 that is shifted by one step so row t only uses rows < t.
    """

    def __init__(self, name):
        from ansible_collections.adaptive.intravm.services.predictor import baselines  # pylint: disable=import-outside-toplevel
        self.fn = dict(baselines.BASELINES)[name]
        self.label = 'services/predictor baseline %s (per vCPU, h=1)' % name

    def forecast(self, demand):
        p50 = np.zeros_like(demand)
        p90 = np.zeros_like(demand)
        for v in range(demand.shape[1]):
            a, b = self.fn(demand[:, v], 1)
            p50[1:, v], p90[1:, v] = a[:-1], b[:-1]
        return np.clip(p50, 0.0, 1.0), np.clip(p90, 0.0, 1.0)


def make_forecaster(args, pretrain=None):
    if args.forecaster == 'baseline':
        return BaselineForecaster(args.baseline, args.window, args.err_quantile)
    if args.forecaster == 'predictor-baseline':
        return PredictorBaselineForecaster(args.predictor_baseline)
    import torch  # pylint: disable=import-outside-toplevel
    from ansible_collections.adaptive.intravm.benchmarks import sim_adapter  # pylint: disable=import-outside-toplevel
    # One torch thread: its idle pool threads spin beside the Python planning loop and the
    # workers; with the default (2 here) a calibration run took over 25 min, with 1 about 9.
    torch.set_num_threads(1)
    forecaster = sim_adapter.Forecaster(args)
    if pretrain is not None:
        forecaster.pretrain(*pretrain)
    return forecaster


def pretrain_columns(all_traces, args):
    """(T, V) per-vCPU demand of VMs and days the run does not simulate, and its description.

    The LSTM's global model trains on these once: for the evaluation split the
    calibration VMs (odd ids, days 1-7); for the calibration split the even
    ids over the same days. None for --split all (each host then trains on its
    own first third, as sim_adapter does without a pretrained model).
    """
    if args.split == 'all':
        return None
    parity = 1 if args.split == 'eval' else 0
    window = slice(0, 7 * STEPS_PER_DAY)
    rng = np.random.default_rng(args.seed + 1000)
    cols = []
    for tr in all_traces:
        try:
            num = int(tr.vm_id)
        except ValueError:
            continue
        if num % 2 != parity:
            continue
        dem = np.clip(traces.fill_gaps(tr.cpu_demand)[window], 0.0, 1.0)
        if len(dem) < 7 * STEPS_PER_DAY:
            continue
        nv = vm_vcpus(tr, args.max_vcpus)
        cols.append(vcpu_demand(dem * nv, nv, rng, args.alpha, args.phase_hours * 12))
    if not cols:
        return None
    return np.hstack(cols), '%s VMs (%s ids), days 1-7' % (len(cols), 'odd' if parity else 'even')


# ---------------------------------------------------------------- what each policy is fed
def ahead_max(demand, k):
    """Row t: the highest of rows t .. t+k-1 (fewer at the end)."""
    from numpy.lib.stride_tricks import sliding_window_view  # pylint: disable=import-outside-toplevel
    if k <= 1:
        return demand.copy()
    padded = np.vstack([demand, np.full((k - 1, demand.shape[1]), -np.inf)])
    return sliding_window_view(padded, k, axis=0).max(axis=2)


def behind_max(demand, k):
    """Row t: the highest of rows t-k .. t-1 (from row 0 at the start; row 0 itself at t = 0)."""
    out = np.empty_like(demand)
    out[0] = demand[0]
    if len(demand) > 1:
        out[1:] = np.maximum.accumulate(demand, axis=0)[:-1]
    if len(demand) > k:
        out[k:] = ahead_max(demand, k)[:len(demand) - k]
    return out


def peak_forecast(demand, k, q=PEAK_QUANTILE):
    """(p50, p90): row t forecasts the peak of rows t .. t+k-1 from rows < t, per column.

    services/predictor/memory_forecast.peak_quantiles made at t-1 with horizon k
    (element t-1 forecasts max(x[t .. t+k-1]) from x[0 .. t-1]); the last value
    where it has too few resolved ratios yet. Clipped to 0..1 (one vCPU, one CPU).
    """
    last = np.vstack([demand[:1], demand[:-1]])
    p50, p90 = last.copy(), last.copy()
    k50, kq = memory_forecast.key(0.5), memory_forecast.key(q)
    for v in range(demand.shape[1]):
        fc = memory_forecast.peak_quantiles(demand[:, v], horizon=k, quantiles=(0.5, q))
        a, b = fc[k50][:-1], fc[kq][:-1]
        p50[1:, v] = np.where(np.isfinite(a), a, last[1:, v])
        p90[1:, v] = np.where(np.isfinite(b), b, last[1:, v])
    return np.clip(p50, 0.0, 1.0), np.clip(p90, 0.0, 1.0)


def predictive_feed(demand, period, forecaster):
    """(p50, p90) of the product's forecasts for a (T, V) matrix, row t from rows < t."""
    if period == 1:
        return forecaster.forecast(demand)
    if getattr(forecaster, 'windows', False):
        return forecaster.forecast(demand, window=period)
    return peak_forecast(demand, period)


def feeds_for(demand, period, forecaster, policies, predictive=None):
    """{policy: (p50, p90)}, row t: what a plan made at the start of step t is fed.

    predictive: that policy's feed when already made (the LSTM forecasts every
    host's columns in one batch, see Sweep.predictive_feeds).
    """
    last = np.vstack([demand[:1], demand[:-1]])
    feeds = {}
    if 'reactive' in policies:
        feeds['reactive'] = (last, last)
    if 'reactive_peak' in policies:
        peak = behind_max(demand, period)
        feeds['reactive_peak'] = (peak, peak)
    if 'oracle' in policies:
        peak = ahead_max(demand, period)
        feeds['oracle'] = (peak, peak)
    if 'predictive' in policies:
        feeds['predictive'] = predictive if predictive is not None else predictive_feed(demand, period, forecaster)
    return feeds


# ---------------------------------------------------------------- run
def build_workload(vms, args, overcommit):
    """Hosts packed at `overcommit`, each VM as (name, vCPUs, (T, vCPUs) demand); seeded by --seed."""
    rng = np.random.default_rng(args.seed)
    hosts = build_hosts(vms, args, rng, overcommit)
    return [[(n, nv, vcpu_demand(d, nv, rng, args.alpha, args.phase_hours * 12)) for n, nv, d in h] for h in hosts]


def run_host(host, args, forecaster, topo, policies=POLICIES, period=1, predictive=None):
    """{policy: figures of one host} for every policy, at one period; plus '_floor'."""
    names = [h[0] for h in host]
    nvs = [h[1] for h in host]
    demand = np.hstack([h[2] for h in host])  # (T, V)
    starts = np.cumsum([0] + nvs[:-1])
    slices = [slice(int(s), int(s) + n) for s, n in zip(starts, nvs)]
    index = dict((n, i) for i, n in enumerate(names))
    pins0, vm_home = static_pinning(host, args.host_cpus, args.nodes)
    vm_of = np.repeat(np.arange(len(names)), nvs)
    cpu_node = np.arange(args.host_cpus) // (args.host_cpus // args.nodes)
    t_len = demand.shape[0]
    wanted = [p for p in policies if p in PLANNED]
    wanted += [POOL_FEED[p] for p in policies if p in POOL_FEED and POOL_FEED[p] not in wanted]
    feeds = feeds_for(demand, period, forecaster, wanted, predictive)
    pol = planner_policy(args)
    delay_steps = int(math.floor(args.apply_delay))
    delay_frac = args.apply_delay - delay_steps
    follow = args.memory == 'follow'
    vm_dem = np.add.reduceat(demand, starts, axis=1)  # (T, VMs)
    no_extra = np.ones(len(pins0))
    # no pinning can serve more than the host has: the floor of unserved demand
    out = {'_floor': (np.maximum(demand.sum(axis=1) - args.host_cpus, 0.0).sum(), demand.sum())}

    for policy in policies:
        if policy in PLANNER_POOLS:
            out[policy] = run_planner_pools(demand, nvs, starts, names, vm_home, args, period,
                                            feeds[POOL_FEED[policy]], topo)
            continue
        if policy in POOL_POLICIES:
            out[policy] = run_pools(policy, demand, nvs, starts, vm_home, args, period)
            continue
        pins = pins0.copy()
        mem = Memory(vm_home, args.nodes, args.migrate_steps)

        def step(t, pins, moved, mem=mem):
            place, migrating = mem.at(t)
            remote = 1.0 - place[vm_of, cpu_node[pins]]
            extra = no_extra if moved is None else 1.0 + args.move_penalty * moved
            if migrating.any():
                extra = extra * (1.0 + args.migrate_penalty * migrating[vm_of])
            return serve(demand[t], pins, remote, extra, args, args.host_cpus)

        tally = Tally(demand, starts, vm_dem)
        moves = migrations = plans = 0
        change_steps = []
        pending = None
        for t in range(t_len):
            if policy != 'static' and t > 0 and t % period == 0:
                p50, p90 = feeds[policy]
                # without a forecast hotspot the planner returns no move: skip the call
                if np.bincount(pins, weights=p90[t], minlength=args.host_cpus).max() > 1.0 + 1e-9:
                    tunes = [mem.numatune(v) for v in range(len(names))]
                    new, n_moves, numa = plan_step(topo, names, slices, pins, tunes, p50[t], p90[t], pol, index,
                                                   args.nodes)
                    plans += 1
                    moves += n_moves
                    numa = numa if follow else {}
                    if (new != pins).any() or numa:
                        pending = (t + delay_steps, new, numa)
            if pending is not None and pending[0] == t:
                _when, new, numa = pending
                pending = None
                if delay_frac > 0:
                    old_served, old_rem = step(t, pins, None)
                moved = new != pins
                if moved.any():
                    change_steps.append(t)
                pins = new
                migrations += mem.apply(t, numa)
                served, rem = step(t, pins, moved)
                if delay_frac > 0:   # the first delay_frac of the step still ran on the old pins and memory
                    served = delay_frac * old_served + (1.0 - delay_frac) * served
                    rem = delay_frac * old_rem + (1.0 - delay_frac) * rem
            else:
                served, rem = step(t, pins, None)
            tally.step(t, served, rem)
        out[policy] = dict(tally.figures(), moves=moves, migrations=migrations, plans=plans, change_steps=change_steps,
                           vm_steps=t_len * len(names), vm_hours=t_len * len(names) / 12.0, host_hours=t_len / 12.0)
    return out


_JOB = {}


def _run_task(task):
    """One (host, policy) of the job in _JOB (forked workers inherit it)."""
    i, policy = task
    made = _JOB['predictive'][i] if _JOB.get('predictive') and policy in FED_PREDICTIVE else None
    return i, policy, run_host(_JOB['work'][i], _JOB['args'], _JOB['forecaster'], _JOB['topo'], (policy,),
                               _JOB['period'], made)[policy]


class Sweep(object):
    """Workloads, and per-host results of every (overcommit, period, policy) run, computed once each.

    static never plans, so its results do not depend on the period (or delay) and are shared.
    """

    def __init__(self, vms, args, topo, forecaster):
        self.vms, self.args, self.topo, self.forecaster = vms, args, topo, forecaster
        self.work = {}
        self.results = {}
        self.made = {}   # (overcommit, period): the LSTM's per-host feeds (Sweep.predictive_feeds), made once
        self.t0 = time.time()

    def workload(self, level):
        if level not in self.work:
            self.work[level] = build_workload(self.vms, self.args, level)
        return self.work[level]

    def run(self, level, period, policies):
        """[{policy: figures, '_floor': ...} per host] at one overcommit and period."""
        work = self.workload(level)
        keys = dict((p, (level, None if p in UNPLANNED else period, p)) for p in policies)
        todo = [(i, p) for p in policies if keys[p] not in self.results for i in range(len(work))]
        if todo:
            _JOB.update(work=work, args=self.args, forecaster=self.forecaster, topo=self.topo, period=period,
                        predictive=None)
            if getattr(self.forecaster, 'windows', False) and any(p in FED_PREDICTIVE for _i, p in todo):
                if (level, period) not in self.made:   # predictive and predictive_pool share one batch
                    self.made[(level, period)] = self.predictive_feeds(work, period)
                _JOB['predictive'] = self.made[(level, period)]
            jobs = self.args.jobs
            if jobs > 1 and len(todo) > 1:
                pool = multiprocessing.get_context('fork').Pool(min(jobs, len(todo)))
                try:
                    done = pool.map(_run_task, todo, chunksize=1)
                finally:
                    pool.close()
                    pool.join()
            else:
                done = [_run_task(task) for task in todo]
            for p in set(p for _i, p in todo):
                self.results[keys[p]] = [None] * len(work)
            for i, p, figures in done:
                self.results[keys[p]][i] = figures
            sys.stderr.write('policy_sim: overcommit %s, period %d: %d hosts x %s simulated (%.0f s)\n'
                             % (level, period, len(work), ','.join(sorted(set(p for _i, p in todo))),
                                time.time() - self.t0))
        per_host = []
        for i, host in enumerate(work):
            dem = np.hstack([h[2] for h in host])
            entry = {'_floor': (np.maximum(dem.sum(axis=1) - self.args.host_cpus, 0.0).sum(), dem.sum())}
            for p in policies:
                entry[p] = self.results[keys[p]][i]
            per_host.append(entry)
        return per_host

    def predictive_feeds(self, work, period):
        """[(p50, p90) per host], made here so the workers that plan need no torch.

        With a pretrained global model every column adapts its own online model
        (training.OnlineLearner), so a column's forecasts do not depend on the
        others it is batched with: one batch over all hosts keeps torch's
        per-call overhead out of the sweep. Without one (--split all) each host
        trains its global model on its own first rows, so hosts go one by one.
        """
        demands = [np.hstack([vm[2] for vm in host]) for host in work]
        if getattr(self.forecaster, 'pretrain_on', None) is None:
            return [predictive_feed(d, period, self.forecaster) for d in demands]
        p50, p90 = predictive_feed(np.hstack(demands), period, self.forecaster)
        edges = np.cumsum([0] + [d.shape[1] for d in demands])
        return [(p50[:, a:b], p90[:, a:b]) for a, b in zip(edges[:-1], edges[1:])]

    def choose_overcommit(self):
        """(overcommit, sweep): the lowest of OVERCOMMIT_LEVELS at which static leaves >= 5 % unserved.

        Decided on the simulated data itself, by the static policy alone (which
        uses no forecast), so the issue's premise holds on any month of traces
        and nothing about the other policies informs it.
        """
        sweep = {}
        for level in OVERCOMMIT_LEVELS:
            if not self.workload(level):
                break
            res = summarize(self.run(level, 1, ('static',)))
            sweep[str(level)] = res['static']['unserved_frac']
            if res['static']['unserved_frac'] >= STATIC_UNSERVED_MIN:
                return level, sweep
        raise SystemExit('policy_sim: static pinning leaves under %.0f%% unserved at every overcommit up to %s (%s); '
                         'pass --overcommits' % (100 * STATIC_UNSERVED_MIN, OVERCOMMIT_LEVELS[-1], sweep))


def summarize(per_host):
    res = {}
    for policy in [p for p in POLICIES if p in per_host[0]]:
        agg = [h[policy] for h in per_host]
        unserved = sum(a['unserved'].sum() for a in agg)
        total = sum(a['total'].sum() for a in agg)
        res[policy] = {
            'unserved_frac': round(max(0.0, float(unserved / total)), 5) if total else 0.0,
            'slo_violation_frac': round(float(sum(a['slo_bad'] for a in agg) / float(sum(a['vm_steps'] for a in agg))), 5),
            'moves_per_vm_hour': round(float(sum(a['moves'] for a in agg) / sum(a['vm_hours'] for a in agg)), 4),
            'numa_remote_frac': round(float(sum(a['remote'] for a in agg) / max(1e-12, sum(a['served'] for a in agg))), 5),
        }
    return res


def floor_of(per_host):
    return round(float(sum(h['_floor'][0] for h in per_host) / max(1e-12, sum(h['_floor'][1] for h in per_host))), 5)


def describe_run(per_host, level, setting, period):
    """One entry of the JSON's runs: figures per policy, the floor, and predictive against the others."""
    res = summarize(per_host)
    floor = floor_of(per_host)
    agg = dict((p, [h[p] for h in per_host]) for p in res)
    vm_hours = dict((p, sum(a['vm_hours'] for a in agg[p])) for p in res)
    run = {
        'period': period, 'overcommit': level, 'overcommit_setting': setting, 'policies': res,
        'hosts': len(per_host), 'floor_unserved_frac': floor,
        'unserved_above_floor_frac': dict((p, round(max(0.0, res[p]['unserved_frac'] - floor), 5)) for p in res),
        'numa_migrations_per_vm_hour': dict((p, round(sum(a['migrations'] for a in agg[p]) / vm_hours[p], 4))
                                            for p in res),
        'plans_per_host_hour': dict((p, round(sum(a['plans'] for a in agg[p])
                                              / sum(a['host_hours'] for a in agg[p]), 4)) for p in res),
    }
    run['comparison'] = compare(res)
    run['comparison_pools'] = compare_pools(run['unserved_above_floor_frac'])
    product = compare_product(run['unserved_above_floor_frac'])
    if product:
        run['comparison_product'] = product
    planned = {}
    for p in [p for p in res if p in PLANNER_POOLS]:
        kinds = {}
        for a in agg[p]:
            for kind, n in a['planner_moves'].items():
                kinds[kind] = kinds.get(kind, 0) + n
        plans = sum(a['plans'] for a in agg[p])
        planned[p] = {'planner_moves': kinds, 'plans': plans,
                      'span_vm_step_frac': round(sum(a['span_vm_steps'] for a in agg[p])
                                                 / float(sum(a['vm_steps'] for a in agg[p])), 5),
                      'planner_ms_per_plan': round(1000.0 * sum(a['planner_s'] for a in agg[p]) / max(1, plans), 2)}
    if planned:
        run['planner_pools'] = planned
    return run


def compare_product(above):
    """predictive_pool (the product: its planner, placement pool, its forecasts) against the others, above the floor.

    The issue's bar: below the best of float, numad, reactive_peak and
    reactive_pool; near pool_oracle; and what the forecasts add over
    reactive_pool (the same planner fed the last period's peak).
    """
    if 'predictive_pool' not in above:
        return {}
    mine = above['predictive_pool']
    out = {}
    others = [p for p in ('float', 'numad', 'reactive_peak', 'reactive_pool') if p in above]
    if others:
        best = min(others, key=lambda p: (above[p], p))
        out.update(best_other=best, predictive_pool_below_best_other=mine < above[best],
                   predictive_pool_vs_best_other=round(mine / above[best], 4) if above[best] > 0 else None)
    if 'pool_oracle' in above:
        out['predictive_pool_vs_pool_oracle'] = (round(mine / above['pool_oracle'], 4) if above['pool_oracle'] > 0
                                                 else None)
    if 'reactive_pool' in above:
        out['predictive_pool_cut_vs_reactive_pool'] = (round(1.0 - mine / above['reactive_pool'], 4)
                                                       if above['reactive_pool'] > 0 else None)
    return out


def compare_pools(above):
    """The pool baselines against the better reactive pinning and the oracles, in unserved demand above the floor."""
    pools = [p for p in ('float', 'numad') if p in above]
    reactive = [p for p in ('reactive', 'reactive_peak') if p in above]
    if not pools or not reactive:
        return {}
    best_pool = min(pools, key=lambda p: (above[p], p))
    best_reactive = min(reactive, key=lambda p: (above[p], p))
    out = {'better_pool': best_pool, 'better_reactive': best_reactive,
           'better_pool_vs_better_reactive': (round(above[best_pool] / above[best_reactive], 4)
                                              if above[best_reactive] > 0 else None)}
    if 'pool_oracle' in above and 'oracle' in above:
        out['pool_oracle_vs_oracle'] = round(above['pool_oracle'] / above['oracle'], 4) if above['oracle'] > 0 else None
    return out


def compare(res):
    """predictive against static, the better reactive policy and the oracle (issue 14's targets)."""
    if any(p not in res for p in PINNED_POLICIES):
        return {}
    u = dict((p, res[p]['unserved_frac']) for p in res)
    best = min(('reactive', 'reactive_peak'), key=lambda p: (u[p], p))
    b, p, o, s = u[best], u['predictive'], u['oracle'], u['static']
    best_moves = res[best]['moves_per_vm_hour']
    return {
        'better_reactive': best,
        'predictive_below_better_reactive': p < b,
        'predictive_moves_vs_better_reactive': (round(res['predictive']['moves_per_vm_hour'] / best_moves, 3)
                                                if best_moves > 0 else None),
        'predictive_share_of_oracle_margin': round((b - p) / (b - o), 4) if b > o else None,
        'predictive_cut_vs_static': round(1 - p / s, 4) if s else None,
    }


def capacity(sweep, period, policies, host_cpus):
    """The highest of OVERCOMMIT_LEVELS at which each policy keeps unserved demand <= 1 %, at one period.

    Levels are tried in order; a policy stops at its first level above 1 %
    (None: it misses already at the first level).
    """
    alive = [p for p in POLICIES if p in policies]
    best = dict((p, None) for p in alive)
    table = {}
    for level in OVERCOMMIT_LEVELS:
        if not alive or not sweep.workload(level):
            break
        res = summarize(sweep.run(level, period, alive))
        table[str(level)] = dict((p, res[p]['unserved_frac']) for p in alive)
        for p in list(alive):
            if res[p]['unserved_frac'] <= CAPACITY_UNSERVED_MAX:
                best[p] = level
            else:
                alive.remove(p)
    base = best.get('static')
    return {
        'period': period, 'max_unserved_frac': CAPACITY_UNSERVED_MAX, 'overcommit': best,
        'vcpus_per_host': dict((p, None if v is None else int(round(v * host_cpus))) for p, v in best.items()),
        'vs_static': dict((p, None if v is None or not base else round(v / base, 3)) for p, v in best.items()),
        'unserved_by_overcommit': table,
    }


def per_step_run(runs):
    """The run issue 6's per-step targets are about: period 1 at the first overcommit; None where not run."""
    mine = [r for r in runs if r['period'] == 1]
    return mine[0] if mine else None


def targets(res):
    """The per-step run's targets (issue 6), on the four original policies.

    res: the policies of the period-1 run (per_step_run) only; {} where a
    policy they compare is missing.
    """
    if any(k not in res for k in LEGACY_POLICIES):
        return {}
    s, r, p, o = (res[k]['unserved_frac'] for k in LEGACY_POLICIES)
    cut_static = 1 - p / s if s else 0.0
    cut_reactive = 1 - p / r if r else 0.0
    oracle_share = (s - p) / (s - o) if s > o else 0.0
    return {
        'static_unserved_at_least_5pct': {'value': s, 'target': 0.05, 'met': s >= 0.05},
        'predictive_cut_vs_static': {'value': round(cut_static, 4), 'target': 0.40, 'met': cut_static >= 0.40},
        'predictive_cut_vs_reactive': {'value': round(cut_reactive, 4), 'target': 0.15, 'met': cut_reactive >= 0.15},
        'predictive_share_of_oracle_reduction': {'value': round(oracle_share, 4), 'target': 0.80, 'met': oracle_share >= 0.80},
        'predictive_moves_per_vm_hour': {'value': res['predictive']['moves_per_vm_hour'], 'target': 2.0,
                                         'met': res['predictive']['moves_per_vm_hour'] <= 2.0},
    }


def plot(per_host, path, label):
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    fig, ax = plt.subplots(figsize=(11, 4.5))
    for policy in [p for p in POLICIES if p in per_host[0]]:
        unserved = sum(h[policy]['unserved'] for h in per_host)
        total = sum(h[policy]['total'] for h in per_host)
        k = 12  # hourly
        n = len(unserved) // k * k
        u = unserved[:n].reshape(-1, k).sum(axis=1) / np.maximum(total[:n].reshape(-1, k).sum(axis=1), 1e-12)
        ax.plot(np.arange(len(u)) / 24.0, 100 * u, label=policy, lw=0.8)
    ax.set_xlabel('day')
    ax.set_ylabel('unserved demand, % (hourly)')
    ax.set_title('policy_sim: unserved CPU demand per policy (%s)' % label)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_sweep(runs, path, label):
    """Unserved demand against moves per VM-hour, a line per policy through its periods, a panel per overcommit."""
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    levels = []
    for run in runs:
        if run['overcommit'] not in levels:
            levels.append(run['overcommit'])
    fig, axes = plt.subplots(1, len(levels), figsize=(6.2 * len(levels), 4.8), squeeze=False)
    markers = dict(zip(POLICIES, 'sov^DPX*hd'))
    for ax, level in zip(axes[0], levels):
        mine = sorted([r for r in runs if r['overcommit'] == level], key=lambda r: r['period'])
        for policy in POLICIES:
            pts = [(r['policies'][policy]['moves_per_vm_hour'], 100 * r['policies'][policy]['unserved_frac'],
                    r['period']) for r in mine if policy in r['policies']]
            if not pts:
                continue
            if policy in UNPLANNED:
                pts = pts[:1]
            ax.plot([x for x, _y, _k in pts], [y for _x, y, _k in pts], marker=markers[policy], label=policy, lw=0.9)
            for x, y, k in pts:
                if policy not in UNPLANNED:
                    ax.annotate('K=%d' % k, (x, y), textcoords='offset points', xytext=(4, 3), fontsize=7)
        ax.axhline(100 * mine[0]['floor_unserved_frac'], color='grey', ls=':', lw=0.8, label='floor (no pinning avoids)')
        ax.set_yscale('log')
        ax.set_xlabel('moves per VM-hour')
        ax.set_ylabel('unserved demand, %')
        ax.set_title('overcommit %s (%s)' % (level, mine[0]['overcommit_setting']))
        ax.legend(fontsize=8)
    fig.suptitle('policy_sim: loop period K (steps of 5 min) per policy; %s' % label, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def int_list(text):
    return [int(x) for x in text.split(',') if x.strip()]


def float_list(text):
    return [float(x) for x in text.split(',') if x.strip()]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--traces', default=os.path.join(REPO, '..', 'shared', 'data', 'traces'))
    p.add_argument('--limit-vms', type=int, default=None, help='load only the first N trace files')
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--split', choices=['eval', 'calib', 'all'], default='eval')
    p.add_argument('--days', type=float, default=None, help='simulate only this many days of the split')
    p.add_argument('--max-hosts', type=int, default=None)
    p.add_argument('--host-cpus', type=int, default=32)
    p.add_argument('--nodes', type=int, default=2)
    p.add_argument('--overcommits', default='auto,2.5',
                   help='comma-separated vCPUs per host CPU to run, auto: the lowest of %s at which static pinning '
                        'leaves >= 5%%%% of the simulated demand unserved (default auto,2.5)'
                        % ', '.join(str(x) for x in OVERCOMMIT_LEVELS))   # %%%% -> %% here -> % in argparse's help
    p.add_argument('--overcommit', default=None, help='one overcommit only (overrides --overcommits)')
    p.add_argument('--periods', default='1,3,12', help='comma-separated loop periods in 5-minute steps (default 1,3,12)')
    p.add_argument('--period', type=int, default=None, help='one period only (overrides --periods)')
    p.add_argument('--apply-delay', type=float, default=0.1,
                   help='steps from the end of a plan\'s data to its pins taking effect (default 0.1 = 30 s)')
    p.add_argument('--capacity-period', type=int, default=3,
                   help='period of the capacity figure (highest overcommit at <= 1%% unserved); 0: none')
    p.add_argument('--max-vcpus', type=int, default=8)
    p.add_argument('--alpha', type=float, default=0.5, help='Dirichlet concentration of the per-vCPU split')
    p.add_argument('--phase-hours', type=float, default=6.0)
    p.add_argument('--remote-penalty', type=float, default=0.15)
    p.add_argument('--move-penalty', type=float, default=0.10)
    p.add_argument('--memory', choices=['follow', 'static'], default='follow',
                   help='follow: memory moves with the plan\'s numatune (default); static: never moves')
    p.add_argument('--migrate-steps', type=int, default=1, help='steps a nodeset change takes to move the memory')
    p.add_argument('--migrate-penalty', type=float, default=0.2,
                   help='extra CPU a migrating VM\'s vCPUs need, per share of its memory moved')
    p.add_argument('--max-moves', type=int, default=4, help='planner moves per host per plan')
    p.add_argument('--hysteresis', type=float, default=0.02)
    p.add_argument('--float-cost', type=float, default=0.0,
                   help='float, numad and pool_oracle: extra work a floating vCPU does, as a fraction of its demand '
                        '(default 0.0, until benchmarks/float_cost.py has measured it)')
    p.add_argument('--float-cost-sweep', type=float_list, default=[],
                   help='comma-separated float costs at which the pool policies are run again (e.g. 0,0.005,0.01): '
                        'float_cost_sweep in each run and in the capacity figure')
    p.add_argument('--forecaster', choices=['baseline', 'predictor-baseline', 'lstm'], default='baseline',
                   help='the one-step forecaster of predictive at period 1')
    p.add_argument('--predictor-baseline', default='last_plus_err_p90',
                   help='with --forecaster predictor-baseline: a name from services/predictor/baselines.py')
    p.add_argument('--baseline', choices=['last_err', 'window_max', 'seasonal'], default='last_err')
    p.add_argument('--window', type=int, default=288, help='baseline: steps of history (chosen on the calibration split)')
    p.add_argument('--policies', default=','.join(POLICIES), help='comma-separated subset to run (static always runs)')
    p.add_argument('--err-quantile', type=float, default=0.9, help='baseline: quantile of one-step error')
    p.add_argument('--planner-quantile', choices=['p50', 'p90', 'auto'], default='auto',
                   help="the planner's demand quantile; auto: p50 plus the share of p90 - p50 the host has room for")
    p.add_argument('--jobs', type=int, default=1, help='worker processes (hosts x policies in parallel; the LSTM forecasts in the parent, batched)')
    p.add_argument('--json', dest='json_out')
    p.add_argument('--png', help='hourly unserved demand per policy of the default run')
    p.add_argument('--png-sweep', help='unserved demand against moves per VM-hour, every policy and period')
    args = p.parse_args(argv)
    args.periods = [args.period] if args.period else int_list(args.periods)
    args.overcommits = [args.overcommit] if args.overcommit else [x.strip() for x in args.overcommits.split(',') if x.strip()]
    if not args.periods or min(args.periods) < 1:
        p.error('--periods: whole steps >= 1')
    if args.apply_delay < 0 or math.floor(args.apply_delay) >= min(args.periods):
        p.error('--apply-delay must be >= 0 and below every period (a plan applies before the next one is made)')
    if args.migrate_steps < 0:
        p.error('--migrate-steps must be >= 0')
    if args.float_cost < 0 or any(c < 0 for c in args.float_cost_sweep):
        p.error('--float-cost and --float-cost-sweep: extra work, >= 0')
    return args


def sweep_float_costs(args, runs, cap, sweep, pool_policies):
    """Each run's (and the capacity figure's) pool policies again at every --float-cost-sweep cost, in place."""
    if not args.float_cost_sweep or not pool_policies:
        return
    for cost in args.float_cost_sweep:
        key = '%g' % cost
        other = argparse.Namespace(**vars(args))
        other.float_cost = cost
        at = Sweep(sweep.vms, other, sweep.topo, sweep.forecaster)
        at.work = sweep.work   # the same packings
        at.made = sweep.made   # and the same forecasts
        for run in runs:
            res = summarize(at.run(run['overcommit'], run['period'], pool_policies))
            run.setdefault('float_cost_sweep', {})[key] = dict(
                (p, {'unserved_frac': res[p]['unserved_frac'], 'moves_per_vm_hour': res[p]['moves_per_vm_hour'],
                     'unserved_above_floor_frac': round(max(0.0, res[p]['unserved_frac'] - run['floor_unserved_frac']), 5)})
                for p in pool_policies)
        if cap:
            cost_cap = capacity(at, cap['period'], pool_policies, args.host_cpus)
            cap.setdefault('float_cost_sweep', {})[key] = {'overcommit': cost_cap['overcommit'],
                                                           'unserved_by_overcommit': cost_cap['unserved_by_overcommit']}


def print_run(run):
    print('\nperiod %d (%d min), overcommit %s (%s), %d hosts; unserved no pinning can avoid: %.4f'
          % (run['period'], 5 * run['period'], run['overcommit'], run['overcommit_setting'], run['hosts'],
             run['floor_unserved_frac']))
    print('%-14s %14s %12s %19s %18s %17s %14s' % ('policy', 'unserved_frac', 'above_floor', 'slo_violation_frac',
                                                   'moves_per_vm_hour', 'numa_remote_frac', 'migr/VM-h'))
    for policy, r in run['policies'].items():
        print('%-14s %14.4f %12.4f %19.4f %18.3f %17.4f %14.4f'
              % (policy, r['unserved_frac'], run['unserved_above_floor_frac'][policy], r['slo_violation_frac'],
                 r['moves_per_vm_hour'], r['numa_remote_frac'], run['numa_migrations_per_vm_hour'][policy]))
    c = run['comparison']
    if c:
        share = c['predictive_share_of_oracle_margin']
        print('  predictive vs %s (the better reactive): %s, moves x%s, share of the oracle\'s margin %s; '
              'cut vs static %s' % (c['better_reactive'], 'below' if c['predictive_below_better_reactive'] else 'NOT below',
                                    c['predictive_moves_vs_better_reactive'],
                                    'n/a' if share is None else '%.2f' % share, c['predictive_cut_vs_static']))
    c, above = run.get('comparison_pools'), run['unserved_above_floor_frac']
    if c:
        ratio = c['better_pool_vs_better_reactive']
        line = ('  pools (above the floor): %s %.4f (the better of float, numad) vs %s %.4f: %s'
                % (c['better_pool'], above[c['better_pool']], c['better_reactive'], above[c['better_reactive']],
                   'n/a' if ratio is None else 'x%.3f' % ratio))
        if 'pool_oracle_vs_oracle' in c:
            ratio = c['pool_oracle_vs_oracle']
            line += '; pool_oracle %.4f vs oracle %.4f: %s' % (above['pool_oracle'], above['oracle'],
                                                               'n/a' if ratio is None else 'x%.3f' % ratio)
        print(line)
    c = run.get('comparison_product')
    if c:
        line = '  product (predictive_pool, above the floor) %.4f' % above['predictive_pool']
        if 'best_other' in c:
            ratio = c['predictive_pool_vs_best_other']
            line += (' vs the best of float, numad, reactive_peak, reactive_pool: %s %.4f, %s (%s)'
                     % (c['best_other'], above[c['best_other']], 'below' if c['predictive_pool_below_best_other']
                        else 'NOT below', 'n/a' if ratio is None else 'x%.3f' % ratio))
        for key, other, fmt in (('predictive_pool_vs_pool_oracle', 'pool_oracle', 'x%.3f'),
                                ('predictive_pool_cut_vs_reactive_pool', 'reactive_pool', 'cut %.3f')):
            if key in c:
                line += '; vs %s %.4f: %s' % (other, above[other], 'n/a' if c[key] is None else fmt % c[key])
        print(line)
    for p, f in sorted(run.get('planner_pools', {}).items()):
        print('  %s: %d plans, %.2f ms a plan; planner moves %s; VM-steps spanning nodes %.4f'
              % (p, f['plans'], f['planner_ms_per_plan'], json.dumps(f['planner_moves'], sort_keys=True),
                 f['span_vm_step_frac']))
    for cost, figures in sorted(run.get('float_cost_sweep', {}).items(), key=lambda kv: float(kv[0])):
        print('  --float-cost %-7s above the floor: %s' % (cost, ', '.join(
            '%s %.4f' % (p, f['unserved_above_floor_frac']) for p, f in figures.items())))


def main(argv=None):
    args = parse_args(argv)
    t0 = time.time()
    all_traces = traces.load_traces(args.traces, args.limit_vms)
    chosen, window = split_vms(all_traces, args.split)
    vms = []
    for tr in chosen:
        nv = vm_vcpus(tr, args.max_vcpus)
        dem = np.clip(traces.fill_gaps(tr.cpu_demand)[window], 0.0, 1.0) * nv
        if args.days:
            dem = dem[:int(args.days * STEPS_PER_DAY)]
        vms.append((tr.vm_id, nv, dem))
    t_len = max(len(v[2]) for v in vms)
    short = len([v for v in vms if len(v[2]) < t_len])
    vms = [v for v in vms if len(v[2]) == t_len]  # VMs with data over the whole window only
    topo = sim_topology(args.host_cpus, args.nodes)
    forecaster = make_forecaster(args, pretrain_columns(all_traces, args) if args.forecaster == 'lstm' else None)
    policies = [p for p in POLICIES if p == 'static' or p in args.policies.split(',')]
    sweep = Sweep(vms, args, topo, forecaster)
    static_sweep = {}
    levels = []
    for setting in args.overcommits:
        if setting == 'auto':
            level, static_sweep = sweep.choose_overcommit()
        else:
            level = float(setting)
        levels.append((level, setting))
    runs = []
    default_period = 1 if 1 in args.periods else args.periods[0]
    default_hosts = None
    for level, setting in levels:
        for period in args.periods:
            per_host = sweep.run(level, period, policies)
            runs.append(describe_run(per_host, level, setting, period))
            if default_hosts is None and period == default_period:
                default_hosts = per_host
    cap = capacity(sweep, args.capacity_period, policies, args.host_cpus) if args.capacity_period else {}
    sweep_float_costs(args, runs, cap, sweep, [p for p in policies if p in POOL_POLICIES])
    default = [r for r in runs if r['period'] == default_period][0]
    res = default['policies']
    work = sweep.workload(default['overcommit'])
    label = ('%s (period 1); P50/P90 of the peak of the next K steps, %s per vCPU (period K > 1)'
             % (forecaster.label, "the LSTM's window head or the baseline the daemon's selector serves" if getattr(forecaster, 'windows', False)
                else 'services/predictor/memory_forecast.peak_quantiles'))
    meta = {
        'split': args.split, 'seed': args.seed, 'hosts': len(work), 'vms': sum(len(h) for h in work),
        'vcpus': int(sum(vm[1] for h in work for vm in h)), 'steps': t_len, 'host_cpus': args.host_cpus,
        'nodes': args.nodes, 'overcommit': default['overcommit'], 'overcommit_sweep_static_unserved': static_sweep,
        'vms_dropped_short': short, 'default_run': {'period': default_period, 'overcommit': default['overcommit']},
        'capacity_floor_unserved_frac': default['floor_unserved_frac'], 'forecaster': label,
        'planner_policy': planner_policy(args), 'periods': args.periods, 'overcommits': args.overcommits,
        'loop': {'apply_delay_steps': args.apply_delay, 'step_s': 300},
        'costs': {'remote_penalty': args.remote_penalty, 'move_penalty': args.move_penalty, 'memory': args.memory,
                  'migrate_steps': args.migrate_steps, 'migrate_penalty': args.migrate_penalty,
                  'float_cost': args.float_cost},
        'seconds': round(time.time() - t0, 1),
    }
    step_run = per_step_run(runs)
    tgt = targets(step_run['policies']) if step_run else {}
    print('policy_sim: %(vms)d VMs, %(steps)d steps, split %(split)s, seed %(seed)d, host %(host_cpus)d CPUs / '
          '%(nodes)d nodes' % meta)
    print('predictive uses: %s' % label)
    print('loop: plans every K steps, pins apply %.2f steps after the plan\'s data; memory %s (migration %d step(s), '
          '+%.2f CPU per share moved); move +%.2f CPU, remote +%.2f CPU'
          % (args.apply_delay, args.memory, args.migrate_steps, args.migrate_penalty, args.move_penalty,
             args.remote_penalty))
    for run in runs:
        print_run(run)
    if step_run is None:
        print('\nper-step targets (issue 6, period 1): not run (--periods has no 1)')
    elif not tgt:
        print('\nper-step targets (issue 6, period 1): not run (they need the policies %s)' % ', '.join(LEGACY_POLICIES))
    else:
        print('\nperiod 1, overcommit %s against the per-step targets:' % step_run['overcommit'])
    for name, t in tgt.items():
        print('  %-40s %8.4f  target %s %-5s %s'
              % (name, t['value'], '<=' if 'moves' in name else '>=', t['target'], 'MET' if t['met'] else 'MISSED'))
    if cap:
        print('\ncapacity at period %d: the highest overcommit with unserved <= %.0f %% (vCPUs a %d-CPU host carries)'
              % (cap['period'], 100 * CAPACITY_UNSERVED_MAX, args.host_cpus))
        for p, level in cap['overcommit'].items():
            if level is None:
                print('  %-14s none: above 1 %% already at %s' % (p, OVERCOMMIT_LEVELS[0]))
            else:
                ratio = '' if cap['vs_static'][p] is None else ', x%s static' % cap['vs_static'][p]
                print('  %-14s %s (%d vCPUs%s)' % (p, level, cap['vcpus_per_host'][p], ratio))
        print('  unserved by overcommit: %s' % json.dumps(cap['unserved_by_overcommit'], sort_keys=True))
        for cost, figures in sorted(cap.get('float_cost_sweep', {}).items(), key=lambda kv: float(kv[0])):
            listed = ', '.join('%s %s' % (p, 'none' if v is None else v) for p, v in figures['overcommit'].items())
            print('  --float-cost %-7s %s' % (cost, listed))
    meta['seconds'] = round(time.time() - t0, 1)
    print('(%.1f s)' % meta['seconds'])
    if args.png:
        plot(default_hosts, args.png,
             '%s split, period %d, overcommit %s' % (args.split, default_period, default['overcommit']))
    if args.png_sweep:
        plot_sweep(runs, args.png_sweep, '%s split, apply delay %.2f steps' % (args.split, args.apply_delay))
    if args.json_out:
        with open(args.json_out, 'w') as handle:
            json.dump({'runs': runs, 'policies': res, 'targets': tgt, 'capacity': cap, 'meta': meta}, handle,
                      indent=1, sort_keys=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
