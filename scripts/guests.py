# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Define, boot and remove the tiny Debian guest (scripts/build-guest-image.sh) under libvirt.

Shared by `make demo` (scripts/demo.py) and the guest_profiler integration target
(tests/integration/targets/guest_profiler/files/tiny_guest.py). The disk is a sparse copy
of the baked image in the guest's work directory, so a run never changes the cache.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import json
import os
import shutil
import subprocess
import time

import libvirt
import libvirt_qemu

URI = 'qemu:///system'
# Where the guest init waits for the start time of its load (intravm.duty_t0=signal).
START_FILE = '/run/intravm-start'

DOMAIN_XML = """<domain type='{vt}'>
  <name>{name}</name>
  <memory unit='MiB'>{mem}</memory>
  <vcpu placement='static'{current}>{vcpus}</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{wd}/kernel</kernel><initrd>{wd}/initrd</initrd>
    <cmdline>{cmdline}</cmdline></os>{features}
  <on_poweroff>destroy</on_poweroff>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='raw' cache='unsafe'/>
      <source file='{wd}/disk.img'/><target dev='vda' bus='virtio'/></disk>
    <serial type='file'><source path='{wd}/console.log'/><target port='0'/></serial>
    <video><model type='none'/></video>{agent}
    {balloon}
  </devices>
</domain>"""


def virt_type():
    """'kvm' where the KVM module is loaded, else 'qemu' (TCG)."""
    for mod in ('kvm_intel', 'kvm_amd'):
        if os.path.exists('/sys/module/%s' % mod):
            return 'kvm'
    return 'qemu'


def load_manifest(path):
    with open(path) as handle:
        man = json.load(handle)
    if 'profiler_image' not in man:
        raise ValueError('%s has no profiler_image: build with scripts/build-guest-image.sh --profiler' % path)
    return man


def domain_xml(name, manifest, workdir, vcpus=2, memory_mib=256, cmdline_extra='', max_vcpus=None,
               balloon_period=None, agent=False):
    """The persistent definition: direct kernel boot of the work directory's copies.

    max_vcpus: room for vCPU hotplug (with ACPI, which hotplug and unplug need);
    balloon_period: a virtio balloon whose statistics the guest refreshes every so
    many seconds; agent: the QEMU guest agent's virtio-serial channel.
    """
    cmdline = ('%s %s' % (manifest['cmdline'], cmdline_extra)).strip()
    current = " current='%d'" % vcpus if max_vcpus else ''
    features = '\n  <features><acpi/><apic/></features>' if max_vcpus else ''
    balloon = ("<memballoon model='virtio'><stats period='%d'/></memballoon>" % balloon_period
               if balloon_period else "<memballoon model='none'/>")
    channel = ("\n    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
               if agent else '')
    return DOMAIN_XML.format(vt=virt_type(), name=name, mem=memory_mib, vcpus=max_vcpus or vcpus, wd=workdir,
                             cmdline=cmdline, current=current, features=features, balloon=balloon, agent=channel)


def define(conn, name, manifest, workdir, vcpus=2, memory_mib=256, cmdline_extra='', **devices):
    """Copy disk, kernel and initrd into workdir and define the domain (not started)."""
    os.makedirs(workdir, exist_ok=True)
    os.chmod(workdir, 0o755)
    subprocess.run(['cp', '--sparse=always', manifest['profiler_image'], os.path.join(workdir, 'disk.img')], check=True)
    for part in ('kernel', 'initrd'):
        shutil.copy(manifest[part], os.path.join(workdir, part))
    return conn.defineXML(domain_xml(name, manifest, workdir, vcpus, memory_mib, cmdline_extra, **devices))


def start(conn, name):
    conn.lookupByName(name).create()


def agent(dom, command, arguments=None, timeout=5):
    """One QEMU guest agent command through libvirt; its 'return' value."""
    text = libvirt_qemu.qemuAgentCommand(dom, json.dumps({'execute': command, 'arguments': arguments or {}}), timeout, 0)
    return json.loads(text)['return']


def wait_for_agents(conn, names, seconds):
    """Wait until every guest's agent answers, i.e. the guest has booted; {name: seconds it took}."""
    started = time.monotonic()
    took = {}
    for name in names:
        dom = conn.lookupByName(name)
        while True:
            try:
                agent(dom, 'guest-ping', timeout=2)
                break
            except libvirt.libvirtError:
                if not dom.isActive():
                    raise RuntimeError('%s stopped while booting: %s' % (name, qemu_log_tail(name)))
                if time.monotonic() - started > seconds:
                    raise RuntimeError('the guest agent of %s did not answer within %d s of boot' % (name, seconds))
                time.sleep(0.5)
        took[name] = round(time.monotonic() - started, 1)
    return took


def qemu_log_tail(name, lines=2):
    """The last lines of libvirt's QEMU log of a domain (why it stopped), or a note that there is none."""
    try:
        with open('/var/log/libvirt/qemu/%s.log' % name, errors='replace') as handle:
            return ' | '.join(line.strip() for line in handle.readlines()[-lines:])
    except OSError as exc:
        return 'no QEMU log (%s)' % exc


def signal_start(conn, name, t0):
    """Tell a booted guest (intravm.duty_t0=signal) to start its load at wall-clock time t0, through its agent."""
    dom = conn.lookupByName(name)
    handle = agent(dom, 'guest-file-open', {'path': START_FILE, 'mode': 'w'})
    try:
        agent(dom, 'guest-file-write', {'handle': handle, 'buf-b64': base64.b64encode(b'%.3f' % t0).decode()})
    finally:
        agent(dom, 'guest-file-close', {'handle': handle})


def poll_until(reader, count, seconds):
    """At least `count` samples from a RingReader, or what came within `seconds`."""
    samples = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(samples) < count:
        samples.extend(reader.poll())
        time.sleep(0.2)
    return samples


def destroy(conn, name, workdir=None, shm=None):
    """Stop and undefine the domain, remove its work directory and shared-memory region; never raises
    for what is already gone, so it is safe in cleanup paths."""
    try:
        dom = conn.lookupByName(name)
        if dom.isActive():
            dom.destroy()
        dom.undefine()
    except libvirt.libvirtError:
        pass
    if workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    if shm and os.path.exists('/dev/shm/' + shm):
        os.unlink('/dev/shm/' + shm)
