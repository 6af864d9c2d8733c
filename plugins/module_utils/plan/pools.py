# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node pools: each VM's vCPUs float over one NUMA node's shared CPUs, and the kernel balances them there.

The planner's `placement: pool` policy (plan() decides the demands, this
decides where they go). Within a node CFS moves a vCPU in milliseconds, far
better than any pin a 15-minute loop could choose, so what is left to plan
is what the kernel cannot do and what reacting does late:
  1. dedicated VMs take exclusive CPUs (whole cores unless SMT sharing is
     allowed), taken out of their node's shared pool;
  2. every other VM gets one node (several only when it cannot fit one):
     where it is now, else the node with the most room for its forecast peak;
  3. a node whose forecast peak (the summed demand of its VMs, over the
     coming period) exceeds its CPUs sends VMs to nodes with room, before
     the peak, when the relief beats moving the VM's memory by the
     hysteresis margin, best net gain first, within max_moves;
  4. each VM's vCPUs, emulator and iothreads get its node's shared CPUs (at
     most max_cpus of them), its memory the node (numatune); a VM pinned
     inside its node is let float over the pool (a move of kind `pool`).
Pure functions, no I/O; plan() gives the result its shape.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math

from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset
from ansible_collections.adaptive.intravm.plugins.module_utils.plan.inputs import PlannerConflictError

EPS = 1e-9
STEP_S = 300            # the predictor's step: gains and costs are CPU-steps of this length


def place(state, planned, pins, current, pol, background):
    """({vm: [sorted CPUs per vCPU]}, moves, node hot spots) for the planned VMs.

    state: the HostState plan() filled (topology, usable CPUs, demand and
    policy per VM); pins: {vm: {vCPU: frozenset of CPUs}} now; background:
    {node: load} of the VMs not planned, which keep their pins.
    """
    exclusive, dedicated_cpus = _dedicated(state, planned, pins, pol)
    shared = dict((n, sorted(c for c in state.usable if state.node_of[c] == n and c not in exclusive)) for n in state.nodes)
    room = dict((n, pol['capacity'] * len(shared[n])) for n in state.nodes)
    load = dict((n, float(background.get(n, 0.0))) for n in state.nodes)
    home, moves, nodes_of = {}, [], {}
    budget = [pol['max_moves']]
    floating = [v for v in planned if v not in dedicated_cpus]
    for name in sorted(floating, key=lambda v: (-state.vm_demand[v], v)):
        now, home[name] = _node_now(state, name, pins, current, shared, nodes_of)
        if home[name] is None:
            home[name] = _first_home(state, name, shared, room, load)
            moves.append(_move(name, now, home[name], 0.0, 0.0, 'placement',
                               'VM %s; placed on node(s) %s (forecast load %.2f of %.2f there)'
                               % ('floats over nodes %s' % cpuset.format(now) if now else 'has no usable CPU',
                                  cpuset.format(home[name]), load_on(home[name], load) + state.vm_demand[name],
                                  sum(room[n] for n in home[name]))))
        elif len(home[name]) > 1:
            _unspan(state, name, home, shared, room, load, pol, moves, budget)
        for n in home[name]:
            load[n] += state.vm_demand[name] / len(home[name])
    hot_before = dict((n, round(load[n], 4)) for n in state.nodes if load[n] > room[n] + EPS)
    _relieve(state, floating, home, shared, room, load, pol, moves, budget)
    hotspots = [{'node': n, 'load_before': hot_before[n], 'load_after': round(load[n], 4)} for n in sorted(hot_before)]
    targets = _pools(state, floating, home, shared, pins, pol)
    by_vm, texts = {}, {}
    for move in moves:
        by_vm.setdefault(move['vm'], []).append(move)
    for name in floating:
        pool = targets[name][0]
        if id(pool) not in texts:       # one text and set per pool tuple, as plan()'s _targets keeps them
            texts[id(pool)] = cpuset.format(pool), frozenset(pool)
        text, members = texts[id(pool)]
        if name not in by_vm and any(cpus != members for cpus in pins[name].values()):
            by_vm[name] = [_move(name, home[name], home[name], 0.0, 0.0, 'pool',
                                 "vCPUs pinned within node(s) %s now float over its shared CPUs %s: the kernel balances "
                                 "them there" % (cpuset.format(home[name]), text))]
            moves.append(by_vm[name][0])
        for move in by_vm.get(name, ()):
            move['cpus'] = text
    targets.update((name, [tuple(c) for c in cpus]) for name, cpus in dedicated_cpus.items())
    return targets, moves, hotspots


def load_on(nodes, load):
    return sum(load[n] for n in nodes)


