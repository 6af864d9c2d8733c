#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: numa_memory
short_description: Set the NUMA memory policy (numatune) of a libvirt domain
version_added: 0.1.0
description:
  - Declares on which host NUMA nodes a domain's memory may live, with which policy,
    and optionally per guest NUMA cell.
  - Validates nodes against the host and cells against the domain before any change;
    if libvirt fails part-way, what was already changed is restored.
  - libvirt refuses some changes on a running domain (changing the mode, per-cell
    memnodes, some nodeset changes). The module then fails with libvirt's reason, or,
    with O(live_unsupported=config_only) and O(config=true), changes only the persistent
    config and warns that it takes effect at the next boot.
  - Reports where the domain's memory actually is (bytes per host node of the QEMU
    process), so pages can be seen moving after a nodeset change.
author:
  - adaptive.intravm contributors (@adaptive-intravm)
options:
  mode:
    description: Memory policy.
    type: str
    choices: [strict, preferred, interleave, restrictive]
  nodeset:
    description: Host NUMA nodes for the domain's memory, as a set string such as C("0-1").
    type: str
  memnodes:
    description:
      - Map of guest NUMA cell id to host nodeset, for domains with guest NUMA cells.
      - Cells use O(mode) when given, else keep their own mode.
    type: dict
  live_unsupported:
    description:
      - What to do when libvirt cannot make the change on the running domain.
      - C(fail) fails with libvirt's reason and changes nothing.
      - C(config_only) changes only the persistent config (needs O(config=true)) and
        warns that the change takes effect at the next boot.
    type: str
    choices: [fail, config_only]
    default: fail
extends_documentation_fragment:
  - adaptive.intravm.attributes.ACTION
  - adaptive.intravm.libvirt
  - adaptive.intravm.libvirt.DOMAIN
  - adaptive.intravm.libvirt.SIDES
seealso:
  - module: adaptive.intravm.vcpu_pin
  - module: adaptive.intravm.topology_info
'''

EXAMPLES = r'''
- name: Keep web01's memory on node 1
  adaptive.intravm.numa_memory:
    name: web01
    mode: strict
    nodeset: "1"

- name: Interleave a database over both nodes from its next boot
  adaptive.intravm.numa_memory:
    name: db01
    mode: interleave
    nodeset: "0-1"
    live_unsupported: config_only

- name: Bind guest cell 0 to host node 0 and guest cell 1 to host node 1 (persistent)
  adaptive.intravm.numa_memory:
    name: big01
    memnodes:
      0: "0"
      1: "1"
    live: false
'''

RETURN = r'''
numatune:
  description: numatune after the run, from the live side when O(live=true) and it was applied live, else the config.
  returned: success
  type: dict
  sample: {"mode": "strict", "nodeset": "1", "placement": "static", "memnodes": {}}
config_numatune:
  description: Persistent-config numatune after the run, when O(config=true).
  returned: success and config
  type: dict
  sample: {"mode": "strict", "nodeset": "1", "placement": "static", "memnodes": {"0": {"mode": "strict", "nodeset": "1"}}}
memory_by_node:
  description:
    - Bytes of the QEMU process's memory per host NUMA node, from C(/proc/PID/numa_maps).
    - Null when the domain is not a running local QEMU domain.
  returned: success
  type: dict
  sample: {"0": 134217728}
live_skipped_reason:
  description:
    - Why the change was not made on the running domain and went to the persistent config only
      (with O(live_unsupported=config_only)); it takes effect at the next boot. Null otherwise.
  returned: success
  type: str
  sample: "not changed live (can't change numatune mode for running domain); applied to the persistent config only, effective at the next boot"
changes:
  description: Each change made (or, in check mode, that would be made).
  returned: always
  type: list
  elements: dict
  sample: [{"side": "live", "what": "policy", "before": {"mode": "strict", "nodeset": "0"}, "after": {"mode": "strict", "nodeset": "1"}}]
'''

from ansible_collections.adaptive.intravm.plugins.module_utils.apply.numa_apply import run
from ansible_collections.adaptive.intravm.plugins.module_utils.module_base import LIBVIRT, IntravmModule


def main():
    module = IntravmModule(
        domain=True,
        argument_spec=dict(
            mode=dict(type='str', choices=['strict', 'preferred', 'interleave', 'restrictive']),
            nodeset=dict(type='str'),
            memnodes=dict(type='dict'),
            live_unsupported=dict(type='str', choices=['fail', 'config_only'], default='fail'),
        ),
        sides=True,
        requires=[LIBVIRT],
    )
    module.run_and_exit(run)


if __name__ == '__main__':
    main()
