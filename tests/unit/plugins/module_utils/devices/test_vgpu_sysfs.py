# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vgpu_sysfs against the fake tree that reacts to writes, plus the pure helpers."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import sys
import uuid

import pytest

pytest.importorskip('pynvml')

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'fakes'))
import fake_nvml  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.adaptive.intravm.plugins.module_utils.devices import gpu_model  # noqa: E402
from ansible_collections.adaptive.intravm.plugins.module_utils.apply import vgpu_changes  # noqa: E402
from ansible_collections.adaptive.intravm.plugins.module_utils.devices.vgpu_sysfs import SysfsError, VgpuSysfs  # noqa: E402

A100 = '0000:3b:00.0'
H200 = '0000:4b:00.0'


@pytest.fixture
def host(tmp_path, monkeypatch):
    return fake_nvml.install(tmp_path, monkeypatch)


@pytest.fixture
def sysfs(host):
    return VgpuSysfs(host.load()['sysfs_root'])


def test_models(sysfs):
    assert sysfs.model(A100) == 'mdev'
    assert sysfs.model(H200) == 'vfio'
    assert sysfs.model('0000:d8:00.0') is None


def test_mdev_create_shrinks_capacity_and_remove_restores(sysfs):
    before = dict((t['name'], t['available']) for t in sysfs.mdev_types(A100))
    assert before['NVIDIA A100-4C'] == 10 and before['NVIDIA A100-40C'] == 1
    mdev = str(uuid.uuid4())
    sysfs.create_mdev(A100, 471, mdev)
    assert sysfs.mdevs(A100) == [{'uuid': mdev, 'type_id': 471}]
    assert sysfs.mdev_exists(mdev)
    after = dict((t['name'], t['available']) for t in sysfs.mdev_types(A100))
    assert after['NVIDIA A100-4C'] == 9 and after['NVIDIA A100-8C'] == 0
    assert sysfs.mdevs('0000:af:00.0') == []  # the other GPU is untouched
    sysfs.remove_mdev(mdev)
    assert sysfs.mdevs(A100) == [] and not sysfs.mdev_exists(mdev)
    assert dict((t['name'], t['available']) for t in sysfs.mdev_types(A100)) == before


def test_mdev_errors_are_the_drivers(host, sysfs):
    mdev = str(uuid.uuid4())
    sysfs.create_mdev(A100, 476, mdev)  # A100-40C: one instance only
    with pytest.raises(SysfsError) as err:
        sysfs.create_mdev(A100, 476, str(uuid.uuid4()))
    assert err.value.errno == errno.EUSERS and 'create' in str(err.value)
    with pytest.raises(SysfsError) as err:
        sysfs.create_mdev('0000:af:00.0', 471, 'not-a-uuid')
    assert err.value.errno == errno.EINVAL
    host.use(mdev, str(uuid.uuid4()))
    with pytest.raises(SysfsError) as err:
        sysfs.remove_mdev(mdev)
    assert err.value.errno == errno.EBUSY and 'EBUSY' in str(err.value)
    host.release(mdev)
    sysfs.remove_mdev(mdev)


def test_read_only_attribute_refuses_writes(sysfs):
    path = sysfs.path('class', 'mdev_bus', A100, 'mdev_supported_types', 'nvidia-471', 'available_instances')
    with pytest.raises(SysfsError) as err:
        sysfs.write(path, 5)
    assert err.value.errno == errno.EACCES


