# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fake NVIDIA vGPU host: a sysfs tree that reacts to writes, sharing state with fake NVML.

Everything a real host keeps in the driver lives here in one JSON state file
(GPUs, vGPU type catalogue, created vGPUs, scheduler, MIG, utilisation).
The sysfs tree under ``sysfs_root`` is rendered from that state after every
change, so product code reads it with plain file reads exactly as it reads
/sys. Writes go through ``FakeGpuHost.sysfs_write`` (intravm_inject routes
VgpuSysfs.write there), which applies the kernel/driver
semantics of the mdev sysfs ABI (Documentation/driver-api/vfio-mediated-device.rst)
and NVIDIA's vGPU user guide (vendor-specific VFIO, current_vgpu_type) and raises OSError with the errno
the driver would return. Separate processes (ansible-playbook module runs)
see each other's changes because the state is re-read on every access.

CLI (integration targets drive it through ansible.builtin.command):
    python fake_vgpu_sysfs.py init  --state S --root R      # a lab host (see LAB)
    python fake_vgpu_sysfs.py use   --state S VGPU --vm VM_UUID   # a VM boots with it (busy)
    python fake_vgpu_sysfs.py release --state S VGPU              # that VM shut down
    python fake_vgpu_sysfs.py util  --state S VGPU --sm 40 --mem 20 [--enc 0 --dec 0]
    python fake_vgpu_sysfs.py show  --state S
VGPU is an mdev UUID, a VF PCI address or a vGPU instance id.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import copy
import errno
import fcntl
import json
import os
import re
import shutil
import sys
import time
import uuid

STATE_ENV = 'ADAPTIVE_INTRAVM_FAKE_GPU_STATE'

HOST_VGPU = 3
MODE_NONE = 0
CREATABLE_HEADER = 'ID    : vGPU Name'

# One lab host: two A100s on the mdev driver, an H200 on vendor VFIO (vGPU 17+),
# and a bare-metal A100 with MIG on (not in vGPU mode).
A100_TYPES = [
    {'id': 471, 'name': 'NVIDIA A100-4C', 'class': 'Compute', 'fb_mb': 4096, 'max': 10},
    {'id': 472, 'name': 'NVIDIA A100-5C', 'class': 'Compute', 'fb_mb': 5120, 'max': 8},
    {'id': 473, 'name': 'NVIDIA A100-8C', 'class': 'Compute', 'fb_mb': 8192, 'max': 5},
    {'id': 474, 'name': 'NVIDIA A100-10C', 'class': 'Compute', 'fb_mb': 10240, 'max': 4},
    {'id': 475, 'name': 'NVIDIA A100-20C', 'class': 'Compute', 'fb_mb': 20480, 'max': 2},
    {'id': 476, 'name': 'NVIDIA A100-40C', 'class': 'Compute', 'fb_mb': 40960, 'max': 1},
]
H200_TYPES = [
    {'id': 1422, 'name': 'NVIDIA H200X-18C', 'class': 'Compute', 'fb_mb': 18432, 'max': 7},
    {'id': 1425, 'name': 'NVIDIA H200X-35C', 'class': 'Compute', 'fb_mb': 35840, 'max': 4},
    {'id': 1426, 'name': 'NVIDIA H200X-70C', 'class': 'Compute', 'fb_mb': 71680, 'max': 2},
    {'id': 1428, 'name': 'NVIDIA H200X-141C', 'class': 'Compute', 'fb_mb': 144384, 'max': 1},
]
SCHED_CAPS = {'supported': [1, 2, 3], 'min_timeslice': 1000000, 'max_timeslice': 30000000,
              'arr_supported': 1, 'max_freq': 960, 'min_freq': 64, 'max_avg': 60, 'min_avg': 1}
