# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One read-only view of the host's GPUs from NVML, sysfs and libvirt together.

gpu_info reports it; vgpu reads it before deciding anything, so both modules
agree on which vGPU belongs to which domain.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.adaptive.intravm.plugins.module_utils.devices import gpu_model
from ansible_collections.adaptive.intravm.plugins.module_utils.host import libvirt_conn
from ansible_collections.adaptive.intravm.plugins.module_utils.devices.nvml import NvmlError


def domain_refs(conn):
    """[{name, uuid, active, persistent, config: hostdevs, live: hostdevs}] of every domain.

    A domain that disappears while we read it (others' throwaway domains) is skipped.
    """
    return sorted(libvirt_conn.each_domain(conn, _domain_ref), key=lambda r: r['name'])


def _domain_ref(dom):
    active = bool(dom.isActive())
    persistent = bool(dom.isPersistent())
    config = gpu_model.domain_hostdevs(dom.XMLDesc(libvirt_conn.XML_INACTIVE)) if persistent else {'mdev': [], 'pci': []}
    live = gpu_model.domain_hostdevs(dom.XMLDesc(0)) if active else {'mdev': [], 'pci': []}
    return {'name': dom.name(), 'uuid': dom.UUIDString().lower(), 'id': dom.ID() if active else None,
            'active': active, 'persistent': persistent, 'config': config, 'live': live}


def owners(refs, kind, key):
    """Names of domains whose config or live XML holds hostdev key (an mdev uuid or PCI address)."""
    return sorted(r['name'] for r in refs if key in r['config'][kind] or key in r['live'][kind])


def vm_domain(refs, vgpu):
    """The domain NVML ties a vGPU to: by mdev UUID, else by VM id."""
    if vgpu.get('mdev_uuid'):
        names = owners(refs, 'mdev', vgpu['mdev_uuid'])
        if names:
            return names[0]
    vm_id = vgpu.get('vm_id')
    for ref in refs:
        if vm_id and ((vgpu.get('vm_id_type') == 'uuid' and ref['uuid'] == vm_id.lower())
                      or (vgpu.get('vm_id_type') == 'domain_id' and str(ref['id']) == vm_id)):
            return ref['name']
    return None


def describe_gpu(nv, sysfs, refs, index, handle):
    """Everything gpu_info reports for one GPU."""
    info = nv.device(index, handle)
    info['driver_model'] = sysfs.model(info['pci'])
    info['mig'] = nv.mig(handle)
    vgpu_host = info['virtualization_mode'] == 'host_vgpu'
    info['supported_types'] = nv.vgpu_types(handle) if vgpu_host else []
    info['creatable_types'] = [t['name'] for t in nv.vgpu_types(handle, creatable=True)] if vgpu_host else []
    info['active_vgpus'] = []
    if vgpu_host:
        for vgpu in nv.active_vgpus(handle):
            vgpu['domain'] = vm_domain(refs, vgpu)
            info['active_vgpus'].append(vgpu)
    info['vfs'] = []
    if info['driver_model'] == 'vfio':
        names = dict((t['id'], t['name']) for t in info['supported_types'])
        for vf in sysfs.vfs(info['pci']):
            info['vfs'].append({'address': vf['vf'], 'current_type_id': vf['current_type'] or None,
                                'current_type': names.get(vf['current_type']) if vf['current_type'] else None,
                                'domains': owners(refs, 'pci', vf['vf'])})
    info['scheduler'] = None
    info['scheduler_capabilities'] = None
    if vgpu_host and not (info['mig'] and info['mig']['current'] == 'enabled'):
        try:
            info['scheduler'] = nv.scheduler(handle)
            info['scheduler_capabilities'] = nv.scheduler_caps(handle)
        except NvmlError as exc:
            if exc.name != 'NVMLError_NotSupported':
                raise
    return info
