# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cost/benefit planner: forecasts in, target allocations and justified moves out.

plan() is a pure, deterministic function of (topology, current allocations,
forecasts, policy). It
  1. pins vCPUs that float or break a rule (reserved CPU, dedicated, SMT),
     on their VM's home NUMA node when it fits;
  2. repairs VMs below min_cpus or above max_cpus;
  3. relieves predicted hotspots (CPUs whose forecast load exceeds capacity):
     each vCPU on a hotspot is offered its best target, a move is taken only
     when its relief exceeds its cost (cache warmth, NUMA distance, churn) by
     the hysteresis margin, best benefit/cost ratio first, within max_moves;
  4. derives each VM's memory nodeset, VF rates and vGPU share.
The result is in the shape the apply modules take (see plan['plan']).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import heapq

from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset
from ansible_collections.adaptive.intravm.plugins.module_utils.plan.inputs import (
    PlannerConflictError, PlannerInputError, check_forecast, current_vcpus, merge_policy,
    vcpu_demands, vm_policy,
)
from ansible_collections.adaptive.intravm.plugins.module_utils.plan import pools
from ansible_collections.adaptive.intravm.plugins.module_utils.plan.shares import gpu_shares, vf_rates
from ansible_collections.adaptive.intravm.plugins.module_utils.plan.state import HostState

__all__ = ['plan', 'PlannerInputError', 'PlannerConflictError']

EPS = 1e-9


def plan(topology, current, forecasts, policy=None):
    """Target allocation for every forecast VM in current, with the moves that get there.

    topology: parse_capabilities() dict. current: {vm: {'vcpus': {idx: cpuset},
    'emulator', 'iothreads', 'numatune'}} as placement.read_pins/parse_numatune
    give. forecasts: the predictor's 'vms' dict. Raises PlannerInputError on bad
    input and PlannerConflictError when the policy cannot be met; never returns
    a partial plan.
    """
    pol = merge_policy(policy)
    forecasts = forecasts or {}
    if not isinstance(forecasts, dict):
        raise PlannerInputError('forecasts must be a dict of VM name to forecast, got %r' % (forecasts,))
    if not isinstance(current, dict):
        raise PlannerInputError('current allocations must be a dict of VM name to placement, got %r' % (current,))
    online = cpuset.parse(topology.get('cpus_online') or cpuset.format(c['id'] for c in topology['cpus']))
    missing = sorted(pol['reserved'] - online)
    if missing:
        raise PlannerInputError('policy.reserved_cpus names CPUs %s that this host does not have online (%s)'
                                % (cpuset.format(missing), cpuset.format(online)))
    usable = online - pol['reserved']
    if not usable:
        raise PlannerConflictError('every online CPU (%s) is reserved; nothing is left for VMs' % cpuset.format(online))

    ignored = sorted(n for n in forecasts if n not in current)
    warnings = []
    for name in sorted(forecasts):
        check_forecast(name, forecasts[name])

    state = HostState(topology, usable, pol['smt_share_across_vms'])
    pins = {}
    planned = []
    memo = {}
    for name in sorted(current):
        pins[name] = current_vcpus(name, current[name], online, memo)
        if name in forecasts:
            planned.append(name)
    quantiles = ('p50', 'p90') if pol['quantile'] == 'auto' else (pol['quantile'],)
    by_quantile = dict((q, {}) for q in quantiles)
    for name in planned:
        entry = vm_policy(pol, name, len(pins[name]))
        state.policy[name] = entry
        if entry['dedicated']:
            state.dedicated.add(name)
        for q in quantiles:
            demands, notes = vcpu_demands(forecasts[name], name, len(pins[name]), q,
                                          pol['lookahead_s'], pol['unknown_vcpu_demand'])
            if q == quantiles[-1]:
                warnings.extend(notes)
            for idx, d in enumerate(demands):
                by_quantile[q][(name, idx)] = d
    unplanned = [n for n in sorted(current) if n not in forecasts]
    background = sum(len(pins[n]) for n in unplanned) * min(1.0, pol['unknown_vcpu_demand'])
    headroom = None
    if pol['quantile'] == 'auto':
        headroom = auto_headroom(by_quantile['p50'], by_quantile['p90'], pol['capacity'] * len(usable) - background)
        state.demand.update((key, low + headroom * (by_quantile['p90'][key] - low))
                            for key, low in by_quantile['p50'].items())
    else:
        state.demand.update(by_quantile[pol['quantile']])
    _check_satisfiable(state, planned, pins, usable)
    state.vm_demand = dict((name, sum(state.demand[(name, i)] for i in range(len(pins[name])))) for name in planned)

    # Background load: VMs we do not plan keep what they have.
    for name in unplanned:
        for idx in sorted(pins[name]):
            state.add_background(sorted(pins[name][idx]), min(1.0, pol['unknown_vcpu_demand']), name)

    if pol['placement'] == 'pool':
        background = pools.background_load(state, pins, unplanned, min(1.0, pol['unknown_vcpu_demand']))
        cpus_of, moves, hotspots = pools.place(state, planned, pins, current, pol, background)
    else:
        moves = []
        loose = _seat_pinned(state, planned, pins)
        homes = _homes(state, planned, pins, current, pol)
        _place_loose(state, loose, pins, homes, moves)
        _repair_spread(state, planned, homes, moves)
        hot_before = dict((c, state.load[c]) for c in state.hot(pol['capacity']))
        _rebalance(state, pol, moves)
        cpus_of = dict((name, [[state.where[(name, i)]] for i in range(len(pins[name]))]) for name in planned)
        hotspots = [{'cpu': c, 'load_before': round(hot_before[c], 4), 'load_after': round(state.load[c], 4)}
                    for c in sorted(hot_before)]

    allocations, vcpu_plan, numa_plan = _targets(state, planned, pins, current, topology, pol, cpus_of)
    result = {
        'allocations': allocations,
        'plan': {
            'vcpu_pin': vcpu_plan,
            'numa_memory': numa_plan,
            'vf_bandwidth': vf_rates(forecasts, planned, pol['bandwidth'], warnings),
            'vgpu': gpu_shares(forecasts, planned, pol['gpu'], warnings),
        },
        'moves': moves,
        'ignored': ignored,
        'unplanned': unplanned,
        'hotspots': hotspots,
        'warnings': warnings,
    }
    if headroom is not None:
        result['headroom'] = round(headroom, 4)
    return result