SCHED_DEFAULT = {'policy': 1, 'arr_mode': 2, 'timeslice': 0, 'avg_factor': 0, 'frequency': 0}
MIG_PROFILES = [  # NVML profile index -> info, for a 40 GB A100
    {'index': 0, 'id': 19, 'name': '1g.5gb', 'slices': 1, 'count': 7, 'sms': 14, 'mem_mb': 4864},
    {'index': 1, 'id': 14, 'name': '2g.10gb', 'slices': 2, 'count': 3, 'sms': 28, 'mem_mb': 9856},
    {'index': 2, 'id': 9, 'name': '3g.20gb', 'slices': 3, 'count': 2, 'sms': 42, 'mem_mb': 19968},
    {'index': 3, 'id': 5, 'name': '4g.20gb', 'slices': 4, 'count': 1, 'sms': 56, 'mem_mb': 19968},
    {'index': 4, 'id': 0, 'name': '7g.40gb', 'slices': 7, 'count': 1, 'sms': 98, 'mem_mb': 40192},
]


def _gpu(pci, name, model, types, mode=HOST_VGPU, vfs=None, mig=None):
    return {
        'pci': pci, 'name': name, 'uuid': 'GPU-%s' % uuid.uuid5(uuid.NAMESPACE_URL, pci),
        'model': model, 'virtualization_mode': mode, 'types': copy.deepcopy(types),
        'vfs': vfs or [], 'mig': mig or {'supported': True, 'current': 0, 'pending': 0, 'instances': []},
        'scheduler': dict(SCHED_DEFAULT), 'scheduler_caps': dict(SCHED_CAPS),
    }


def lab_state(sysfs_root):
    """The default fake host (index order as NVML enumerates it)."""
    h200_vfs = ['0000:4b:00.%d' % f for f in range(4, 8)] + ['0000:4b:01.%d' % f for f in range(0, 4)]
    bare_mig = {'supported': True, 'current': 1, 'pending': 1, 'instances': [
        {'id': 1, 'profile_index': 2, 'start': 0, 'size': 4},
        {'id': 2, 'profile_index': 1, 'start': 4, 'size': 2},
    ]}
    return {
        'sysfs_root': os.path.abspath(sysfs_root),
        'driver_version': '550.90.05',
        'nvml_version': '12.550.90.05',
        'missing_symbols': [],
        'next_instance': 1,
        'gpus': [
            _gpu('0000:3b:00.0', 'NVIDIA A100-PCIE-40GB', 'mdev', A100_TYPES),
            _gpu('0000:af:00.0', 'NVIDIA A100-PCIE-40GB', 'mdev', A100_TYPES),
            _gpu('0000:4b:00.0', 'NVIDIA H200', 'vfio', H200_TYPES, vfs=h200_vfs),
            _gpu('0000:d8:00.0', 'NVIDIA A100-PCIE-40GB', 'none', [], mode=MODE_NONE, mig=bare_mig),
        ],
        'vgpus': [],
    }


def _os_error(code, path):
    return OSError(code, os.strerror(code), path)


