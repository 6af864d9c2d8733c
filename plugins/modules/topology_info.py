#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: topology_info
short_description: Host CPU/NUMA topology and domain placement from libvirt
version_added: 0.1.0
description:
  - Reads the hypervisor's CPU and NUMA topology from libvirt (online CPUs,
    sockets, cores, SMT siblings, NUMA nodes with their CPUs, memory and
    distances, and cache banks where libvirt reports them).
  - Reads the placement of every domain, or of one named domain - vCPU pins,
    emulator pin, iothread pins and numatune - in the shape that
    M(adaptive.intravm.vcpu_pin) and M(adaptive.intravm.numa_memory) take.
  - Read-only; never changes anything.
author:
  - adaptive.intravm contributors (@adaptive-intravm)
options:
  name:
    description:
      - Only report this domain. Fails when no such domain exists.
      - When omitted, every domain is reported.
    type: str
extends_documentation_fragment:
  - adaptive.intravm.attributes.INFO
  - adaptive.intravm.libvirt
notes:
  - For a running domain the live placement is reported, for an inactive one
    the persistent configuration (see RV(domains[].source)).
seealso:
  - module: adaptive.intravm.vcpu_pin
  - module: adaptive.intravm.numa_memory
'''

EXAMPLES = r'''
- name: Read the host topology and every domain's placement
  adaptive.intravm.topology_info:
  register: topo

- name: Show the CPUs of NUMA node 0
  ansible.builtin.debug:
    msg: "{{ topo.topology.nodes[0].cpus }}"

- name: Placement of one domain on a remote libvirt
  adaptive.intravm.topology_info:
    uri: qemu+ssh://root@hv1/system
    name: web01
  register: web01
'''

RETURN = r'''
topology:
  description: Host CPU and NUMA topology.
  returned: always
  type: dict
  contains:
    arch:
      description: Host CPU architecture.
      type: str
      sample: x86_64
    model:
      description: Host CPU model as libvirt names it.
      type: str
      sample: EPYC-Milan
    sockets:
      description: Sockets per NUMA node as libvirt reports them.
      type: int
      sample: 1
    dies:
      description: Dies per socket.
      type: int
      sample: 1
    cores_per_socket:
      description: Cores per socket.
      type: int
      sample: 8
    threads_per_core:
      description: SMT threads per core.
      type: int
      sample: 2
    cpus_online:
      description: Online host CPUs as a cpuset string.
      type: str
      sample: "0-15"
    cpus:
      description: One entry per host CPU.
      type: list
      elements: dict
      sample: [{"id": 0, "node": 0, "socket_id": 0, "die_id": 0, "core_id": 0, "siblings": "0,8"}]
    nodes:
      description: NUMA nodes with their CPUs, memory in bytes and distances to other nodes.
      type: list
      elements: dict
      sample: [{"id": 0, "cpus": "0-7", "memory_bytes": 17179869184, "distances": {"0": 10, "1": 21}}]
    caches:
      description: Cache banks (level, type, size, CPUs sharing it); empty when libvirt reports none.
      type: list
      elements: dict
      sample: [{"id": 0, "level": 3, "type": "both", "size_bytes": 33554432, "cpus": "0-7"}]
domains:
  description: Placement of each reported domain.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Domain name.
      type: str
      sample: web01
    uuid:
      description: Domain UUID.
      type: str
    state:
      description: Domain state.
      type: str
      sample: running
    source:
      description: Which side the placement was read from, C(live) or C(config).
      type: str
      sample: live
    vcpu_count:
      description: Number of vCPUs on that side.
      type: int
      sample: 2
    pins:
      description: vCPU, emulator and iothread pins as cpuset strings.
      type: dict
      sample: {"vcpus": {"0": "2", "1": "3"}, "emulator": "0-1", "iothreads": {"1": "0"}}
    numatune:
      description: NUMA memory policy; mode and nodeset are null when none is set.
      type: dict
      sample: {"mode": "strict", "nodeset": "0", "placement": "static", "memnodes": {}}
'''

from ansible_collections.adaptive.intravm.plugins.module_utils.host import libvirt_conn
from ansible_collections.adaptive.intravm.plugins.module_utils.host.placement import describe
from ansible_collections.adaptive.intravm.plugins.module_utils.host.topology import parse_capabilities
from ansible_collections.adaptive.intravm.plugins.module_utils.module_base import LIBVIRT, IntravmModule


def run(module):
    """Gather everything in one pass over libvirt; returns the result dict."""
    conn = module.connect()
    online = conn.getCPUMap()[1]
    topology = parse_capabilities(conn.getCapabilities(), online)
    if module.params['name']:
        domains = [describe(libvirt_conn.lookup_domain(conn, module.params['name']))]
    else:
        domains = libvirt_conn.each_domain(conn, describe)  # one that vanished while we read it is left out
    return {'changed': False, 'topology': topology, 'domains': sorted(domains, key=lambda d: d['name'])}


def main():
    module = IntravmModule(argument_spec=dict(name=dict(type='str')), requires=[LIBVIRT])
    module.run_and_exit(run)


if __name__ == '__main__':
    main()
