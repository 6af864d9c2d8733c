# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""host_capabilities' verdicts: pure evaluation from facts, and the reads against fake trees,
the faithful SR-IOV and NVML fakes, and libvirt's 2-node test driver."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import os

import pytest

from ansible_collections.adaptive.intravm.plugins.module_utils.devices import capabilities as device_caps
from ansible_collections.adaptive.intravm.plugins.module_utils.devices import nvml
from ansible_collections.adaptive.intravm.plugins.module_utils.host import capabilities as caps
from ansible_collections.adaptive.intravm.plugins.module_utils.host.topology import parse_capabilities
from fakes.fake_sriov_sysfs import SriovWorld

# Trimmed from real `virsh capabilities`: a 2-node SMT host and a 1-node host without SMT.
TWO_NODES = """<capabilities><host>
  <cpu><arch>x86_64</arch><topology sockets='1' dies='1' cores='2' threads='2'/></cpu>
  <topology><cells num='2'>
    <cell id='0'><memory unit='KiB'>1048576</memory><cpus num='2'>
        <cpu id='0' socket_id='0' die_id='0' core_id='0' siblings='0,2'/>
        <cpu id='2' socket_id='0' die_id='0' core_id='0' siblings='0,2'/></cpus></cell>
    <cell id='1'><memory unit='KiB'>1048576</memory><cpus num='2'>
        <cpu id='1' socket_id='1' die_id='0' core_id='0' siblings='1,3'/>
        <cpu id='3' socket_id='1' die_id='0' core_id='0' siblings='1,3'/></cpus></cell>
  </cells></topology></host>
  <guest><os_type>hvm</os_type><arch name='x86_64'><domain type='qemu'/><domain type='kvm'/></arch></guest>
  <guest><os_type>hvm</os_type><arch name='aarch64'><domain type='qemu'/></arch></guest>
</capabilities>"""

ONE_NODE = """<capabilities><host>
  <cpu><arch>x86_64</arch><topology sockets='1' dies='1' cores='2' threads='1'/></cpu>
  <topology><cells num='1'><cell id='0'><memory unit='KiB'>9791700</memory><cpus num='2'>
        <cpu id='0' socket_id='0' die_id='0' core_id='0' siblings='0'/>
        <cpu id='1' socket_id='0' die_id='0' core_id='1' siblings='1'/></cpus></cell></cells></topology></host>
  <guest><os_type>hvm</os_type><arch name='x86_64'><domain type='qemu'/></arch></guest>
</capabilities>"""

# Trimmed from `virsh domcapabilities` (libvirt 9.0, QEMU 7.2).
DOMCAPS = """<domainCapabilities>
  <path>/usr/bin/qemu-system-x86_64</path><domain>qemu</domain><machine>pc-i440fx-7.2</machine><arch>x86_64</arch>
  <vcpu max='255'/><iothreads supported='yes'/>
  <cpu><mode name='host-passthrough' supported='no'/><mode name='custom' supported='yes'/></cpu>
  <memoryBacking supported='yes'><enum name='sourceType'><value>file</value><value>anonymous</value><value>memfd</value></enum></memoryBacking>
  <devices><hostdev supported='yes'><enum name='subsysType'><value>usb</value><value>pci</value><value>scsi</value></enum></hostdev></devices>
  <features><gic supported='no'/><sev supported='no'/><backup supported='yes'/></features>
</domainCapabilities>"""


def host_facts(caps_xml=TWO_NODES, driver='QEMU', qemu='7.2.22', libvirt=9000000):
    topo = caps.topology_summary(parse_capabilities(caps_xml))
    return {
        'libvirt': {'uri': 'qemu:///system', 'driver': driver, 'version': caps.version_text(libvirt), 'version_number': libvirt,
                    'hypervisor_version': qemu, 'guest_domain_types': caps.guest_domain_types(caps_xml),
                    'numatune_modes': caps.numatune_modes(libvirt)},
        'kvm': {'usable': True},
        'topology': topo,
        'domain_capabilities': dict(caps.parse_domain_capabilities(DOMCAPS), available=True, error=None),
        'cgroup': {'cpuset_controller': True},
        'resctrl': {'mounted': False},
        'shm': {'path': '/dev/shm', 'exists': True},
        'sriov': {'net_dir': '/sys/class/net', 'netlink': True,
                  'pfs': [{'name': 'ens1f0', 'driver': 'ixgbe', 'total_vfs': 8, 'num_vfs': 4, 'link_speed_mbps': 10000}]},
        'gpu': {'sysfs_root': '/sys', 'nvml': {'available': True, 'driver_version': '550.90.05', 'why': None},
                'gpus': [{'index': 0, 'pci': '0000:3b:00.0', 'virtualization_mode': 'host_vgpu', 'driver_model': 'mdev'}]},
    }


