#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: shm_channel
short_description: The ivshmem channel between a domain's guest profiler and the host
version_added: 0.1.0
description:
  - Ensures a domain's persistent configuration has (or lacks) an C(ivshmem-plain)
    C(<shmem>) device, the shared memory the guest profiler writes its samples to.
  - The device is changed in the persistent configuration only. When the domain
    is running a change takes effect at its next boot, and the result says so with
    RV(reboot_required).
  - Prepares the host side of the region, C(/dev/shm/<shm_name>), while the domain
    is not running - right size, owner and mode, and cleared, so the host never
    reads samples left over from an earlier run (QEMU reuses an existing file with
    its contents). A running domain's region is never touched.
  - The device is a migratable one (C(role=master)), so QEMU carries the region's
    contents with the guest through live migration, C(virsh save)/C(restore) and
    C(managedsave), and the profiler keeps writing where it was. A device left without
    a role (QEMU's C(peer) mode, the default and what earlier releases wrote) blocks
    every migration and save of the domain ("Migration is disabled when using feature
    'peer mode'"); this module turns it into C(master), effective at the next boot.
author:
  - adaptive.intravm contributors (@adaptive-intravm)
options:
  shm_name:
    description:
      - Name of the shared memory object; the host file is C(/dev/shm/<shm_name>).
      - Letters, digits, C(.), C(_) and C(-) only. Defaults to C(intravm-<name>).
    type: str
  size_mib:
    description:
      - Region size in MiB; a power of two (ivshmem requires it), 1 to 1024.
    type: int
    default: 4
  state:
    description:
      - C(present) to have the device and a prepared region, C(absent) to remove both
        (the region only when the domain is not running).
    type: str
    choices: [present, absent]
    default: present
  prepare_region:
    description:
      - Whether to create, size, chown and clear the host region when the domain is not running.
    type: bool
    default: true
  region_owner:
    description:
      - Owner of the region file; QEMU must be able to write it (the C(user) of libvirt's qemu.conf).
    type: str
    default: libvirt-qemu
  region_group:
    description:
      - Group of the region file; defaults to the owner's primary group.
    type: str
  region_mode:
    description:
      - Mode of the region file, octal.
    type: str
    default: '0600'
extends_documentation_fragment:
  - adaptive.intravm.attributes.ACTION
  - adaptive.intravm.libvirt
  - adaptive.intravm.libvirt.DOMAIN
notes:
  - The region is prepared on the machine the module runs on, so use a local O(uri) (or run the module on the hypervisor).
  - On a migration the destination QEMU creates C(/dev/shm/<shm_name>) itself and fills it
    with the source's contents; the destination needs no preparation, but a stale file there
    that C(libvirt-qemu) cannot write makes the incoming domain fail to start (remove it, or
    run this module there with the domain absent). The host predictor on the destination starts
    that VM's model afresh (checkpoints stay on the source host).
  - The guest side is the role M(adaptive.intravm.guest_profiler); the host reads the
    region with C(plugins/module_utils/channel/shm_reader.py).
seealso:
  - module: adaptive.intravm.topology_info
'''

EXAMPLES = r'''
- name: Give web01 a 4 MiB profiler channel (effective at its next boot)
  adaptive.intravm.shm_channel:
    name: web01
  register: chan

- name: Tell the operator when a reboot is needed
  ansible.builtin.debug:
    msg: "{{ chan.msg }}"
  when: chan.reboot_required

- name: Remove the channel
  adaptive.intravm.shm_channel:
    name: web01
    state: absent
'''

RETURN = r'''
device:
  description: The C(<shmem>) device in the persistent configuration after the run, or null.
  returned: always
  type: dict
  sample: {"name": "intravm-web01", "model": "ivshmem-plain", "size_mib": 4, "role": "master"}
region:
  description: The host region after the run.
  returned: always
  type: dict
  sample: {"path": "/dev/shm/intravm-web01", "exists": true, "size": 4194304, "owner": "libvirt-qemu",
           "group": "kvm", "mode": "0600", "clear": true}
reboot_required:
  description: True when the running domain does not have the configured device yet (it takes effect at the next boot).
  returned: always
  type: bool
msg:
  description: What happened, in words.
  returned: always
  type: str
'''

import errno
import grp
import os
import pwd
import re
import tempfile
import xml.etree.ElementTree as ET

from ansible_collections.adaptive.intravm.plugins.module_utils.apply.rollback import Journal
from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError, reported
from ansible_collections.adaptive.intravm.plugins.module_utils.host import libvirt_conn
from ansible_collections.adaptive.intravm.plugins.module_utils.host.capabilities import owner_names
from ansible_collections.adaptive.intravm.plugins.module_utils.module_base import LIBVIRT, IntravmModule
from ansible_collections.adaptive.intravm.plugins.module_utils.regular_file import NotRegularFile, open_regular

SHM_DIR = '/dev/shm'
NAME_RE = re.compile(r'^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,127}$')
OCTAL_MODE_RE = re.compile(r'(0o)?[0-7]{1,4}\Z')
UNIT_MIB = {'b': 1.0 / (1 << 20), 'bytes': 1.0 / (1 << 20), 'k': 1.0 / 1024, 'kib': 1.0 / 1024,
            'm': 1, 'mib': 1, 'g': 1024, 'gib': 1024}


class ChannelError(IntravmError):
    """Bad input or a failed change, described for an operator."""


def validate(params):
    """Checked parameters (shm_name filled in, mode as int), or ChannelError naming the bad value."""
    shm_name = params['shm_name'] or 'intravm-%s' % params['name']
    if not NAME_RE.match(shm_name) or shm_name in ('.', '..'):
        raise ChannelError('shm_name %r is not a valid shared memory name (letters, digits, ".", "_", "-")' % shm_name)
    size = params['size_mib']
    if size < 1 or size > 1024 or size & (size - 1):
        raise ChannelError('size_mib %r must be a power of two between 1 and 1024' % size)
    # ASCII octal digits only: int(text, 8) also takes "\u0666\u0660\u0660" and "6_00"
    text = params['region_mode'].strip(' \t\r\n')
    mode = int(text, 8) if OCTAL_MODE_RE.match(text) else -1
    if not 0 <= mode <= 0o777:
        raise ChannelError('region_mode %r is not an octal file mode' % params['region_mode'])
    try:
        owner = pwd.getpwnam(params['region_owner'])
    except KeyError:
        raise ChannelError('region_owner %r is not a user on this host' % params['region_owner'])
    group = params['region_group']
    if group:
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            raise ChannelError('region_group %r is not a group on this host' % group)
    else:
        gid = owner.pw_gid
    return {'shm_name': shm_name, 'size_mib': size, 'mode': mode, 'uid': owner.pw_uid, 'gid': gid}


def find_shmem(root, shm_name):
    """The <shmem name=shm_name> element under <devices>, or None."""
    for elem in root.findall('./devices/shmem'):
        if elem.get('name') == shm_name:
            return elem
    return None


def describe_shmem(elem):
    """{'name', 'model', 'size_mib'} of a <shmem> element (None for none)."""
    if elem is None:
        return None
    model = elem.find('model')
    size = elem.find('size')
    size_mib = None
    if size is not None and size.text:
        unit = (size.get('unit') or 'b').lower()
        size_mib = int(round(int(size.text) * UNIT_MIB.get(unit, 1.0 / (1 << 20))))
    return {'name': elem.get('name'), 'model': model.get('type') if model is not None else None, 'size_mib': size_mib,
            'role': elem.get('role') or 'peer'}


def shmem_element(shm_name, size_mib):
    # role='master': QEMU migrates the region's contents with the guest. Without a
    # role (peer), QEMU refuses to migrate or save the domain at all.
    elem = ET.Element('shmem', name=shm_name, role='master')
    ET.SubElement(elem, 'model', type='ivshmem-plain')
    size = ET.SubElement(elem, 'size', unit='M')
    size.text = str(size_mib)
    return elem


def desired_xml(xml, shm_name, size_mib, present):
    """(new persistent XML or None when nothing changes, device after). Pure."""
    root = ET.fromstring(xml)
    current = find_shmem(root, shm_name)
    want = {'name': shm_name, 'model': 'ivshmem-plain', 'size_mib': size_mib, 'role': 'master'} if present else None
    if describe_shmem(current) == want:
        return None, want
    devices = root.find('devices')
    if devices is None:
        devices = ET.SubElement(root, 'devices')
    if current is not None:
        devices.remove(current)
    if present:
        devices.append(shmem_element(shm_name, size_mib))
    return ET.tostring(root, encoding='unicode'), want


def region_state(path):
    """What the region file is now: existence, size, owner, mode, whether all zero.

    Anyone may create files in /dev/shm: a FIFO or link planted at the path is
    refused (ChannelError), never opened in a way that blocks or follows it.
    """
    try:
        fd, st = open_regular(path)
    except NotRegularFile as exc:
        raise ChannelError('%s: remove it before the domain starts' % exc)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return {'path': path, 'exists': False}
        raise ChannelError('cannot read the region %s: %s' % (path, exc.strerror))
    with os.fdopen(fd, 'rb') as handle:
        clear = True
        while True:
            chunk = handle.read(1 << 20)
            if not chunk:
                break
            if chunk.count(b'\x00') != len(chunk):
                clear = False
                break
    return {'path': path, 'exists': True, 'size': st.st_size, 'uid': st.st_uid, 'gid': st.st_gid,
            'mode': '%04o' % (st.st_mode & 0o777), 'clear': clear}


def describe_region(state):
    out = dict(state)
    if 'uid' in out:
        out['owner'], out['group'] = owner_names(out['uid'], out['gid'])
    return out


def region_wanted(path, spec):
    return {'path': path, 'exists': True, 'size': spec['size_mib'] << 20, 'uid': spec['uid'], 'gid': spec['gid'],
            'mode': '%04o' % spec['mode'], 'clear': True}


def prepare_region(path, spec):
    """Create or reset the region: zero-filled, sized, owned, moded. No partial file is left visible.

    The new file gets a fresh random name (mkstemp: O_EXCL, no link followed), so
    nobody who pre-created a file in /dev/shm holds it open.
    """
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), dir=os.path.dirname(path))
    try:
        try:
            os.ftruncate(fd, spec['size_mib'] << 20)
            os.fchown(fd, spec['uid'], spec['gid'])
            os.fchmod(fd, spec['mode'])
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def run(module):
    params = module.params
    spec = validate(params)
    present = params['state'] == 'present'
    path = os.path.join(SHM_DIR, spec['shm_name'])
    conn = module.connect()
    dom = libvirt_conn.lookup_domain(conn, params['name'])
    active = bool(dom.isActive())
    persistent_xml = dom.XMLDesc(libvirt_conn.XML_INACTIVE)
    new_xml, device_after = desired_xml(persistent_xml, spec['shm_name'], spec['size_mib'], present)
    device_before = describe_shmem(find_shmem(ET.fromstring(persistent_xml), spec['shm_name']))
    live_device = describe_shmem(find_shmem(ET.fromstring(dom.XMLDesc(0)), spec['shm_name'])) if active else None

    region_before = region_state(path)
    if not params['prepare_region'] or active:
        region_after = region_before
    elif present:
        region_after = region_wanted(path, spec)
    else:
        region_after = {'path': path, 'exists': False}
    region_change = region_after != region_before

    changed = new_xml is not None or region_change
    if changed and not module.check_mode:
        # The region comes last: if it cannot be prepared, the persistent XML goes back.
        journal = Journal(describe_error=libvirt_conn.error_text)
        if new_xml is not None:
            journal.run('define the shmem device %r' % spec['shm_name'],
                        lambda: conn.defineXML(new_xml), lambda: conn.defineXML(persistent_xml))
        if region_change:
            change = (lambda: prepare_region(path, spec)) if present else (lambda: os.unlink(path))
            journal.run('%s region %s' % ('prepare' if present else 'remove', path), change, lambda: None)
            region_after = region_state(path)
    reboot_required = active and live_device != device_after
    parts = []
    if new_xml is not None:
        parts.append('%s the shmem device %r in the persistent configuration'
                     % ('set' if present else 'removed', spec['shm_name']))
    if region_change:
        parts.append('%s region %s' % ('prepared (sized, owned, cleared)' if present else 'removed', path))
    if active and params['prepare_region']:
        parts.append('domain is running: region %s left as it is' % path)
    if reboot_required:
        parts.append('the running domain gets this at its next boot (cold plug)')
    return {
        'changed': changed,
        'device': device_after,
        'region': describe_region(region_after),
        'reboot_required': reboot_required,
        'msg': '; '.join(parts) or 'nothing to change',
        'diff': {'before': {'device': device_before, 'region': describe_region(region_before)},
                 'after': {'device': device_after, 'region': describe_region(region_after)}},
    }


def main():
    module = IntravmModule(
        domain=True,
        argument_spec=dict(
            shm_name=dict(type='str'),
            size_mib=dict(type='int', default=4),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            prepare_region=dict(type='bool', default=True),
            region_owner=dict(type='str', default='libvirt-qemu'),
            region_group=dict(type='str'),
            region_mode=dict(type='str', default='0600'),
        ),
        requires=[LIBVIRT],
    )
    module.run_and_exit(run, errors={OSError: reported('cannot prepare the region: ')})


if __name__ == '__main__':
    main()
