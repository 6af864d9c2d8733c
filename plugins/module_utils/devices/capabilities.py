# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SR-IOV and GPU facts for host_capabilities, read through the device seams only.

sriov (sysfs under a configurable root, pyroute2 importability), nvml (the
NVML session) and vgpu_sysfs (which vGPU driver model a GPU uses). Reads
only; the verdicts are made by host/capabilities.evaluate from these dicts.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.adaptive.intravm.plugins.module_utils.devices import nvml, sriov
from ansible_collections.adaptive.intravm.plugins.module_utils.devices.vgpu_sysfs import VgpuSysfs


def sriov_facts(root):
    """SR-IOV PFs under root/class/net with their VF counts, driver and link speed."""
    pfs = []
    for name in sriov.sriov_pfs(root):
        try:
            total, num = sriov.sriov_counts(root, name)
        except (sriov.SriovError, OSError, IOError, ValueError):
            continue  # vanished or unreadable while we listed it
        pfs.append({'name': name, 'driver': sriov.driver_name(root, name), 'total_vfs': total, 'num_vfs': num,
                    'link_speed_mbps': sriov.link_speed(root, name)})
    return {'net_dir': os.path.join(root, 'class', 'net'), 'netlink': bool(sriov.HAS_PYROUTE2), 'pfs': pfs}


def gpu_facts(root):
    """NVML availability and, where it answers, each GPU's virtualization mode and vGPU driver model."""
    facts = {'sysfs_root': root, 'nvml': {'available': False, 'driver_version': None, 'why': None}, 'gpus': []}
    if not nvml.HAS_PYNVML:
        facts['nvml']['why'] = 'nvidia-ml-py (pynvml) is not installed'
        return facts
    sysfs = VgpuSysfs(root)
    try:
        with nvml.Nvml() as nv:
            facts['nvml'].update(available=True, driver_version=nv.driver_version())
            for index, handle in nv.handles():
                device = nv.device(index, handle)
                device['driver_model'] = sysfs.model(device['pci'])
                facts['gpus'].append(device)
    except nvml.NvmlError as exc:
        facts['nvml'].update(available=False, why=str(exc))
        facts['gpus'] = []
    return facts