def test_a_full_host_supports_every_kind():
    supports = caps.evaluate(host_facts())
    assert sorted(supports) == sorted(caps.KINDS)
    assert all(v['supported'] for v in supports.values()), supports
    assert all(v['why'] for v in supports.values())
    assert 'numatune modes strict, preferred, interleave, restrictive' in supports['numa']['why']
    assert 'ens1f0 (ixgbe, 4 of 8 VFs)' in supports['network']['why']
    assert '0000:3b:00.0 (mdev)' in supports['gpu']['why']
    assert caps.require_message(supports, list(caps.KINDS)) is None


def test_versions_and_numatune_modes():
    assert caps.version_tuple(7002022) == (7, 2, 22)
    assert caps.version_text(9000000) == '9.0.0'
    assert caps.version_text(0) is None
    assert caps.numatune_modes(7002000) == ['strict', 'preferred', 'interleave']
    assert caps.numatune_modes(7003000)[-1] == 'restrictive'


def test_topology_numa_and_smt_from_capabilities():
    two = caps.topology_summary(parse_capabilities(TWO_NODES))
    assert (two['numa_node_count'], two['numa_nodes'], two['cpu_count'], two['smt']) == (2, [0, 1], 4, True)
    one = caps.topology_summary(parse_capabilities(ONE_NODE))
    assert (one['numa_node_count'], one['cpu_count'], one['smt'], one['threads_per_core']) == (1, 2, False, 1)
    assert caps.guest_domain_types(TWO_NODES) == ['kvm', 'qemu']  # only the host's own architecture
    assert caps.guest_domain_types(ONE_NODE) == ['qemu']


def test_a_host_without_numa_cannot_place_memory():
    supports = caps.evaluate(host_facts(ONE_NODE))
    assert not supports['numa']['supported']
    assert '1 NUMA node' in supports['numa']['why']
    assert supports['cpu']['supported']


def test_without_cpuset_controller_numa_changes_wait_for_the_next_boot():
    facts = host_facts()
    facts['cgroup']['cpuset_controller'] = False
    assert 'persistent config' in caps.evaluate(facts)['numa']['why']


def test_one_cpu_or_another_driver_cannot_pin():
    facts = host_facts()
    facts['topology'].update(cpu_count=1, cpus_online='0')
    assert 'only 1 host CPU' in caps.evaluate(facts)['cpu']['why']
    supports = caps.evaluate(host_facts(driver='LXC'))
    assert not supports['cpu']['supported'] and 'LXC' in supports['cpu']['why']
    for kind in ('memory', 'vcpus', 'channel'):
        assert not supports[kind]['supported'] and 'not QEMU' in supports[kind]['why']


def test_old_qemu_lacks_ivshmem_plain_and_vcpu_hotplug():
    supports = caps.evaluate(host_facts(qemu='2.5.1'))
    assert not supports['channel']['supported'] and '2.6.0' in supports['channel']['why']
    assert not supports['vcpus']['supported'] and '2.7.0' in supports['vcpus']['why']
    assert supports['memory']['supported']
    facts = host_facts()
    facts['shm']['exists'] = False
    assert '/dev/shm does not exist' in caps.evaluate(facts)['channel']['why']


def test_require_names_every_missing_kind_once_in_order():
    facts = host_facts(ONE_NODE)
    facts['sriov']['pfs'] = []
    facts['gpu']['nvml'] = {'available': False, 'driver_version': None, 'why': 'nvidia-ml-py (pynvml) is not installed'}
    supports = caps.evaluate(facts)
    assert caps.unmet(supports, ['gpu', 'cpu', 'numa', 'gpu', 'network']) == ['gpu', 'numa', 'network']
    msg = caps.require_message(supports, ['gpu', 'cpu', 'numa', 'network'])
    assert msg.startswith('this host cannot do 3 required resource kind(s): gpu (NVIDIA vGPU): NVML is not available')
    assert 'numa (NUMA memory policy): the host has 1 NUMA node' in msg
    assert 'network (SR-IOV VF transmit rates): no SR-IOV physical function under /sys/class/net' in msg
    assert 'cpu' not in caps.unmet(supports, ['cpu'])
    assert caps.require_message(supports, []) is None and caps.require_message(supports, None) is None