def test_vendor_vfio_vfs(host, sysfs):
    vfs = sysfs.vfs(H200)
    assert len(vfs) == 8 and vfs[0]['vf'] == '0000:4b:00.4'
    assert all(vf['current_type'] == 0 for vf in vfs)
    assert (1428, 'NVIDIA H200X-141C') in vfs[0]['creatable']
    sysfs.set_vf_type('0000:4b:00.4', 1426)  # H200X-70C, two fit
    vfs = sysfs.vfs(H200)
    assert vfs[0]['current_type'] == 1426 and vfs[0]['creatable'] == []
    assert vfs[1]['creatable'] == [(1426, 'NVIDIA H200X-70C')]
    sysfs.set_vf_type('0000:4b:00.5', 1426)
    assert all(vf['creatable'] == [] for vf in sysfs.vfs(H200))  # card full: header only
    with pytest.raises(SysfsError) as err:
        sysfs.set_vf_type('0000:4b:00.6', 1426)
    assert err.value.errno == errno.EINVAL
    with pytest.raises(SysfsError) as err:
        sysfs.set_vf_type('0000:4b:00.4', 1422)  # change without deleting first
    assert err.value.errno == errno.EBUSY
    host.use('0000:4b:00.4', str(uuid.uuid4()))
    with pytest.raises(SysfsError) as err:
        sysfs.set_vf_type('0000:4b:00.4', 0)
    assert err.value.errno == errno.EBUSY
    host.release('0000:4b:00.4')
    sysfs.set_vf_type('0000:4b:00.4', 0)
    assert sysfs.vfs(H200)[0]['current_type'] == 0


def test_parse_creatable_types():
    text = 'ID    : vGPU Name\n1428 : NVIDIA H200X-141C\n 1426 : NVIDIA H200X-70C \n'
    assert gpu_model.parse_creatable_types(text) == [(1428, 'NVIDIA H200X-141C'), (1426, 'NVIDIA H200X-70C')]
    assert gpu_model.parse_creatable_types('ID    : vGPU Name\n') == []


@pytest.mark.parametrize('text,expected', [
    ('3b:00.0', '0000:3b:00.0'), ('0000:3B:00.0', '0000:3b:00.0'), ('00000000:3B:00.0', '0000:3b:00.0'),
])
def test_normalise_pci(text, expected):
    assert gpu_model.normalise_pci(text) == expected


@pytest.mark.parametrize('bad', ['3b:00', '0000:3b:00.8', 'gpu0', '0000:3b:20.0'])
def test_normalise_pci_rejects(bad):
    with pytest.raises(gpu_model.GpuInputError, match='PCI address'):
        gpu_model.normalise_pci(bad)


def test_hostdev_xml_round_trip():
    mdev = str(uuid.uuid4())
    devices = gpu_model.mdev_hostdev_xml(mdev.upper()) + gpu_model.pci_hostdev_xml('4b:00.4')
    xml = '<domain><devices>%s</devices></domain>' % devices
    assert gpu_model.domain_hostdevs(xml) == {'mdev': [mdev], 'pci': ['0000:4b:00.4']}
    with pytest.raises(gpu_model.GpuInputError):
        gpu_model.mdev_hostdev_xml('nope')


def _slot(ident, type_id, live=False, on_gpu=True):
    return vgpu_changes.slot(ident, 'mdev', type_id, True, live, on_gpu)


def test_plan_present():
    assert vgpu_changes.plan([], 'present', 471)['create']
    keep = vgpu_changes.plan([_slot('a', 471)], 'present', 471)
    assert keep['keep']['id'] == 'a' and not vgpu_changes.changes(keep)
    retype = vgpu_changes.plan([_slot('a', 473, live=True), _slot('b', 475)], 'present', 471)
    assert retype['retype']['id'] == 'a' and [s['id'] for s in retype['remove']] == ['b']
    assert [s['id'] for s in vgpu_changes.in_use(retype)] == ['a']
    mixed = vgpu_changes.plan([_slot('a', 473), _slot('b', 471)], 'present', 471)
    assert mixed['keep']['id'] == 'b' and [s['id'] for s in mixed['remove']] == ['a']
    reuse = vgpu_changes.plan([_slot('gone', 0, on_gpu=False)], 'present', 471)
    assert reuse['reuse']['id'] == 'gone' and not reuse['create']


def test_plan_absent():
    slots = [_slot('a', 471), _slot('b', 473), _slot('gone', 0, on_gpu=False)]
    assert [s['id'] for s in vgpu_changes.plan(slots, 'absent')['remove']] == ['a', 'b']
    assert [s['id'] for s in vgpu_changes.plan(slots, 'absent', 473)['remove']] == ['b']
    assert not vgpu_changes.changes(vgpu_changes.plan([], 'absent'))
