#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: host_capabilities
short_description: What this hypervisor can do for the loop, per resource kind, and why not
version_added: 0.1.0
description:
  - The preflight of the loop. Reports what the hypervisor offers - hardware virtualization
    (the KVM modules under C(/sys/module), C(/dev/kvm) and its permissions), the libvirt and
    QEMU versions, the NUMA nodes and SMT of the host (libvirt capabilities), the domain
    capabilities (libvirt's domain capabilities XML), the cgroup version and whether an idle
    cgroup for the control plane can be made, SR-IOV physical functions with their VFs and
    drivers, NVML and the vGPU driver model of each GPU, and resctrl - and, for each resource
    kind the loop partitions, whether it can be done here and why (RV(supports)).
  - With O(require), fails with one message naming every required resource kind the host
    cannot do and why; otherwise only reports, so playbooks can branch on RV(supports).
  - Read-only; never changes anything (it does not create the control cgroup, it checks
    whether one could be made).
author:
  - adaptive.intravm contributors (@adaptive-intravm)
options:
  require:
    description:
      - Resource kinds the host must support; the module fails naming each one it cannot do.
      - C(cpu) live vCPU, emulator and iothread pinning; C(numa) NUMA memory policy (needs at
        least two NUMA nodes); C(network) SR-IOV VF transmit rates (a PF with VFs enabled, and
        pyroute2); C(gpu) NVIDIA vGPU (NVML and a GPU in vGPU host mode with mdev types or
        vendor-VFIO VFs); C(memory) ballooning; C(vcpus) vCPU hotplug; C(channel) the
        ivshmem-plain profiler channel.
      - When omitted or empty, nothing is required and the module only reports.
    type: list
    elements: str
    choices: [cpu, numa, network, gpu, memory, vcpus, channel]
    default: []
  sysfs_root:
    description:
      - Where sysfs is mounted (KVM modules, cgroups, resctrl, SR-IOV and vGPU devices are
        read under it). Only tests point this elsewhere.
    type: path
    default: /sys
extends_documentation_fragment:
  - adaptive.intravm.attributes.INFO
  - adaptive.intravm.libvirt
notes:
  - Whether an SR-IOV driver accepts VF rates, or NVML a scheduler change, shows only when it
    is asked; this module reports what can be known without changing anything.
  - Hardware virtualization is reported but required by no resource kind; the loop works
    with guests under TCG too.
seealso:
  - module: adaptive.intravm.topology_info
  - module: adaptive.intravm.gpu_info
'''

EXAMPLES = r'''
- name: Stop here unless the host can pin vCPUs and carry the profiler channel
  adaptive.intravm.host_capabilities:
    require: [cpu, channel]

- name: Read what the host can do
  adaptive.intravm.host_capabilities:
  register: host

- name: Set VF rates only where the host has SR-IOV
  adaptive.intravm.vf_bandwidth:
    name: web01
    max_tx_rate: 2000
  when: host.supports.network.supported

- name: Say why NUMA placement is skipped
  ansible.builtin.debug:
    msg: "numa skipped: {{ host.supports.numa.why }}"
  when: not host.supports.numa.supported
'''

RETURN = r'''
supports:
  description:
    - Per resource kind (C(cpu), C(numa), C(network), C(gpu), C(memory), C(vcpus), C(channel)),
      whether this host can do it and why (or why not).
  returned: always
  type: dict
  sample: {"cpu": {"supported": true, "why": "libvirt QEMU pins vCPUs, emulator threads and iothreads of running domains live, over 2 online CPUs (0-1)"},
           "numa": {"supported": false, "why": "the host has 1 NUMA node (libvirt capabilities): there is no memory placement to choose"}}
missing:
  description: The required kinds the host cannot do (only when the module fails because of O(require)).
  returned: failure
  type: list
  elements: str
  sample: ["numa", "network"]
capabilities:
  description: The facts the verdicts are made from.
  returned: success
  type: dict
  contains:
    libvirt:
      description: The connection's driver, libvirt and hypervisor (QEMU) versions, guest domain types and numatune modes.
      type: dict
      sample: {"uri": "qemu:///system", "driver": "QEMU", "version": "9.0.0", "version_number": 9000000,
               "hypervisor_version": "7.2.22", "guest_domain_types": ["kvm", "qemu"],
               "numatune_modes": ["strict", "preferred", "interleave", "restrictive"]}
    kvm:
      description: KVM modules under the sysfs root, C(/dev/kvm) (mode, owner, group, accessible), the CPU flag, and the verdict.
      type: dict
      sample: {"module_dir": "/sys/module", "modules": ["kvm", "kvm_intel"], "vendor_module": "kvm_intel",
               "dev_kvm": {"path": "/dev/kvm", "exists": true, "mode": "crw-rw----", "owner": "root", "group": "kvm", "accessible": true},
               "cpu_flags": ["vmx"], "libvirt_offers_kvm": true, "usable": true, "why": "kvm_intel is loaded and /dev/kvm is crw-rw---- root:kvm"}
    topology:
      description: Online CPUs, NUMA nodes and SMT from libvirt's capabilities.
      type: dict
      sample: {"cpus_online": "0-15", "cpu_count": 16, "numa_nodes": [0, 1], "numa_node_count": 2, "sockets": 1,
               "cores_per_socket": 8, "threads_per_core": 2, "smt": true}
    domain_capabilities:
      description: What libvirt's domain capabilities say for the virt type guests use; C(available) false with C(error) where the driver has none.
      type: dict
      sample: {"available": true, "error": null, "domain_type": "kvm", "machine": "pc-i440fx-7.2", "arch": "x86_64", "vcpu_max": 255,
               "iothreads": true, "cpu_modes": ["host-passthrough", "host-model"], "emulator": "/usr/bin/qemu-system-x86_64",
               "memory_backing": {"supported": true, "source_types": ["file", "anonymous", "memfd"]},
               "hostdev": {"supported": true, "subsystems": ["usb", "pci", "scsi"]}, "features": {"sev": false}}
    cgroup:
      description:
        - cgroup version (2 when C(cgroup.controllers) is at the root), the hierarchy with the cpu controller, and
          whether the control plane's idle cgroup (C(intravm-control), see C(scripts/control_cgroup.py)) could be made.
      type: dict
      sample: {"root": "/sys/fs/cgroup", "version": 2, "hybrid": false, "cpu_hierarchy": "/sys/fs/cgroup", "cpu_controller": true,
               "cpuset_controller": true, "writable": true, "idle_knob": "cpu.idle=1", "control_cgroup_exists": false,
               "control_cgroup": {"possible": true, "knob": "cpu.idle=1", "why": "cgroup v2: /sys/fs/cgroup/intravm-control can be made idle"}}
    resctrl:
      description: Kernel support, mount and resources of resctrl (L3 CAT, CDP, MBA, L3 monitoring).
      type: dict
      sample: {"path": "/sys/fs/resctrl", "kernel_support": true, "mounted": true, "resources": ["L3", "L3_MON", "MB"],
               "l3_cat": true, "l3_cdp": false, "mba": true, "l3_monitoring": true, "num_closids": 16}
    shm:
      description: Where libvirt keeps ivshmem regions, and whether it exists.
      type: dict
      sample: {"path": "/dev/shm", "exists": true}
    sriov:
      description: SR-IOV physical functions with their VF counts, driver and link speed; whether netlink (pyroute2) is importable.
      type: dict
      sample: {"net_dir": "/sys/class/net", "netlink": true,
               "pfs": [{"name": "ens1f0", "driver": "ixgbe", "total_vfs": 8, "num_vfs": 4, "link_speed_mbps": 10000}]}
    gpu:
      description: Whether NVML answers (and why not), and each GPU's virtualization mode and vGPU driver model (C(mdev), C(vfio) or null).
      type: dict
      sample: {"sysfs_root": "/sys", "nvml": {"available": true, "driver_version": "550.90.05", "why": null},
               "gpus": [{"index": 0, "name": "NVIDIA A100-PCIE-40GB", "uuid": "GPU-...", "pci": "0000:3b:00.0",
                         "virtualization_mode": "host_vgpu", "driver_model": "mdev"}]}
'''

from ansible_collections.adaptive.intravm.plugins.module_utils.devices import capabilities as device_caps
from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError
from ansible_collections.adaptive.intravm.plugins.module_utils.host import capabilities as host_caps
from ansible_collections.adaptive.intravm.plugins.module_utils.module_base import LIBVIRT, IntravmModule


def run(module):
    """Gather every fact once, judge each resource kind, and fail on an unmet requirement."""
    params = module.params
    root = params['sysfs_root']
    facts = host_caps.gather_host(module.connect(), params['uri'], sysfs_root=root)
    facts['sriov'] = device_caps.sriov_facts(root)
    facts['gpu'] = device_caps.gpu_facts(root)
    supports = host_caps.evaluate(facts)
    message = host_caps.require_message(supports, params['require'])
    if message:
        raise IntravmError(message, missing=host_caps.unmet(supports, params['require']), supports=supports)
    return {'changed': False, 'supports': supports, 'capabilities': facts}


def main():
    module = IntravmModule(
        argument_spec=dict(
            require=dict(type='list', elements='str', choices=list(host_caps.KINDS), default=[]),
            sysfs_root=dict(type='path', default='/sys'),
        ),
        requires=[LIBVIRT],
    )
    module.run_and_exit(run)


if __name__ == '__main__':
    main()
