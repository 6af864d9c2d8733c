# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What this hypervisor can do for the loop, and why not (the preflight of host_capabilities).

Two halves:

* pure: parse libvirt's capabilities and domain capabilities XML, and turn
  gathered facts into one verdict per resource kind,
  ``{kind: {'supported': bool, 'why': str}}`` (``evaluate``), and the one
  message naming every unmet requirement (``require_message``);
* reads: libvirt (versions, capabilities XML; never virsh output), and files
  under a configurable sysfs root (``module/kvm*``, ``fs/cgroup``,
  ``fs/resctrl``), ``/dev`` and ``/proc``. Nothing is written.

SR-IOV and GPU facts come from the device seams (devices/capabilities.py);
this stage must not import them, so they arrive here as plain dicts.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import grp
import os
import pwd
import stat
import xml.etree.ElementTree as ET

from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset, libvirt_conn
from ansible_collections.adaptive.intravm.plugins.module_utils.host.topology import parse_capabilities, text_at

# The resource kinds a playbook can require, and what each one means here.
KINDS = ('cpu', 'numa', 'network', 'gpu', 'memory', 'vcpus', 'channel')
KIND_FEATURES = {
    'cpu': 'live vCPU, emulator and iothread pinning',
    'numa': 'NUMA memory policy',
    'network': 'SR-IOV VF transmit rates',
    'gpu': 'NVIDIA vGPU',
    'memory': 'memory ballooning',
    'vcpus': 'vCPU hotplug',
    'channel': 'the ivshmem-plain profiler channel',
}

# Versions as (major, minor, micro).
QEMU_IVSHMEM_PLAIN = (2, 6, 0)      # the ivshmem-plain device
QEMU_VCPU_HOTPLUG = (2, 7, 0)       # query-hotpluggable-cpus / device_add of vCPUs
LIBVIRT_NUMATUNE_RESTRICTIVE = (7, 3, 0)
PINNING_DRIVERS = ('QEMU', 'TEST')  # drivers whose running domains take vCPU/emulator/iothread pins
CONTROL_CGROUP = 'intravm-control'  # the idle cgroup scripts/control_cgroup.py makes


# ------------------------------------------------------------------ pure

def version_tuple(number):
    """(major, minor, micro) of libvirt's integer version encoding (major * 1e6 + minor * 1e3 + micro)."""
    number = int(number or 0)
    return number // 1000000, number // 1000 % 1000, number % 1000


def version_text(number):
    return '%d.%d.%d' % version_tuple(number) if number else None


def _as_tuple(text):
    return tuple(int(p) for p in text.split('.')) if text else (0, 0, 0)


def _supported(elem):
    return elem is not None and elem.get('supported') == 'yes'


def _enum(elem, name):
    if elem is None:
        return []
    return [v.text for v in elem.findall("./enum[@name='%s']/value" % name) if v.text]


def parse_domain_capabilities(xml_text):
    """The parts of libvirt's domain capabilities XML the loop depends on."""
    root = ET.fromstring(xml_text)
    vcpu = root.find('vcpu')
    backing = root.find('memoryBacking')
    hostdev = root.find('./devices/hostdev')
    features = root.find('features')
    return {
        'emulator': text_at(root, 'path'),
        'domain_type': text_at(root, 'domain'),
        'machine': text_at(root, 'machine'),
        'arch': text_at(root, 'arch'),
        'vcpu_max': int(vcpu.get('max')) if vcpu is not None and vcpu.get('max') else None,
        'iothreads': _supported(root.find('iothreads')),
        'cpu_modes': [m.get('name') for m in root.findall('./cpu/mode') if _supported(m)],
        'memory_backing': {'supported': _supported(backing), 'source_types': _enum(backing, 'sourceType')},
        'hostdev': {'supported': _supported(hostdev), 'subsystems': _enum(hostdev, 'subsysType')},
        'features': dict((f.tag, _supported(f)) for f in (list(features) if features is not None else [])),
    }


def guest_domain_types(caps_xml):
    """Domain types (qemu, kvm, ...) libvirt offers for guests of the host's own architecture."""
    root = ET.fromstring(caps_xml)
    host_arch = text_at(root, './host/cpu/arch')
    found = set()
    for guest in root.findall('guest'):
        arch = guest.find('arch')
        if arch is None or (host_arch and arch.get('name') != host_arch):
            continue
        found.update(d.get('type') for d in arch.findall('domain') if d.get('type'))
    return sorted(found)


