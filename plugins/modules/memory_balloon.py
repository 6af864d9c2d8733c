#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: memory_balloon
short_description: Set how much memory a running libvirt domain holds, through its virtio balloon
version_added: 0.2.0
description:
  - Sets the balloon target of a domain (its current memory) within its maximum, live and/or in the
    persistent config, so memory idle in one guest can be given to another without a restart.
  - The live value compared and reported is the balloon's actual size, as the guest's virtio-balloon
    driver reports it; after a change the module waits up to O(wait) seconds for the guest to get there.
  - Refuses, changing nothing, a domain without a balloon device, a target above the domain's maximum,
    and a shrink below what the guest uses now plus O(min_free) (from the balloon's own statistics;
    without them a shrink is refused). That floor holds on both sides (the persistent config's current
    memory is what the guest boots with), so a shrink of the config alone also needs the domain running
    and reporting its statistics.
  - Sets the balloon's statistics period so the host can read the guest's memory statistics, and
    returns them.
  - If libvirt fails part-way, what was already changed is restored.
author:
  - adaptive.intravm contributors (@adaptive-intravm)
options:
  memory:
    description:
      - The memory the domain should hold, in binary units (C(1536M), C(1.5G), C(2G)); a plain number is MiB.
        ASCII digits, at most 8 EiB.
      - Rounded down to whole 4 KiB pages.
    type: str
    required: true
  min_free:
    description:
      - Memory the guest keeps free above what it uses now; a shrink below that floor is refused.
    type: str
    default: 128M
  stats_period:
    description:
      - Seconds between the guest's balloon statistics reports; C(0) turns them off.
    type: int
    default: 5
  wait:
    description:
      - Seconds to wait for the guest to reach a new live target. The module warns if it does not.
    type: int
    default: 30
extends_documentation_fragment:
  - adaptive.intravm.attributes.ACTION
  - adaptive.intravm.libvirt
  - adaptive.intravm.libvirt.DOMAIN
  - adaptive.intravm.libvirt.SIDES
seealso:
  - module: adaptive.intravm.vcpu_count
  - module: adaptive.intravm.allocation_plan
'''

EXAMPLES = r'''
- name: Give web01 back 1 GiB it does not use, now and from its next boot
  adaptive.intravm.memory_balloon:
    name: web01
    memory: 3G

- name: Let db01 use all of its maximum again, now only
  adaptive.intravm.memory_balloon:
    name: db01
    memory: 8G
    config: false
'''

RETURN = r'''
memory:
  description: The balloon after the run, from the live side when O(live=true), else the config.
  returned: success
  type: dict
  sample: {"memory_bytes": 402653184, "max_bytes": 536870912, "balloon": true, "stats_period": 5}
config_memory:
  description: The persistent config's balloon target and maximum after the run, when both sides were asked.
  returned: success and live and config
  type: dict
  sample: {"memory_bytes": 402653184, "max_bytes": 536870912, "balloon": true, "stats_period": 5}
stats:
  description:
    - The balloon's statistics in bytes and counts (from libvirt's memoryStats); keys the guest does not report are absent.
  returned: when live
  type: dict
  sample: {"actual_bytes": 402653184, "available_bytes": 389050368, "usable_bytes": 301989888, "unused_bytes": 280000000,
           "major_faults": 310, "minor_faults": 120000, "swap_in_bytes": 0, "swap_out_bytes": 0}
guest_used_bytes:
  description: What the guest used before the change (total less what it could free), or null without guest statistics.
  returned: success
  type: int
  sample: 87060480
reached:
  description: Whether the guest reached the new live target within O(wait); null when the live target did not change.
  returned: success
  type: bool
  sample: true
changes:
  description: Each change made (or, in check mode, that would be made).
  returned: always
  type: list
  elements: dict
  sample: [{"side": "live", "what": "memory_bytes", "before": 536870912, "after": 402653184}]
'''

from ansible_collections.adaptive.intravm.plugins.module_utils.apply.balloon_apply import run
from ansible_collections.adaptive.intravm.plugins.module_utils.module_base import LIBVIRT, IntravmModule


def main():
    module = IntravmModule(
        domain=True,
        argument_spec=dict(
            memory=dict(type='str', required=True),
            min_free=dict(type='str', default='128M'),
            stats_period=dict(type='int', default=5),
            wait=dict(type='int', default=30),
        ),
        sides=True,
        requires=[LIBVIRT],
    )
    module.run_and_exit(run)


if __name__ == '__main__':
    main()