def test_domain_capabilities_parse():
    parsed = caps.parse_domain_capabilities(DOMCAPS)
    assert parsed['domain_type'] == 'qemu' and parsed['vcpu_max'] == 255 and parsed['iothreads']
    assert parsed['cpu_modes'] == ['custom']
    assert parsed['memory_backing'] == {'supported': True, 'source_types': ['file', 'anonymous', 'memfd']}
    assert parsed['hostdev']['subsystems'] == ['usb', 'pci', 'scsi']
    assert parsed['features'] == {'gic': False, 'sev': False, 'backup': True}
    facts = host_facts()
    facts['domain_capabilities']['vcpu_max'] = 1
    assert 'allows 1 vCPU' in caps.evaluate(facts)['vcpus']['why']


# ---------------------------------------------------------------- KVM

def _tree(root, files):
    for rel, text in files.items():
        path = os.path.join(str(root), rel)
        if not os.path.isdir(os.path.dirname(path)):
            os.makedirs(os.path.dirname(path))
        if text is None:
            os.makedirs(path)
        else:
            with open(path, 'w') as handle:
                handle.write(text)


def test_a_host_without_kvm_runs_guests_under_tcg(tmp_path):
    _tree(tmp_path / 'sys', {'module/kvm/parameters/halt_poll_ns': '0\n', 'module/kvm_pvm': None, 'module/tun': None})
    _tree(tmp_path / 'dev', {'shm': None})
    _tree(tmp_path / 'proc', {'cpuinfo': 'processor\t: 0\nflags\t\t: fpu hypervisor\n'})
    kvm = caps.kvm_facts(str(tmp_path / 'sys'), str(tmp_path / 'dev'), str(tmp_path / 'proc'), ['qemu'])
    assert kvm['modules'] == ['kvm', 'kvm_pvm'] and kvm['vendor_module'] is None
    assert not kvm['usable'] and not kvm['dev_kvm']['exists'] and kvm['cpu_flags'] == []
    assert 'no kvm_intel or kvm_amd module' in kvm['why'] and 'kvm, kvm_pvm' in kvm['why'] and 'TCG' in kvm['why']


def test_kvm_verdicts():
    dev = {'path': '/dev/kvm', 'exists': True, 'mode': 'crw-rw----', 'owner': 'root', 'group': 'kvm', 'accessible': True}
    good = {'module_dir': '/sys/module', 'modules': ['kvm', 'kvm_intel'], 'vendor_module': 'kvm_intel', 'dev_kvm': dev}
    assert caps.kvm_verdict(good) == (True, 'kvm_intel is loaded and /dev/kvm is crw-rw---- root:kvm')
    no_dev = copy.deepcopy(good)
    no_dev['dev_kvm'].update(exists=False)
    assert caps.kvm_verdict(no_dev) == (False, 'kvm_intel is loaded but /dev/kvm does not exist')
    locked = copy.deepcopy(good)
    locked['dev_kvm'].update(accessible=False, mode='crw-------')
    assert 'not readable and writable' in caps.kvm_verdict(locked)[1]


def test_dev_kvm_must_be_a_character_device(tmp_path):
    _tree(tmp_path / 'sys', {'module/kvm_amd': None, 'module/kvm': None})
    _tree(tmp_path / 'dev', {'kvm': 'not a device'})
    _tree(tmp_path / 'proc', {'cpuinfo': 'flags\t\t: fpu svm\n'})
    kvm = caps.kvm_facts(str(tmp_path / 'sys'), str(tmp_path / 'dev'), str(tmp_path / 'proc'), ['kvm', 'qemu'])
    assert kvm['vendor_module'] == 'kvm_amd' and kvm['cpu_flags'] == ['svm'] and kvm['libvirt_offers_kvm']
    assert not kvm['usable'] and 'does not exist' in kvm['why']