def topology_summary(topology):
    """NUMA and SMT facts from a parsed capabilities topology (host/topology.parse_capabilities)."""
    widest = max([len(cpuset.parse(c['siblings'])) for c in topology['cpus']] or [1])
    threads = topology.get('threads_per_core')
    return {
        'cpus_online': topology['cpus_online'],
        'cpu_count': len(cpuset.parse(topology['cpus_online'])),
        'numa_nodes': [n['id'] for n in topology['nodes']],
        'numa_node_count': len(topology['nodes']),
        'sockets': topology.get('sockets'),
        'cores_per_socket': topology.get('cores_per_socket'),
        'threads_per_core': threads,
        'smt': bool((threads or 1) > 1 or widest > 1),
    }


def kvm_verdict(kvm):
    """(usable, why) for hardware virtualization from the kvm facts."""
    vendor = kvm.get('vendor_module')
    found = ', '.join(kvm.get('modules') or []) or 'none'
    offered = ' (libvirt still offers domain type kvm because /dev/kvm exists)' if kvm.get('libvirt_offers_kvm') else ''
    if not vendor:
        return False, ('no kvm_intel or kvm_amd module under %s (kvm modules found: %s); guests run under TCG emulation%s'
                       % (kvm.get('module_dir'), found, offered))
    dev = kvm.get('dev_kvm') or {}
    if not dev.get('exists'):
        return False, '%s is loaded but %s does not exist' % (vendor, dev.get('path'))
    if not dev.get('accessible'):
        return False, '%s is loaded but %s (%s %s:%s) is not readable and writable by this user' % (
            vendor, dev.get('path'), dev.get('mode'), dev.get('owner'), dev.get('group'))
    return True, '%s is loaded and %s is %s %s:%s' % (vendor, dev['path'], dev.get('mode'), dev.get('owner'), dev.get('group'))


def control_cgroup_verdict(cgroup):
    """(possible, knob, why) for an idle cgroup for the control plane (what scripts/control_cgroup.py makes)."""
    base = cgroup.get('cpu_hierarchy')
    if not base:
        return False, None, 'no cgroup hierarchy with the cpu controller under %s' % cgroup.get('root')
    if cgroup.get('version') == 2 and not cgroup.get('cpu_controller'):
        return False, None, 'the cpu controller is not available in %s/cgroup.controllers' % base
    knob = cgroup.get('idle_knob')
    if not cgroup.get('writable'):
        return False, knob, '%s is not writable by this user: a cgroup cannot be made there' % base
    where = os.path.join(base, CONTROL_CGROUP)
    if knob == 'cpu.idle=1':
        how = 'idle (cpu.idle=1) at the level of the guests\' cgroups'
    else:
        how = 'at the lowest CPU claim (%s: this kernel has no cpu.idle, so it is not fully idle)' % knob
    return True, knob, 'cgroup v%d: %s can be made %s' % (cgroup['version'], where, how)


def numatune_modes(libvirt_version):
    modes = ['strict', 'preferred', 'interleave']
    if version_tuple(libvirt_version) >= LIBVIRT_NUMATUNE_RESTRICTIVE:
        modes.append('restrictive')
    return modes


def _verdict(supported, why):
    return {'supported': bool(supported), 'why': why}


def _qemu_needed(lib, what, minimum=None, which=None):
    """None when the driver is QEMU (at least `minimum`, the version `which` names), else the verdict saying why not."""
    if lib.get('driver') != 'QEMU':
        return _verdict(False, 'libvirt driver %s is not QEMU: %s needs QEMU' % (lib.get('driver'), what))
    if minimum and _as_tuple(lib.get('hypervisor_version')) < minimum:
        return _verdict(False, 'QEMU %s is older than %s, which %s'
                        % (lib.get('hypervisor_version'), '.'.join(str(p) for p in minimum), which))
    return None


def _cpu(facts):
    lib, topo = facts['libvirt'], facts['topology']
    if lib.get('driver') not in PINNING_DRIVERS:
        return _verdict(False, 'libvirt driver %s does not pin the threads of running domains' % lib.get('driver'))
    if topo['cpu_count'] < 2:
        return _verdict(False, 'only %d host CPU online (%s): nothing to pin vCPUs apart on'
                        % (topo['cpu_count'], topo['cpus_online'] or 'none'))
    return _verdict(True, 'libvirt %s pins vCPUs, emulator threads and iothreads of running domains live, over %d online CPUs (%s)'
                    % (lib.get('driver'), topo['cpu_count'], topo['cpus_online']))


