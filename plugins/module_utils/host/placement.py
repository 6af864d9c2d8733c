# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A domain's current placement (pins and numatune), read once from libvirt.

The shape returned here is the shape vcpu_pin and numa_memory take and
return, so a playbook can feed one into the other.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import xml.etree.ElementTree as ET

from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset
from ansible_collections.adaptive.intravm.plugins.module_utils.host.libvirt_conn import (
    AFFECT_CONFIG, AFFECT_LIVE, XML_INACTIVE, state_name,
)
from ansible_collections.adaptive.intravm.plugins.module_utils.host.topology import parse_capabilities

# virDomainNumatuneMemMode
NUMA_MODES = {0: 'strict', 1: 'preferred', 2: 'interleave', 3: 'restrictive'}
NUMA_MODE_IDS = dict((v, k) for k, v in NUMA_MODES.items())


def read_pins(dom, side):
    """vCPU, emulator and iothread pins of one side ('live' or 'config')."""
    flags = AFFECT_LIVE if side == 'live' else AFFECT_CONFIG
    vcpus = dict((str(i), cpuset.format(cpuset.from_cpumap(m)))
                 for i, m in enumerate(dom.vcpuPinInfo(flags)))
    emulator = cpuset.format(cpuset.from_cpumap(dom.emulatorPinInfo(flags)))
    iothreads = dict((str(tid), cpuset.format(cpuset.from_cpumap(m)))
                     for tid, m in dom.ioThreadInfo(flags))
    return {'vcpus': vcpus, 'emulator': emulator, 'iothreads': iothreads}


def parse_numatune(domain_xml):
    """numatune mode, nodeset and per-cell memnodes from domain XML."""
    root = ET.fromstring(domain_xml)
    tune = root.find('numatune')
    result = {'mode': None, 'nodeset': None, 'placement': None, 'memnodes': {}}
    if tune is None:
        return result
    memory = tune.find('memory')
    if memory is not None:
        result['mode'] = memory.get('mode', 'strict')
        result['placement'] = memory.get('placement', 'static')
        if memory.get('nodeset'):
            result['nodeset'] = cpuset.normalize(memory.get('nodeset'))
    for node in tune.findall('memnode'):
        result['memnodes'][node.get('cellid')] = {
            'mode': node.get('mode', 'strict'),
            'nodeset': cpuset.normalize(node.get('nodeset')),
        }
    return result


def guest_cells(domain_xml):
    """Guest NUMA cell ids declared in <cpu><numa>."""
    root = ET.fromstring(domain_xml)
    return sorted(int(c.get('id')) for c in root.findall('./cpu/numa/cell'))


def read_numatune(dom, side):
    """numatune of one side; live values come from the running domain's XML."""
    xml_flags = XML_INACTIVE if side == 'config' else 0
    return parse_numatune(dom.XMLDesc(xml_flags))


def describe(dom):
    """Placement summary for topology_info: live side if active, else config."""
    side = 'live' if dom.isActive() else 'config'
    info = {
        'name': dom.name(),
        'uuid': dom.UUIDString(),
        'state': state_name(dom),
        'source': side,
        'vcpu_count': dom.vcpusFlags(0),  # current side: live if active
        'pins': read_pins(dom, side),
        'numatune': read_numatune(dom, side),
    }
    return info


def running_placements(conn):
    """{name: live pins + numatune} of every running domain: the planner's `current`."""
    current = {}
    for dom in sorted(conn.listAllDomains(), key=lambda d: d.name()):
        if dom.isActive():
            current[dom.name()] = dict(read_pins(dom, 'live'), numatune=read_numatune(dom, 'live'))
    return current


def host_state(conn):
    """(topology, live placement of every running domain) of conn's host, as the planner takes them."""
    return parse_capabilities(conn.getCapabilities(), conn.getCPUMap()[1]), running_placements(conn)
