# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The placement hook against the real libvirtd.

A saved guest whose image pins vCPUs and the emulator to a CPU this host lacks
and binds its memory to a NUMA node it lacks (a placement planned on another
host) fails to restore; with the hook installed by the host_predictor role into
/etc/libvirt/hooks/qemu.d/, the same image restores, without those pins and
with the one this host can honour. libvirt looks for hooks when it starts and
on SIGHUP: the test reloads it (a restart would also close the connections that
other tests hold) and removes the hook afterwards.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

import libvirt
from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
HOOKS = '/etc/libvirt/hooks'
ENTRY = os.path.join(HOOKS, 'qemu.d', 'zz-intravm-placement')
PAUSED = libvirt.VIR_DOMAIN_SAVE_PAUSED
WAIT_S = 60

pytestmark = pytest.mark.libvirt


def online(kind):
    with open('/sys/devices/system/%s/online' % kind) as handle:
        return cpuset.parse(handle.read())


def reload_libvirtd():
    """SIGHUP: libvirtd looks for hooks again (virHookInitialize) and keeps its clients."""
    pid = subprocess.run(['pgrep', '-o', '-x', 'libvirtd'], stdout=subprocess.PIPE, check=True, timeout=10).stdout
    os.kill(int(pid), signal.SIGHUP)


def restore_until_it_works(conn, image):
    """Restore, retrying while libvirtd's reload (a thread of its own) has not found the hook yet."""
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            return conn.restoreFlags(image, None, PAUSED)
        except libvirt.libvirtError as exc:
            if time.monotonic() > deadline:
                raise AssertionError('no restore within %d s of the reload: %s' % (WAIT_S, exc))
        time.sleep(0.5)


def install_hook(tmp_path):
    """The role's own hook tasks (tasks_from: qemu_hook), with the code and log under tmp_path."""
    play = tmp_path / 'hook.yml'
    play.write_text('- hosts: localhost\n  gather_facts: false\n  tasks:\n    - ansible.builtin.include_role:\n'
                    '        name: adaptive.intravm.host_predictor\n        tasks_from: qemu_hook\n')
    extra = {'ansible_python_interpreter': sys.executable, 'host_predictor_prefix': str(tmp_path / 'opt'),
             'host_predictor_qemu_hook_log': str(tmp_path / 'hook.log')}
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.build', 'collections'), ANSIBLE_NOCOLOR='1')
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), str(play), '-i', 'localhost,', '-c', 'local',
                           '-e', json.dumps(extra)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert 'zz-intravm-placement is new' in proc.stdout, proc.stdout[-5000:]


@pytest.fixture
def no_hooks_yet():
    """This host's libvirt runs no qemu hook; whatever the test installs is gone afterwards."""
    if os.geteuid() != 0:
        pytest.skip('installs a libvirt hook: needs root')
    qemu_d = os.path.dirname(ENTRY)
    existing = [os.path.join(HOOKS, 'qemu')] + ([os.path.join(qemu_d, n) for n in os.listdir(qemu_d)] if os.path.isdir(qemu_d) else [])
    if [path for path in existing if os.path.lexists(path)]:
        pytest.skip('libvirt already has qemu hooks here (%s): not adding one beside them' % ', '.join(existing))
    had_dir = os.path.isdir(qemu_d)
    yield
    if os.path.lexists(ENTRY):
        os.remove(ENTRY)
    if not had_dir and os.path.isdir(qemu_d) and not os.listdir(qemu_d):
        os.rmdir(qemu_d)
    reload_libvirtd()  # with qemu.d empty a missed reload leaves nothing to run: libvirt lists qemu.d at every call


@pytest.mark.usefixtures('no_hooks_yet')
def test_restore_of_a_guest_pinned_elsewhere_fails_without_the_hook_and_works_with_it(libvirtd, make_domain, tmp_path):
    cpus, nodes = online('cpu'), online('node')
    absent_cpu, absent_node, here = max(cpus) + 1, max(nodes) + 1, min(cpus)
    dom = make_domain('hook', persistent=False, vcpus=2)
    name, image = dom.name(), str(tmp_path / 'guest.save')
    dom.save(image)
    saved = libvirtd.saveImageGetXMLDesc(image, libvirt.VIR_DOMAIN_SAVE_IMAGE_XML_SECURE)
    cputune = ("<cputune><vcpupin vcpu='0' cpuset='%d'/><vcpupin vcpu='1' cpuset='%d'/><emulatorpin cpuset='%d,%d'/></cputune>"
               % (absent_cpu, here, here, absent_cpu))
    numatune = "<numatune><memory mode='strict' nodeset='%d'/></numatune>" % absent_node

    # Without the hook: each kind of pin this host lacks stops the restore.
    for pins, error in ((cputune, 'cpuset|affinity|CPU'), (cputune + numatune, 'NUMA node %d is unavailable' % absent_node)):
        libvirtd.saveImageDefineXML(image, saved.replace('</vcpu>', '</vcpu>' + pins, 1), 0)
        with pytest.raises(libvirt.libvirtError, match=error):
            libvirtd.restoreFlags(image, None, PAUSED)

    install_hook(tmp_path)
    reload_libvirtd()
    assert restore_until_it_works(libvirtd, image) == 0

    restored = libvirtd.lookupByName(name)
    live = ET.fromstring(restored.XMLDesc(0))
    assert [(p.get('vcpu'), p.get('cpuset')) for p in live.findall('cputune/vcpupin')] == [('1', str(here))]
    assert live.find('cputune/emulatorpin') is None and live.find('numatune') is None
    cpumaps = restored.vcpuPinInfo(0)
    assert cpuset.from_cpumap(cpumaps[1]) == {here}, 'the pin this host can honour holds'
    assert cpuset.from_cpumap(cpumaps[0]) >= cpus, 'the vCPU whose pin went is free until the next rebalance'
    log = (tmp_path / 'hook.log').read_text()
    for dropped in ("cputune/vcpupin vcpu='0' cpuset='%d'" % absent_cpu,
                    "cputune/emulatorpin cpuset='%s'" % cpuset.format({here, absent_cpu}),
                    "numatune/memory mode='strict' nodeset='%d'" % absent_node):
        assert '%s restore: dropped <%s>' % (name, dropped) in log, log