def _dedicated(state, planned, pins, pol):
    """({CPU taken}, {vm: [one CPU per vCPU]}) for the dedicated VMs, kept where they are when they can be."""
    taken, out = set(), {}
    per_core = not state.smt_free
    for name in sorted((v for v in planned if state.policy[v]['dedicated']), key=lambda v: (-len(pins[v]), v)):
        need = len(pins[name])
        now = [next(iter(pins[name][i])) for i in sorted(pins[name]) if len(pins[name][i]) == 1]
        nodes = sorted(state.nodes, key=lambda n: (-sum(1 for c in now if state.node_of[c] == n), n))
        for node in nodes:
            free = [c for c in sorted(state.usable) if state.node_of[c] == node and c not in taken
                    and not (per_core and state.siblings[c] & taken)]
            keep = [c for c in now if c in free]
            chosen = list(dict.fromkeys(keep + [c for c in free if c not in keep]))[:need]
            if len(chosen) == need:
                break
        else:
            raise PlannerConflictError('policy cannot be satisfied: dedicated VM %r needs %d CPUs of one node, which no '
                                       'node has free (%s usable)' % (name, need, cpuset.format(state.usable)))
        for cpu in chosen:
            taken.update(state.siblings[cpu] & state.usable if per_core else (cpu,))
        out[name] = [[c] for c in chosen]
    return taken, out


def _node_now(state, name, pins, current, shared, nodes_of):
    """(the nodes name's vCPUs run on now, those nodes again when it is settled there, else None).

    Settled: one node with the CPUs it needs, or a span its memory is
    interleaved over (a plan made it) with enough CPUs together. A VM whose
    vCPUs float over several nodes without such memory is not (libvirt's
    default). nodes_of memoizes the nodes of each pin (one cpuset object for
    every vCPU of a pool).
    """
    nodes = set()
    for cpus in pins[name].values():
        if id(cpus) not in nodes_of:
            nodes_of[id(cpus)] = (cpus, frozenset(state.node_of[c] for c in cpus if c in state.usable))
        nodes.update(nodes_of[id(cpus)][1])
    now = tuple(sorted(nodes))
    need = _cpus_needed(state, name)
    if len(now) == 1:
        return now, (now if len(shared[now[0]]) >= need else None)
    tune = current[name].get('numatune') or {}
    spanned = tune.get('mode') == 'interleave' and _nodeset(tune.get('nodeset')) == frozenset(now)
    return now, (now if now and spanned and sum(len(shared[n]) for n in now) >= need else None)


def _nodeset(text):
    try:
        return cpuset.parse(text or '')
    except cpuset.CpusetError:
        return frozenset()


def hold_steps(pol):
    """Steps of STEP_S the placement holds (the loop's period, lookahead_s): what a lasting gain counts for."""
    return max(1.0, (pol['lookahead_s'] or 0) / STEP_S)


def _move_cost(pol, demand, src, dst, state):
    """One-off cost of moving a VM of this demand from nodes src to dst: churn, its caches, its memory's trip."""
    cost_of = pol['cost']
    hops = 0.0
    if set(src) != set(dst):
        hops = max([max(0.0, state.distance.get((a, b), 20) / 10.0 - 1.0) for a in src for b in dst if a != b] or [0.0])
    return cost_of['churn'] + (cost_of['cache'] + cost_of['cache_domain'] + cost_of['numa'] * hops) * demand


def _unspan(state, name, home, shared, room, load, pol, moves, budget):
    """Bring a spanning VM onto one node once one fits it, when its memory's remote share won back pays for the move.

    The remote share is paid every step the VM stays spanned, so what it wins
    back counts for every step the placement holds (hold_steps).
    """
    demand, span = state.vm_demand[name], home[name]
    fitting = [n for n in span if len(shared[n]) >= _cpus_needed(state, name) and load[n] + demand <= room[n] + EPS]
    if not fitting or budget[0] <= 0:
        return
    dst = sorted(fitting, key=lambda n: (-(room[n] - load[n]), n))[0]
    hops = max(0.0, max(state.distance.get((a, b), 20) for a in span for b in span if a != b) / 10.0 - 1.0)
    gain = pol['cost']['numa'] * demand * hops * (len(span) - 1.0) / len(span) * hold_steps(pol) * state.policy[name]['weight']
    cost = _move_cost(pol, demand * (len(span) - 1.0) / len(span), span, (dst,), state)
    if gain - cost <= pol['hysteresis']:
        return
    home[name] = (dst,)
    budget[0] -= 1
    moves.append(_move(name, span, (dst,), gain, cost, 'node',
                       'VM (%.2f CPUs) fits node %d again: its memory, interleaved over nodes %s, comes home (remote '
                       'access won back %.3f over the period beats the move %.3f)'
                       % (demand, dst, cpuset.format(span), gain, cost)))


def _cpus_needed(state, name):
    """CPUs a VM's pool must have: its min_cpus and enough to serve its forecast peak."""
    return max(state.policy[name]['min_cpus'], int(math.ceil(state.vm_demand[name] - EPS)), 1)


