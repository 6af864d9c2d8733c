# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fake libnvidia-ml at the ctypes boundary, for ``pynvml.nvmlLib``.

Each attribute is a C symbol of NVML (exact names, _v2 variants included)
that takes the ctypes arguments pynvml passes (byref() outputs, caller
buffers, NULL for size queries) and returns an NVML return code. So
pynvml's own marshalling, size-retry loops and NVMLError_* classes run for
real. A symbol not implemented here (or listed in the state's
``missing_symbols``) is absent: pynvml raises NVMLError_FunctionNotFound as
it does on an old driver.

State is shared with fake_vgpu_sysfs (one JSON file, re-read on every call),
so a vGPU created through sysfs shows in nvmlDeviceGetActiveVgpus.

``make_nvml_lib`` reads the state path from ADAPTIVE_INTRAVM_FAKE_GPU_STATE;
intravm_inject puts the library into pynvml (pynvml.nvmlLib).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ctypes
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import fake_vgpu_sysfs as hostmod  # noqa: E402  pylint: disable=wrong-import-position

# Return codes (nvml.h)
SUCCESS = 0
ERROR_UNINITIALIZED = 1
ERROR_INVALID_ARGUMENT = 2
ERROR_NOT_SUPPORTED = 3
ERROR_NOT_FOUND = 6
ERROR_INSUFFICIENT_SIZE = 7
ERROR_ARGUMENT_VERSION_MISMATCH = 25

DEVICE_HANDLE_BASE = 0xD0000
GI_HANDLE_BASE = 0x610000
VM_ID_UUID = 1
VALUE_TYPE_UNSIGNED_INT = 1
ENGINE_GRAPHICS = 1
ARR_DISABLE = 1
ARR_ENABLE = 2
GI_PROFILE_INFO_V2 = 0x02000098
PROFILE_COUNT = 0x12

ERROR_STRINGS = {19: b'In use by another client', 23: b'Insufficient resources', 29: b'Invalid state'}

_CARG = type(ctypes.byref(ctypes.c_int()))
_PTR_SIZE = ctypes.sizeof(ctypes.c_void_p)


def _target(ref):
    """The ctypes object behind byref(x), or x itself (arrays passed directly)."""
    if isinstance(ref, _CARG):
        return ref._obj  # pylint: disable=protected-access
    return ref


def _val(arg):
    """A Python value from an int, bytes or ctypes simple argument."""
    if isinstance(arg, _CARG):
        arg = _target(arg)
    return getattr(arg, 'value', arg)


def _handle_value(handle):
    if handle is None:
        return 0
    return ctypes.cast(handle, ctypes.c_void_p).value or 0


def _store_pointer(obj, value, index=0):
    ctypes.memmove(ctypes.addressof(obj) + index * _PTR_SIZE,
                   ctypes.byref(ctypes.c_void_p(value)), _PTR_SIZE)


def _store_string(buf, text, size):
    """Copy text + NUL into a caller buffer of size bytes, as NVML does."""
    raw = text.encode() if not isinstance(text, bytes) else text
    if len(raw) + 1 > size:
        return ERROR_INSUFFICIENT_SIZE
    obj = _target(buf)
    room = ctypes.sizeof(obj)
    ctypes.memmove(ctypes.addressof(obj), raw + b'\0', min(len(raw) + 1, room))
    return SUCCESS


class _Symbol(object):
    """A C symbol: callable, and takes attribute writes (pynvml sets .restype)."""

    def __init__(self, func):
        self.func = func
        self.restype = None
        self.argtypes = None

    def __call__(self, *args):
        return self.func(*args)


