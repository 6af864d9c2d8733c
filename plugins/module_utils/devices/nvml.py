# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one thin seam over NVML (nvidia-ml-py's pynvml).

Every NVML call of the collection goes through ``Nvml``; failures come back as
``NvmlError`` carrying pynvml's class name (``NVMLError_NotSupported``...) and
the C function, so modules report NVML errors by their NVML names.

Tests replace ``pynvml.nvmlLib`` (the loaded C library) with a fake driver
from the outside (tests/fakes/intravm_inject.py), so pynvml's own code runs
against it; nothing here loads test code.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import traceback

from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset
from ansible_collections.adaptive.intravm.plugins.module_utils.devices import gpu_model

try:
    import pynvml
    HAS_PYNVML = True
    PYNVML_IMPORT_ERROR = None
except ImportError:
    pynvml = None
    HAS_PYNVML = False
    PYNVML_IMPORT_ERROR = traceback.format_exc()

HOST_VGPU = 3
ENGINE_GRAPHICS = 1
ARR_DISABLE = 1


class NvmlError(Exception):
    """An NVML failure: .name is pynvml's class name, .call the C function."""

    def __init__(self, call, name, detail):
        self.call = call
        self.name = name
        self.detail = detail
        super(NvmlError, self).__init__('%s failed: %s (%s)' % (call, name, detail))


# For module_base: the dependency check and how a module reports an NVML failure.
REQUIREMENT = (HAS_PYNVML, 'nvidia-ml-py', PYNVML_IMPORT_ERROR)


def failure(exc, _params):
    return 'NVML error: %s' % exc, {'nvml_error': exc.name}


def _wrap(call, exc):
    return NvmlError(call, type(exc).__name__, str(exc))