class FakeGpuHost(object):
    """State file + rendered sysfs tree; every method re-reads the file first."""

    def __init__(self, state_path):
        self.state_path = os.path.abspath(state_path)

    # ---- state -------------------------------------------------------
    def load(self):
        with open(self.state_path) as handle:
            return json.load(handle)

    def save(self, state):
        """Write the state atomically, then re-render the tree from it."""
        tmp = self.state_path + '.tmp%d' % os.getpid()
        with open(tmp, 'w') as handle:
            json.dump(state, handle, indent=1, sort_keys=True)
        os.rename(tmp, self.state_path)
        render(state)

    def locked(self):
        """An exclusive lock around read-modify-write (modules may run in parallel)."""
        return _Lock(self.state_path + '.lock')

    @classmethod
    def init(cls, state_path, sysfs_root, state=None):
        host = cls(state_path)
        if os.path.isdir(sysfs_root):
            shutil.rmtree(sysfs_root)
        os.makedirs(sysfs_root)
        host.save(state or lab_state(sysfs_root))
        return host

    # ---- driver semantics --------------------------------------------
    def sysfs_write(self, path, data):
        """Apply one write() to a sysfs attribute as the kernel and driver would."""
        if isinstance(data, bytes):
            data = data.decode('utf-8', 'replace')
        with self.locked():
            state = self.load()
            root = os.path.realpath(state['sysfs_root'])
            real = os.path.realpath(path)
            if not real.startswith(root + os.sep):
                raise _os_error(errno.ENOENT, path)
            rel = real[len(root) + 1:]
            if not os.path.exists(real):
                raise _os_error(errno.ENOENT, path)
            handler = self._route(state, rel)
            if handler is None:
                raise _os_error(errno.EACCES, path)  # read-only attribute (mode 0444)
            handler(state, data.strip(), path)
            self.save(state)

    def _route(self, state, rel):
        parts = rel.split('/')
        if len(parts) == 6 and parts[3] == 'mdev_supported_types' and parts[5] == 'create':
            return lambda st, data, path: self._mdev_create(st, parts[2], parts[4], data, path)
        if len(parts) == 5 and parts[4] == 'remove':
            return lambda st, data, path: self._mdev_remove(st, parts[3], data, path)
        if len(parts) == 5 and parts[3] == 'nvidia' and parts[4] == 'current_vgpu_type':
            return lambda st, data, path: self._set_vf_type(st, parts[2], data, path)
        return None

    def _mdev_create(self, state, parent, type_dir, data, path):
        gpu = find_gpu(state, parent)
        type_id = int(type_dir.split('-', 1)[1])
        try:
            new_uuid = str(uuid.UUID(data))
        except ValueError:
            raise _os_error(errno.EINVAL, path)
        if any(v.get('mdev_uuid') == new_uuid for v in state['vgpus']):
            raise _os_error(errno.EEXIST, path)
        if available_instances(state, gpu, type_id) <= 0:
            raise _os_error(errno.EUSERS, path)
        _add_vgpu(state, gpu, type_id, mdev_uuid=new_uuid)

    def _mdev_remove(self, state, mdev_uuid, data, path):
        if data != '1':
            raise _os_error(errno.EINVAL, path)
        vgpu = find_vgpu(state, mdev_uuid)
        if vgpu is None:
            raise _os_error(errno.ENODEV, path)
        if vgpu.get('vm_uuid'):
            raise _os_error(errno.EBUSY, path)  # an open VFIO device: the driver refuses
        state['vgpus'].remove(vgpu)

    def _set_vf_type(self, state, vf, data, path):
        if not re.match(r'^\d+$', data):
            raise _os_error(errno.EINVAL, path)
        type_id = int(data)
        gpu = gpu_of_vf(state, vf)
        current = find_vgpu(state, vf)
        if type_id == 0:
            if current is None:
                return
            if current.get('vm_uuid'):
                raise _os_error(errno.EBUSY, path)
            state['vgpus'].remove(current)
            return
        if current is not None:
            raise _os_error(errno.EBUSY, path)  # delete (write 0) before changing type
        if type_id not in [t['id'] for t in creatable_types(state, gpu, vf)]:
            raise _os_error(errno.EINVAL, path)
        _add_vgpu(state, gpu, type_id, vf=vf)

    # ---- test-side actions (what a booting VM or a workload would do) --
    def use(self, ref, vm_uuid):
        with self.locked():
            state = self.load()
            vgpu = _must_find(state, ref)
            vgpu['vm_uuid'] = vm_uuid
            self.save(state)

    def release(self, ref):
        with self.locked():
            state = self.load()
            _must_find(state, ref)['vm_uuid'] = ''
            self.save(state)

    def set_util(self, ref, sm, mem, enc=0, dec=0, processes=None):
        with self.locked():
            state = self.load()
            vgpu = _must_find(state, ref)
            vgpu['util'] = {'sm': sm, 'mem': mem, 'enc': enc, 'dec': dec,
                            'ts': int(time.time() * 1e6)}
            if processes is not None:
                vgpu['processes'] = processes
            self.save(state)

    def edit(self, func):
        """Apply func(state) under the lock (tests: set a mode, drop a symbol)."""
        with self.locked():
            state = self.load()
            func(state)
            self.save(state)


class _Lock(object):
    def __init__(self, path):
        self.path = path
        self.handle = None

    def __enter__(self):
        self.handle = open(self.path, 'a')
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