class FakeNvmlLib(object):
    """Stands in for the CDLL that pynvml loads."""

    def __init__(self, state_path):
        self._host = hostmod.FakeGpuHost(state_path)
        self._initialised = 0

    # pynvml looks symbols up with getattr(nvmlLib, name)
    def __getattr__(self, name):
        if not name.startswith('nvml'):
            raise AttributeError(name)
        impl = getattr(type(self), '_sym_' + name, None)
        if impl is None or name in self._host.load().get('missing_symbols', []):
            raise AttributeError(name)
        return _Symbol(lambda *args: self._guarded(name, impl, args))

    def _guarded(self, name, impl, args):
        if not self._initialised and name not in ('nvmlInitWithFlags', 'nvmlInit_v2', 'nvmlErrorString'):
            return ERROR_UNINITIALIZED
        return impl(self, self._host.load(), *args)

    def sysfs_write(self, path, data):
        """The sysfs half of the same fake host (see product vgpu_sysfs)."""
        self._host.sysfs_write(path, data)

    # ---- helpers ---------------------------------------------------------
    @staticmethod
    def _device(state, handle):
        index = _handle_value(handle) - DEVICE_HANDLE_BASE
        if 0 <= index < len(state['gpus']):
            return state['gpus'][index]
        return None

    @staticmethod
    def _vgpu(state, instance):
        instance = _val(instance)
        for vgpu in state['vgpus']:
            if vgpu['instance'] == instance:
                return vgpu
        return None

    @staticmethod
    def _type(state, type_id):
        type_id = _val(type_id)
        for gpu in state['gpus']:
            info = hostmod.type_info(gpu, type_id)
            if info is not None:
                return info
        return None

    @staticmethod
    def _fill_array(count_ref, array, values, write):
        """NVML's two-call contract: NULL buffer or short count -> INSUFFICIENT_SIZE + count."""
        count = _target(count_ref)
        if not values:
            count.value = 0
            return SUCCESS
        if array is None or count.value < len(values):
            count.value = len(values)
            return ERROR_INSUFFICIENT_SIZE
        for index, value in enumerate(values):
            write(array, index, value)
        count.value = len(values)
        return SUCCESS

    def _vgpu_host(self, state, handle):
        gpu = self._device(state, handle)
        if gpu is None:
            return None, ERROR_INVALID_ARGUMENT
        if gpu['virtualization_mode'] != hostmod.HOST_VGPU:
            return gpu, ERROR_NOT_SUPPORTED
        return gpu, SUCCESS

    # ---- init / system ---------------------------------------------------
    def _sym_nvmlInitWithFlags(self, state, flags):  # pylint: disable=unused-argument
        self._initialised += 1
        return SUCCESS

    def _sym_nvmlInit_v2(self, state):
        return self._sym_nvmlInitWithFlags(state, 0)

    def _sym_nvmlShutdown(self, state):  # pylint: disable=unused-argument
        self._initialised = max(0, self._initialised - 1)
        return SUCCESS

    def _sym_nvmlErrorString(self, state, code):  # pylint: disable=unused-argument
        return ERROR_STRINGS.get(_val(code), b'Unknown Error')

    def _sym_nvmlSystemGetDriverVersion(self, state, buf, size):
        return _store_string(buf, state['driver_version'], _val(size))

    def _sym_nvmlSystemGetNVMLVersion(self, state, buf, size):
        return _store_string(buf, state['nvml_version'], _val(size))

    # ---- devices ---------------------------------------------------------
    def _sym_nvmlDeviceGetCount_v2(self, state, count_ref):
        _target(count_ref).value = len(state['gpus'])
        return SUCCESS

    def _sym_nvmlDeviceGetHandleByIndex_v2(self, state, index, out):
        index = _val(index)
        if not 0 <= index < len(state['gpus']):
            return ERROR_INVALID_ARGUMENT
        _store_pointer(_target(out), DEVICE_HANDLE_BASE + index)
        return SUCCESS

    def _sym_nvmlDeviceGetHandleByPciBusId_v2(self, state, bus_id, out):
        wanted = normalise_bus_id(_val(bus_id))
        if wanted is None:
            return ERROR_INVALID_ARGUMENT
        for index, gpu in enumerate(state['gpus']):
            if normalise_bus_id(gpu['pci']) == wanted:
                _store_pointer(_target(out), DEVICE_HANDLE_BASE + index)
                return SUCCESS
        return ERROR_NOT_FOUND

    def _sym_nvmlDeviceGetName(self, state, handle, buf, size):
        gpu = self._device(state, handle)
        return ERROR_INVALID_ARGUMENT if gpu is None else _store_string(buf, gpu['name'], _val(size))

    def _sym_nvmlDeviceGetUUID(self, state, handle, buf, size):
        gpu = self._device(state, handle)
        return ERROR_INVALID_ARGUMENT if gpu is None else _store_string(buf, gpu['uuid'], _val(size))

    def _sym_nvmlDeviceGetPciInfo_v3(self, state, handle, out):
        gpu = self._device(state, handle)
        if gpu is None:
            return ERROR_INVALID_ARGUMENT
        info = _target(out)
        dom, bus, dev_fn = gpu['pci'].split(':')
        dev = dev_fn.split('.')[0]
        nvml_id = nvml_bus_id(gpu['pci']).encode()
        info.domain, info.bus, info.device = int(dom, 16), int(bus, 16), int(dev, 16)
        info.pciDeviceId = 0x20F110DE
        info.busId = nvml_id
        info.busIdLegacy = nvml_id[-12:]
        return SUCCESS

    def _sym_nvmlDeviceGetVirtualizationMode(self, state, handle, out):
        gpu = self._device(state, handle)
        if gpu is None:
            return ERROR_INVALID_ARGUMENT
        _target(out).value = gpu['virtualization_mode']
        return SUCCESS

    def _sym_nvmlDeviceGetHostVgpuMode(self, state, handle, out):
        gpu, ret = self._vgpu_host(state, handle)
        if ret == SUCCESS:
            _target(out).value = 1 if gpu['model'] == 'vfio' else 0
        return ret

    # ---- vGPU types --------------------------------------------------------
    def _type_ids(self, state, handle, count_ref, array, creatable):
        gpu, ret = self._vgpu_host(state, handle)
        if ret != SUCCESS:
            return ret
        types = hostmod.creatable_types(state, gpu) if creatable else gpu['types']

        def write(arr, index, value):
            arr[index] = value
        return self._fill_array(count_ref, array, [t['id'] for t in types], write)

    def _sym_nvmlDeviceGetSupportedVgpus(self, state, handle, count_ref, array):
        return self._type_ids(state, handle, count_ref, array, False)

    def _sym_nvmlDeviceGetCreatableVgpus(self, state, handle, count_ref, array):
        return self._type_ids(state, handle, count_ref, array, True)

    def _type_string(self, state, type_id, buf, size_ref, field):
        info = self._type(state, type_id)
        if info is None:
            return ERROR_INVALID_ARGUMENT
        size = _target(size_ref)
        ret = _store_string(buf, info[field], size.value)
        if ret == ERROR_INSUFFICIENT_SIZE:
            size.value = len(info[field]) + 1
        return ret

    def _sym_nvmlVgpuTypeGetName(self, state, type_id, buf, size_ref):
        return self._type_string(state, type_id, buf, size_ref, 'name')

    def _sym_nvmlVgpuTypeGetClass(self, state, type_id, buf, size_ref):
        return self._type_string(state, type_id, buf, size_ref, 'class')

    def _sym_nvmlVgpuTypeGetFramebufferSize(self, state, type_id, out):
        info = self._type(state, type_id)
        if info is None:
            return ERROR_INVALID_ARGUMENT
        _target(out).value = info['fb_mb'] * 1024 * 1024
        return SUCCESS

    def _sym_nvmlVgpuTypeGetMaxInstances(self, state, handle, type_id, out):
        gpu, ret = self._vgpu_host(state, handle)
        if ret != SUCCESS:
            return ret
        info = hostmod.type_info(gpu, _val(type_id))
        if info is None:
            return ERROR_INVALID_ARGUMENT
        _target(out).value = info['max']
        return SUCCESS

    # ---- vGPU instances ----------------------------------------------------
    def _sym_nvmlDeviceGetActiveVgpus(self, state, handle, count_ref, array):
        gpu, ret = self._vgpu_host(state, handle)
        if ret != SUCCESS:
            return ret

        def write(arr, index, value):
            arr[index] = value
        return self._fill_array(count_ref, array, [v['instance'] for v in hostmod.vgpus_on(state, gpu)], write)

    def _instance_string(self, state, instance, buf, size, text):
        vgpu = self._vgpu(state, instance)
        if vgpu is None:
            return ERROR_INVALID_ARGUMENT
        return _store_string(buf, text(vgpu), _val(size))

    def _sym_nvmlVgpuInstanceGetMdevUUID(self, state, instance, buf, size):
        vgpu = self._vgpu(state, instance)
        if vgpu is not None and not vgpu['mdev_uuid']:
            return ERROR_NOT_SUPPORTED  # vendor-VFIO vGPUs have no mdev
        return self._instance_string(state, instance, buf, size, lambda v: v['mdev_uuid'])

    def _sym_nvmlVgpuInstanceGetUUID(self, state, instance, buf, size):
        return self._instance_string(state, instance, buf, size,
                                     lambda v: str(hostmod.uuid.uuid5(hostmod.uuid.NAMESPACE_OID, str(v['instance']))))

    def _sym_nvmlVgpuInstanceGetVmID(self, state, instance, buf, size, id_type):
        vgpu = self._vgpu(state, instance)
        if vgpu is None:
            return ERROR_INVALID_ARGUMENT
        _target(id_type).value = VM_ID_UUID
        return _store_string(buf, vgpu['vm_uuid'], _val(size))

    def _sym_nvmlVgpuInstanceGetType(self, state, instance, out):
        vgpu = self._vgpu(state, instance)
        if vgpu is None:
            return ERROR_INVALID_ARGUMENT
        _target(out).value = vgpu['type']
        return SUCCESS

    def _sym_nvmlVgpuInstanceGetFbUsage(self, state, instance, out):
        vgpu = self._vgpu(state, instance)
        if vgpu is None:
            return ERROR_INVALID_ARGUMENT
        util = vgpu.get('util') or {}
        info = self._type(state, vgpu['type'])
        _target(out).value = int(info['fb_mb'] * 1024 * 1024 * util.get('mem', 0) / 100.0)
        return SUCCESS

    # ---- utilisation -------------------------------------------------------
    def _sym_nvmlDeviceGetVgpuUtilization(self, state, handle, last_seen, value_type, count_ref, array):
        gpu, ret = self._vgpu_host(state, handle)
        if ret != SUCCESS:
            return ret
        count = _target(count_ref)
        vgpus = hostmod.vgpus_on(state, gpu)
        if array is None or count.value < len(vgpus):
            count.value = len(vgpus)
            return ERROR_INSUFFICIENT_SIZE if vgpus else SUCCESS
        _target(value_type).value = VALUE_TYPE_UNSIGNED_INT
        since = _val(last_seen)
        fresh = [v for v in vgpus if v.get('util') and v['util']['ts'] > since]
        for index, vgpu in enumerate(fresh):
            sample = array[index]
            util = vgpu['util']
            sample.vgpuInstance = vgpu['instance']
            sample.timeStamp = util['ts']
            sample.smUtil.uiVal = util['sm']
            sample.memUtil.uiVal = util['mem']
            sample.encUtil.uiVal = util['enc']
            sample.decUtil.uiVal = util['dec']
        count.value = len(fresh)
        return SUCCESS

    def _sym_nvmlDeviceGetVgpuProcessUtilization(self, state, handle, last_seen, count_ref, array):
        gpu, ret = self._vgpu_host(state, handle)
        if ret != SUCCESS:
            return ret
        since = _val(last_seen)
        rows = []
        for vgpu in hostmod.vgpus_on(state, gpu):
            util = vgpu.get('util')
            if util and util['ts'] > since:
                rows.extend((vgpu, util['ts'], proc) for proc in vgpu.get('processes', []))

        def write(arr, index, row):
            vgpu, stamp, proc = row
            sample = arr[index]
            sample.vgpuInstance = vgpu['instance']
            sample.pid = proc['pid']
            sample.processName = proc['name'].encode()
            sample.timeStamp = stamp
            sample.smUtil = proc['sm']
            sample.memUtil = proc['mem']
        return self._fill_array(count_ref, array, rows, write)

    # ---- scheduler ---------------------------------------------------------
    def _sched_target(self, state, handle):
        gpu, ret = self._vgpu_host(state, handle)
        if ret == SUCCESS and gpu['mig']['current']:
            ret = ERROR_NOT_SUPPORTED
        return gpu, ret

    def _sym_nvmlDeviceGetVgpuSchedulerCapabilities(self, state, handle, out):
        gpu, ret = self._sched_target(state, handle)
        if ret != SUCCESS:
            return ret
        caps, c_caps = gpu['scheduler_caps'], _target(out)
        for index, policy in enumerate(caps['supported']):
            c_caps.supportedSchedulers[index] = policy
        c_caps.maxTimeslice, c_caps.minTimeslice = caps['max_timeslice'], caps['min_timeslice']
        c_caps.isArrModeSupported = caps['arr_supported']
        c_caps.maxFrequencyForARR, c_caps.minFrequencyForARR = caps['max_freq'], caps['min_freq']
        c_caps.maxAvgFactorForARR, c_caps.minAvgFactorForARR = caps['max_avg'], caps['min_avg']
        return SUCCESS

    def _sym_nvmlDeviceGetVgpuSchedulerState(self, state, handle, out):
        gpu, ret = self._sched_target(state, handle)
        if ret != SUCCESS:
            return ret
        sched, c_state = gpu['scheduler'], _target(out)
        c_state.schedulerPolicy = sched['policy']
        c_state.arrMode = sched['arr_mode']
        if sched['arr_mode'] == ARR_ENABLE:
            c_state.schedulerParams.vgpuSchedDataWithARR.avgFactor = sched['avg_factor']
            c_state.schedulerParams.vgpuSchedDataWithARR.timeslice = sched['timeslice']
        else:
            c_state.schedulerParams.vgpuSchedData.timeslice = sched['timeslice']
        return SUCCESS

    def _sym_nvmlDeviceGetVgpuSchedulerState_v2(self, state, handle, out):
        gpu, ret = self._sched_target(state, handle)
        if ret != SUCCESS:
            return ret
        c_state = _target(out)
        if c_state.engineId != ENGINE_GRAPHICS:
            return ERROR_INVALID_ARGUMENT
        sched = gpu['scheduler']
        c_state.schedulerPolicy, c_state.avgFactor, c_state.timeslice = sched['policy'], sched['avg_factor'], sched['timeslice']
        return SUCCESS

    def _apply_sched(self, gpu, policy, arr_mode, timeslice, avg_factor, frequency):
        """Shared checks of both setters; persists on success."""
        caps = gpu['scheduler_caps']
        if policy not in caps['supported']:
            return ERROR_INVALID_ARGUMENT
        if arr_mode == ARR_ENABLE:
            if frequency and not caps['min_freq'] <= frequency <= caps['max_freq']:
                return ERROR_INVALID_ARGUMENT
            if avg_factor and not caps['min_avg'] <= avg_factor <= caps['max_avg']:
                return ERROR_INVALID_ARGUMENT
            timeslice = 0
        elif timeslice and not caps['min_timeslice'] <= timeslice <= caps['max_timeslice']:
            return ERROR_INVALID_ARGUMENT
        pci = gpu['pci']

        def update(state):
            sched = hostmod.find_gpu(state, pci)['scheduler']
            sched.update({'policy': policy, 'arr_mode': arr_mode, 'timeslice': timeslice,
                          'avg_factor': avg_factor, 'frequency': frequency})
        self._host.edit(update)
        return SUCCESS

    def _set_allowed(self, state, handle):
        gpu, ret = self._sched_target(state, handle)
        if ret == SUCCESS and hostmod.vgpus_on(state, gpu):
            ret = ERROR_NOT_SUPPORTED  # the policy is set before any vGPU exists
        return gpu, ret

    def _sym_nvmlDeviceSetVgpuSchedulerState(self, state, handle, ref):
        gpu, ret = self._set_allowed(state, handle)
        if ret != SUCCESS:
            return ret
        c_state = _target(ref)
        arr = c_state.enableARRMode
        if arr == ARR_ENABLE:
            params = c_state.schedulerParams.vgpuSchedDataWithARR
            return self._apply_sched(gpu, c_state.schedulerPolicy, ARR_ENABLE, 0, params.avgFactor, params.frequency)
        return self._apply_sched(gpu, c_state.schedulerPolicy, ARR_DISABLE if arr == ARR_DISABLE else gpu['scheduler']['arr_mode'],
                                 c_state.schedulerParams.vgpuSchedData.timeslice, 0, 0)

    def _sym_nvmlDeviceSetVgpuSchedulerState_v2(self, state, handle, ref):
        gpu, ret = self._set_allowed(state, handle)
        if ret != SUCCESS:
            return ret
        c_state = _target(ref)
        if c_state.engineId != ENGINE_GRAPHICS:
            return ERROR_INVALID_ARGUMENT
        return self._apply_sched(gpu, c_state.schedulerPolicy, ARR_ENABLE, 0, c_state.avgFactor, c_state.frequency)

    # ---- MIG -----------------------------------------------------------------
    def _sym_nvmlDeviceGetMigMode(self, state, handle, current, pending):
        gpu = self._device(state, handle)
        if gpu is None:
            return ERROR_INVALID_ARGUMENT
        if not gpu['mig']['supported']:
            return ERROR_NOT_SUPPORTED
        _target(current).value, _target(pending).value = gpu['mig']['current'], gpu['mig']['pending']
        return SUCCESS

    def _sym_nvmlDeviceGetGpuInstanceProfileInfoV(self, state, handle, profile, out):
        gpu = self._device(state, handle)
        if gpu is None:
            return ERROR_INVALID_ARGUMENT
        info = _target(out)
        if info.version != GI_PROFILE_INFO_V2:
            return ERROR_ARGUMENT_VERSION_MISMATCH
        profile = _val(profile)
        if not 0 <= profile < PROFILE_COUNT:
            return ERROR_INVALID_ARGUMENT
        if not gpu['mig']['current']:
            return ERROR_NOT_SUPPORTED
        entry = _mig_profile(profile)
        if entry is None:
            return ERROR_NOT_SUPPORTED
        info.id, info.sliceCount, info.instanceCount = entry['id'], entry['slices'], entry['count']
        info.multiprocessorCount, info.memorySizeMB = entry['sms'], entry['mem_mb']
        info.name = ('MIG ' + entry['name']).encode()
        return SUCCESS

    def _sym_nvmlDeviceGetGpuInstances(self, state, handle, profile_id, array, count_ref):
        gpu = self._device(state, handle)
        if gpu is None:
            return ERROR_INVALID_ARGUMENT
        if not gpu['mig']['current']:
            return ERROR_NOT_SUPPORTED
        index = state['gpus'].index(gpu)
        wanted = _val(profile_id)
        ids = [gi['id'] for gi in gpu['mig']['instances'] if _mig_profile(gi['profile_index'])['id'] == wanted]
        count = _target(count_ref)
        for pos, gi_id in enumerate(ids):
            _store_pointer(_target(array), GI_HANDLE_BASE + index * 0x100 + gi_id, pos)
        count.value = len(ids)
        return SUCCESS

    def _sym_nvmlGpuInstanceGetInfo(self, state, gi_handle, out):
        value = _handle_value(gi_handle) - GI_HANDLE_BASE
        index, gi_id = divmod(value, 0x100)
        if not 0 <= index < len(state['gpus']):
            return ERROR_INVALID_ARGUMENT
        for gi in state['gpus'][index]['mig']['instances']:
            if gi['id'] == gi_id:
                info = _target(out)
                _store_pointer(info, DEVICE_HANDLE_BASE + index)  # .device is the first field
                info.id = gi_id
                info.profileId = _mig_profile(gi['profile_index'])['id']
                info.placement.start, info.placement.size = gi['start'], gi['size']
                return SUCCESS
        return ERROR_INVALID_ARGUMENT


