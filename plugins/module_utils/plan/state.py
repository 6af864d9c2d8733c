# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host as the planner sees it while it plans: loads, owners, placement rules.

One mutable object so a tentative move is a remove + add, and the rules
(reserved CPUs, dedicated vCPUs, SMT siblings, min/max CPUs per VM) live in
one `allowed` check that placement, repair and rebalancing all share.
Pure, no I/O.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import bisect

from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset


class HostState(object):
    """Per-CPU load and per-CPU VM counts, with CPUs of each cache group kept sorted by load."""

    def __init__(self, topology, usable, smt_share_across_vms=False):
        self.usable = frozenset(usable)
        self.node_of = {}
        self.siblings = {}
        for cpu in topology['cpus']:
            self.node_of[cpu['id']] = cpu['node']
            self.siblings[cpu['id']] = cpuset.parse(cpu.get('siblings') or str(cpu['id']))
        self.distance = {}
        for node in topology['nodes']:
            for other, value in (node.get('distances') or {}).items():
                self.distance[(node['id'], int(other))] = int(value)
        self.core_of = dict((c, min(s)) for c, s in self.siblings.items())
        self.group_of = _cache_groups(topology, self.usable, self.node_of)
        self.groups = {}
        self.open = {}       # per group, CPUs any shared VM may take (no dedicated, no busy sibling), by load
        self.is_open = {}
        for cpu in sorted(self.usable):
            self.groups.setdefault(self.group_of[cpu], []).append([0.0, cpu])
            self.open.setdefault(self.group_of[cpu], []).append([0.0, cpu])
            self.is_open[cpu] = True
        self.core_vms = dict((c, {}) for c in set(self.core_of.values()))
        self.ded_core = dict((c, 0) for c in set(self.core_of.values()))
        self.group_ids = sorted(self.groups)
        self.nodes = sorted(set(self.node_of[c] for c in self.usable))
        self.load = dict((c, 0.0) for c in self.node_of)
        self.cpu_vms = dict((c, {}) for c in self.node_of)
        self.smt_free = smt_share_across_vms
        self.dedicated = set()   # names of dedicated VMs
        self.vm_cpus = {}        # vm -> {cpu: vCPU count}
        self.where = {}          # (vm, vcpu) -> cpu, for placed vCPUs of planned VMs
        self.on_cpu = dict((c, set()) for c in self.node_of)  # cpu -> placed (vm, vcpu) keys
        self.demand = {}         # (vm, vcpu) -> demand
        self.policy = {}         # vm -> its policy entry
        self.vm_demand = {}      # vm -> the sum of its vCPUs' demand (planned VMs)

    # -- loads -------------------------------------------------------------
    def _set_load(self, cpu, value):
        if cpu in self.usable:
            lists = [self.groups[self.group_of[cpu]]]
            if self.is_open[cpu]:
                lists.append(self.open[self.group_of[cpu]])
            for lst in lists:
                i = bisect.bisect_left(lst, [self.load[cpu], cpu])
                del lst[i]
                bisect.insort(lst, [value, cpu])
        self.load[cpu] = value

    def _refresh_open(self, cpu):
        """Recompute which CPUs of cpu's core are open to any shared VM."""
        core = self.core_of[cpu]
        for c in self.siblings[cpu]:
            if c not in self.usable:
                continue
            busy_sibling = any(self.cpu_vms[s] for s in self.siblings[c] if s != c)
            want = self.ded_core[core] == 0 and (self.smt_free or not busy_sibling)
            if want != self.is_open[c]:
                lst = self.open[self.group_of[c]]
                if want:
                    bisect.insort(lst, [self.load[c], c])
                else:
                    del lst[bisect.bisect_left(lst, [self.load[c], c])]
                self.is_open[c] = want

    def _tally(self, cpu, vm, delta):
        """Count one vCPU of vm on cpu more (delta 1) or less (-1): per CPU, per core, per VM, and dedicated cores."""
        core = self.core_of[cpu]
        for counts, k in ((self.cpu_vms[cpu], vm), (self.core_vms[core], vm), (self.vm_cpus.setdefault(vm, {}), cpu)):
            n = counts.get(k, 0) + delta
            if n:
                counts[k] = n
            else:
                del counts[k]
        if vm in self.dedicated:
            self.ded_core[core] += delta

    def add_background(self, cpus, demand, vm):
        """Load of a vCPU we do not plan (no forecast), spread over its cpuset."""
        share = demand / len(cpus)
        for cpu in sorted(cpus):
            self._set_load(cpu, self.load[cpu] + share)
            if len(cpus) == 1:
                self._tally(cpu, vm, 1)
                self._refresh_open(cpu)

    def bulk_add(self, seats):
        """add() for many (key, cpu) at once, sorting the per-group lists once at the end."""
        for key, cpu in seats:
            self.where[key] = cpu
            self.on_cpu[cpu].add(key)
            self.load[cpu] += self.demand[key]
            self._tally(cpu, key[0], 1)
        for gid, lst in self.groups.items():
            self.groups[gid] = sorted([self.load[entry[1]], entry[1]] for entry in lst)
        for gid in self.open:
            self.open[gid] = []
        for cpu in sorted(self.usable):
            busy_sibling = any(self.cpu_vms[s] for s in self.siblings[cpu] if s != cpu)
            self.is_open[cpu] = self.ded_core[self.core_of[cpu]] == 0 and (self.smt_free or not busy_sibling)
            if self.is_open[cpu]:
                self.open[self.group_of[cpu]].append([self.load[cpu], cpu])
        for lst in self.open.values():
            lst.sort()

    def add(self, key, cpu):
        self.where[key] = cpu
        self.on_cpu[cpu].add(key)
        self._set_load(cpu, self.load[cpu] + self.demand[key])
        self._tally(cpu, key[0], 1)
        self._refresh_open(cpu)

    def lift(self, key):
        """Take key off its CPU for a what-if, leaving the sorted lists alone; undo with drop_back.

        Cheaper than remove() + add(); nothing but why_not/own_candidates and
        loads may be read until drop_back, and the vCPU's own CPU must not be a target.
        """
        cpu = self.where[key]
        saved = self.load[cpu]
        self.load[cpu] = max(0.0, saved - self.demand[key])
        self._tally(cpu, key[0], -1)
        return cpu, saved

    def drop_back(self, key, lifted):
        cpu, saved = lifted
        self.load[cpu] = saved
        self._tally(cpu, key[0], 1)

    def remove(self, key):
        cpu = self.where.pop(key)
        self.on_cpu[cpu].discard(key)
        self._set_load(cpu, max(0.0, self.load[cpu] - self.demand[key]))
        self._tally(cpu, key[0], -1)
        self._refresh_open(cpu)
        return cpu

    # -- rules -------------------------------------------------------------
    def why_not(self, vm, cpu):
        """None when vm may get one more vCPU on cpu, else the rule that forbids it.

        Called with the vCPU being moved already removed.
        """
        if cpu not in self.usable:
            return 'CPU %d is reserved or offline' % cpu
        here = self.cpu_vms[cpu]
        core = self.core_of[cpu]
        if vm in self.dedicated:
            if here:
                return 'dedicated vCPUs of %r need CPU %d to themselves' % (vm, cpu)
            for sib in self.siblings[cpu]:
                if sib != cpu and any(v != vm for v in self.cpu_vms[sib]):
                    return 'SMT sibling %d of CPU %d runs another VM beside dedicated %r' % (sib, cpu, vm)
        elif self.ded_core[core]:
            return 'CPU %d or its SMT sibling holds a dedicated vCPU of another VM' % cpu
        if not self.smt_free:
            cv = self.core_vms[core]
            if (len(cv) > 1 or (cv and vm not in cv)) and any(self.cpu_vms[s] for s in self.siblings[cpu] if s != cpu):
                return 'SMT siblings of CPU %d would run different VMs' % cpu
        own = self.vm_cpus.get(vm, {})
        if cpu not in own and len(own) + 1 > self.policy[vm]['max_cpus']:
            return 'VM %r already uses its max_cpus=%d CPUs' % (vm, self.policy[vm]['max_cpus'])
        return None

    def leaves_min(self, vm, src, dst):
        """Whether moving one vCPU of vm from src to dst keeps it at or above min_cpus."""
        own = self.vm_cpus.get(vm, {})
        after = len(own) + (0 if dst in own else 1)
        # own already lacks the moved vCPU: src counts only if other vCPUs remain there
        return after >= self.policy[vm]['min_cpus'] or after >= len(own) + (0 if src in own else 1)

    def first_allowed(self, vm, gid, exclude=None, new_only=False):
        """(load, cpu, gid) of the least-loaded CPU of group gid open to vm, or None.

        Shared VMs look only at the group's open CPUs (see own_candidates for the
        cores they already hold); dedicated VMs scan every CPU.
        """
        own = self.vm_cpus.get(vm, {})
        pool = self.groups[gid] if vm in self.dedicated else self.open[gid]
        for load, cpu in pool:
            if cpu == exclude or (new_only and cpu in own):
                continue
            if self.why_not(vm, cpu) is None:
                return (load, cpu, gid)
        return None

    def own_candidates(self, vm, exclude=None, new_only=False):
        """Allowed CPUs on the cores vm already holds, which may be closed to other VMs."""
        if vm in self.dedicated:
            return []
        own = self.vm_cpus.get(vm, {})
        extra = set()
        for cpu in own:
            extra.update(self.siblings[cpu])
        return [(self.load[c], c, self.group_of[c]) for c in sorted(extra)
                if c in self.usable and c != exclude and not (new_only and c in own) and self.why_not(vm, c) is None]

    def least_loaded(self, vm, groups, exclude=None, new_only=False):
        """Least-loaded allowed CPU in each of groups: [(load, cpu, group)]."""
        best = {}
        for gid in groups:
            found = self.first_allowed(vm, gid, exclude, new_only)
            if found:
                best[gid] = found
        wanted = set(groups)
        for cand in self.own_candidates(vm, exclude, new_only):
            gid = cand[2]
            if gid in wanted and (gid not in best or cand < best[gid]):
                best[gid] = cand
        return [best[g] for g in groups if g in best]

    def pool_min(self, vm, gid):
        """Lowest load any CPU of group gid offers vm (a lower bound; None if none is open)."""
        pool = self.groups[gid] if vm in self.dedicated else self.open[gid]
        return pool[0][0] if pool else None

    def vm_nodes(self, vm):
        """The nodes vm's placed vCPUs are on (without a lifted one)."""
        return frozenset(self.node_of[c] for c in self.vm_cpus.get(vm, {}))

    def interleave_remote(self, nodes):
        """Mean remote factor of a VM whose vCPUs (evenly) and memory (interleaved) span `nodes`.

        The plan's memory follows its vCPUs (one node: strict there; several:
        interleaved over them, see _targets), so a vCPU on node a finds 1/k of
        the pages on each of the k nodes; factor distance/10 - 1 for each remote one.
        """
        k = len(nodes)
        if k < 2:
            return 0.0
        far = sum(max(0.0, self.distance.get((a, b), 20) / 10.0 - 1.0) for a in nodes for b in nodes if a != b)
        return far / (k * k)

    def hot(self, capacity):
        return [c for c in sorted(self.usable) if self.load[c] > capacity + 1e-9]


def _cache_groups(topology, usable, node_of):
    """CPU -> its last-level cache group (the highest cache level libvirt lists), else its node."""
    caches = topology.get('caches') or []
    group = dict((c, ('node', node_of[c])) for c in node_of)
    if caches:
        top = max(b['level'] for b in caches)
        for bank in caches:
            if bank['level'] == top:
                for cpu in cpuset.parse(bank['cpus']):
                    if cpu in group:
                        group[cpu] = ('cache', node_of[cpu], bank['id'])
    return dict((c, group[c]) for c in usable)
