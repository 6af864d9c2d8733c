# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The NVML seam against the ctypes-level fake: pynvml's own code runs for real."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys
import uuid

import pytest

pynvml = pytest.importorskip('pynvml')

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'fakes'))
import fake_nvml  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.adaptive.intravm.plugins.module_utils.devices import nvml  # noqa: E402
from ansible_collections.adaptive.intravm.plugins.module_utils.devices.gpu_model import GpuInputError  # noqa: E402
from ansible_collections.adaptive.intravm.plugins.module_utils.devices.gpu_sensing import nvml_available, read_vgpu_utilization  # noqa: E402
from ansible_collections.adaptive.intravm.plugins.module_utils.devices.vgpu_sysfs import VgpuSysfs  # noqa: E402


@pytest.fixture
def host(tmp_path, monkeypatch):
    return fake_nvml.install(tmp_path, monkeypatch)


def _create_mdev(host, pci='0000:3b:00.0', type_id=471):
    mdev = str(uuid.uuid4())
    VgpuSysfs(host.load()['sysfs_root']).create_mdev(pci, type_id, mdev)
    return mdev


def test_devices_and_handles(host):  # pylint: disable=unused-argument
    with nvml.Nvml() as nv:
        assert nv.count() == 4
        assert nv.driver_version() == '550.90.05'
        index, handle, pci = nv.handle('0000:AF:00.0')
        assert (index, pci) == (1, '0000:af:00.0')
        assert nv.device(index, handle)['virtualization_mode'] == 'host_vgpu'
        assert nv.handle('2')[2] == '0000:4b:00.0'
        assert nv.handle('af:00.0')[0] == 1


def test_unknown_gpu_names_what_exists(host):  # pylint: disable=unused-argument
    with nvml.Nvml() as nv:
        with pytest.raises(GpuInputError, match='0000:3b:00.0'):
            nv.handle('0000:99:00.0')
        with pytest.raises(GpuInputError, match='index 7'):
            nv.handle('7')
        with pytest.raises(GpuInputError, match='not a PCI address'):
            nv.handle('gpu-zero')


def test_errors_carry_nvml_names(host):  # pylint: disable=unused-argument
    with nvml.Nvml() as nv:
        _i, bare, _p = nv.handle('3')
        with pytest.raises(nvml.NvmlError) as err:
            nv.vgpu_types(bare)
        assert err.value.name == 'NVMLError_NotSupported'
        assert err.value.call == 'nvmlDeviceGetSupportedVgpus'
        assert 'NVMLError_NotSupported' in str(err.value)


def test_missing_symbol_is_function_not_found(host):
    host.edit(lambda st: st['missing_symbols'].append('nvmlDeviceGetVgpuProcessUtilization'))
    with nvml.Nvml() as nv:
        _i, handle, _p = nv.handle('0')
        with pytest.raises(nvml.NvmlError) as err:
            nv.call('nvmlDeviceGetVgpuProcessUtilization', handle, 0)
        assert err.value.name == 'NVMLError_FunctionNotFound'
        assert nv.vgpu_process_utilization(handle) == []  # optional: absent on old drivers


def test_uninitialised_calls_fail_like_the_library(host):  # pylint: disable=unused-argument
    with nvml.Nvml():
        pass
    with pytest.raises(pynvml.NVMLError_Uninitialized):
        pynvml.nvmlDeviceGetCount()


def test_types_shrink_and_active_vgpus_follow_sysfs(host):
    with nvml.Nvml() as nv:
        _i, handle, _p = nv.handle('0')
        assert [t['name'] for t in nv.vgpu_types(handle)][:2] == ['NVIDIA A100-4C', 'NVIDIA A100-5C']
        assert len(nv.vgpu_types(handle, creatable=True)) == 6
        assert nv.active_vgpus(handle) == []
        mdev = _create_mdev(host)
        creatable = nv.vgpu_types(handle, creatable=True)
        assert [t['name'] for t in creatable] == ['NVIDIA A100-4C']  # homogeneous: only the type in use
        active = nv.active_vgpus(handle)
        assert len(active) == 1 and active[0]['mdev_uuid'] == mdev and active[0]['type_name'] == 'NVIDIA A100-4C'
        assert active[0]['vm_id'] is None
        host.use(mdev, '6f1c2a8e-0000-4000-8000-000000000001')
        assert nv.active_vgpus(handle)[0]['vm_id'] == '6f1c2a8e-0000-4000-8000-000000000001'