def _mig_profile(index):
    for entry in hostmod.MIG_PROFILES:
        if entry['index'] == index:
            return entry
    return None


def normalise_bus_id(text):
    """(domain, bus, device, function) from "0000:3b:00.0" or "00000000:3B:00.0"."""
    if isinstance(text, bytes):
        text = text.decode()
    match = hostmod.re.match(r'^(?:([0-9a-fA-F]{1,8}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$', text.strip())
    if not match:
        return None
    return tuple(int(part or '0', 16) for part in match.groups())


def nvml_bus_id(pci):
    dom, bus, dev, fn = normalise_bus_id(pci)
    return '%08X:%02X:%02X.%d' % (dom, bus, dev, fn)


def make_nvml_lib():
    """The fake driver library for the state file ADAPTIVE_INTRAVM_FAKE_GPU_STATE names (intravm_inject installs it)."""
    state_path = os.environ.get(hostmod.STATE_ENV)
    if not state_path:
        raise RuntimeError('%s must name the fake GPU state file' % hostmod.STATE_ENV)
    return FakeNvmlLib(state_path)


def install(tmp_path, monkeypatch, edit=None):
    """pytest helper: a fresh lab host under tmp_path, wired into the product's seams.

    Installs the fake driver library and sysfs writes in process; monkeypatch
    undoes both on teardown. Returns the FakeGpuHost.
    """
    import intravm_inject  # pylint: disable=import-error,import-outside-toplevel
    state_path = os.path.join(str(tmp_path), 'gpu-state.json')
    host = hostmod.FakeGpuHost.init(state_path, os.path.join(str(tmp_path), 'sys'))
    if edit is not None:
        host.edit(edit)
    monkeypatch.setenv(hostmod.STATE_ENV, state_path)
    intravm_inject.install_nvml(monkeypatch, FakeNvmlLib(state_path))
    return host