def auto_headroom(low, high, room):
    """The share h of (p90 - p50) the host can carry: sum(p50 + h (p90 - p50)) <= room, h in [0, 1].

    Headroom is insurance a host pays for in CPUs: a quiet host takes it all
    (p90), a crowded one plans nearer the median, so it does not reserve more
    than it has and spread VMs (and their memory) over nodes to find it.
    """
    base = sum(low.values())
    spread = sum(max(0.0, high[k] - low[k]) for k in low)
    if spread <= 0:
        return 1.0
    return max(0.0, min(1.0, (room - base) / spread))


def _check_satisfiable(state, planned, pins, usable):
    """Fail, naming the VMs, when the minimums cannot fit the usable CPUs at all.

    Dedicated vCPUs take CPUs (whole cores unless SMT sharing is allowed) that
    nothing else may use; shared VMs may overlap, so the widest shared minimum
    must fit in what the dedicated ones leave.
    """
    per_core = 1
    if not state.smt_free:
        per_core = max(1, min(len(state.siblings[c] & usable) for c in usable))
    dedicated = []
    for name in planned:
        if state.policy[name]['dedicated']:
            dedicated.append((name, -(-len(pins[name]) // per_core) * per_core))
    taken = sum(d[1] for d in dedicated)
    widest = max([(state.policy[n]['min_cpus'], n) for n in planned if not state.policy[n]['dedicated']] or [(0, None)])
    if taken + widest[0] > len(usable):
        parts = ['%s needs %d (dedicated)' % d for d in dedicated]
        if widest[1] is not None:
            parts.append('%s needs %d (min_cpus)' % (widest[1], widest[0]))
        raise PlannerConflictError('policy cannot be satisfied: VMs need at least %d distinct CPUs but only %d are '
                                   'usable (%s, reserved CPUs excluded): %s'
                                   % (taken + widest[0], len(usable), cpuset.format(usable), ', '.join(parts)))


def _seat_pinned(state, planned, pins):
    """Seat vCPUs pinned to one allowed CPU; return the rest (floating or breaking a rule)."""
    loose = []
    seats = []
    for name in planned:
        for idx in sorted(pins[name]):
            cpus = pins[name][idx]
            key = (name, idx)
            if len(cpus) != 1:
                loose.append((key, 'vCPU floats over CPUs %s' % cpuset.format(cpus)))
                continue
            cpu = next(iter(cpus))
            if cpu not in state.usable:
                loose.append((key, 'vCPU is pinned to reserved CPU %d' % cpu))
                continue
            seats.append((key, cpu))
    state.bulk_add(seats)
    # a second pass: a pin that breaks a rule (dedicated, SMT, max_cpus) is let go;
    # only cores with a dedicated vCPU or several VMs, and VMs over max_cpus, can break one
    suspects = set()
    for core, vms in state.core_vms.items():
        threads = state.siblings.get(core, ())
        if state.ded_core[core] or (len(vms) > 1 and not state.smt_free
                                    and sum(1 for c in threads if state.cpu_vms[c]) > 1):
            for cpu in state.siblings.get(core, ()):
                suspects.update(state.on_cpu.get(cpu, ()))
    for name in planned:
        if len(state.vm_cpus.get(name, {})) > state.policy[name]['max_cpus']:
            suspects.update(k for k in state.where if k[0] == name)
    for key in sorted(suspects):
        cpu = state.remove(key)
        why = state.why_not(key[0], cpu)
        if why is None:
            state.add(key, cpu)
        else:
            loose.append((key, why))
    loose.sort(key=lambda item: (item[0][0] not in state.dedicated, item[0]))
    return loose


def _homes(state, planned, pins, current, pol):
    """Home NUMA node per VM: its memory node, else where most of its vCPUs sit, else the emptiest that fits."""
    homes = {}
    free = dict((n, 0.0) for n in state.nodes)
    for cpu in state.usable:
        free[state.node_of[cpu]] += pol['capacity'] - state.load[cpu]
    for name in planned:
        nodeset = ((current[name].get('numatune') or {}).get('nodeset')) if isinstance(current[name], dict) else None
        mem_nodes = cpuset.parse(nodeset) if nodeset else frozenset()
        counts = {}
        for cpu, n in state.vm_cpus.get(name, {}).items():
            counts[state.node_of[cpu]] = counts.get(state.node_of[cpu], 0) + n
        if len(mem_nodes) == 1 and next(iter(mem_nodes)) in free:
            home = next(iter(mem_nodes))
        elif counts:
            home = sorted(counts, key=lambda n: (-counts[n], n))[0]
        else:
            need = sum(state.demand[(name, i)] for i in pins[name])
            fitting = [n for n in state.nodes if free[n] >= need]
            home = sorted(fitting or state.nodes, key=lambda n: (-free[n], n))[0]
            free[home] -= need
        homes[name] = home
    return homes


def _nearest_cpu(state, name, home, new_only=False):
    """The least-loaded CPU name may take on the nearest node to home that has one, or None."""
    for node in sorted(state.nodes, key=lambda n: (0 if n == home else state.distance.get((home, n), 20), n)):
        found = state.least_loaded(name, [g for g in state.group_ids if g[1] == node], new_only=new_only)
        if found:
            return min(found)[1]
    return None


def _place_loose(state, loose, pins, homes, moves):
    """Pin each loose vCPU to the least-loaded allowed CPU, home node first."""
    for key, why in loose:
        name, idx = key
        cpu = _nearest_cpu(state, name, homes[name])
        if cpu is None:
            raise PlannerConflictError('policy cannot be satisfied: no CPU may take vCPU %d of VM %r (%s); every usable '
                                       'CPU is ruled out by dedicated vCPUs, SMT siblings or max_cpus'
                                       % (idx, name, why))
        state.add(key, cpu)
        moves.append(_move(key, pins[name][idx], cpu, 0.0, 0.0, 'placement', '%s; placed on CPU %d (node %d, load %.2f)'
                           % (why, cpu, state.node_of[cpu], state.load[cpu])))


def _repair_spread(state, planned, homes, moves):
    """Spread a VM below its min_cpus onto more CPUs (home node first)."""
    for name in planned:
        want = state.policy[name]['min_cpus']
        while len(state.vm_cpus.get(name, {})) < want:
            own = state.vm_cpus[name]
            crowded = sorted(own, key=lambda c: (-own[c], c))[0]
            key = sorted(k for k in state.on_cpu[crowded] if k[0] == name)[-1]
            had = len(own)
            src = state.remove(key)
            target = _nearest_cpu(state, name, homes[name], new_only=True)
            if target is None:
                state.add(key, src)
                raise PlannerConflictError('policy cannot be satisfied: VM %r needs min_cpus=%d distinct CPUs but no '
                                           'further CPU is allowed for it' % (name, want))
            state.add(key, target)
            moves.append(_move(key, frozenset([src]), target, 0.0, 0.0, 'repair',
                               'VM uses %d CPUs, below its min_cpus=%d; vCPU %d spreads to CPU %d'
                               % (had, want, key[1], target)))


def _overflow(load, cap):
    return load - cap if load > cap else 0.0


def _best_move(state, pol, key):
    """(net, ratio, benefit, cost, target) of the best move for a placed vCPU, or None."""
    name = key[0]
    d = state.demand[key]
    if d <= EPS:
        return None
    cap = pol['capacity']
    lifted = state.lift(key)
    src = lifted[0]
    try:
        src_load = lifted[1]
        if src_load <= cap + EPS:
            return None
        weight = state.policy[name]['weight']
        cost_model = pol['cost']
        relief_src = _overflow(src_load, cap) - _overflow(src_load - d, cap)
        # the VM's memory follows its vCPUs' nodes: a move that changes them changes every vCPU's remote share
        others = state.vm_nodes(name)
        numa_unit = cost_model['numa'] * state.vm_demand[name]
        remote_now = state.interleave_remote(others | {state.node_of[src]})
        numa_cost = dict((n, numa_unit * (state.interleave_remote(others | {n}) - remote_now)) for n in state.nodes)
        # no target can beat this bound (an empty target, the cheapest move): skip the scan
        bound = (weight * relief_src - cost_model['churn'] - cost_model['cache'] * d + numa_unit * remote_now)
        if bound <= pol['hysteresis']:
            return None
        src_group = state.group_of[src]
        floor = pol['hysteresis']

        def score(load, cpu, gid):
            benefit = weight * (relief_src - (_overflow(load + d, cap) - _overflow(load, cap)))
            cost = cost_model['churn'] + cost_model['cache'] * d
            if gid != src_group:
                cost += cost_model['cache_domain'] * d
            cost += numa_cost[state.node_of[cpu]]
            return benefit, cost

        def better(best, candidates):
            """best, or the candidate with a larger net gain (then ratio, then lower CPU id) that keeps min_cpus."""
            for load, cpu, cgid in candidates:
                if not state.leaves_min(name, src, cpu):
                    continue
                benefit, cost = score(load, cpu, cgid)
                net = benefit - cost
                # relief first: a move that adds overflow is not one, whatever NUMA it saves
                if net > floor and benefit > EPS:
                    cand = (net, benefit / cost if cost > EPS else float('inf'), -cpu)
                    if best is None or cand > best[0]:
                        best = (cand, benefit, cost, cpu)
            return best

        best = None
        candidates = state.own_candidates(name, exclude=src)
        # groups in order of what their least-loaded open CPU could offer; stop once none can beat the best
        bounds = []
        for gid in state.group_ids:
            low = state.pool_min(name, gid)
            if low is None:
                continue
            first = state.groups[gid][0][1]
            benefit, cost = score(low, first, gid)
            bounds.append((-(benefit - cost), gid))
        bounds.sort()
        for neg_bound, gid in bounds:
            limit = max(floor, best[0][0]) if best else floor
            if -neg_bound <= limit:
                break
            found = state.first_allowed(name, gid, exclude=src)
            if found:
                candidates.append(found)
            best = better(best, candidates)
            candidates = []
        best = better(best, candidates)  # own cores, when no open group was worth a look
        if best is None:
            return None
        return best[0][0], best[0][1], best[1], best[2], best[3]
    finally:
        state.drop_back(key, lifted)


def _bound(state, pol, key, low):
    """Optimistic benefit/cost ratio of moving key (an empty target, the cheapest move), or None.

    Loads on a hotspot only fall as vCPUs leave it, so this stays an upper
    bound and lets _rebalance evaluate targets lazily, best candidates first.
    """
    d = state.demand[key]
    src = state.where[key]
    load = state.load[src]
    if d <= EPS or load <= pol['capacity'] + EPS:
        return None
    cm = pol['cost']
    cap = pol['capacity']
    relief = state.policy[key[0]]['weight'] * (_overflow(load, cap) - _overflow(load - d, cap)
                                               - (_overflow(low + d, cap) - _overflow(low, cap)))
    cost = cm['churn'] + cm['cache'] * d - cm['numa'] * state.vm_demand[key[0]] * state.interleave_remote(state.vm_nodes(key[0]))
    if relief - cost <= pol['hysteresis']:
        return None
    return relief / cost if cost > EPS else float('inf')


def _rebalance(state, pol, moves):
    """Relieve hotspots: lazy best-ratio-first greedy within the move budget."""
    budget = pol['max_moves']
    moved = set()
    heap = []
    latest = {}   # key -> the bound of its newest heap entry; older entries are skipped

    def push(key, bound):
        latest[key] = bound
        heapq.heappush(heap, (-bound, key))

    def offer(cpu):
        # the least load any open CPU offers: an empty-enough target bounds every move's benefit
        lows = [lst[0][0] for lst in state.open.values() if lst]
        low = min(lows) if lows else 0.0
        for key in sorted(state.on_cpu[cpu]):
            if key not in moved:
                bound = _bound(state, pol, key, low)
                if bound is not None:
                    push(key, bound)

    for cpu in state.hot(pol['capacity']):
        offer(cpu)
    # a cap on target searches keeps a saturated host (every CPU busy, little to
    # gain) from costing a search per vCPU; candidates come best bound first
    searches = pol['max_evaluations']
    while heap and budget > 0 and searches > 0:
        neg, key = heapq.heappop(heap)
        if key in moved or latest.get(key) != -neg:
            continue
        searches -= 1
        found = _best_move(state, pol, key)
        if found is None:
            latest.pop(key, None)
            continue
        if heap and found[1] < -heap[0][0] - EPS:
            push(key, found[1])  # another candidate may do better: look at it first
            continue
        net, ratio, benefit, cost, target = found
        src_cpu = state.where[key]
        src_load = state.load[src_cpu]
        dst_load = state.load[target]
        state.remove(key)
        state.add(key, target)
        moved.add(key)
        budget -= 1
        moves.append(_move(key, frozenset([src_cpu]), target, benefit, cost, 'rebalance',
                           'CPU %d forecast at %.2f (%s) over capacity %.2f; vCPU %d (demand %.2f) moves to CPU %d '
                           '(%.2f -> %.2f): relief %.3f exceeds cost %.3f by more than hysteresis %.3f'
                           % (src_cpu, src_load, pol['quantile'], pol['capacity'], key[1], state.demand[key], target,
                              dst_load, state.load[target], benefit, cost, pol['hysteresis'])))
        hot = set([target]) if state.load[target] > pol['capacity'] + EPS else set()
        if state.node_of[src_cpu] != state.node_of[target]:
            # the VM's span changed, and with it what moving its other vCPUs costs (or saves) in NUMA
            hot.update(c for c in state.vm_cpus.get(key[0], {}) if state.load[c] > pol['capacity'] + EPS)
        for cpu in sorted(hot):
            offer(cpu)


def _move(key, src, dst, benefit, cost, kind, reason):
    return {'vm': key[0], 'vcpu': key[1], 'from': cpuset.format(src), 'to': str(dst),
            'benefit': round(benefit, 4), 'cost': round(cost, 4), 'kind': kind, 'reason': reason}


def _targets(state, planned, pins, current, topology, pol, cpus_of):
    """Per-VM target allocation, and the vcpu_pin / numa_memory entries for VMs that change.

    cpus_of: {vm: [sorted CPUs per vCPU]} (one CPU each when pinned per vCPU, a
    node's pool when pooled: then one tuple object per pool, so it is formatted
    and compared once). A vcpu_pin entry carries `expect`, the current vCPU
    pins it was planned from.
    """
    allocations, vcpu_plan, numa_plan = {}, [], []
    multi_node = len(topology.get('nodes') or []) > 1
    cache, spans, sets = {}, {}, {}

    def span_of(cpus):
        if len(cpus) == 1:
            return str(cpus[0])
        if id(cpus) not in spans:
            spans[id(cpus)] = cpuset.format(cpus)
        return spans[id(cpus)]

    def set_of(cpus):
        if id(cpus) not in sets:
            sets[id(cpus)] = frozenset(cpus)
        return sets[id(cpus)]

    def same(text, canonical):
        # canonical is already normal form: equal text needs no parsing
        return text == canonical or norm(text) == canonical

    def norm(text):
        if text not in cache:
            cache[text] = _norm(text)
        return cache[text]

    for name in planned:
        where = cpus_of[name]
        vcpus = dict((str(i), span_of(c)) for i, c in enumerate(where))
        used = sorted(set().union(*dict((id(c), c) for c in where).values()))
        span = _span(used)
        nodes = sorted(set([state.node_of[c] for c in used]))
        cur = current[name]
        cur_iothreads = cur.get('iothreads') or {}
        iothreads = dict((str(t), span) for t in sorted(cur_iothreads, key=str))
        if len(nodes) == 1:
            numa = {'mode': pol['memory_mode'], 'nodeset': str(nodes[0])}
        else:
            numa = {'mode': 'interleave', 'nodeset': cpuset.format(nodes)}
        allocations[name] = {'vcpus': vcpus, 'emulator': span, 'iothreads': iothreads,
                             'nodes': _span(nodes), 'numa': numa}
        same_pins = all((c[0] in pins[name][i] and len(pins[name][i]) == 1) if len(c) == 1 else pins[name][i] == set_of(c)
                        for i, c in enumerate(where))
        same_io = (len(cur_iothreads) == len(iothreads)
                   and all(str(k) in iothreads and same(v, iothreads[str(k)]) for k, v in cur_iothreads.items()))
        if not same_pins or not same(cur.get('emulator'), span) or not same_io:
            entry = {'name': name, 'vcpus': vcpus, 'emulator': span,
                     'expect': dict((str(k), v) for k, v in cur['vcpus'].items())}
            if iothreads:
                entry['iothreads'] = iothreads
            vcpu_plan.append(entry)
        tune = cur.get('numatune') or {}
        if multi_node and (tune.get('mode') != numa['mode'] or not same(tune.get('nodeset'), numa['nodeset'])):
            numa_plan.append(dict(name=name, **numa))
    return allocations, vcpu_plan, numa_plan


def _span(ids):
    """cpuset.format for an already sorted list of distinct ids; one id (the usual case here) needs no work."""
    if len(ids) == 1:
        return str(ids[0])
    return cpuset.format(ids)


def _norm(text):
    if text is None or text == '' or cpuset.is_number(text):
        return text
    try:
        return cpuset.normalize(text)
    except cpuset.CpusetError:
        return text
