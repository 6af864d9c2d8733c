# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real-GPU tier: the read-only parts against a real NVIDIA driver.

Runs where pynvml.nvmlInit() succeeds on the real libnvidia-ml; elsewhere
every test skips with the reason NVML gave (see it with ``pytest -rs``).
It never changes MIG mode, creates instances, sets the scheduler or resets
the GPU: every NVML mutator and every sysfs write is replaced by a trap that
fails the test if anything reaches it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

pynvml = pytest.importorskip('pynvml')

from ansible_collections.adaptive.intravm.plugins.module_utils.devices import nvml  # noqa: E402
from ansible_collections.adaptive.intravm.plugins.module_utils.devices.gpu_inventory import describe_gpu  # noqa: E402
from ansible_collections.adaptive.intravm.plugins.module_utils.devices.gpu_sensing import nvml_available, read_vgpu_utilization  # noqa: E402
from ansible_collections.adaptive.intravm.plugins.module_utils.devices.vgpu_sysfs import VgpuSysfs  # noqa: E402

MUTATOR_PREFIXES = ('nvmlDeviceSet', 'nvmlDeviceCreate', 'nvmlGpuInstanceCreate', 'nvmlGpuInstanceDestroy',
                    'nvmlComputeInstanceDestroy', 'nvmlDeviceReset', 'nvmlDeviceClear', 'nvmlGpuInstanceSet',
                    'nvmlVgpuInstanceSet', 'nvmlDeviceModifyDrainState', 'nvmlDeviceRemoveGpu', 'nvmlSet')


@pytest.fixture
def real_nvml(monkeypatch):
    """The real driver, with every mutator trapped; skips with NVML's reason where there is none."""
    if pynvml.nvmlLib is not None and type(pynvml.nvmlLib).__name__ != 'CDLL':
        monkeypatch.setattr(pynvml, 'nvmlLib', None)  # a fake left behind by another test
        monkeypatch.setattr(pynvml, '_nvmlGetFunctionPointer_cache', {})
    for name in dir(pynvml):
        if name.startswith(MUTATOR_PREFIXES) and callable(getattr(pynvml, name)):
            monkeypatch.setattr(pynvml, name, _trap(name))
    monkeypatch.setattr(VgpuSysfs, 'write', _trap('sysfs write'))
    ok, reason = nvml_available()
    if not ok:
        pytest.skip('no real NVIDIA driver reachable: %s' % reason)
    return reason


def _trap(name):
    def trap(*_args, **_kwargs):
        raise AssertionError('the real-GPU tier must stay read-only, but %s was called' % name)
    return trap


def test_every_gpu_describes_read_only(real_nvml):  # pylint: disable=unused-argument
    sysfs = VgpuSysfs('/sys')
    with nvml.Nvml() as nv:
        handles = nv.handles()
        assert handles, 'NVML initialised but reports no GPU'
        for index, handle in handles:
            info = describe_gpu(nv, sysfs, [], index, handle)
            assert info['index'] == index
            assert info['name'] and info['uuid'].startswith(('GPU-', 'MIG-'))
            assert nv.handle(info['pci'])[0] == index  # PCI address round-trips through NVML
            assert info['virtualization_mode'] in ('none', 'passthrough', 'vgpu', 'host_vgpu', 'host_vsga')
            if info['mig'] is not None:
                assert info['mig']['current'] in ('enabled', 'disabled')
            if info['virtualization_mode'] != 'host_vgpu':
                assert info['active_vgpus'] == [] and info['scheduler'] is None


def test_utilisation_sensing_runs(real_nvml):  # pylint: disable=unused-argument
    sample = read_vgpu_utilization(0)
    assert set(sample) == {'timestamp_us', 'vgpus'}
    for row in sample['vgpus']:
        assert 0 <= row['sm'] <= 100 and 0 <= row['memory'] <= 100
        assert row['timestamp_us'] <= sample['timestamp_us']
    later = read_vgpu_utilization(sample['timestamp_us'])
    assert later['timestamp_us'] >= sample['timestamp_us']
