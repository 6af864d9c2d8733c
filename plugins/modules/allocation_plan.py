#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: allocation_plan
short_description: Plan vCPU pins, NUMA memory, VF rates and vGPU scheduling from load forecasts
version_added: 0.1.0
description:
  - Reads the host predictor's forecasts (a JSON state file or a localhost endpoint),
    the host topology and the running domains' current placement from libvirt, and runs
    the cost/benefit planner.
  - Returns the plan in the shape the apply modules take, so a playbook loops over
    RV(plan.vcpu_pin) with M(adaptive.intravm.vcpu_pin), RV(plan.numa_memory) with
    M(adaptive.intravm.numa_memory), RV(plan.vf_bandwidth) with M(adaptive.intravm.vf_bandwidth)
    and RV(plan.vgpu) with M(adaptive.intravm.vgpu).
  - Every move comes with its estimated benefit, cost and a readable reason.
  - Refuses to plan from forecasts older than O(max_age) - the plan is then empty and
    RV(reason) says why.
  - Only computes; never changes anything, so C(changed) is always false.
author:
  - adaptive.intravm contributors (@adaptive-intravm)
options:
  forecasts_path:
    description:
      - Path of the predictor's JSON state file. It must be a regular file of at most 16 MiB
        (a FIFO or device is refused without blocking).
    type: path
  forecasts_url:
    description:
      - URL of the predictor's JSON endpoint (for example C(http://127.0.0.1:9187/forecasts)).
      - Only C(http) and C(https) URLs are read; a redirect is checked before it is followed (and never
        followed with O(forecasts_token)). The body may be at most 16 MiB and nest at most 16 levels deep.
    type: str
  forecasts_token:
    description:
      - Bearer token the predictor's endpoint asks for (its C(token_file)); sent only over
        C(https), or to a loopback address.
    type: str
  forecasts_ca_path:
    description:
      - PEM file of the CA that signed the predictor's TLS certificate (default, the system's CAs).
    type: path
  forecasts_client_cert:
    description:
      - PEM client certificate, for a predictor that asks for one (its C(tls_client_ca)).
    type: path
  forecasts_client_key:
    description:
      - PEM private key of O(forecasts_client_cert).
    type: path
  forecasts:
    description:
      - The forecast document itself (same shape as the state file), for example from
        an event. Exactly one of O(forecasts_path), O(forecasts_url) and O(forecasts) is required.
    type: dict
  max_age:
    description:
      - Oldest forecast, in seconds since its C(generated_at), the module plans from.
    type: int
    default: 300
  names:
    description:
      - Plan only these domains; other domains keep their placement but their load counts.
      - When omitted, every running domain with a forecast is planned.
    type: list
    elements: str
  reserved_cpus:
    description:
      - Host CPUs never given to a vCPU (merged into O(policy)).
    type: str
    default: ''
  max_moves:
    description: Most rebalancing moves in one plan (overrides C(policy.max_moves)).
    type: int
  policy:
    description:
      - Planner policy. Keys C(capacity), C(quantile) (C(p50), C(p90), or C(auto) for as much headroom above C(p50) as the host has room for), C(lookahead_s),
        C(max_moves), C(hysteresis), C(unknown_vcpu_demand), C(smt_share_across_vms),
        C(memory_mode), C(placement) (C(vcpu), each vCPU pinned to one CPU, or C(pool), each VM floating over its
        NUMA node's shared CPUs), C(cost) (C(cache), C(cache_domain), C(numa), C(churn)),
        C(default_vm) and C(vms) (per VM C(min_cpus), C(max_cpus), C(dedicated), C(weight)),
        C(bandwidth) (C(link_mbps), C(vm_pf), C(headroom), C(reserve_frac)) and
        C(gpu) (C(vm_gpu), C(current_scheduler)). See docs/planner.md.
      - C(lookahead_s) is how long the placement must hold, the loop's period. With the forecasts' window peaks
        (C(cpu_peak)) the plan carries the peak over the shortest window that covers it; without them, the highest
        forecast over the horizons up to it.
    type: dict
    default: {}
  resize:
    description:
      - The VMs whose memory (balloon) and vCPU count the plan may change, with their bounds. Opt-in per VM;
        a VM not named here is never resized, and only the kind whose two bounds are given.
      - Per VM C(min_memory) and C(max_memory) (sizes such as C(1G) or C(1536M); a plain number is MiB),
        C(min_vcpus) and C(max_vcpus). The domain's own maximum caps them.
      - Memory is sized to the forecast's p90 working-set peak over the C(lookahead_s) of O(policy) (at least
        the day's highest use) plus a margin, never below it, never below C(min_memory); grows at once, shrinks slowly, takes nothing from a guest under
        memory pressure now, and the grows of all VMs fit what the host has free plus what shrinks give back.
        vCPUs are sized to the p90 CPU demand; see docs/planner.md.
    type: dict
    default: {}
  sizing_policy:
    description:
      - Overrides of the sizing rules used with O(resize) (C(margin_frac), C(vcpu_margin_frac), C(shrink_step_frac),
        C(min_change_frac), C(psi_some_avg10_max), C(swap_in_per_s_max), C(granularity_bytes)). See docs/planner.md.
    type: dict
    default: {}
  timeout:
    description:
      - Seconds the whole answer of O(forecasts_url) may take (connect, status line, headers and body), however
        slowly the endpoint sends it.
    type: int
    default: 5
extends_documentation_fragment:
  - adaptive.intravm.attributes.INFO
  - adaptive.intravm.libvirt
notes:
  - Only running (or paused) domains are planned; their live placement is the starting point.
  - On a host with one NUMA node no numa_memory entries are planned.
seealso:
  - module: adaptive.intravm.vcpu_pin
  - module: adaptive.intravm.numa_memory
  - module: adaptive.intravm.topology_info
'''

EXAMPLES = r'''
- name: Plan from the predictor's state file
  adaptive.intravm.allocation_plan:
    forecasts_path: /var/lib/intravm/forecasts.json
    reserved_cpus: "0-1"
    max_age: 120
  register: plan

- name: Apply the vCPU pins
  adaptive.intravm.vcpu_pin:
    name: "{{ item.name }}"
    vcpus: "{{ item.vcpus }}"
    emulator: "{{ item.emulator }}"
    iothreads: "{{ item.iothreads | default(omit) }}"
    reserved_cpus: "0-1"
  loop: "{{ plan.plan.vcpu_pin }}"

- name: Apply the memory placement
  adaptive.intravm.numa_memory:
    name: "{{ item.name }}"
    mode: "{{ item.mode }}"
    nodeset: "{{ item.nodeset }}"
  loop: "{{ plan.plan.numa_memory }}"

- name: Plan from the predictor's endpoint with a per-VM policy
  adaptive.intravm.allocation_plan:
    forecasts_url: http://127.0.0.1:9187/forecasts
    policy:
      max_moves: 4
      vms:
        db01: {dedicated: true}
        web01: {min_cpus: 2, weight: 2.0}
'''

RETURN = r'''
plan:
  description: What to apply, one list per apply module; empty lists when nothing should change.
  returned: always
  type: dict
  contains:
    vcpu_pin:
      description:
        - Parameters for M(adaptive.intravm.vcpu_pin), one entry per domain whose pins change.
        - C(expect) holds the live pins the plan was computed from (the module's O(adaptive.intravm.vcpu_pin#module:expect)).
      type: list
      elements: dict
      sample: [{"name": "web01", "vcpus": {"0": "2", "1": "3"}, "emulator": "2-3", "expect": {"0": "0-7", "1": "0-7"}}]
    numa_memory:
      description: Parameters for M(adaptive.intravm.numa_memory), one entry per domain whose memory placement changes.
      type: list
      elements: dict
      sample: [{"name": "web01", "mode": "strict", "nodeset": "0"}]
    vf_bandwidth:
      description: Parameters for M(adaptive.intravm.vf_bandwidth) (Mbps), for domains with a network forecast.
      type: list
      elements: dict
      sample: [{"name": "web01", "min_tx_rate": 800, "max_tx_rate": 2500}]
    vgpu:
      description: Scheduler per GPU for M(adaptive.intravm.vgpu), with the forecast demand and each domain's share.
      type: list
      elements: dict
      sample: [{"gpu": "0", "scheduler": "equal_share", "demand": 1.4, "shares": {"ml01": 0.57, "ml02": 0.43}}]
    memory_balloon:
      description:
        - Parameters for M(adaptive.intravm.memory_balloon), one entry per O(resize) VM whose memory changes,
          with what it holds now (C(from_bytes)) and why.
      type: list
      elements: dict
      sample: [{"name": "web01", "memory": "3072M", "memory_bytes": 3221225472, "from_bytes": 4294967296,
                "reason": "shrink slowly toward forecast (10% step) (p90 peak or day floor 2380 MiB)"}]
    vcpu_count:
      description: Parameters for M(adaptive.intravm.vcpu_count), one entry per O(resize) VM whose vCPU count changes.
      type: list
      elements: dict
      sample: [{"name": "batch01", "count": 4, "from": 2, "reason": "grow before predicted peak (p90 demand 2.90 CPUs)"}]
moves:
  description: Every vCPU move in the plan, with estimated benefit and cost (CPU fractions) and the reason.
  returned: always
  type: list
  elements: dict
  sample: [{"vm": "web01", "vcpu": 1, "from": "4", "to": "6", "benefit": 0.31, "cost": 0.03, "kind": "rebalance",
            "reason": "CPU 4 forecast at 1.31 (p90) over capacity 1.00; ..."}]
allocations:
  description: Target placement of every planned domain (whether or not it changes).
  returned: always
  type: dict
  sample: {"web01": {"vcpus": {"0": "2"}, "emulator": "2", "iothreads": {}, "nodes": "0",
                     "numa": {"mode": "strict", "nodeset": "0"}}}
hotspots:
  description: CPUs whose forecast load exceeded capacity, with the load before and after the plan.
  returned: always
  type: list
  elements: dict
  sample: [{"cpu": 4, "load_before": 1.31, "load_after": 0.91}]
ignored:
  description: Forecast VMs that are not running domains on this host (not planned).
  returned: always
  type: list
  elements: str
  sample: ["old-vm"]
unplanned:
  description: Running domains without a forecast; they keep their placement and their load is counted.
  returned: always
  type: list
  elements: str
warnings:
  description: Planner notes (forecast parts it could not use, scaled VF minimums).
  returned: always
  type: list
  elements: str
reason:
  description: Why the plan is empty when it was refused (stale forecasts). Absent otherwise.
  returned: when the plan was refused
  type: str
  sample: forecasts generated 900 s ago are older than max_age 300 s; not planning from them
resize_skipped:
  description: O(resize) VMs left at their size, with why (not running, no forecast, no memory forecast yet).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "db01", "reason": "no memory forecast (the guest profiler reports no memory yet)"}]
