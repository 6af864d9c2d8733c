# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host CPU/NUMA topology from libvirt's capabilities XML.

Pure parsing: takes the XML text (and optionally libvirt's online-CPU map),
returns plain dicts that modules return and the planner consumes.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import xml.etree.ElementTree as ET

from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset

_UNIT_BYTES = {
    'b': 1, 'bytes': 1, 'kib': 1024, 'k': 1024, 'kb': 1000, 'mib': 1024 ** 2, 'm': 1024 ** 2,
    'mb': 1000 ** 2, 'gib': 1024 ** 3, 'g': 1024 ** 3, 'gb': 1000 ** 3, 'tib': 1024 ** 4,
}


def to_bytes(value, unit):
    """Bytes for a libvirt size with its unit attribute (default KiB)."""
    return int(value) * _UNIT_BYTES[(unit or 'KiB').lower()]


def parse_capabilities(xml_text, online_map=None):
    """Topology dict from capabilities XML.

    online_map is libvirt's getCPUMap() online tuple; it is applied only when
    it covers every CPU the capabilities list (the test driver's map is fixed
    at 8 CPUs and does not).
    """
    root = ET.fromstring(xml_text)
    host = root.find('host')
    cells = host.findall('./topology/cells/cell') if host is not None else []
    cpus, nodes = [], []
    for cell in cells:
        node_id = int(cell.get('id'))
        mem = cell.find('memory')
        node_cpus = []
        for cpu in cell.findall('./cpus/cpu'):
            cpu_id = int(cpu.get('id'))
            node_cpus.append(cpu_id)
            siblings = cpu.get('siblings')
            cpus.append({
                'id': cpu_id,
                'node': node_id,
                'socket_id': _int_or_none(cpu.get('socket_id')),
                'die_id': _int_or_none(cpu.get('die_id')),
                'core_id': _int_or_none(cpu.get('core_id')),
                'siblings': cpuset.normalize(siblings) if siblings else str(cpu_id),
            })
        nodes.append({
            'id': node_id,
            'cpus': cpuset.format(node_cpus),
            'memory_bytes': to_bytes(mem.text, mem.get('unit')) if mem is not None else None,
            'distances': dict((int(s.get('id')), int(s.get('value')))
                              for s in cell.findall('./distances/sibling')),
        })
    cpus.sort(key=lambda c: c['id'])
    nodes.sort(key=lambda n: n['id'])
    ids = [c['id'] for c in cpus]
    if online_map is not None and len(online_map) > (max(ids) if ids else -1):
        ids = [i for i in ids if online_map[i]]
    caches = []
    for bank in host.findall('./cache/bank') if host is not None else []:
        caches.append({
            'id': int(bank.get('id')),
            'level': int(bank.get('level')),
            'type': bank.get('type'),
            'size_bytes': to_bytes(bank.get('size'), bank.get('unit')),
            'cpus': cpuset.normalize(bank.get('cpus')),
        })
    topo = host.find('./cpu/topology') if host is not None else None
    return {
        'arch': text_at(host, './cpu/arch'),
        'model': text_at(host, './cpu/model'),
        'sockets': _int_or_none(topo.get('sockets')) if topo is not None else None,
        'dies': _int_or_none(topo.get('dies')) if topo is not None else None,
        'cores_per_socket': _int_or_none(topo.get('cores')) if topo is not None else None,
        'threads_per_core': _int_or_none(topo.get('threads')) if topo is not None else None,
        'cpus_online': cpuset.format(ids),
        'cpus': cpus,
        'nodes': nodes,
        'caches': caches,
    }


def _int_or_none(value):
    return int(value) if value not in (None, '') else None


def text_at(elem, path):
    """The text of the element at path under elem; None where either is missing."""
    if elem is None:
        return None
    found = elem.find(path)
    return found.text if found is not None else None
