# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sysfs side of NVIDIA vGPU, under a configurable root (default /sys).

Two driver models (docs/gpu.md):
- mdev: /sys/class/mdev_bus/<gpu>/mdev_supported_types/nvidia-N/{name,
  available_instances,create}; an mdev is removed by writing 1 to
  /sys/bus/mdev/devices/<uuid>/remove.
- vendor VFIO (vGPU 17+): each VF (virtfnN of the GPU) has
  nvidia/{creatable_vgpu_types,current_vgpu_type}; write a type id to create,
  0 to delete.
Reads are plain file reads. Writes are one write() each and fail with the
driver's errno (OSError), which callers report with the path.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import re

from ansible_collections.adaptive.intravm.plugins.module_utils.devices import gpu_model

DEFAULT_ROOT = '/sys'


class SysfsError(Exception):
    """A sysfs write the driver refused; the message names path, value and errno."""

    def __init__(self, path, value, exc):
        self.errno = exc.errno
        self.path = path
        name = errno.errorcode.get(exc.errno, str(exc.errno))
        super(SysfsError, self).__init__('writing %r to %s failed: %s (%s)' % (value, path, name, exc.strerror))


class VgpuSysfs(object):
    """vGPU devices of one host, read and written under root."""

    def __init__(self, root=DEFAULT_ROOT):
        self.root = root

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    @staticmethod
    def read(path):
        with open(path) as handle:
            return handle.read().strip()

    def write(self, path, value):
        """One write() of value, as the driver's sysfs attributes expect."""
        text = str(value)
        try:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)
        except OSError as exc:
            raise SysfsError(path, text, exc)

    # ---- which model ---------------------------------------------------------
    def model(self, pci):
        """'mdev', 'vfio' or None (no vGPU interface for this GPU in sysfs)."""
        if os.path.isdir(self.path('class', 'mdev_bus', pci, 'mdev_supported_types')):
            return 'mdev'
        if self.vf_addresses(pci) and os.path.isdir(self.path('bus', 'pci', 'devices', self.vf_addresses(pci)[0], 'nvidia')):
            return 'vfio'
        return None

    # ---- mdev ----------------------------------------------------------------
    def mdev_types(self, pci):
        """[{id, name, available}] of the GPU's mdev types, by type id."""
        base = self.path('class', 'mdev_bus', pci, 'mdev_supported_types')
        types = []
        for entry in sorted(os.listdir(base)):
            type_id = gpu_model.mdev_type_id(entry)
            if type_id is None:
                continue
            tdir = os.path.join(base, entry)
            types.append({'id': type_id, 'name': self.read(os.path.join(tdir, 'name')),
                          'available': int(self.read(os.path.join(tdir, 'available_instances')))})
        return sorted(types, key=lambda t: t['id'])

    def mdevs(self, pci):
        """[{uuid, type_id}] of the mdevs whose parent is this GPU."""
        parent = self.path('class', 'mdev_bus', pci)
        found = []
        for entry in sorted(os.listdir(parent)):
            link = os.path.join(parent, entry, 'mdev_type')
            if os.path.islink(link):
                found.append({'uuid': entry.lower(), 'type_id': gpu_model.mdev_type_id(os.path.basename(os.path.realpath(link)))})
        return found

    def mdev_exists(self, mdev_uuid):
        return os.path.lexists(self.path('bus', 'mdev', 'devices', mdev_uuid))

    def create_mdev(self, pci, type_id, mdev_uuid):
        self.write(self.path('class', 'mdev_bus', pci, 'mdev_supported_types', 'nvidia-%d' % type_id, 'create'), mdev_uuid)

    def remove_mdev(self, mdev_uuid):
        self.write(self.path('bus', 'mdev', 'devices', mdev_uuid, 'remove'), 1)

    # ---- vendor VFIO ---------------------------------------------------------
    def vf_addresses(self, pci):
        """The GPU's VFs in virtfnN order."""
        dev = self.path('bus', 'pci', 'devices', pci)
        if not os.path.isdir(dev):
            return []
        links = [e for e in os.listdir(dev) if re.match(r'^virtfn\d+$', e)]
        links.sort(key=lambda e: int(e[6:]))
        return [os.path.basename(os.path.realpath(os.path.join(dev, e))) for e in links]

    def vfs(self, pci):
        """[{vf, current_type, creatable: [(id, name)]}] for each VF of the GPU."""
        result = []
        for vf in self.vf_addresses(pci):
            base = self.path('bus', 'pci', 'devices', vf, 'nvidia')
            result.append({
                'vf': vf,
                'current_type': int(self.read(os.path.join(base, 'current_vgpu_type')) or 0),
                'creatable': gpu_model.parse_creatable_types(self.read(os.path.join(base, 'creatable_vgpu_types'))),
            })
        return result

    def set_vf_type(self, vf, type_id):
        self.write(self.path('bus', 'pci', 'devices', vf, 'nvidia', 'current_vgpu_type'), type_id)