def _numa(facts):
    lib, topo = facts['libvirt'], facts['topology']
    count = topo['numa_node_count']
    if count < 2:
        return _verdict(False, 'the host has %d NUMA node%s (libvirt capabilities): there is no memory placement to choose'
                        % (count, '' if count == 1 else 's'))
    modes = ', '.join(numatune_modes(lib.get('version_number')))
    live = ('live nodeset changes go through the cpuset cgroup controller' if facts['cgroup'].get('cpuset_controller')
            else 'no cpuset cgroup controller: changes go to the persistent config (next boot)')
    return _verdict(True, '%d NUMA nodes (%s); numatune modes %s; %s'
                    % (count, ','.join(str(n) for n in topo['numa_nodes']), modes, live))


def _network(facts):
    sriov = facts['sriov']
    pfs = sriov.get('pfs') or []
    if not pfs:
        return _verdict(False, 'no SR-IOV physical function under %s (no device/sriov_numvfs)' % sriov.get('net_dir'))
    with_vfs = [p for p in pfs if p.get('num_vfs')]
    if not with_vfs:
        return _verdict(False, 'SR-IOV PF(s) %s have no VFs enabled (sriov_numvfs is 0)'
                        % ', '.join('%s (%s)' % (p['name'], p['driver']) for p in pfs))
    if not sriov.get('netlink'):
        return _verdict(False, 'pyroute2 is not installed: VF rates are set over netlink')
    return _verdict(True, 'SR-IOV PF(s) %s; whether a driver takes VF rates shows on the first change'
                    % ', '.join('%s (%s, %d of %s VFs)' % (p['name'], p['driver'], p['num_vfs'], p['total_vfs'])
                                for p in with_vfs))


def _gpu(facts):
    gpu = facts['gpu']
    nv = gpu.get('nvml') or {}
    if not nv.get('available'):
        return _verdict(False, 'NVML is not available: %s' % nv.get('why'))
    gpus = gpu.get('gpus') or []
    if not gpus:
        return _verdict(False, 'NVML (driver %s) sees no NVIDIA GPU' % nv.get('driver_version'))
    hosts = [g for g in gpus if g.get('virtualization_mode') == 'host_vgpu']
    if not hosts:
        return _verdict(False, 'no GPU is in vGPU host mode (%s)'
                        % ', '.join('%s: %s' % (g['pci'], g.get('virtualization_mode')) for g in gpus))
    usable = [g for g in hosts if g.get('driver_model')]
    if not usable:
        return _verdict(False, 'GPU(s) %s are in vGPU host mode but sysfs under %s shows neither mdev types nor vendor-VFIO VFs'
                        % (', '.join(g['pci'] for g in hosts), gpu.get('sysfs_root')))
    return _verdict(True, '%d GPU(s) in vGPU host mode: %s (driver %s)'
                    % (len(usable), ', '.join('%s (%s)' % (g['pci'], g['driver_model']) for g in usable),
                       nv.get('driver_version')))


def _memory(facts):
    lib = facts['libvirt']
    refused = _qemu_needed(lib, 'ballooning')
    if refused:
        return refused
    return _verdict(True, 'QEMU %s has virtio-balloon; a domain needs a <memballoon model=\'virtio\'> device and the guest driver'
                    % lib.get('hypervisor_version'))


def _vcpus(facts):
    lib, domcaps = facts['libvirt'], facts['domain_capabilities']
    refused = _qemu_needed(lib, 'vCPU hotplug', QEMU_VCPU_HOTPLUG, 'hotplugs vCPUs')
    if refused:
        return refused
    if domcaps.get('available') and (domcaps.get('vcpu_max') or 0) < 2:
        return _verdict(False, 'machine %s allows %s vCPU' % (domcaps.get('machine'), domcaps.get('vcpu_max')))
    limit = (', up to %d vCPUs on %s' % (domcaps['vcpu_max'], domcaps.get('machine'))
             if domcaps.get('available') and domcaps.get('vcpu_max') else '')
    return _verdict(True, 'QEMU %s hotplugs vCPUs%s; a domain needs <vcpu current=...> below its maximum'
                    % (lib.get('hypervisor_version'), limit))


def _channel(facts):
    lib = facts['libvirt']
    refused = _qemu_needed(lib, 'the ivshmem-plain device', QEMU_IVSHMEM_PLAIN, 'has the ivshmem-plain device')
    if refused:
        return refused
    shm = facts['shm']
    if not shm.get('exists'):
        return _verdict(False, '%s does not exist: libvirt keeps ivshmem regions there' % shm.get('path'))
    return _verdict(True, 'QEMU %s has ivshmem-plain; regions live in %s' % (lib.get('hypervisor_version'), shm['path']))