class Nvml(object):
    """An initialised NVML session: ``with Nvml() as nv: nv.devices()``."""

    def __enter__(self):
        if not HAS_PYNVML:
            raise NvmlError('import pynvml', 'ImportError', 'nvidia-ml-py is not installed')
        self.call('nvmlInit')
        return self

    def __exit__(self, *exc):
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError:
            pass

    @staticmethod
    def call(name, *args):
        """pynvml.<name>(*args), with NVMLError turned into NvmlError."""
        try:
            return getattr(pynvml, name)(*args)
        except pynvml.NVMLError as exc:
            raise _wrap(name, exc)

    def optional(self, name, *args):
        """Like call, but None where the GPU or driver lacks the feature."""
        try:
            return self.call(name, *args)
        except NvmlError as exc:
            if exc.name in ('NVMLError_NotSupported', 'NVMLError_FunctionNotFound'):
                return None
            raise

    # ---- devices ---------------------------------------------------------
    def driver_version(self):
        return _text(self.call('nvmlSystemGetDriverVersion'))

    def count(self):
        return self.call('nvmlDeviceGetCount')

    def handle(self, gpu):
        """(index, handle, pci) for a GPU named by NVML index or PCI address."""
        text = str(gpu).strip()
        if cpuset.is_number(text):
            index = int(text)
            total = self.count()
            if index >= total:
                raise gpu_model.GpuInputError('GPU index %d does not exist; NVML sees %d GPU(s)' % (index, total))
            handle = self.call('nvmlDeviceGetHandleByIndex', index)
            return index, handle, self.pci(handle)
        pci = gpu_model.normalise_pci(text)
        handles = self.handles()
        for index, handle in handles:
            if self.pci(handle) == pci:
                return index, handle, pci
        raise gpu_model.GpuInputError('no NVIDIA GPU at PCI address %s; NVML sees: %s'
                                      % (pci, ', '.join(self.pci(h) for _i, h in handles) or 'none'))

    def handles(self):
        return [(index, self.call('nvmlDeviceGetHandleByIndex', index)) for index in range(self.count())]

    def pci(self, handle):
        return gpu_model.normalise_pci(_text(self.call('nvmlDeviceGetPciInfo', handle).busId))

    def device(self, index, handle):
        mode = self.call('nvmlDeviceGetVirtualizationMode', handle)
        return {
            'index': index,
            'name': _text(self.call('nvmlDeviceGetName', handle)),
            'uuid': _text(self.call('nvmlDeviceGetUUID', handle)),
            'pci': self.pci(handle),
            'virtualization_mode': gpu_model.VIRTUALIZATION_MODES.get(mode, str(mode)),
        }

    # ---- vGPU types and instances ------------------------------------------
    def vgpu_types(self, handle, creatable=False):
        ids = self.call('nvmlDeviceGetCreatableVgpus' if creatable else 'nvmlDeviceGetSupportedVgpus', handle)
        return [self.vgpu_type(handle, int(type_id)) for type_id in ids]

    def vgpu_type(self, handle, type_id):
        return {
            'id': type_id,
            'name': _text(self.call('nvmlVgpuTypeGetName', type_id)),
            'class': _text(self.optional('nvmlVgpuTypeGetClass', type_id)),
            'framebuffer_mib': (self.optional('nvmlVgpuTypeGetFramebufferSize', type_id) or 0) // (1024 * 1024),
            'max_instances': self.optional('nvmlVgpuTypeGetMaxInstances', handle, type_id),
        }

    def active_vgpus(self, handle):
        """Each vGPU instance on the GPU with its type and the ids that tie it to a VM."""
        result = []
        for instance in self.call('nvmlDeviceGetActiveVgpus', handle):
            instance = int(instance)
            type_id = self.call('nvmlVgpuInstanceGetType', instance)
            vm_id, vm_id_type = self.call('nvmlVgpuInstanceGetVmID', instance)
            result.append({
                'instance': instance,
                'type_id': type_id,
                'type_name': _text(self.call('nvmlVgpuTypeGetName', type_id)),
                'mdev_uuid': (_text(self.optional('nvmlVgpuInstanceGetMdevUUID', instance)) or '').lower() or None,
                'vm_id': _text(vm_id) or None,
                'vm_id_type': 'uuid' if vm_id_type == 1 else 'domain_id',
            })
        return result

    # ---- scheduler -----------------------------------------------------------
    def scheduler(self, handle):
        """Current policy and timeslice: the _v2 query where the driver has it, else v1."""
        try:
            info = pynvml.c_nvmlVgpuSchedulerStateInfo_v2_t()
            info.engineId = ENGINE_GRAPHICS
            self.call('nvmlDeviceGetVgpuSchedulerState_v2', handle, info)
            return gpu_model.scheduler_view(info.schedulerPolicy, info.timeslice, avg_factor=info.avgFactor, api='v2')
        except NvmlError as exc:
            if exc.name != 'NVMLError_FunctionNotFound':
                raise
        state = self.call('nvmlDeviceGetVgpuSchedulerState', handle)
        if state.arrMode == 2:
            params = state.schedulerParams.vgpuSchedDataWithARR
            return gpu_model.scheduler_view(state.schedulerPolicy, params.timeslice, 'enabled', params.avgFactor, 'v1')
        return gpu_model.scheduler_view(state.schedulerPolicy, state.schedulerParams.vgpuSchedData.timeslice,
                                        'disabled' if state.arrMode == 1 else 'default', None, 'v1')

    def scheduler_caps(self, handle):
        caps = self.call('nvmlDeviceGetVgpuSchedulerCapabilities', handle)
        return {
            'supported_policies': [gpu_model.POLICY_NAMES[p] for p in caps.supportedSchedulers if p in gpu_model.POLICY_NAMES],
            'min_timeslice_ns': caps.minTimeslice,
            'max_timeslice_ns': caps.maxTimeslice,
            'arr_supported': bool(caps.isArrModeSupported),
        }

    def set_scheduler(self, handle, policy, timeslice=None):
        """Set the policy (and timeslice in ns). Returns the API used ('v1' or 'v2').

        Only the v1 call carries a timeslice (with adaptive round robin off);
        a policy-only change uses _v2 where the driver has it.
        """
        code = gpu_model.POLICIES[policy]
        if not timeslice:
            try:
                state = pynvml.c_nvmlVgpuSchedulerState_v2_t()
                state.engineId = ENGINE_GRAPHICS
                state.schedulerPolicy = code
                self.call('nvmlDeviceSetVgpuSchedulerState_v2', handle, state)
                return 'v2'
            except NvmlError as exc:
                if exc.name != 'NVMLError_FunctionNotFound':
                    raise
        state = pynvml.c_nvmlVgpuSchedulerSetState_t()
        state.schedulerPolicy = code
        state.enableARRMode = ARR_DISABLE if timeslice else 0
        state.schedulerParams.vgpuSchedData.timeslice = timeslice or 0
        self.call('nvmlDeviceSetVgpuSchedulerState', handle, state)
        return 'v1'

    # ---- MIG -------------------------------------------------------------------
    def mig(self, handle):
        """{'current', 'pending', 'instances'}; None where the GPU has no MIG."""
        modes = self.optional('nvmlDeviceGetMigMode', handle)
        if modes is None:
            return None
        view = {'current': 'enabled' if modes[0] else 'disabled',
                'pending': 'enabled' if modes[1] else 'disabled', 'instances': []}
        if not modes[0]:
            return view
        for profile in range(pynvml.NVML_GPU_INSTANCE_PROFILE_COUNT):
            try:
                info = self.call('nvmlDeviceGetGpuInstanceProfileInfo', handle, profile)
            except NvmlError as exc:
                if exc.name in ('NVMLError_NotSupported', 'NVMLError_InvalidArgument'):
                    continue
                raise
            if not info.instanceCount:
                continue
            array = (pynvml.c_nvmlGpuInstance_t * info.instanceCount)()
            count = pynvml.c_uint(0)
            self.call('nvmlDeviceGetGpuInstances', handle, info.id, array, pynvml.byref(count))
            for pos in range(count.value):
                gi = self.call('nvmlGpuInstanceGetInfo', array[pos])
                view['instances'].append({
                    'id': gi.id, 'profile_id': gi.profileId, 'profile': _text(info.name),
                    'slices': info.sliceCount, 'memory_mib': info.memorySizeMB,
                    'placement': {'start': gi.placement.start, 'size': gi.placement.size},
                })
        view['instances'].sort(key=lambda gi: gi['id'])
        return view

    # ---- utilisation -------------------------------------------------------------
    def vgpu_utilization(self, handle, last_seen_us=0):
        samples = self.call('nvmlDeviceGetVgpuUtilization', handle, last_seen_us)
        return [{'instance': int(s.vgpuInstance), 'timestamp_us': int(s.timeStamp),
                 'sm': s.smUtil.uiVal, 'memory': s.memUtil.uiVal,
                 'encoder': s.encUtil.uiVal, 'decoder': s.decUtil.uiVal} for s in samples]

    def vgpu_process_utilization(self, handle, last_seen_us=0):
        samples = self.optional('nvmlDeviceGetVgpuProcessUtilization', handle, last_seen_us) or []
        return [{'instance': int(s.vgpuInstance), 'pid': s.pid, 'name': _text(s.processName),
                 'timestamp_us': int(s.timeStamp), 'sm': s.smUtil, 'memory': s.memUtil,
                 'encoder': s.encUtil, 'decoder': s.decUtil} for s in samples]


def _text(value):
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    return value