def test_the_real_dev_kvm_agrees_with_sysfs():
    kvm = caps.kvm_facts('/sys', '/dev', '/proc', [])
    expected = (os.path.exists('/sys/module/kvm_intel') or os.path.exists('/sys/module/kvm_amd')) and os.path.exists('/dev/kvm')
    assert kvm['usable'] == expected, kvm


# ------------------------------------------------------------ cgroups, resctrl

def test_cgroup_v2_with_cpu_controller(tmp_path):
    _tree(tmp_path, {'fs/cgroup/cgroup.controllers': 'cpuset cpu io memory pids\n', 'fs/cgroup/machine.slice/cpu.idle': '0\n'})
    facts = caps.cgroup_facts(str(tmp_path))
    assert (facts['version'], facts['cpu_controller'], facts['cpuset_controller'], facts['idle_knob']) == (2, True, True, 'cpu.idle=1')
    assert facts['control_cgroup']['possible'] and 'intravm-control can be made idle' in facts['control_cgroup']['why']
    assert not facts['control_cgroup_exists']
    assert not os.path.exists(str(tmp_path / 'fs' / 'cgroup' / 'intravm-control')), 'report, never create'


def test_cgroup_v2_without_cpu_controller(tmp_path):
    _tree(tmp_path, {'fs/cgroup/cgroup.controllers': 'io memory pids\n'})
    facts = caps.cgroup_facts(str(tmp_path))
    assert facts['version'] == 2 and not facts['control_cgroup']['possible']
    assert 'cpu controller is not available' in facts['control_cgroup']['why']


def test_cgroup_v1_hybrid_and_old_kernel(tmp_path):
    _tree(tmp_path, {'fs/cgroup/cpu/cpu.shares': '1024\n', 'fs/cgroup/cpuset/cpuset.cpus': '0-1\n',
                     'fs/cgroup/unified/cgroup.controllers': ''})
    facts = caps.cgroup_facts(str(tmp_path))
    assert (facts['version'], facts['hybrid'], facts['cpuset_controller']) == (1, True, True)
    assert facts['idle_knob'] == 'cpu.shares=2' and 'not fully idle' in facts['control_cgroup']['why']
    assert facts['cpu_hierarchy'] == str(tmp_path / 'fs' / 'cgroup' / 'cpu')


def test_no_cgroup_hierarchy(tmp_path):
    facts = caps.cgroup_facts(str(tmp_path))
    assert facts['version'] is None and not facts['control_cgroup']['possible']
    assert 'no cgroup hierarchy with the cpu controller' in facts['control_cgroup']['why']


def test_resctrl(tmp_path):
    _tree(tmp_path, {'sys/fs/resctrl/info/L3/num_closids': '16\n', 'sys/fs/resctrl/info/MB/min_bandwidth': '10\n',
                     'sys/fs/resctrl/info/L3_MON/num_rmids': '128\n', 'proc/filesystems': 'nodev\tproc\nnodev\tresctrl\n'})
    facts = caps.resctrl_facts(str(tmp_path / 'sys'), str(tmp_path / 'proc'))
    assert facts['mounted'] and facts['kernel_support'] and facts['l3_cat'] and facts['mba'] and facts['l3_monitoring']
    assert facts['num_closids'] == 16 and not facts['l3_cdp']
    empty = caps.resctrl_facts(str(tmp_path / 'nowhere'), str(tmp_path / 'nowhere'))
    assert not empty['mounted'] and empty['kernel_support'] is None and empty['resources'] == []


# ------------------------------------------------------------ SR-IOV (fake sysfs)

def test_sriov_pf_from_the_fake_sysfs(tmp_path):
    world = SriovWorld(str(tmp_path / 'world'))
    world.add_plain_nic('eth9')
    facts = host_facts()
    facts['sriov'] = device_caps.sriov_facts(world.sys)
    assert facts['sriov']['pfs'] == []
    assert 'no SR-IOV physical function' in caps.evaluate(facts)['network']['why']

    world.add_pf('ens1f0', driver='ixgbe', total_vfs=4, speed=10000)
    facts['sriov'] = device_caps.sriov_facts(world.sys)
    assert facts['sriov']['pfs'] == [{'name': 'ens1f0', 'driver': 'ixgbe', 'total_vfs': 4, 'num_vfs': 0, 'link_speed_mbps': 10000}]
    supports = caps.evaluate(facts)
    assert not supports['network']['supported'] and 'ens1f0 (ixgbe) have no VFs enabled' in supports['network']['why']

    world.set_numvfs('ens1f0', 3)
    facts['sriov'] = device_caps.sriov_facts(world.sys)
    assert caps.evaluate(facts)['network'] == {
        'supported': True, 'why': 'SR-IOV PF(s) ens1f0 (ixgbe, 3 of 4 VFs); whether a driver takes VF rates shows on the first change'}
    facts['sriov']['netlink'] = False
    assert 'pyroute2 is not installed' in caps.evaluate(facts)['network']['why']


