#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: vgpu
short_description: Give one VM a vGPU of a given type, and set a GPU's vGPU scheduler
version_added: 0.1.0
description:
  - Declares the NVIDIA vGPU of one domain on one GPU - its type, or that it has none - and
    changes only that domain's vGPUs; other VMs' vGPUs on the same GPU are never touched
    (unlike whole-GPU tools such as vgpu-device-manager).
  - On mdev drivers it creates the mdev (a UUID written to C(create)) and adds
    C(<hostdev type='mdev'>) to the domain; on vendor-VFIO drivers (vGPU 17+) it picks a
    free VF, writes the type id to C(current_vgpu_type) and adds the VF as a PCI hostdev.
    A type change keeps the same mdev UUID or VF, so the domain config does not change.
  - Attachment is cold-plug. The persistent config is changed; a running domain sees the
    vGPU at its next boot (RV(pending_restart)) unless O(restart=true) lets the module
    shut it down and start it again. Removing or changing a vGPU a running domain uses
    needs O(restart=true); otherwise the module fails and changes nothing.
  - Sets the GPU's vGPU scheduler (policy and timeslice) through NVML. NVML refuses while
    any vGPU exists on the GPU; the module then says which vGPUs and domains are in the
    way and what to do, and never destroys vGPUs on its own.
  - Everything is validated before anything is changed; on a failure mid-way, what was
    done is undone and both errors are reported.
author:
  - adaptive.intravm contributors (@adaptive-intravm)
requirements:
  - nvidia-ml-py
options:
  gpu:
    description:
      - The physical GPU, by NVML index (C(0)) or PCI address (C(0000:3b:00.0)).
    type: str
    required: true
  name:
    description:
      - The domain whose vGPU is declared. Required with O(type) and with O(state=absent).
    type: str
  type:
    description:
      - vGPU type name as NVIDIA names it (C(NVIDIA A100-4C)), or its numeric type id on this GPU.
      - With O(state=absent), only vGPUs of this type are removed.
    type: str
  state:
    description:
      - C(present) gives the domain exactly one vGPU of O(type) on O(gpu);
        C(absent) removes the domain's vGPUs on O(gpu).
    type: str
    choices: [present, absent]
    default: present
  restart:
    description:
      - Allow shutting a running domain down and starting it again (in the same
        running/paused state) so that the change takes effect now.
    type: bool
    default: false
  shutdown_timeout:
    description:
      - Seconds to wait for a graceful shutdown when O(restart=true) before powering the
        domain off. C(0) powers it off at once.
    type: int
    default: 120
  scheduler:
    description:
      - vGPU scheduler policy of the GPU. Can only change while no vGPU exists on the GPU.
    type: str
    choices: [best_effort, equal_share, fixed_share]
  timeslice:
    description:
      - Scheduler timeslice in nanoseconds (NVML's unit), for C(equal_share) and
        C(fixed_share). Must lie in the GPU's range (see M(adaptive.intravm.gpu_info)
        C(scheduler_capabilities)). When omitted the driver default is used.
    type: int
  sysfs_root:
    description:
      - Where sysfs is mounted. Only tests point this elsewhere.
    type: path
    default: /sys
extends_documentation_fragment:
  - adaptive.intravm.attributes.ACTION
  - adaptive.intravm.libvirt
notes:
  - Domains must be persistent (defined); a transient domain has no config to change.
  - mdevs do not survive a host reboot. If the domain's config names an mdev that no longer
    exists, O(state=present) creates it again under the same UUID.
seealso:
  - module: adaptive.intravm.gpu_info
'''

EXAMPLES = r'''
- name: Set the scheduler before any vGPU exists on the GPU
  adaptive.intravm.vgpu:
    gpu: "0000:3b:00.0"
    scheduler: equal_share
    timeslice: 2000000

- name: Give web01 a 4 GB compute vGPU (takes effect at its next boot)
  adaptive.intravm.vgpu:
    name: web01
    gpu: "0000:3b:00.0"
    type: NVIDIA A100-4C

- name: Resize it now, restarting the VM
  adaptive.intravm.vgpu:
    name: web01
    gpu: "0000:3b:00.0"
    type: NVIDIA A100-8C
    restart: true

- name: Take it away
  adaptive.intravm.vgpu:
    name: web01
    gpu: 0
    state: absent
'''

RETURN = r'''
gpu:
  description: PCI address of the GPU.
  returned: always
  type: str
  sample: "0000:3b:00.0"
driver_model:
  description: C(mdev) or C(vfio).
  returned: always
  type: str
  sample: mdev
vgpus:
  description: The domain's vGPUs on this GPU after the run (predicted in check mode).
  returned: when O(name) is given
  type: list
  elements: dict
  sample: [{"id": "00a3da69-798b-4ac0-b06f-bf4525c70827", "kind": "mdev", "type_id": 471, "type": "NVIDIA A100-4C",
            "in_config": true, "in_live": false}]
pending_restart:
  description: True when the domain runs without the declared vGPUs; they take effect at its next boot.
  returned: when O(name) is given
  type: bool
restarted:
  description: True when the module shut the domain down and started it again.
  returned: when O(name) is given
  type: bool
scheduler:
  description: The GPU's scheduler after the run.
  returned: when O(scheduler) is given
  type: dict
  sample: {"policy": "equal_share", "timeslice_ns": 2000000}
msg:
  description: What was done, or would be, in words.
  returned: always
  type: str
'''

from ansible_collections.adaptive.intravm.plugins.module_utils.apply import vgpu_apply
from ansible_collections.adaptive.intravm.plugins.module_utils.devices import nvml
from ansible_collections.adaptive.intravm.plugins.module_utils.devices.vgpu_sysfs import SysfsError, VgpuSysfs
from ansible_collections.adaptive.intravm.plugins.module_utils.errors import reported
from ansible_collections.adaptive.intravm.plugins.module_utils.module_base import LIBVIRT, IntravmModule


def run(module):
    params = module.params
    vgpu_apply.check_request(params)
    conn = module.connect()
    with nvml.Nvml() as nv:
        return vgpu_apply.VgpuRun(params, nv, conn, VgpuSysfs(params['sysfs_root']), module.check_mode).run()


def main():
    module = IntravmModule(
        argument_spec=dict(
            gpu=dict(type='str', required=True),
            name=dict(type='str'),
            type=dict(type='str'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            restart=dict(type='bool', default=False),
            shutdown_timeout=dict(type='int', default=120),
            scheduler=dict(type='str', choices=['best_effort', 'equal_share', 'fixed_share']),
            timeslice=dict(type='int'),
            sysfs_root=dict(type='path', default='/sys'),
        ),
        required_if=[('state', 'absent', ['name'])],
        required_by={'type': 'name', 'timeslice': 'scheduler'},
        requires=[nvml.REQUIREMENT, LIBVIRT],
    )
    # A refused sysfs write already names path, value and errno.
    module.run_and_exit(run, errors={nvml.NvmlError: nvml.failure, SysfsError: reported('')})


if __name__ == '__main__':
    main()
