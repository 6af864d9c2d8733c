# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers for GPU/vGPU data: PCI addresses, sysfs text formats, hostdev XML.

No I/O here, so the formats NVIDIA's driver and libvirt use are parsed and
written in exactly one place and tested without hardware.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import uuid
import xml.etree.ElementTree as ET

from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError

_PCI_RE = re.compile(r'^(?:([0-9a-fA-F]{1,8}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$')

POLICIES = {'best_effort': 1, 'equal_share': 2, 'fixed_share': 3}
POLICY_NAMES = dict((v, k) for k, v in POLICIES.items())
VIRTUALIZATION_MODES = {0: 'none', 1: 'passthrough', 2: 'vgpu', 3: 'host_vgpu', 4: 'host_vsga'}


class GpuInputError(IntravmError, ValueError):
    """Input that names no valid GPU address, type or vGPU; the message names it."""


def normalise_pci(text):
    """'0000:3b:00.0' (sysfs form) from '3b:00.0', '0000:3B:00.0' or NVML's '00000000:3B:00.0'."""
    match = _PCI_RE.match(str(text).strip())
    if not match:
        raise GpuInputError('%r is not a PCI address such as 0000:3b:00.0' % (text,))
    dom, bus, dev, fn = (int(part or '0', 16) for part in match.groups())
    if dev > 0x1f:
        raise GpuInputError('%r is not a PCI address: device %#x is above 0x1f' % (text, dev))
    return '%04x:%02x:%02x.%d' % (dom, bus, dev, fn)


def parse_creatable_types(text):
    """[(type_id, name)] from a VF's nvidia/creatable_vgpu_types ('ID    : vGPU Name' header)."""
    types = []
    for line in text.splitlines():
        match = re.match(r'^\s*(\d+)\s*:\s*(.+?)\s*$', line)
        if match:
            types.append((int(match.group(1)), match.group(2)))
    return types


def mdev_type_id(dirname):
    """471 from the mdev type directory name 'nvidia-471'; None for non-NVIDIA types."""
    match = re.match(r'^nvidia-(\d+)$', dirname)
    return int(match.group(1)) if match else None


def check_uuid(text):
    """The canonical lower-case form of a UUID, or GpuInputError."""
    try:
        return str(uuid.UUID(str(text)))
    except ValueError:
        raise GpuInputError('%r is not a UUID' % (text,))


def mdev_hostdev_xml(mdev_uuid):
    """libvirt device XML for an mdev vGPU (vfio-pci model)."""
    return ("<hostdev mode='subsystem' type='mdev' model='vfio-pci'>"
            "<source><address uuid='%s'/></source></hostdev>" % check_uuid(mdev_uuid))


def pci_hostdev_xml(pci):
    """libvirt device XML for a vendor-VFIO VF: a PCI hostdev that stays bound to nvidia."""
    dom, rest = normalise_pci(pci).split(':', 1)
    bus, slot_fn = rest.split(':')
    slot, fn = slot_fn.split('.')
    return ("<hostdev mode='subsystem' type='pci' managed='no'><source>"
            "<address domain='0x%s' bus='0x%s' slot='0x%s' function='0x%s'/></source></hostdev>"
            % (dom, bus, slot, fn))


def domain_hostdevs(xml):
    """{'mdev': [uuid...], 'pci': [address...]} of a domain XML's subsystem hostdevs."""
    root = ET.fromstring(xml)
    found = {'mdev': [], 'pci': []}
    for dev in root.findall('./devices/hostdev'):
        if dev.get('mode', 'subsystem') != 'subsystem':
            continue
        addr = dev.find('./source/address')
        if addr is None:
            continue
        if dev.get('type') == 'mdev' and addr.get('uuid'):
            found['mdev'].append(addr.get('uuid').lower())
        elif dev.get('type') == 'pci':
            try:
                found['pci'].append('%04x:%02x:%02x.%d' % tuple(
                    int(addr.get(key, '0'), 0) for key in ('domain', 'bus', 'slot', 'function')))
            except ValueError:
                continue
    return found


def scheduler_view(policy, timeslice, arr_mode=None, avg_factor=None, api=None):
    """The scheduler state as modules report it (policy by name, timeslice in ns)."""
    return {'policy': POLICY_NAMES.get(policy, 'unknown'), 'timeslice_ns': timeslice,
            'arr_mode': arr_mode, 'avg_factor': avg_factor, 'api': api}