# ---- queries shared with fake_nvml ----------------------------------------
def find_gpu(state, pci):
    for gpu in state['gpus']:
        if gpu['pci'] == pci:
            return gpu
    return None


def gpu_of_vf(state, vf):
    for gpu in state['gpus']:
        if vf in gpu['vfs']:
            return gpu
    return None


def find_vgpu(state, ref):
    for vgpu in state['vgpus']:
        if ref in (vgpu.get('mdev_uuid'), vgpu.get('vf'), str(vgpu['instance'])):
            return vgpu
    return None


def _must_find(state, ref):
    vgpu = find_vgpu(state, ref)
    if vgpu is None:
        raise SystemExit('no vGPU %r in the fake state' % ref)
    return vgpu


def type_info(gpu, type_id):
    for entry in gpu['types']:
        if entry['id'] == type_id:
            return entry
    return None


def vgpus_on(state, gpu):
    return [v for v in state['vgpus'] if v['gpu'] == gpu['pci']]


def available_instances(state, gpu, type_id):
    """Instances of type_id still creatable: its max minus those created; 0 for
    every other type once one type is in use (homogeneous time-sliced vGPU)."""
    info = type_info(gpu, type_id)
    if info is None or gpu['virtualization_mode'] != HOST_VGPU or gpu['mig']['current']:
        return 0
    existing = vgpus_on(state, gpu)
    if any(v['type'] != type_id for v in existing):
        return 0
    left = info['max'] - len(existing)
    if gpu['model'] == 'vfio':
        free_vfs = [vf for vf in gpu['vfs'] if find_vgpu(state, vf) is None]
        left = min(left, len(free_vfs))
    return max(0, left)


def creatable_types(state, gpu, vf=None):
    """Types with capacity left; a VF that already holds a vGPU offers none."""
    if vf is not None and find_vgpu(state, vf) is not None:
        return []
    return [t for t in gpu['types'] if available_instances(state, gpu, t['id']) > 0]


def _add_vgpu(state, gpu, type_id, mdev_uuid=None, vf=None):
    instance = state['next_instance']
    state['next_instance'] = instance + 1
    state['vgpus'].append({
        'instance': instance, 'gpu': gpu['pci'], 'type': type_id,
        'mdev_uuid': mdev_uuid or '', 'vf': vf or '', 'vm_uuid': '',
        'util': None, 'processes': [],
    })


# ---- rendering --------------------------------------------------------------
def _write(path, text, mode=0o444):
    with open(path, 'w') as handle:
        handle.write(text)
    os.chmod(path, mode)


def _link(target, link):
    parent = os.path.dirname(link)
    if not os.path.isdir(parent):
        os.makedirs(parent)
    os.symlink(os.path.relpath(target, parent), link)


def render(state):
    """Rebuild the whole tree from state (small trees; simplest way to stay exact)."""
    root = state['sysfs_root']
    for sub in ('devices', 'bus', 'class'):
        path = os.path.join(root, sub)
        if os.path.lexists(path):
            shutil.rmtree(path)
    pci_root = os.path.join(root, 'devices', 'pci0000:00')
    os.makedirs(pci_root)
    for sub in ('bus/pci/devices', 'bus/mdev/devices', 'class/mdev_bus'):
        os.makedirs(os.path.join(root, sub))
    for gpu in state['gpus']:
        dev = os.path.join(pci_root, gpu['pci'])
        os.makedirs(dev)
        _write(os.path.join(dev, 'vendor'), '0x10de\n')
        _write(os.path.join(dev, 'class'), '0x030200\n')
        _link(dev, os.path.join(root, 'bus', 'pci', 'devices', gpu['pci']))
        if gpu['model'] == 'mdev' and gpu['virtualization_mode'] == HOST_VGPU:
            _render_mdev_parent(state, gpu, dev, root)
        if gpu['model'] == 'vfio':
            _render_vfs(state, gpu, dev, pci_root, root)