forecast_age_s:
  description: Age of the forecasts in seconds when they were read.
  returned: always
  type: float
'''

import time

from ansible_collections.adaptive.intravm.plugins.module_utils.apply import balloon_apply, vcpu_apply
from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError
from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset, libvirt_conn

from ansible_collections.adaptive.intravm.plugins.module_utils.host.placement import host_state
from ansible_collections.adaptive.intravm.plugins.module_utils.module_base import LIBVIRT, IntravmModule
from ansible_collections.adaptive.intravm.plugins.module_utils.plan import forecast_doc
from ansible_collections.adaptive.intravm.plugins.module_utils.plan.from_forecasts import (
    empty_result, merged_policy, plan_from_forecasts, staleness,
)
from ansible_collections.adaptive.intravm.plugins.module_utils.plan.resize import plan_resize


def load_forecasts(params):
    """The forecast document from whichever source was given, read within forecast_doc's bounds."""
    opener = None
    if params['forecasts_url']:
        opener = forecast_doc.opener(params.get('forecasts_token'), params.get('forecasts_ca_path'),
                                     params.get('forecasts_client_cert'), params.get('forecasts_client_key'))
    return forecast_doc.load(path=params['forecasts_path'], url=params['forecasts_url'], doc=params['forecasts'],
                             opener=opener, timeout=params['timeout'])


def run(module):
    params = module.params
    doc = load_forecasts(params)
    now = time.time()
    age, refused = staleness(doc, now, params['max_age'])
    if refused:     # before touching libvirt
        return empty_result(refused, age)
    conn = module.connect()
    topology, current = host_state(conn)
    policy = merged_policy(params['policy'], params['reserved_cpus'], params['max_moves'])
    result = plan_from_forecasts(doc, topology, current, now, params['max_age'], params['names'], policy, conn.getURI())
    bounds = resize_bounds(params['resize'])
    resized = plan_resize(doc['vms'], domain_sizes(conn, bounds), bounds, conn.getFreeMemory(),
                          params['sizing_policy'] or None, policy.get('lookahead_s'))
    result['plan']['memory_balloon'] = resized['memory_balloon']
    result['plan']['vcpu_count'] = resized['vcpu_count']
    result['resize_skipped'] = resized['skipped']
    return result


def resize_bounds(resize):
    """{vm: bounds} with sizes in bytes, or IntravmError naming the VM and value (before libvirt is asked anything)."""
    bounds = {}
    for name, raw in sorted((resize or {}).items()):
        if not isinstance(raw, dict):
            raise IntravmError('resize[%s] must be a dict of bounds, got %r' % (name, raw))
        vm = dict(raw)
        for key in ('min_memory', 'max_memory'):
            if vm.get(key) is not None:
                vm[key] = balloon_apply.size(vm[key], 'resize[%s].%s' % (name, key))
        for key in ('min_vcpus', 'max_vcpus'):
            if vm.get(key) is not None:
                # the one integer grammar (ASCII digits): str.isdigit() took "\u0661" as 1 and "\u00b2" to int()
                try:
                    vm[key] = cpuset.index(vm[key], 'resize[%s].%s' % (name, key))
                except cpuset.CpusetError as exc:
                    raise IntravmError('%s (a vCPU count)' % exc)
        bounds[name] = vm
    return bounds


def domain_sizes(conn, bounds):
    """{vm: memory held (the balloon's actual size) and its maximum, vCPUs and their maximum} of running domains in bounds."""
    sizes = {}
    for name in bounds:
        try:
            dom = conn.lookupByName(name)
        except libvirt_conn.libvirt.libvirtError:
            continue
        if not dom.isActive():
            continue
        # read as memory_balloon and vcpu_count read them, so the plan compares what they will
        memory = balloon_apply.read_state(dom, ['live'])['live']
        vcpus = vcpu_apply.read_state(dom, ['live'])['live']
        sizes[name] = {'memory_bytes': memory['memory_bytes'], 'max_memory_bytes': memory['max_bytes'],
                       'balloon': memory['balloon'], 'vcpus': vcpus['current'], 'max_vcpus': vcpus['maximum']}
    return sizes


def main():
    module = IntravmModule(
        argument_spec=dict(
            forecasts_path=dict(type='path'),
            forecasts_url=dict(type='str'),
            forecasts_token=dict(type='str', no_log=True),
            forecasts_ca_path=dict(type='path'),
            forecasts_client_cert=dict(type='path'),
            forecasts_client_key=dict(type='path'),
            forecasts=dict(type='dict'),
            max_age=dict(type='int', default=300),
            names=dict(type='list', elements='str'),
            reserved_cpus=dict(type='str', default=''),
            max_moves=dict(type='int'),
            policy=dict(type='dict', default={}),
            resize=dict(type='dict', default={}),
            sizing_policy=dict(type='dict', default={}),
            timeout=dict(type='int', default=5),
        ),
        mutually_exclusive=[('forecasts_path', 'forecasts_url', 'forecasts')],
        required_one_of=[('forecasts_path', 'forecasts_url', 'forecasts')],
        required_together=[('forecasts_client_cert', 'forecasts_client_key')],
        requires=[LIBVIRT],
    )
    if module.params['max_age'] < 0:
        module.fail_json(msg='max_age is %d: it must be 0 or more seconds' % module.params['max_age'])
    module.run_and_exit(run)


if __name__ == '__main__':
    main()
