# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gpu_info on the fake GPU host, with domains on libvirt's test driver (no daemon)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import sys
import uuid

import pytest

pytest.importorskip('pynvml')
libvirt = pytest.importorskip('libvirt')

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fakes'))
import fake_nvml  # noqa: E402  pylint: disable=wrong-import-position

from ansible.module_utils.testing import patch_module_args  # noqa: E402
from ansible_collections.adaptive.intravm.plugins.module_utils.devices import gpu_model  # noqa: E402
from ansible_collections.adaptive.intravm.plugins.module_utils.devices.vgpu_sysfs import VgpuSysfs  # noqa: E402
from ansible_collections.adaptive.intravm.plugins.modules import gpu_info  # noqa: E402

TEST_URI = 'test:///default'


@pytest.fixture
def host(tmp_path, monkeypatch):
    return fake_nvml.install(tmp_path, monkeypatch)


@pytest.fixture
def test_domain():
    """A running test-driver domain holding the given hostdev XML; removed afterwards."""
    conn = libvirt.open(TEST_URI)
    made = []

    def factory(devices):
        name = 'intravm-test-gi-%s' % uuid.uuid4().hex[:6]
        dom = conn.defineXML("<domain type='test'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
                             "<os><type>hvm</type></os><devices>%s</devices></domain>" % (name, devices))
        dom.create()
        made.append(dom)
        return dom
    yield factory
    for dom in made:
        dom.destroy()
        dom.undefine()
    conn.close()


def run_module(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            gpu_info.main()
    return json.loads(capsys.readouterr().out)


def test_reports_every_gpu(host, capsys):
    out = run_module(capsys, {'uri': TEST_URI, 'sysfs_root': host.load()['sysfs_root']})
    assert out['changed'] is False and out['driver_version'] == '550.90.05'
    gpus = out['gpus']
    assert [g['pci'] for g in gpus] == ['0000:3b:00.0', '0000:af:00.0', '0000:4b:00.0', '0000:d8:00.0']
    assert [g['driver_model'] for g in gpus] == ['mdev', 'mdev', 'vfio', None]
    assert gpus[0]['scheduler']['policy'] == 'best_effort'
    assert gpus[0]['scheduler_capabilities']['min_timeslice_ns'] == 1000000
    assert len(gpus[2]['vfs']) == 8 and gpus[2]['vfs'][0]['current_type'] is None
    bare = gpus[3]
    assert bare['virtualization_mode'] == 'none' and bare['supported_types'] == [] and bare['scheduler'] is None
    assert [gi['profile'] for gi in bare['mig']['instances']] == ['MIG 3g.20gb', 'MIG 2g.10gb']


def test_active_vgpus_name_their_domains(host, capsys, test_domain):
    root = host.load()['sysfs_root']
    sysfs = VgpuSysfs(root)
    mine = str(uuid.uuid4())
    sysfs.create_mdev('0000:3b:00.0', 471, mine)
    dom = test_domain(gpu_model.mdev_hostdev_xml(mine))
    orphan = str(uuid.uuid4())
    sysfs.create_mdev('0000:3b:00.0', 471, orphan)
    by_vm = str(uuid.uuid4())
    sysfs.create_mdev('0000:3b:00.0', 471, by_vm)
    vm = test_domain('')
    host.use(by_vm, vm.UUIDString())
    sysfs.set_vf_type('0000:4b:00.5', 1425)
    vf_dom = test_domain(gpu_model.pci_hostdev_xml('0000:4b:00.5'))
    out = run_module(capsys, {'uri': TEST_URI, 'sysfs_root': root, 'gpu': '0000:3b:00.0'})
    assert len(out['gpus']) == 1
    active = dict((v['mdev_uuid'], v) for v in out['gpus'][0]['active_vgpus'])
    assert active[mine]['domain'] == dom.name()
    assert active[orphan]['domain'] is None
    assert active[by_vm]['domain'] == vm.name() and active[by_vm]['vm_id_type'] == 'uuid'
    assert out['gpus'][0]['creatable_types'] == ['NVIDIA A100-4C']
    out = run_module(capsys, {'uri': TEST_URI, 'sysfs_root': root, 'gpu': '2'})
    vfs = dict((vf['address'], vf) for vf in out['gpus'][0]['vfs'])
    assert vfs['0000:4b:00.5']['current_type'] == 'NVIDIA H200X-35C' and vfs['0000:4b:00.5']['domains'] == [vf_dom.name()]
    assert vfs['0000:4b:00.4']['domains'] == []


def test_unknown_gpu_fails_clearly(host, capsys):
    out = run_module(capsys, {'uri': TEST_URI, 'sysfs_root': host.load()['sysfs_root'], 'gpu': '0000:99:00.0'})
    assert out['failed'] and '0000:99:00.0' in out['msg']


def test_nvml_failure_is_named(host, capsys):
    host.edit(lambda st: st['missing_symbols'].append('nvmlDeviceGetVirtualizationMode'))
    out = run_module(capsys, {'uri': TEST_URI, 'sysfs_root': host.load()['sysfs_root']})
    assert out['failed'] and out['nvml_error'] == 'NVMLError_FunctionNotFound'
    assert 'nvmlDeviceGetVirtualizationMode' in out['msg']
