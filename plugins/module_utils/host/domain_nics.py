# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A domain's network devices as plain dicts, read from its libvirt XML.

Pure: takes XML text, returns data. vf_bandwidth uses it to find the SR-IOV
VF a domain holds, iface_bandwidth to find a virtio/tap NIC, and the
counters reader to name each NIC's traffic.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import xml.etree.ElementTree as ET

from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError

# Interface types libvirt can shape with <bandwidth> (tc on the host side).
BANDWIDTH_TYPES = ('network', 'bridge', 'direct', 'ethernet')


class NicSelectionError(IntravmError, ValueError):
    """The requested NIC is not in the domain, or the choice is ambiguous."""


def _int(text):
    """libvirt writes PCI address parts as hex ('0x03') or decimal."""
    return int(text, 0) if text else 0


def pci_address(elem):
    """'dddd:bb:ss.f' from an <address domain bus slot function/> element."""
    parts = [_int(elem.get(name)) for name in ('domain', 'bus', 'slot', 'function')]
    return '%04x:%02x:%02x.%x' % tuple(parts)


def _text_attr(parent, path, attr):
    elem = parent.find(path)
    return elem.get(attr) if elem is not None else None


def parse_nics(domain_xml):
    """Every <interface> and PCI <hostdev> of the domain, in document order.

    Each entry: kind ('interface' or 'hostdev'), type (interface type, or
    'hostdev'), mac, alias, target (host-side device such as vnet0), model,
    and pci (the host PCI address for passthrough devices, else None).
    """
    root = ET.fromstring(domain_xml)
    devices = root.find('devices')
    nics = []
    if devices is None:
        return nics
    for elem in devices:
        if elem.tag == 'interface':
            itype = elem.get('type')
            mac = (_text_attr(elem, 'mac', 'address') or '').lower() or None
            target, model = _text_attr(elem, 'target', 'dev'), _text_attr(elem, 'model', 'type')
        elif elem.tag == 'hostdev' and elem.get('type') == 'pci':
            itype, mac, target, model = 'hostdev', None, None, None
        else:
            continue
        src = elem.find('source/address')
        nics.append({
            'kind': elem.tag,
            'type': itype,
            'mac': mac,
            'alias': _text_attr(elem, 'alias', 'name'),
            'target': target,
            'model': model,
            'pci': pci_address(src) if itype == 'hostdev' and src is not None else None,
        })
    return nics


def nic_label(nic):
    """How a NIC is named in messages and results: MAC, else alias, else PCI."""
    return nic['mac'] or nic['alias'] or nic['pci'] or nic['target'] or '?'


def select_nic(nics, interface, domain, wanted):
    """The one NIC of the domain that `interface` names, among those `wanted` accepts.

    interface may be a MAC address, an alias, a target device name or (for
    passthrough) a PCI address; None picks the only candidate. The error
    lists what the domain has so the operator can choose.
    """
    candidates = [n for n in nics if wanted(n)]
    if interface is None:
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise NicSelectionError('domain %r has no %s' % (domain, wanted.__doc__.strip()))
        raise NicSelectionError('domain %r has %d %s (%s); choose one with interface'
                                % (domain, len(candidates), wanted.__doc__.strip(),
                                   ', '.join(nic_label(n) for n in candidates)))
    key = interface.lower()
    for nic in nics:
        if key in (nic['mac'], (nic['alias'] or '').lower(), nic['target'], nic['pci']):
            if not wanted(nic):
                raise NicSelectionError('interface %r of domain %r is of type %r, not a %s'
                                        % (interface, domain, nic['type'], wanted.__doc__.strip()))
            return nic
    raise NicSelectionError('domain %r has no interface %r; it has: %s'
                            % (domain, interface, ', '.join(nic_label(n) for n in nics) or 'none'))


def is_passthrough(nic):
    """SR-IOV VF (<interface type='hostdev'> or PCI <hostdev>)"""
    return nic['type'] == 'hostdev'


def is_shapeable(nic):
    """virtio/tap interface libvirt can shape (type network, bridge, direct or ethernet)"""
    return nic['kind'] == 'interface' and nic['type'] in BANDWIDTH_TYPES
