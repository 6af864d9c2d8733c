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
    check_shape(mode, nodeset, memnodes)
    host = frozenset(host_nodes)

    def check(label, text):
        nodes = _nodes(label, text)
        unknown = nodes - host
        if unknown:
            raise NumaRequestError('%s: NUMA nodes %s do not exist on this host (nodes: %s)'
                                   % (label, cpuset.format(unknown), cpuset.format(host)))
        return cpuset.format(nodes)

    request = {'mode': mode, 'nodeset': check('nodeset', nodeset) if nodeset is not None else None, 'memnodes': {}}
    for cell, text in (memnodes or {}).items():
        cell_id = _cell(cell)
        if cell_id not in guest_cells:
            raise NumaRequestError('memnodes[%s]: the domain has no guest NUMA cell %d (cells: %s)'
                                   % (cell, cell_id, ', '.join(str(c) for c in guest_cells) or 'none'))
        request['memnodes'][str(cell_id)] = check('memnodes[%s]' % cell, text)
    return request


def check_shape(mode, nodeset, memnodes):
    """Refuse (NumaRequestError) a request whose values are not of the request's shape, without a host to check against.

    mode: None or one of MODES; nodeset: None or a nodeset string; memnodes:
    None or a mapping of guest cell (ASCII digits) to a nodeset string. What
    parse_request checks later against the host and the domain (nodes and
    cells they have) is left to it; this is what apply_plan checks of every
    entry before it changes the first domain.
    """
    if mode is None and nodeset is None and not memnodes:
        raise NumaRequestError('give at least one of mode, nodeset or memnodes')
    if mode is not None and (not isinstance(mode, str) or mode not in MODES):
        raise NumaRequestError('mode %s is not one of %s' % (_short(mode), ', '.join(MODES)))
    if nodeset is not None:
        _nodes('nodeset', nodeset)
    if memnodes is not None and not isinstance(memnodes, dict):
        raise NumaRequestError('memnodes must be a mapping of guest cell to nodeset (such as {"0": "1"}), got %s %s'
                               % (type(memnodes).__name__, _short(memnodes)))
    for cell, text in (memnodes or {}).items():
        _cell(cell)
        _nodes('memnodes[%s]' % cell, text)


def _nodes(label, text):
    try:
        nodes = cpuset.parse(text)
    except cpuset.CpusetError as exc:
        raise NumaRequestError('%s: %s' % (label, str(exc).replace('cpuset', 'nodeset')))
    if not nodes:
        raise NumaRequestError('%s: empty nodeset' % label)
    return nodes


def _cell(cell):
    try:
        return cpuset.index(cell, 'key')
    except cpuset.CpusetError as exc:
        raise NumaRequestError('memnodes: %s' % exc)


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + '...'


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