def _render_mdev_parent(state, gpu, dev, root):
    _link(dev, os.path.join(root, 'class', 'mdev_bus', gpu['pci']))
    types_dir = os.path.join(dev, 'mdev_supported_types')
    for info in gpu['types']:
        tdir = os.path.join(types_dir, 'nvidia-%d' % info['id'])
        os.makedirs(os.path.join(tdir, 'devices'))
        _write(os.path.join(tdir, 'name'), info['name'] + '\n')
        _write(os.path.join(tdir, 'device_api'), 'vfio-pci\n')
        _write(os.path.join(tdir, 'available_instances'), '%d\n' % available_instances(state, gpu, info['id']))
        _write(os.path.join(tdir, 'description'), 'num_heads=1, frl_config=60, framebuffer=%dM, max_resolution=4096x2400, max_instance=%d\n'
               % (info['fb_mb'], info['max']))
        _write(os.path.join(tdir, 'create'), '', 0o200)
    for vgpu in vgpus_on(state, gpu):
        mdev = os.path.join(dev, vgpu['mdev_uuid'])
        os.makedirs(mdev)
        tdir = os.path.join(types_dir, 'nvidia-%d' % vgpu['type'])
        _link(tdir, os.path.join(mdev, 'mdev_type'))
        _write(os.path.join(mdev, 'remove'), '', 0o200)
        _link(mdev, os.path.join(tdir, 'devices', vgpu['mdev_uuid']))
        _link(mdev, os.path.join(root, 'bus', 'mdev', 'devices', vgpu['mdev_uuid']))


def _render_vfs(state, gpu, dev, pci_root, root):
    _write(os.path.join(dev, 'sriov_totalvfs'), '%d\n' % len(gpu['vfs']))
    _write(os.path.join(dev, 'sriov_numvfs'), '%d\n' % len(gpu['vfs']), 0o644)
    for index, vf in enumerate(gpu['vfs']):
        vdev = os.path.join(pci_root, vf)
        os.makedirs(os.path.join(vdev, 'nvidia'))
        _write(os.path.join(vdev, 'vendor'), '0x10de\n')
        _link(vdev, os.path.join(dev, 'virtfn%d' % index))
        _link(dev, os.path.join(vdev, 'physfn'))
        _link(vdev, os.path.join(root, 'bus', 'pci', 'devices', vf))
        current = find_vgpu(state, vf)
        lines = [CREATABLE_HEADER] + ['%-5d : %s' % (t['id'], t['name']) for t in creatable_types(state, gpu, vf)]
        _write(os.path.join(vdev, 'nvidia', 'creatable_vgpu_types'), '\n'.join(lines) + '\n')
        _write(os.path.join(vdev, 'nvidia', 'current_vgpu_type'), '%d\n' % (current['type'] if current else 0), 0o644)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('action', choices=['init', 'use', 'release', 'util', 'show'])
    parser.add_argument('ref', nargs='?')
    parser.add_argument('--state', default=os.environ.get(STATE_ENV))
    parser.add_argument('--root')
    parser.add_argument('--vm')
    parser.add_argument('--sm', type=int, default=0)
    parser.add_argument('--mem', type=int, default=0)
    parser.add_argument('--enc', type=int, default=0)
    parser.add_argument('--dec', type=int, default=0)
    args = parser.parse_args(argv)
    if not args.state:
        parser.error('--state (or %s) is required' % STATE_ENV)
    if args.action == 'init':
        FakeGpuHost.init(args.state, args.root or os.path.join(os.path.dirname(os.path.abspath(args.state)), 'sys'))
    elif args.action == 'use':
        FakeGpuHost(args.state).use(args.ref, args.vm)
    elif args.action == 'release':
        FakeGpuHost(args.state).release(args.ref)
    elif args.action == 'util':
        FakeGpuHost(args.state).set_util(args.ref, args.sm, args.mem, args.enc, args.dec,
                                         processes=[{'pid': 4242, 'name': 'python3', 'sm': args.sm, 'mem': args.mem}])
    else:
        json.dump(FakeGpuHost(args.state).load(), sys.stdout, indent=1, sort_keys=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
