#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: gpu_info
short_description: NVIDIA GPUs, vGPU types, active vGPUs with their domains, MIG and vGPU scheduler state
version_added: 0.1.0
description:
  - Reads every NVIDIA GPU NVML sees (or one), with its virtualization mode,
    supported and creatable vGPU types, active vGPUs with the libvirt domain
    each belongs to (matched by mdev UUID or NVML VM id), the VFs of
    vendor-VFIO GPUs with their current vGPU type, MIG mode and GPU
    instances, and the vGPU scheduler state and capabilities.
  - Read-only; never changes MIG mode, instances, vGPUs or the scheduler.
author:
  - adaptive.intravm contributors (@adaptive-intravm)
requirements:
  - nvidia-ml-py
options:
  gpu:
    description:
      - Only report this GPU, by NVML index (C(0)) or PCI address (C(0000:3b:00.0)).
      - When omitted, every GPU is reported.
    type: str
  sysfs_root:
    description:
      - Where sysfs is mounted. Only tests point this elsewhere.
    type: path
    default: /sys
  utilization:
    description:
      - Also return the latest per-vGPU utilisation samples (RV(vgpu_utilization)), the same
        data the host predictor reads.
    type: bool
    default: false
extends_documentation_fragment:
  - adaptive.intravm.attributes.INFO
  - adaptive.intravm.libvirt
notes:
  - NVML reports vGPU data only on a host in vGPU mode (C(host_vgpu)); other
    GPUs are listed with empty vGPU fields.
  - Scheduler fields are null on a GPU with MIG enabled (MIG-backed vGPUs are not time-sliced).
seealso:
  - module: adaptive.intravm.vgpu
'''

EXAMPLES = r'''
- name: Read all GPUs
  adaptive.intravm.gpu_info:
  register: gpus

- name: Which domain has which vGPU on GPU 0
  ansible.builtin.debug:
    msg: "{{ gpus.gpus[0].active_vgpus | map(attribute='domain') | list }}"

- name: One GPU by PCI address
  adaptive.intravm.gpu_info:
    gpu: "0000:3b:00.0"
  register: gpu0
'''

RETURN = r'''
driver_version:
  description: NVIDIA driver version as NVML reports it.
  returned: always
  type: str
  sample: 550.90.05
gpus:
  description: One entry per reported GPU.
  returned: always
  type: list
  elements: dict
  contains:
    index:
      description: NVML index.
      type: int
      sample: 0
    name:
      description: GPU product name.
      type: str
      sample: NVIDIA A100-PCIE-40GB
    uuid:
      description: GPU UUID.
      type: str
    pci:
      description: PCI address in sysfs form.
      type: str
      sample: "0000:3b:00.0"
    virtualization_mode:
      description: C(none), C(passthrough), C(vgpu), C(host_vgpu) or C(host_vsga).
      type: str
      sample: host_vgpu
    driver_model:
      description: How vGPUs are created here, C(mdev), C(vfio) (vendor VFIO, vGPU 17+) or null.
      type: str
      sample: mdev
    supported_types:
      description: vGPU types the GPU supports.
      type: list
      elements: dict
      sample: [{"id": 471, "name": "NVIDIA A100-4C", "class": "Compute", "framebuffer_mib": 4096, "max_instances": 10}]
    creatable_types:
      description: Names of the types that can be created now (shrinks as capacity is used).
      type: list
      elements: str
      sample: ["NVIDIA A100-4C"]
    active_vgpus:
      description: vGPU instances on the GPU and the domain each belongs to (null when none matches).
      type: list
      elements: dict
      sample: [{"instance": 1, "type_id": 471, "type_name": "NVIDIA A100-4C", "mdev_uuid": "00a3da69-798b-4ac0-b06f-bf4525c70827",
                "vm_id": null, "vm_id_type": "uuid", "domain": "web01"}]
    vfs:
      description: For vendor-VFIO GPUs, each VF with its current vGPU type and the domains that use it.
      type: list
      elements: dict
      sample: [{"address": "0000:4b:00.4", "current_type_id": 1428, "current_type": "NVIDIA H200X-141C", "domains": ["db01"]}]
    mig:
      description: MIG mode (current, pending) and GPU instances; null where the GPU has no MIG.
      type: dict
      sample: {"current": "enabled", "pending": "enabled", "instances": [{"id": 1, "profile_id": 9, "profile": "MIG 3g.20gb",
               "slices": 3, "memory_mib": 19968, "placement": {"start": 0, "size": 4}}]}
    scheduler:
      description: vGPU scheduler policy and timeslice (ns); null outside vGPU mode or with MIG on.
      type: dict
      sample: {"policy": "equal_share", "timeslice_ns": 2000000, "arr_mode": null, "avg_factor": 0, "api": "v2"}
    scheduler_capabilities:
      description: Policies the GPU supports and the timeslice range in ns.
      type: dict
      sample: {"supported_policies": ["best_effort", "equal_share", "fixed_share"], "min_timeslice_ns": 1000000,
               "max_timeslice_ns": 30000000, "arr_supported": true}
vgpu_utilization:
  description:
    - Latest utilisation sample of each vGPU on the host (all GPUs), with its processes.
      C(timestamp_us) is the newest sample time.
  returned: when O(utilization=true)
  type: dict
  sample: {"timestamp_us": 1795879817863691, "vgpus": [{"gpu": "0000:3b:00.0", "instance": 1, "type": "NVIDIA A100-4C",
           "mdev_uuid": "00a3da69-798b-4ac0-b06f-bf4525c70827", "vm_id": null, "vm_id_type": "uuid",
           "timestamp_us": 1795879817863691, "sm": 40, "memory": 20, "encoder": 0, "decoder": 0, "processes": []}]}
'''

import traceback

from ansible_collections.adaptive.intravm.plugins.module_utils.devices import nvml
from ansible_collections.adaptive.intravm.plugins.module_utils.devices.gpu_inventory import describe_gpu, domain_refs
from ansible_collections.adaptive.intravm.plugins.module_utils.devices.gpu_sensing import read_vgpu_utilization
from ansible_collections.adaptive.intravm.plugins.module_utils.devices.vgpu_sysfs import VgpuSysfs
from ansible_collections.adaptive.intravm.plugins.module_utils.module_base import LIBVIRT, IntravmModule


def run(module):
    """Read NVML, sysfs and libvirt once; returns the result dict."""
    params = module.params
    sysfs = VgpuSysfs(params['sysfs_root'])
    refs = domain_refs(module.connect())
    with nvml.Nvml() as nv:
        if params['gpu'] is not None:
            index, handle, _pci = nv.handle(params['gpu'])
            targets = [(index, handle)]
        else:
            targets = nv.handles()
        gpus = [describe_gpu(nv, sysfs, refs, index, handle) for index, handle in targets]
        result = {'changed': False, 'driver_version': nv.driver_version(), 'gpus': gpus}
        if params['utilization']:
            result['vgpu_utilization'] = read_vgpu_utilization(0, nv)
    return result


def sysfs_failure(exc, params):
    return 'cannot read sysfs under %s: %s' % (params['sysfs_root'], exc), {'exception': traceback.format_exc()}


def main():
    module = IntravmModule(
        argument_spec=dict(
            gpu=dict(type='str'),
            sysfs_root=dict(type='path', default='/sys'),
            utilization=dict(type='bool', default=False),
        ),
        requires=[nvml.REQUIREMENT, LIBVIRT],
    )
    module.run_and_exit(run, errors={nvml.NvmlError: nvml.failure, OSError: sysfs_failure})


if __name__ == '__main__':
    main()
