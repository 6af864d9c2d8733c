#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: apply_plan
short_description: Apply a whole allocation plan's CPU pins and memory placement in one call
version_added: 0.1.0
description:
  - Applies the C(vcpu_pin) and C(numa_memory) entries of a plan from M(adaptive.intravm.allocation_plan)
    to the running domains and their persistent configuration, each domain exactly as
    M(adaptive.intravm.vcpu_pin) and M(adaptive.intravm.numa_memory) would (the same validation,
    compare-and-swap on O(plan) C(expect), and rollback of that domain's changes when one fails).
  - One module run and one libvirt connection for every domain of the host, instead of one per
    domain and kind; that is what a job across many hypervisors spends most of its time on.
  - A domain that fails, or whose pins another run changed since the plan (superseded), is
    reported in RV(failures) or RV(superseded) and the other domains still apply; its memory
    placement is then left as it is.
  - The module itself fails on a plan that is not allocation_plan's shape (its lists, names and keys,
    and the type and syntax of every value, such as vCPU indexes, cpusets, nodesets and modes), checked for every
    entry before anything changes.
  - It also fails on an unexpected error (a bug, not a refusal of one domain), trying no domain after it;
    that failure is C(changed) when domains were changed before it, and names them in RV(changed_domains)
    and RV(domains), so the caller can record and roll back what was applied.
author:
  - adaptive.intravm contributors (@adaptive-intravm)
options:
  plan:
    description:
      - The C(plan) that M(adaptive.intravm.allocation_plan) returned. Only its C(vcpu_pin) and
        C(numa_memory) lists are read here; each entry names a domain once.
    type: dict
    required: true
  kinds:
    description:
      - Which parts to apply; C(cpu) are the vCPU, emulator and iothread pins, C(numa) the memory placement.
    type: list
    elements: str
    choices: [cpu, numa]
    default: [cpu, numa]
  reserved_cpus:
    description:
      - Host CPUs no pin may use (as in M(adaptive.intravm.vcpu_pin)).
    type: str
    default: ''
  live_unsupported:
    description:
      - What to do when libvirt cannot change a running domain's memory placement
        (as in M(adaptive.intravm.numa_memory)).
    type: str
    choices: [fail, config_only]
    default: fail
extends_documentation_fragment:
  - adaptive.intravm.attributes.ACTION
  - adaptive.intravm.libvirt
seealso:
  - module: adaptive.intravm.allocation_plan
  - module: adaptive.intravm.vcpu_pin
  - module: adaptive.intravm.numa_memory
'''

EXAMPLES = r'''
- name: Compute the plan
  adaptive.intravm.allocation_plan:
    forecasts_path: /run/host_predictor/forecasts.json
  register: plan

- name: Apply it, one call for the whole host
  adaptive.intravm.apply_plan:
    plan: "{{ plan.plan }}"
    reserved_cpus: "0"
  register: applied

- name: Say which domains could not be rebalanced
  ansible.builtin.debug:
    msg: "{{ applied.failures }}"
  when: applied.failures | length > 0
'''

RETURN = r'''
domains:
  description: Per domain and kind (C(cpu), C(numa)), the result the single-domain module would have returned.
  returned: success, and failure on an unexpected error
  type: dict
  sample: {"web01": {"cpu": {"changed": true, "superseded": false, "changes": [], "pins": {}}}}
changed_domains:
  description: Domains changed, per kind (also when the module failed on an unexpected error after changing some).
  returned: success, and failure on an unexpected error
  type: dict
  sample: {"cpu": ["web01"], "numa": []}
failures:
  description:
    - Domains that could not be changed, with why (their own changes were rolled back).
    - The module does not fail for them; the caller decides (the rebalance role fails the run at its end).
    - When the module fails on an unexpected error, the domain it was applying is here, with the error.
  returned: success, and failure on an unexpected error
  type: dict
  sample: {"db01": "db01: libvirt error: Requested operation is not valid: domain is not running"}
superseded:
  description: Domains whose pins changed since the plan; nothing was changed for them.
  returned: success, and failure on an unexpected error
  type: dict
  sample: {}
msg:
  description: How many domains changed, failed and were superseded; on failure, why (after an unexpected error, also what was applied before it).
  returned: when the plan had entries to apply, and on failure
  type: str
  sample: 2 domain(s) changed, 0 failed, 0 superseded
'''

from ansible_collections.adaptive.intravm.plugins.module_utils.apply.plan_apply import KINDS, run
from ansible_collections.adaptive.intravm.plugins.module_utils.module_base import LIBVIRT, IntravmModule


def main():
    module = IntravmModule(
        argument_spec=dict(
            plan=dict(type='dict', required=True),
            kinds=dict(type='list', elements='str', choices=list(KINDS), default=list(KINDS)),
            reserved_cpus=dict(type='str', default=''),
            live_unsupported=dict(type='str', choices=['fail', 'config_only'], default='fail'),
        ),
        requires=[LIBVIRT],
    )
    module.run_and_exit(run)


if __name__ == '__main__':
    main()