def test_scheduler_v2_read_and_v1_fallback(host):
    with nvml.Nvml() as nv:
        _i, handle, _p = nv.handle('0')
        assert nv.scheduler(handle)['api'] == 'v2'
        assert nv.set_scheduler(handle, 'fixed_share') == 'v2'
        assert nv.scheduler(handle)['policy'] == 'fixed_share'
        assert nv.set_scheduler(handle, 'equal_share', 3000000) == 'v1'
        state = nv.scheduler(handle)
        assert (state['policy'], state['timeslice_ns']) == ('equal_share', 3000000)
    host.edit(lambda st: st['missing_symbols'].extend(['nvmlDeviceGetVgpuSchedulerState_v2', 'nvmlDeviceSetVgpuSchedulerState_v2']))
    pynvml._nvmlGetFunctionPointer_cache.clear()  # pylint: disable=protected-access  # another driver: pynvml looks symbols up again
    with nvml.Nvml() as nv:
        _i, handle, _p = nv.handle('0')
        state = nv.scheduler(handle)
        assert (state['api'], state['policy'], state['timeslice_ns'], state['arr_mode']) == ('v1', 'equal_share', 3000000, 'disabled')
        assert nv.set_scheduler(handle, 'best_effort') == 'v1'
        assert nv.scheduler(handle)['policy'] == 'best_effort'


def test_scheduler_refused_while_vgpus_exist_and_bad_timeslice(host):
    with nvml.Nvml() as nv:
        _i, handle, _p = nv.handle('0')
        with pytest.raises(nvml.NvmlError) as err:
            nv.set_scheduler(handle, 'equal_share', 10)  # below minTimeslice
        assert err.value.name == 'NVMLError_InvalidArgument'
        _create_mdev(host)
        with pytest.raises(nvml.NvmlError) as err:
            nv.set_scheduler(handle, 'equal_share')
        assert err.value.name == 'NVMLError_NotSupported'
        caps = nv.scheduler_caps(handle)
        assert caps['supported_policies'] == ['best_effort', 'equal_share', 'fixed_share']


def test_mig_view(host):  # pylint: disable=unused-argument
    with nvml.Nvml() as nv:
        assert nv.mig(nv.handle('0')[1]) == {'current': 'disabled', 'pending': 'disabled', 'instances': []}
        view = nv.mig(nv.handle('3')[1])
        assert view['current'] == 'enabled'
        assert [(gi['id'], gi['profile'], gi['placement']['start']) for gi in view['instances']] == [
            (1, 'MIG 3g.20gb', 0), (2, 'MIG 2g.10gb', 4)]


def test_mig_absent_is_none(host):
    host.edit(lambda st: st['gpus'][0]['mig'].update(supported=False))
    with nvml.Nvml() as nv:
        assert nv.mig(nv.handle('0')[1]) is None


def test_utilisation_two_call_and_last_seen(host):
    mdev = _create_mdev(host)
    with nvml.Nvml() as nv:
        assert read_vgpu_utilization(0, nv)['vgpus'] == []  # no sample yet
    host.set_util(mdev, 40, 20, processes=[{'pid': 7, 'name': 'train.py', 'sm': 40, 'mem': 20}])
    first = read_vgpu_utilization(0)
    assert len(first['vgpus']) == 1
    row = first['vgpus'][0]
    assert (row['gpu'], row['mdev_uuid'], row['sm'], row['memory'], row['type']) == ('0000:3b:00.0', mdev, 40, 20, 'NVIDIA A100-4C')
    assert row['processes'] == [{'pid': 7, 'name': 'train.py', 'sm': 40, 'memory': 20, 'encoder': 0, 'decoder': 0}]
    assert first['timestamp_us'] == row['timestamp_us'] > 0
    again = read_vgpu_utilization(first['timestamp_us'])
    assert again == {'timestamp_us': first['timestamp_us'], 'vgpus': []}


def test_available_reports_reason(host, monkeypatch):  # pylint: disable=unused-argument
    assert nvml_available() == (True, '550.90.05')
    monkeypatch.setattr(nvml, 'HAS_PYNVML', False)
    assert nvml_available()[0] is False