# ------------------------------------------------------------ NVML (fake driver)

def test_gpus_from_the_fake_nvml(tmp_path, monkeypatch):
    pytest.importorskip('pynvml')
    from fakes import fake_nvml  # pylint: disable=import-outside-toplevel
    host = fake_nvml.install(tmp_path, monkeypatch)
    root = host.load()['sysfs_root']
    gpu = device_caps.gpu_facts(root)
    assert gpu['nvml'] == {'available': True, 'driver_version': '550.90.05', 'why': None}
    assert [(g['pci'], g['virtualization_mode'], g['driver_model']) for g in gpu['gpus']] == [
        ('0000:3b:00.0', 'host_vgpu', 'mdev'), ('0000:af:00.0', 'host_vgpu', 'mdev'),
        ('0000:4b:00.0', 'host_vgpu', 'vfio'), ('0000:d8:00.0', 'none', None)]
    facts = host_facts()
    facts['gpu'] = gpu
    verdict = caps.evaluate(facts)['gpu']
    assert verdict['supported'] and '3 GPU(s) in vGPU host mode' in verdict['why'] and '0000:4b:00.0 (vfio)' in verdict['why']

    def bare_metal(state):
        for entry in state['gpus']:
            entry['virtualization_mode'] = 0
    host.edit(bare_metal)
    facts['gpu'] = device_caps.gpu_facts(root)
    verdict = caps.evaluate(facts)['gpu']
    assert not verdict['supported'] and 'no GPU is in vGPU host mode (0000:3b:00.0: none' in verdict['why']


def test_without_nvml_there_is_no_gpu(monkeypatch, tmp_path):
    monkeypatch.setattr(nvml, 'HAS_PYNVML', False)
    gpu = device_caps.gpu_facts(str(tmp_path))
    assert gpu['nvml'] == {'available': False, 'driver_version': None, 'why': 'nvidia-ml-py (pynvml) is not installed'}
    facts = host_facts()
    facts['gpu'] = gpu
    assert caps.evaluate(facts)['gpu'] == {'supported': False, 'why': 'NVML is not available: nvidia-ml-py (pynvml) is not installed'}


def test_gpus_in_host_mode_without_a_vgpu_interface_in_sysfs():
    facts = host_facts()
    facts['gpu']['gpus'][0]['driver_model'] = None
    assert 'neither mdev types nor vendor-VFIO VFs' in caps.evaluate(facts)['gpu']['why']


# ------------------------------------------------------------ libvirt test driver

def test_gather_from_the_two_node_test_driver(multi_node_conn, tmp_path):
    facts = caps.gather_host(multi_node_conn, 'test:///default', sysfs_root=str(tmp_path), dev_root=str(tmp_path),
                             proc_root=str(tmp_path))
    assert facts['libvirt']['driver'] == 'TEST'
    assert facts['topology']['numa_node_count'] == 2 and facts['topology']['numa_nodes'] == [0, 1]
    assert not facts['domain_capabilities']['available'] and 'not supported' in facts['domain_capabilities']['error']
    assert not facts['kvm']['usable'] and facts['cgroup']['version'] is None and not facts['shm']['exists']
    facts['sriov'] = device_caps.sriov_facts(str(tmp_path))
    facts['gpu'] = {'sysfs_root': str(tmp_path), 'nvml': {'available': False, 'why': 'not here'}, 'gpus': []}
    supports = caps.evaluate(facts)
    assert supports['cpu']['supported'] and supports['numa']['supported']
    assert [k for k in caps.KINDS if not supports[k]['supported']] == ['network', 'gpu', 'memory', 'vcpus', 'channel']
