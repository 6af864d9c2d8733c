# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vgpu module: validation, refusals and check mode on the fake GPU host.

Domains live on libvirt's test driver (no daemon): it can run a domain whose
live XML holds an mdev, which the real daemon cannot without a GPU. The
apply paths (attach/detach on the persistent config, restart and rollback)
run against the real libvirtd in tests/integration/targets/vgpu.
"""

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
from ansible_collections.adaptive.intravm.plugins.modules import vgpu  # noqa: E402

TEST_URI = 'test:///default'
A100 = '0000:3b:00.0'


@pytest.fixture
def host(tmp_path, monkeypatch):
    return fake_nvml.install(tmp_path, monkeypatch)


@pytest.fixture
def sysfs(host):
    return VgpuSysfs(host.load()['sysfs_root'])


@pytest.fixture
def test_domain():
    conn = libvirt.open(TEST_URI)
    made = []

    def factory(devices='', start=True, persistent=True):
        name = 'intravm-test-vg-%s' % uuid.uuid4().hex[:6]
        xml = ("<domain type='test'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
               "<os><type>hvm</type></os><devices>%s</devices></domain>" % (name, devices))
        if persistent:
            dom = conn.defineXML(xml)
            if start:
                dom.create()
        else:
            dom = conn.createXML(xml, 0)
        made.append(dom)
        return dom
    yield factory
    for dom in made:
        try:
            if dom.isActive():
                dom.destroy()
            if dom.isPersistent():
                dom.undefine()
        except libvirt.libvirtError:
            pass
    conn.close()


def run_module(capsys, host, args, check_mode=False, diff=False):
    full = {'uri': TEST_URI, 'sysfs_root': host.load()['sysfs_root']}
    full.update(args)
    if check_mode:
        full['_ansible_check_mode'] = True
    if diff:
        full['_ansible_diff'] = True
    with patch_module_args(full):
        with pytest.raises(SystemExit):
            vgpu.main()
    return json.loads(capsys.readouterr().out)


def snapshot(host):
    state = host.load()
    return json.dumps([state['vgpus'], [g['scheduler'] for g in state['gpus']]], sort_keys=True)


def test_keep_is_not_changed(host, sysfs, capsys, test_domain):
    mdev = str(uuid.uuid4())
    sysfs.create_mdev(A100, 471, mdev)
    dom = test_domain(gpu_model.mdev_hostdev_xml(mdev), start=False)
    out = run_module(capsys, host, {'gpu': A100, 'name': dom.name(), 'type': 'nvidia a100-4c'})
    assert out['changed'] is False and out['pending_restart'] is False
    assert out['vgpus'] == [{'id': mdev, 'kind': 'mdev', 'type_id': 471, 'type': 'NVIDIA A100-4C', 'in_config': True, 'in_live': False}]


def test_running_guest_keeps_its_vgpu_without_restart(host, sysfs, capsys, test_domain):
    mdev = str(uuid.uuid4())
    sysfs.create_mdev(A100, 473, mdev)
    dom = test_domain(gpu_model.mdev_hostdev_xml(mdev))
    before = snapshot(host)
    out = run_module(capsys, host, {'gpu': '0', 'name': dom.name(), 'type': 'NVIDIA A100-4C'})
    assert out['failed'] and dom.name() in out['msg'] and 'restart: true' in out['msg'] and mdev in out['msg']
    out = run_module(capsys, host, {'gpu': '0', 'name': dom.name(), 'state': 'absent'})
    assert out['failed'] and 'running and uses vGPU' in out['msg']
    assert snapshot(host) == before


def test_check_mode_predicts_and_changes_nothing(host, capsys, test_domain):
    dom = test_domain(start=False)
    before = snapshot(host)
    out = run_module(capsys, host, {'gpu': A100, 'name': dom.name(), 'type': 'NVIDIA A100-8C'}, check_mode=True, diff=True)
    assert out['changed'] is True
    assert [(v['type'], v['in_config']) for v in out['vgpus']] == [('NVIDIA A100-8C', True)]
    assert out['diff']['before'] == {'vgpus': []}
    assert snapshot(host) == before
    out = run_module(capsys, host, {'gpu': A100, 'scheduler': 'fixed_share', 'timeslice': 4000000}, check_mode=True)
    assert out['changed'] and out['scheduler'] == {'policy': 'fixed_share', 'timeslice_ns': 4000000}
    assert snapshot(host) == before


@pytest.mark.parametrize('args,words', [
    ({'gpu': A100, 'type': 'NVIDIA A100-99C'}, ['unknown vGPU type', 'NVIDIA A100-99C', 'NVIDIA A100-4C']),
    ({'gpu': '3', 'type': 'NVIDIA A100-4C'}, ["virtualization mode 'none'", '0000:d8:00.0']),
    ({'gpu': '9', 'type': 'NVIDIA A100-4C'}, ['GPU index 9']),
    ({'gpu': '0000:4b:00.0', 'type': 'NVIDIA A100-4C'}, ['unknown vGPU type', 'NVIDIA H200X-141C']),
])
def test_bad_input_changes_nothing(host, capsys, test_domain, args, words):
    dom = test_domain(start=False)
    before = snapshot(host)
    args = dict(args, name=dom.name())
    out = run_module(capsys, host, args)
    assert out.get('failed'), out
    for word in words:
        assert word in out['msg']
    assert snapshot(host) == before


def test_no_capacity_names_what_is_creatable(host, sysfs, capsys, test_domain):
    sysfs.create_mdev(A100, 476, str(uuid.uuid4()))  # another VM holds the whole GPU (A100-40C)
    dom = test_domain(start=False)
    before = snapshot(host)
    out = run_module(capsys, host, {'gpu': A100, 'name': dom.name(), 'type': 'NVIDIA A100-4C'})
    assert out['failed'] and 'no capacity left for NVIDIA A100-4C' in out['msg'] and 'creatable now: none' in out['msg']
    assert snapshot(host) == before


def test_transient_domain_is_refused(host, capsys, test_domain):
    dom = test_domain(persistent=False)
    out = run_module(capsys, host, {'gpu': A100, 'name': dom.name(), 'type': 'NVIDIA A100-4C'})
    assert out['failed'] and 'transient' in out['msg']


def test_unknown_domain(host, capsys):
    out = run_module(capsys, host, {'gpu': A100, 'name': 'no-such-domain-intravm', 'type': 'NVIDIA A100-4C'})
    assert out['failed'] and 'no-such-domain-intravm' in out['msg']


def test_scheduler_refused_while_vgpus_exist(host, sysfs, capsys, test_domain):
    mdev = str(uuid.uuid4())
    sysfs.create_mdev(A100, 471, mdev)
    dom = test_domain(gpu_model.mdev_hostdev_xml(mdev))
    before = snapshot(host)
    out = run_module(capsys, host, {'gpu': A100, 'scheduler': 'equal_share'})
    assert out['failed'] and 'NVMLError_NotSupported' in out['msg'] and mdev in out['msg'] and dom.name() in out['msg']
    assert 'never destroys vGPUs' in out['msg']
    assert snapshot(host) == before
    out = run_module(capsys, host, {'gpu': A100, 'scheduler': 'best_effort'})  # already so: nothing to refuse
    assert out['changed'] is False


@pytest.mark.parametrize('args,word', [
    ({'scheduler': 'equal_share', 'timeslice': 5}, 'outside the range'),
    ({'scheduler': 'best_effort', 'timeslice': 2000000}, 'not best_effort'),
])
def test_scheduler_validation(host, capsys, args, word):
    before = snapshot(host)
    out = run_module(capsys, host, dict(args, gpu=A100))
    assert out['failed'] and word in out['msg']
    assert snapshot(host) == before


def test_scheduler_set_then_idempotent(host, capsys):
    out = run_module(capsys, host, {'gpu': A100, 'scheduler': 'equal_share', 'timeslice': 2000000}, diff=True)
    assert out['changed'] and out['diff']['before']['scheduler']['policy'] == 'best_effort'
    assert host.load()['gpus'][0]['scheduler']['timeslice'] == 2000000
    assert host.load()['gpus'][1]['scheduler']['policy'] == 1  # the other GPU is untouched
    out = run_module(capsys, host, {'gpu': A100, 'scheduler': 'equal_share', 'timeslice': 2000000})
    assert out['changed'] is False


def test_scheduler_refused_with_mig_on(host, capsys):
    host.edit(lambda st: st['gpus'][0]['mig'].update(current=1, pending=1))
    out = run_module(capsys, host, {'gpu': A100, 'scheduler': 'equal_share'})
    assert out['failed'] and out['nvml_error'] == 'NVMLError_NotSupported'


@pytest.mark.parametrize('args,word', [
    ({'gpu': A100}, 'nothing to declare'),
    ({'gpu': A100, 'name': 'x'}, 'without type'),
    ({'gpu': A100, 'type': 'NVIDIA A100-4C'}, 'name'),
    ({'gpu': A100, 'timeslice': 2000000}, 'scheduler'),
    ({'gpu': A100, 'state': 'absent'}, 'name'),
])
def test_argument_errors(host, capsys, args, word):
    out = run_module(capsys, host, args)
    assert out['failed'] and word in out['msg']


def test_vendor_vfio_no_free_vf(host, sysfs, capsys, test_domain):
    sysfs.set_vf_type('0000:4b:00.4', 1428)  # another VM holds the whole H200
    dom = test_domain(start=False)
    before = snapshot(host)
    out = run_module(capsys, host, {'gpu': '0000:4b:00.0', 'name': dom.name(), 'type': 'NVIDIA H200X-18C'})
    assert out['failed'] and 'no capacity left for NVIDIA H200X-18C on GPU 0000:4b:00.0' in out['msg']
    assert snapshot(host) == before


def test_vendor_vfio_retype_keeps_the_vf(host, sysfs, capsys, test_domain):
    sysfs.set_vf_type('0000:4b:00.6', 1426)
    dom = test_domain(gpu_model.pci_hostdev_xml('0000:4b:00.6'), start=False)
    out = run_module(capsys, host, {'gpu': '2', 'name': dom.name(), 'type': 'NVIDIA H200X-35C'})
    assert out['changed'] and out['pending_restart'] is False
    assert [(v['id'], v['type']) for v in out['vgpus']] == [('0000:4b:00.6', 'NVIDIA H200X-35C')]
    assert sysfs.vfs('0000:4b:00.0')[2]['current_type'] == 1425
    again = run_module(capsys, host, {'gpu': '2', 'name': dom.name(), 'type': 'NVIDIA H200X-35C'})
    assert again['changed'] is False


def test_mdev_lost_in_a_host_reboot_is_recreated_under_its_uuid(host, sysfs, capsys, test_domain):
    gone = str(uuid.uuid4())
    dom = test_domain(gpu_model.mdev_hostdev_xml(gone), start=False)
    out = run_module(capsys, host, {'gpu': A100, 'name': dom.name(), 'type': 'NVIDIA A100-5C'})
    assert out['changed'] and [v['id'] for v in out['vgpus']] == [gone]
    assert sysfs.mdevs(A100) == [{'uuid': gone, 'type_id': 472}]
    assert gone in dom.XMLDesc(2)  # the config was not touched