_EVALUATORS = {'cpu': _cpu, 'numa': _numa, 'network': _network, 'gpu': _gpu,
               'memory': _memory, 'vcpus': _vcpus, 'channel': _channel}


def evaluate(facts):
    """{kind: {'supported': bool, 'why': str}} for every resource kind, from gathered facts (pure)."""
    return dict((kind, _EVALUATORS[kind](facts)) for kind in KINDS)


def unmet(supports, required):
    """The required kinds the host cannot do, in the order given, once each."""
    seen = []
    for kind in required or []:
        if kind not in seen and not supports[kind]['supported']:
            seen.append(kind)
    return seen


def require_message(supports, required):
    """One message naming every unmet requirement and why, or None when all are met."""
    missing = unmet(supports, required)
    if not missing:
        return None
    return 'this host cannot do %d required resource kind(s): %s' % (
        len(missing), '; '.join('%s (%s): %s' % (k, KIND_FEATURES[k], supports[k]['why']) for k in missing))


# ----------------------------------------------------------------- reads

def _read(path):
    with open(path) as handle:
        return handle.read().strip()


def _listdir(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def owner_names(uid, gid):
    """(user, group) names of a file's owner ids; an id without a name stays a number, as text."""
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        group = str(gid)
    return user, group


def kvm_facts(sysfs_root, dev_root, proc_root, domain_types):
    """KVM modules under sysfs_root/module, /dev/kvm and the CPU's virtualization flag."""
    module_dir = os.path.join(sysfs_root, 'module')
    modules = [m for m in _listdir(module_dir) if m == 'kvm' or m.startswith('kvm_')]
    vendor = [m for m in ('kvm_intel', 'kvm_amd') if m in modules]
    path = os.path.join(dev_root, 'kvm')
    dev = {'path': path, 'exists': False, 'mode': None, 'owner': None, 'group': None, 'accessible': False}
    try:
        info = os.stat(path)
    except OSError:
        info = None
    if info is not None and stat.S_ISCHR(info.st_mode):
        owner, group = owner_names(info.st_uid, info.st_gid)
        dev.update(exists=True, mode=stat.filemode(info.st_mode), owner=owner, group=group,
                   accessible=os.access(path, os.R_OK | os.W_OK))
    flags = []
    try:
        for line in _read(os.path.join(proc_root, 'cpuinfo')).splitlines():
            if line.startswith('flags'):
                words = line.split(':', 1)[-1].split()
                flags = [f for f in ('vmx', 'svm') if f in words]
                break
    except (OSError, IOError):
        pass
    facts = {'module_dir': module_dir, 'modules': modules, 'vendor_module': vendor[0] if vendor else None,
             'dev_kvm': dev, 'cpu_flags': flags, 'libvirt_offers_kvm': 'kvm' in domain_types}
    facts['usable'], facts['why'] = kvm_verdict(facts)
    return facts


def _kernel_has_cpu_idle():
    """cpu.idle came with Linux 5.15."""
    try:
        parts = os.uname()[2].split('.')
        return (int(parts[0]), int(''.join(c for c in parts[1] if c.isdigit()) or 0)) >= (5, 15)
    except (ValueError, IndexError):
        return False


def cgroup_facts(sysfs_root):
    """cgroup version, the hierarchy with the cpu controller, and whether an idle control cgroup can be made there.

    Follows scripts/control_cgroup.py (cpu_hierarchy, make_idle), reading only.
    """
    root = os.path.join(sysfs_root, 'fs', 'cgroup')
    facts = {'root': root, 'version': None, 'hybrid': False, 'cpu_hierarchy': None, 'cpu_controller': False,
             'cpuset_controller': False, 'writable': False, 'idle_knob': None}
    if os.path.exists(os.path.join(root, 'cgroup.controllers')):
        controllers = _read(os.path.join(root, 'cgroup.controllers')).split()
        facts.update(version=2, cpu_hierarchy=root, cpu_controller='cpu' in controllers,
                     cpuset_controller='cpuset' in controllers)
        children = [os.path.join(root, d) for d in _listdir(root) if os.path.isdir(os.path.join(root, d))]
        if any(os.path.exists(os.path.join(c, 'cpu.idle')) for c in children) or _kernel_has_cpu_idle():
            facts['idle_knob'] = 'cpu.idle=1'
        else:
            facts['idle_knob'] = 'cpu.weight=1'
    else:
        for name in ('cpu', 'cpu,cpuacct'):
            path = os.path.join(root, name)
            if os.path.exists(os.path.join(path, 'cpu.shares')):
                facts.update(version=1, cpu_hierarchy=path, cpu_controller=True,
                             idle_knob='cpu.idle=1' if os.path.exists(os.path.join(path, 'cpu.idle')) else 'cpu.shares=2')
                break
        facts['cpuset_controller'] = os.path.exists(os.path.join(root, 'cpuset', 'cpuset.cpus'))
        facts['hybrid'] = os.path.exists(os.path.join(root, 'unified', 'cgroup.controllers'))
    if facts['cpu_hierarchy']:
        facts['writable'] = os.access(facts['cpu_hierarchy'], os.W_OK | os.X_OK)
    facts['control_cgroup_exists'] = bool(facts['cpu_hierarchy']) and os.path.isdir(
        os.path.join(facts['cpu_hierarchy'], CONTROL_CGROUP))
    possible, knob, why = control_cgroup_verdict(facts)
    facts['control_cgroup'] = {'possible': possible, 'knob': knob, 'why': why}
    return facts


def resctrl_facts(sysfs_root, proc_root):
    """resctrl: kernel support, mount, and which allocation and monitoring resources it offers."""
    path = os.path.join(sysfs_root, 'fs', 'resctrl')
    info = os.path.join(path, 'info')
    try:
        kernel = 'resctrl' in _read(os.path.join(proc_root, 'filesystems')).split()
    except (OSError, IOError):
        kernel = None
    mounted = os.path.isdir(info)
    resources = _listdir(info) if mounted else []
    l3 = [r for r in resources if r in ('L3', 'L3CODE', 'L3DATA')]
    closids = None
    if l3:
        try:
            closids = int(_read(os.path.join(info, l3[0], 'num_closids')))
        except (OSError, IOError, ValueError):
            closids = None
    return {'path': path, 'kernel_support': kernel, 'mounted': mounted, 'resources': resources,
            'l3_cat': bool(l3), 'l3_cdp': 'L3CODE' in resources, 'mba': 'MB' in resources,
            'l3_monitoring': 'L3_MON' in resources, 'num_closids': closids}


def shm_facts(dev_root):
    path = os.path.join(dev_root, 'shm')
    return {'path': path, 'exists': os.path.isdir(path)}


def domain_capabilities(conn, kvm_usable):
    """Parsed domain capabilities for the virt type guests would use (kvm where usable, else qemu), or why there are none."""
    errors = []
    for virttype in (['kvm', 'qemu'] if kvm_usable else ['qemu', 'kvm']):
        try:
            parsed = parse_domain_capabilities(conn.getDomainCapabilities(None, None, None, virttype, 0))
        except libvirt_conn.libvirt.libvirtError as exc:
            errors.append('%s: %s' % (virttype, libvirt_conn.error_text(exc)))
            continue
        parsed.update(available=True, error=None)
        return parsed
    return {'available': False, 'error': '; '.join(errors)}


def libvirt_facts(conn, uri):
    """(libvirt facts, topology summary) from one connection's versions and capabilities XML."""
    lib_version = conn.getLibVersion()
    hv_version = conn.getVersion()
    caps = conn.getCapabilities()
    try:
        online = conn.getCPUMap()[1]
    except libvirt_conn.libvirt.libvirtError:
        online = None
    lib = {'uri': uri, 'driver': conn.getType(), 'version': version_text(lib_version), 'version_number': lib_version,
           'hypervisor_version': version_text(hv_version), 'guest_domain_types': guest_domain_types(caps),
           'numatune_modes': numatune_modes(lib_version)}
    return lib, topology_summary(parse_capabilities(caps, online))


def gather_host(conn, uri, sysfs_root='/sys', dev_root='/dev', proc_root='/proc'):
    """Every host-side fact (not SR-IOV or GPU): the `capabilities` result without `sriov` and `gpu`."""
    lib, topo = libvirt_facts(conn, uri)
    kvm = kvm_facts(sysfs_root, dev_root, proc_root, lib['guest_domain_types'])
    return {
        'libvirt': lib,
        'kvm': kvm,
        'topology': topo,
        'domain_capabilities': domain_capabilities(conn, kvm['usable']),
        'cgroup': cgroup_facts(sysfs_root),
        'resctrl': resctrl_facts(sysfs_root, proc_root),
        'shm': shm_facts(dev_root),
    }
