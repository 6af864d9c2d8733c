#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: vcpu_count
short_description: Hot-plug and unplug the vCPUs of a running libvirt domain
version_added: 0.2.0
description:
  - Sets how many vCPUs a domain has, live and/or in the persistent config, within the domain's maximum
    (C(<vcpu current='N'>MAX</vcpu>); hotplug also needs C(<features><acpi/></features>)).
  - Hot-plugged vCPUs are brought online by the guest (its udev rule, or its init); the module waits up to
    O(wait) seconds and reports the guest's online vCPUs when the QEMU guest agent answers.
  - Unplugging needs the guest's cooperation. The module asks the guest agent to take the leaving vCPUs
    offline first, then unplugs them. Without an agent that answers, an unplug is refused and nothing changes.
  - Plugged vCPUs are not pinned here; they join the placement the planner owns, and
    M(adaptive.intravm.vcpu_pin) pins them by the same rules as the rest.
  - If libvirt fails part-way, what was already changed is restored.
author:
  - adaptive.intravm contributors (@adaptive-intravm)
options:
  count:
    description: How many vCPUs the domain should have.
    type: int
    required: true
  wait:
    description: Seconds to wait for the guest to bring hot-plugged vCPUs online.
    type: int
    default: 30
extends_documentation_fragment:
  - adaptive.intravm.attributes.ACTION
  - adaptive.intravm.libvirt
  - adaptive.intravm.libvirt.DOMAIN
  - adaptive.intravm.libvirt.SIDES
seealso:
  - module: adaptive.intravm.vcpu_pin
  - module: adaptive.intravm.memory_balloon
'''

EXAMPLES = r'''
- name: Give batch01 a fourth vCPU for tonight's run, live only
  adaptive.intravm.vcpu_count:
    name: batch01
    count: 4
    config: false

- name: Take it back (the guest agent offlines it first)
  adaptive.intravm.vcpu_count:
    name: batch01
    count: 3
    config: false
'''

RETURN = r'''
vcpus:
  description: vCPU counts after the run, from the live side when O(live=true), else the config.
  returned: success
  type: dict
  sample: {"current": 4, "maximum": 8}
config_vcpus:
  description: The persistent config's counts after the run, when both sides were asked.
  returned: success and live and config
  type: dict
  sample: {"current": 4, "maximum": 8}
guest:
  description: The guest agent's view of its vCPUs (cpuset strings), or null when no agent answers.
  returned: success
  type: dict
  sample: {"vcpus": "0-3", "online": "0-3", "offlinable": "1-3"}
changes:
  description: Each change made (or, in check mode, that would be made); an unplug names the vCPUs it removes.
  returned: always
  type: list
  elements: dict
  sample: [{"side": "live", "before": 4, "after": 3, "remove": "3"}]
'''

from ansible_collections.adaptive.intravm.plugins.module_utils.apply.vcpu_apply import run
from ansible_collections.adaptive.intravm.plugins.module_utils.module_base import LIBVIRT, IntravmModule


def main():
    module = IntravmModule(
        domain=True,
        argument_spec=dict(
            count=dict(type='int', required=True),
            wait=dict(type='int', default=30),
        ),
        sides=True,
        requires=[LIBVIRT],
    )
    module.run_and_exit(run)


if __name__ == '__main__':
    main()
