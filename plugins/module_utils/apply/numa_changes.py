# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a numa_memory request changes, decided before libvirt is touched.

Pure: validates the request against the host's NUMA nodes and the domain's
guest cells, and computes the target numatune of each side.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import xml.etree.ElementTree as ET

from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset
from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError

MODES = ('strict', 'preferred', 'interleave', 'restrictive')


class NumaRequestError(IntravmError, ValueError):
    """A request that must be refused before anything changes."""


def parse_request(mode, nodeset, memnodes, host_nodes, guest_cells):
    """Normalised {'mode', 'nodeset', 'memnodes': {cell(str): nodeset}}; raises NumaRequestError."""
    if mode is None and nodeset is None and not memnodes:
        raise NumaRequestError('give at least one of mode, nodeset or memnodes')
    if mode is not None and mode not in MODES:
        raise NumaRequestError('mode %r is not one of %s' % (mode, ', '.join(MODES)))
    host = frozenset(host_nodes)

    def check(label, text):
        try:
            nodes = cpuset.parse(text)
        except cpuset.CpusetError as exc:
            raise NumaRequestError('%s: %s' % (label, str(exc).replace('cpuset', 'nodeset')))
        if not nodes:
            raise NumaRequestError('%s: empty nodeset' % label)
        unknown = nodes - host
        if unknown:
            raise NumaRequestError('%s: NUMA nodes %s do not exist on this host (nodes: %s)'
                                   % (label, cpuset.format(unknown), cpuset.format(host)))
        return cpuset.format(nodes)

    request = {'mode': mode, 'nodeset': check('nodeset', nodeset) if nodeset is not None else None, 'memnodes': {}}
    for cell, text in (memnodes or {}).items():
        try:
            cell_id = cpuset.index(cell, 'key')
        except cpuset.CpusetError as exc:
            raise NumaRequestError('memnodes: %s' % exc)
        if cell_id not in guest_cells:
            raise NumaRequestError('memnodes[%s]: the domain has no guest NUMA cell %d (cells: %s)'
                                   % (cell, cell_id, ', '.join(str(c) for c in guest_cells) or 'none'))
        request['memnodes'][str(cell_id)] = check('memnodes[%s]' % cell, text)
    return request


def target(request, current):
    """The numatune a side should have: current with the request laid over it."""
    nodeset = request['nodeset'] or current['nodeset']
    memnodes = dict(current['memnodes'])
    for cell, nodes in request['memnodes'].items():
        memnodes[cell] = {'mode': request['mode'] or memnodes.get(cell, {}).get('mode') or 'strict', 'nodeset': nodes}
    return {
        'mode': request['mode'] or current['mode'] or ('strict' if nodeset else None),
        'nodeset': nodeset,
        'placement': current['placement'] or 'static',
        'memnodes': memnodes,
    }


def differs(current, wanted):
    """(memory policy differs, memnodes differ); no mode reads as libvirt's default, strict."""
    policy = (current['mode'] or 'strict', current['nodeset']) != (wanted['mode'] or 'strict', wanted['nodeset'])
    return policy, current['memnodes'] != wanted['memnodes']


def with_numatune(domain_xml, tune):
    """domain_xml (inactive) with its <numatune> replaced by tune."""
    root = ET.fromstring(domain_xml)
    old = root.find('numatune')
    position = list(root).index(old) if old is not None else None
    if old is not None:
        root.remove(old)
    new = ET.Element('numatune')
    if tune['nodeset'] or tune['mode']:
        attrs = {'mode': tune['mode'] or 'strict'}
        if tune['nodeset']:
            attrs['nodeset'] = tune['nodeset']
        ET.SubElement(new, 'memory', attrs)
    for cell in sorted(tune['memnodes'], key=int):
        ET.SubElement(new, 'memnode', {'cellid': cell, 'mode': tune['memnodes'][cell]['mode'],
                                       'nodeset': tune['memnodes'][cell]['nodeset']})
    if len(new):
        if position is None:
            # libvirt's schema wants numatune before <os>/<cpu>-level elements; after <vcpu>/<iothreads> is safe.
            anchor = [i for i, e in enumerate(root) if e.tag in ('vcpu', 'iothreads', 'cputune')]
            position = (anchor[-1] + 1) if anchor else len(root)
        root.insert(position, new)
    return ET.tostring(root, encoding='unicode')
