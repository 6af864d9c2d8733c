# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""shm_channel's pure parts: input validation and the persistent XML edit."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.adaptive.intravm.plugins.modules import shm_channel as mod

XML = """<domain type='qemu'><name>d</name><devices><disk type='file'/>%s</devices></domain>"""


def params(**kw):
    base = {'name': 'web01', 'shm_name': None, 'size_mib': 4, 'region_mode': '0600', 'region_owner': 'root',
            'region_group': None}
    base.update(kw)
    return base


def test_validate_defaults():
    spec = mod.validate(params())
    assert spec['shm_name'] == 'intravm-web01' and spec['mode'] == 0o600 and spec['uid'] == 0


@pytest.mark.parametrize('kw, text', [
    ({'shm_name': '../x'}, "'../x'"), ({'shm_name': 'a/b'}, "'a/b'"), ({'size_mib': 3}, 'size_mib 3'),
    ({'size_mib': 2048}, 'size_mib 2048'), ({'region_mode': '999'}, "'999'"),
    ({'region_mode': '\u0666\u0660\u0660'}, 'not an octal file mode'), ({'region_mode': '6_00'}, "'6_00'"),
    ({'region_mode': '600\u2003'}, 'not an octal file mode'),
    ({'region_owner': 'no-such-user-intravm'}, 'no-such-user-intravm'),
    ({'region_group': 'no-such-group-intravm'}, 'no-such-group-intravm'),
])
def test_validate_names_the_bad_value(kw, text):
    with pytest.raises(mod.ChannelError) as err:
        mod.validate(params(**kw))
    assert text in str(err.value)


def test_add_then_nothing_to_do():
    new, dev = mod.desired_xml(XML % '', 'ch', 4, True)
    assert dev == {'name': 'ch', 'model': 'ivshmem-plain', 'size_mib': 4, 'role': 'master'}
    assert mod.describe_shmem(mod.find_shmem(ET.fromstring(new), 'ch')) == dev
    assert ET.fromstring(new).find('devices/disk') is not None
    assert mod.desired_xml(new, 'ch', 4, True) == (None, dev)


def test_resize_other_units_and_remove():
    xml = XML % "<shmem name='ch' role='master'><model type='ivshmem-plain'/><size unit='KiB'>4096</size></shmem>"
    assert mod.describe_shmem(mod.find_shmem(ET.fromstring(xml), 'ch'))['size_mib'] == 4
    assert mod.desired_xml(xml, 'ch', 4, True)[0] is None
    new, _dev = mod.desired_xml(xml, 'ch', 8, True)
    assert len(ET.fromstring(new).findall('devices/shmem')) == 1
    gone, dev = mod.desired_xml(xml, 'ch', 4, False)
    assert dev is None and ET.fromstring(gone).find('devices/shmem') is None
    assert mod.desired_xml(gone, 'ch', 4, False) == (None, None)


def test_a_peer_device_of_an_earlier_release_becomes_migratable():
    """No role means peer, which QEMU refuses to migrate or save: the module makes it master."""
    xml = XML % "<shmem name='ch'><model type='ivshmem-plain'/><size unit='M'>4</size></shmem>"
    assert mod.describe_shmem(mod.find_shmem(ET.fromstring(xml), 'ch'))['role'] == 'peer'
    new, dev = mod.desired_xml(xml, 'ch', 4, True)
    assert ET.fromstring(new).find('devices/shmem').get('role') == 'master' and dev['role'] == 'master'
    assert mod.desired_xml(new, 'ch', 4, True)[0] is None


def test_other_shmem_devices_are_kept():
    xml = XML % "<shmem name='other'><model type='ivshmem-doorbell'/></shmem>"
    new, _dev = mod.desired_xml(xml, 'ch', 4, True)
    assert sorted(e.get('name') for e in ET.fromstring(new).findall('devices/shmem')) == ['ch', 'other']


def test_a_fifo_or_link_at_the_region_path_is_refused_without_blocking(tmp_path):
    """Anyone can create files in /dev/shm: the module must not hang on a FIFO or follow a link."""
    fifo = tmp_path / 'fifo'
    os.mkfifo(str(fifo))
    with pytest.raises(mod.ChannelError, match='not a regular file'):
        mod.region_state(str(fifo))
    link = tmp_path / 'link'
    os.symlink('/etc/passwd', str(link))
    with pytest.raises(mod.ChannelError, match='cannot read the region'):
        mod.region_state(str(link))
    assert mod.region_state(str(tmp_path / 'absent')) == {'path': str(tmp_path / 'absent'), 'exists': False}


def test_prepare_region_leaves_no_temporary_and_never_reuses_a_planted_file(tmp_path):
    path = str(tmp_path / 'intravm-web01')
    planted = tmp_path / 'intravm-web01.intravm-tmp'   # the fixed name an earlier release used
    planted.write_bytes(b'planted')
    spec = {'size_mib': 1, 'uid': os.getuid(), 'gid': os.getgid(), 'mode': 0o600}
    mod.prepare_region(path, spec)
    assert os.path.getsize(path) == 1 << 20 and planted.read_bytes() == b'planted'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['intravm-web01', 'intravm-web01.intravm-tmp']
