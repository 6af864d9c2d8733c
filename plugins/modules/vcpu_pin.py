#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: vcpu_pin
short_description: Pin a domain's vCPUs, emulator and iothreads to host CPUs
version_added: 0.1.0
description:
  - Declares where a libvirt domain's vCPUs, emulator threads and iothreads may run.
    Only the vCPUs and iothreads listed change; the rest keep their pins.
  - Reads the domain's pins once, then makes only the calls that change something.
    Validates the whole request before the first change; if libvirt fails part-way,
    the pins already changed are restored and both errors are reported.
author:
  - adaptive.intravm contributors (@adaptive-intravm)
options:
  vcpus:
    description:
      - Map of vCPU index to cpuset string (for example C("2-3,6")).
      - Only the listed vCPUs change.
    type: dict
  emulator:
    description: cpuset for the domain's emulator threads.
    type: str
  iothreads:
    description: Map of iothread id to cpuset string.
    type: dict
  expect:
    description:
      - Compare-and-swap. Map of vCPU index to the cpuset it had when the request was computed
        (M(adaptive.intravm.allocation_plan) puts it in every RV(adaptive.intravm.allocation_plan#module:plan.vcpu_pin) entry).
      - If any of those vCPUs is pinned differently now (on the live side, or the persistent config when
        O(live=false)), something else changed the domain since; nothing changes and the result has
        RV(superseded=true) and a RV(msg) naming what changed.
    type: dict
  reserved_cpus:
    description:
      - Host CPUs that must never be used (for example those kept for the host).
      - A request that names any of them fails before anything changes.
    type: str
    default: ''
extends_documentation_fragment:
  - adaptive.intravm.attributes.ACTION
  - adaptive.intravm.libvirt
  - adaptive.intravm.libvirt.DOMAIN
  - adaptive.intravm.libvirt.SIDES
notes:
  - Pins that are not set explicitly read as all host CPUs, as libvirt reports them.
seealso:
  - module: adaptive.intravm.topology_info
  - module: adaptive.intravm.numa_memory
  - module: adaptive.intravm.allocation_plan
'''

EXAMPLES = r'''
- name: Give vCPU 0 and 1 their own cores, keep emulator threads on the housekeeping CPUs
  adaptive.intravm.vcpu_pin:
    name: web01
    vcpus:
      0: "2"
      1: "3"
    emulator: "0-1"
    reserved_cpus: "0"

- name: Change only the persistent configuration of a shut-off domain
  adaptive.intravm.vcpu_pin:
    name: batch07
    vcpus: {0: "4-5"}
    live: false

- name: Apply a plan computed by allocation_plan
  adaptive.intravm.vcpu_pin:
    name: "{{ item.name }}"
    vcpus: "{{ item.vcpus }}"
    emulator: "{{ item.emulator | default(omit) }}"
    expect: "{{ item.expect }}"     # skip a domain another run re-pinned since the plan
  loop: "{{ plan.plan.vcpu_pin }}"
'''

RETURN = r'''
pins:
  description: Placement after the run, from the live side when O(live=true), else the persistent config.
  returned: success
  type: dict
  contains:
    vcpus:
      description: vCPU index to cpuset.
      type: dict
      sample: {"0": "2", "1": "3"}
    emulator:
      description: Emulator cpuset.
      type: str
      sample: "0-1"
    iothreads:
      description: iothread id to cpuset.
      type: dict
      sample: {"1": "0"}
config_pins:
  description: Persistent-config placement after the run, when both O(live) and O(config) are true.
  returned: success and live and config
  type: dict
  sample: {"vcpus": {"0": "2"}, "emulator": "0-1", "iothreads": {}}
superseded:
  description: True when O(expect) no longer matched the domain's pins, so nothing was changed.
  returned: always
  type: bool
  sample: false
changed_since:
  description: The vCPUs whose pins differ from O(expect), with the pin expected and the pin now (null when the vCPU is gone).
  returned: when superseded
  type: list
  elements: dict
  sample: [{"vcpu": 0, "expected": "0", "now": "1"}]
msg:
  description: Why nothing was changed, when superseded.
  returned: when superseded
  type: str
  sample: "superseded: the pins changed since the plan was computed (vcpu 0 0 -> 1); nothing changed"
changes:
  description: Each change made (or, in check mode, that would be made).
  returned: always
  type: list
  elements: dict
  sample: [{"side": "live", "kind": "vcpu", "id": 0, "before": "0-3", "after": "2"}]
'''

from ansible_collections.adaptive.intravm.plugins.module_utils.apply.pin_apply import run
from ansible_collections.adaptive.intravm.plugins.module_utils.module_base import LIBVIRT, IntravmModule


def main():
    module = IntravmModule(
        domain=True,
        argument_spec=dict(
            vcpus=dict(type='dict'),
            emulator=dict(type='str'),
            iothreads=dict(type='dict'),
            reserved_cpus=dict(type='str', default=''),
            expect=dict(type='dict'),
        ),
        sides=True,
        requires=[LIBVIRT],
    )
    module.run_and_exit(run)


if __name__ == '__main__':
    main()