def background_load(state, pins, unplanned, demand):
    """{node: load} of the VMs not planned: each vCPU's demand spread over the usable CPUs it may run on."""
    out = dict((n, 0.0) for n in state.nodes)
    for name in unplanned:
        for cpus in pins[name].values():
            usable = [c for c in cpus if c in state.usable] or sorted(state.usable)
            for cpu in usable:
                out[state.node_of[cpu]] += demand / len(usable)
    return out


def _first_home(state, name, shared, room, load):
    """The node with the most room for name's demand; the nearest nodes together when no single one has the CPUs."""
    need = _cpus_needed(state, name)
    fitting = [n for n in state.nodes if len(shared[n]) >= need]
    if fitting:
        best = sorted(fitting, key=lambda n: (-(room[n] - load[n]), n))[0]
        return (best,)
    for start in sorted(state.nodes, key=lambda n: (-(room[n] - load[n]), n)):
        span = []
        for n in sorted(state.nodes, key=lambda m: (state.distance.get((start, m), 10 if m == start else 20), m)):
            span.append(n)
            if sum(len(shared[m]) for m in span) >= need:
                return tuple(sorted(span))
    raise PlannerConflictError('policy cannot be satisfied: VM %r needs %d CPUs, more than the host shares (%d)'
                               % (name, need, sum(len(s) for s in shared.values())))


def _overflow(load, room):
    return sum(max(0.0, load[n] - room[n]) for n in load)


def _relieve(state, floating, home, shared, room, load, pol, moves, budget):
    """Move whole VMs off nodes whose forecast peak exceeds their CPUs, best net gain first, within max_moves.

    A move's relief is the overflow it takes off the forecast peak, counted
    once: a peak does not last the period. Counting it for every step of the
    period (hold_steps) was measured on policy_sim's calibration split and made
    more moves for more unserved demand at a 1 h period (docs/planner.md).
    """
    while budget[0] > 0:
        hot = [n for n in state.nodes if load[n] > room[n] + EPS]
        if not hot:
            return
        best = None
        before = _overflow(load, room)
        for name in floating:
            if len(home[name]) != 1 or home[name][0] not in hot:
                continue
            src, demand = home[name][0], state.vm_demand[name]
            for dst in state.nodes:
                if dst == src or len(shared[dst]) < _cpus_needed(state, name):
                    continue
                load[src] -= demand
                load[dst] += demand
                gain = (before - _overflow(load, room)) * state.policy[name]['weight']
                load[src] += demand
                load[dst] -= demand
                cost = _move_cost(pol, demand, (src,), (dst,), state)
                net = gain - cost
                if net > pol['hysteresis'] and (best is None or (net, -dst) > (best[0], -best[3])):
                    best = (net, gain, cost, dst, name, src)
        if best is None:
            return
        net, gain, cost, dst, name, src = best
        load[src] -= state.vm_demand[name]
        load[dst] += state.vm_demand[name]
        home[name] = (dst,)
        moves.append(_move(name, (src,), (dst,), gain, cost, 'node',
                           'node %d forecast to peak at %.2f of its %.2f CPUs; VM (%.2f CPUs) moves to node %d '
                           '(forecast %.2f of %.2f), relief %.3f beats the cost %.3f of moving its memory'
                           % (src, load[src] + state.vm_demand[name], room[src], state.vm_demand[name], dst,
                              load[dst], room[dst], gain, cost)))
        budget[0] -= 1


def max_cpus(pol, name):
    """The VM's own max_cpus, or None: a pool is its node's shared CPUs unless the operator bounds it."""
    own = (pol['vms'].get(name) or {})
    return own['max_cpus'] if own.get('max_cpus') is not None else pol['default_vm']['max_cpus']


def _pools(state, floating, home, shared, pins, pol):
    """{vm: [CPUs per vCPU]}: its nodes' shared CPUs, or the max_cpus of them its VMs leave least used."""
    use = dict((c, 0.0) for n in shared for c in shared[n])
    out, whole = {}, {}
    limits = dict((v, max_cpus(pol, v)) for v in floating)
    for name in sorted(floating, key=lambda v: (limits[v] is None, limits[v] or 0, v)):
        if home[name] not in whole:      # one tuple per pool: the plan formats and compares it once
            whole[home[name]] = tuple(c for n in home[name] for c in shared[n])
        pool = whole[home[name]]
        limit = limits[name]
        if limit is not None and limit < len(pool):
            pool = tuple(sorted(sorted(pool, key=lambda c: (use[c], c))[:limit]))
            for cpu in pool:
                use[cpu] += state.vm_demand[name] / len(pool)
        out[name] = [pool] * len(pins[name])
    return out


def _move(name, src, dst, benefit, cost, kind, reason):
    """A whole VM's move: from and to name nodes; `cpus` (added once the pools are known) is its new pool."""
    return {'vm': name, 'vcpu': None, 'from': cpuset.format(src) if src else '', 'to': cpuset.format(dst),
            'benefit': round(benefit, 4), 'cost': round(cost, 4), 'kind': kind, 'unit': 'node', 'reason': reason}
