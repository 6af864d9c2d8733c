# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Throwaway libvirt domains for tests, as a library and as a CLI.

Domains boot nothing, so they are started paused (a running empty domain
spins a core at 100 %). Names start with TEST_PREFIX so a later run can sweep
what a killed run left behind.

CLI (used by integration targets through ansible-playbook):
    python libvirt_harness.py create NAME [--vcpus N] [--max-vcpus M] [--iothreads N] [--cells N]
    python libvirt_harness.py destroy NAME
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import os
import re
import sys
import uuid

import libvirt

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

SYSTEM_URI = 'qemu:///system'
# libvirt's built-in test driver: a 2-node host with 8 CPUs per node. Custom
# test:///path host files get no NUMA cells from libvirt 9.0's test driver,
# so the default one is the multi-node host we plan against.
MULTI_NODE_URI = 'test:///default'
TEST_PREFIX = 'intravm-test-'
START_PAUSED = 1  # VIR_DOMAIN_START_PAUSED


class Reconnecting(object):
    """A libvirt connection that can be reopened after a test restarted the daemon on purpose.

    The fault suite and the hook test restart libvirtd and then call reconnect();
    every other test goes on through the same session fixture.
    """

    def __init__(self, uri):
        self.uri = uri
        self._conn = libvirt.open(uri)

    def reconnect(self):
        try:
            self._conn.close()
        except libvirt.libvirtError:
            pass
        self._conn = libvirt.open(self.uri)

    def __getattr__(self, name):
        return getattr(self._conn, name)


def virt_type():
    """kvm only with real hardware virtualisation; /dev/kvm alone may be kvm_pvm."""
    for mod in ('kvm_intel', 'kvm_amd'):
        if os.path.exists('/sys/module/%s' % mod):
            return 'kvm'
    return 'qemu'


def unique_name(label='dom'):
    """Name that records the creating test process, so sweep() can tell orphans."""
    return '%s%s-p%d-%s' % (TEST_PREFIX, label, os.getpid(), uuid.uuid4().hex[:6])


def _owner_pid(name):
    match = re.match(r'^%s.*-p(\d+)-[0-9a-f]{6}$' % re.escape(TEST_PREFIX), name)
    return int(match.group(1)) if match else None


def domain_xml(name, vcpus=2, iothreads=0, memory_mib=64, cells=0, devices='', max_vcpus=None):
    """A minimal QEMU domain: no disk, no display, optional guest NUMA cells.

    max_vcpus: room to hot-plug vCPUs up to it (with the ACPI that hotplug needs).
    """
    numa = ''
    if cells:
        per_cell = max(1, vcpus // cells)
        numa = '<cpu><numa>%s</numa></cpu>' % ''.join(
            "<cell id='%d' cpus='%d-%d' memory='%d' unit='MiB'/>"
            % (i, i * per_cell, (i + 1) * per_cell - 1, memory_mib // cells) for i in range(cells))
    return """<domain type='{vt}'>
  <name>{name}</name>
  <memory unit='MiB'>{mem}</memory>
  <vcpu placement='static'{current}>{vcpus}</vcpu>
  {iothreads}
  {numa}
  <os><type arch='x86_64' machine='pc'>hvm</type></os>{features}
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <video><model type='none'/></video>
    <memballoon model='none'/>
    {devices}
  </devices>
</domain>""".format(vt=virt_type(), name=name, mem=memory_mib, vcpus=max_vcpus or vcpus, numa=numa,
                    current=" current='%d'" % vcpus if max_vcpus else '',
                    features='<features><acpi/></features>' if max_vcpus else '',
                    iothreads='<iothreads>%d</iothreads>' % iothreads if iothreads else '',
                    devices=devices)


def test_driver_xml(name, vcpus=2, iothreads=0, cells=0):
    """A domain for the test:/// driver (no emulator, no devices), optional guest NUMA cells."""
    numa = ''
    if cells:
        numa = '<cpu><numa>%s</numa></cpu>' % ''.join(
            "<cell id='%d' cpus='%d' memory='32' unit='MiB'/>" % (i, i) for i in range(cells))
    return """<domain type='test'><name>{name}</name><memory unit='MiB'>64</memory>
  <vcpu placement='static'>{vcpus}</vcpu>{io}{numa}<os><type>hvm</type></os></domain>""".format(
        name=name, vcpus=vcpus, numa=numa, io='<iothreads>%d</iothreads>' % iothreads if iothreads else '')


def create(conn, xml, persistent=True, start=True):
    """Define (persistent) or create (transient) a domain, started paused."""
    if persistent:
        dom = conn.defineXML(xml)
        if start:
            dom.createWithFlags(START_PAUSED if conn.getType() != 'TEST' else 0)
        return dom
    return conn.createXML(xml, START_PAUSED)


def pin_vcpus(dom, cpus):
    """Pin every vCPU of a running domain to the host CPUs `cpus`, live and in its persistent config."""
    host_cpus = dom.connect().getCPUMap()[0]
    cpumap = tuple(i in cpus for i in range(host_cpus))
    for vcpu in range(dom.info()[3]):
        for flags in (0, 2):    # VIR_DOMAIN_AFFECT_CURRENT (live, as it runs), VIR_DOMAIN_AFFECT_CONFIG
            dom.pinVcpuFlags(vcpu, cpumap, flags)


def remove(conn, name):
    """Destroy and undefine a domain if it exists; never raises for a missing one."""
    try:
        dom = conn.lookupByName(name)
    except libvirt.libvirtError:
        return
    persistent = dom.isPersistent()  # a transient domain is gone once destroyed
    if dom.isActive():
        dom.destroy()
    if persistent:
        dom.undefine()


def sweep(conn):
    """Remove domains left by killed test processes (never those of live runs)."""
    for dom in conn.listAllDomains():
        pid = _owner_pid(dom.name())
        if pid is not None and not os.path.exists('/proc/%d' % pid):
            remove(conn, dom.name())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('action', choices=['create', 'destroy'])
    parser.add_argument('name')
    parser.add_argument('--uri', default=SYSTEM_URI)
    parser.add_argument('--vcpus', type=int, default=2)
    parser.add_argument('--max-vcpus', type=int, help='room to hot-plug vCPUs up to this many')
    parser.add_argument('--iothreads', type=int, default=0)
    parser.add_argument('--cells', type=int, default=0)
    parser.add_argument('--memory-mib', type=int, default=64)
    parser.add_argument('--stopped', action='store_true', help='define only, do not start')
    args = parser.parse_args(argv)
    conn = libvirt.open(args.uri)
    try:
        if args.action == 'destroy':
            remove(conn, args.name)
        elif conn.getType() == 'TEST':
            create(conn, test_driver_xml(args.name, args.vcpus, args.iothreads), start=not args.stopped)
        else:
            create(conn, domain_xml(args.name, args.vcpus, args.iothreads, args.memory_mib, args.cells,
                                    max_vcpus=args.max_vcpus), start=not args.stopped)
    finally:
        conn.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
