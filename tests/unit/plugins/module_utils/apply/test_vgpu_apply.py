# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vgpu_apply without AnsibleModule: request checks, type names, and the journaled steps on the fake GPU host."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys
import uuid

import pytest

pytest.importorskip('pynvml')

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'fakes'))
import fake_nvml  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.adaptive.intravm.plugins.module_utils.apply import vgpu_apply, vgpu_changes  # noqa: E402
from ansible_collections.adaptive.intravm.plugins.module_utils.apply.rollback import Journal, PartialApplyError  # noqa: E402
from ansible_collections.adaptive.intravm.plugins.module_utils.devices.vgpu_sysfs import VgpuSysfs  # noqa: E402

A100 = '0000:3b:00.0'
TYPES = [{'id': 471, 'name': 'NVIDIA A100-4C'}, {'id': 472, 'name': 'NVIDIA A100-8C'}]


class FakeDomain(object):
    """Records config attach/detach calls, as the steps make them."""

    def __init__(self):
        self.calls = []

    @staticmethod
    def name():
        return 'web01'

    def attachDeviceFlags(self, xml, flags):  # pylint: disable=invalid-name
        self.calls.append(('attach', xml, flags))

    def detachDeviceFlags(self, xml, flags):  # pylint: disable=invalid-name
        self.calls.append(('detach', xml, flags))


@pytest.fixture
def sysfs(tmp_path, monkeypatch):
    return VgpuSysfs(fake_nvml.install(tmp_path, monkeypatch).load()['sysfs_root'])


def params(**given):
    base = dict(name=None, state='present', type=None, scheduler=None, shutdown_timeout=120)
    base.update(given)
    return base


@pytest.mark.parametrize('given,words', [
    (dict(name='web01'), 'without type'),
    (dict(), 'nothing to declare'),
    (dict(scheduler='equal_share', shutdown_timeout=-1), 'shutdown_timeout must be 0 or more'),
])
def test_check_request_refuses(given, words):
    with pytest.raises(vgpu_apply.VgpuFailure, match=words):
        vgpu_apply.check_request(params(**given))


def test_resolve_type_by_name_or_id():
    assert vgpu_apply.resolve_type(TYPES, 'nvidia a100-8c') == 472
    assert vgpu_apply.resolve_type(TYPES, '471') == 471
    with pytest.raises(vgpu_apply.VgpuFailure, match='supported types: NVIDIA A100-4C, NVIDIA A100-8C'):
        vgpu_apply.resolve_type(TYPES, 'NVIDIA A100-99C')


def test_refused_retype_is_undone_and_reported(sysfs):
    """The driver refuses 8C next to another VM's 4C: the old vGPU comes back under its UUID."""
    mine, other = str(uuid.uuid4()), str(uuid.uuid4())
    sysfs.create_mdev(A100, 471, mine)
    sysfs.create_mdev(A100, 471, other)
    host = vgpu_apply.Host(sysfs, 'mdev', A100, TYPES)
    plan = vgpu_changes.plan([vgpu_changes.slot(mine, 'mdev', 471, True, False)], 'present', 472)
    journal = Journal()
    with pytest.raises(PartialApplyError) as err:
        for step in vgpu_apply.vgpu_steps(host, FakeDomain(), plan, 472, None):
            journal.run(*step)
    assert sorted((m['uuid'], m['type_id']) for m in sysfs.mdevs(A100)) == sorted([(mine, 471), (other, 471)])
    failure = vgpu_apply.rollback_failure(err.value)
    assert str(failure).startswith('creating vGPU %s (NVIDIA A100-8C) failed: ' % mine)
    assert str(failure).endswith('everything done before it was undone')
    assert failure.facts == {'rolled_back': ['removing vGPU %s' % mine]}


def test_new_vgpu_is_created_then_attached_to_the_config(sysfs):
    host = vgpu_apply.Host(sysfs, 'mdev', A100, TYPES)
    dom = FakeDomain()
    plan = vgpu_changes.plan([], 'present', 471)
    new = vgpu_changes.slot(str(uuid.uuid4()), 'mdev', 471, True, False)
    steps = vgpu_apply.vgpu_steps(host, dom, plan, 471, new)
    assert [s.description for s in steps] == ['creating vGPU %s (NVIDIA A100-4C)' % new['id'],
                                              'attaching %s to the config of web01' % new['id']]
    for step in steps:
        step.do()
    assert sysfs.mdevs(A100) == [{'uuid': new['id'], 'type_id': 471}]
    assert [c[0] for c in dom.calls] == ['attach'] and new['id'] in dom.calls[0][1]
    assert vgpu_apply.vgpu_messages(host, dom, plan, 471, new) == [
        'created vGPU %s (NVIDIA A100-4C) and added it to the config of web01' % new['id']]


def test_incomplete_rollback_names_each_failed_undo():
    exc = PartialApplyError('starting web01 again after the change', 'boot failed', ['removing vGPU x'],
                            [('shutting web01 down', 'no start')])
    failure = vgpu_apply.rollback_failure(exc)
    assert str(failure) == ('starting web01 again after the change failed: boot failed; rollback also failed: '
                            'undo of shutting web01 down failed: no start')
