# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fake SR-IOV host: a sysfs tree on disk plus the NIC state the fake netlink reads.

Follows the kernel's SR-IOV sysfs ABI (Documentation/ABI/testing/sysfs-bus-pci,
Documentation/PCI/pci-iov-howto.rst). A "world" is a directory:

    WORLD/sys/...          the sysfs tree (what a module's sysfs_root points at)
    WORLD/netlink.json     per-PF/VF state the kernel keeps (rates, MACs, counters)

The tree has the kernel's shape: class/net/PF -> devices/.../PF_PCI/net/PF,
PF_PCI/{sriov_totalvfs,sriov_numvfs,virtfnN,driver}, VF_PCI/physfn, and
bus/pci/devices/<addr> links. Writes go through SriovWorld.write(), which
does what the kernel's sriov_numvfs store does (ERANGE, EBUSY, EINVAL,
creating and removing VFs); a plain file write cannot raise, so that is the
only faithful way to make a write react. set_link_speed() models a link
renegotiation (ixgbe then silently drops all VF rates, see fake_iproute).

State lives on disk so separate ansible-playbook module runs see what
earlier runs left, as on real hardware.

CLI (for integration targets):
    python fake_sriov_sysfs.py create WORLD --pf ens1f0:ixgbe:8:10000 [--pf NAME:DRIVER:TOTAL:SPEED[:nosetrate]]
    python fake_sriov_sysfs.py numvfs WORLD PF N
    python fake_sriov_sysfs.py speed WORLD PF MBPS
    python fake_sriov_sysfs.py traffic WORLD PF VF RX_BYTES TX_BYTES
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import errno
import importlib.util
import json
import os
import sys

STATE_FILE = 'netlink.json'
PCI_ROOT = 'pci0000:00'
WORLD_ENV = 'ADAPTIVE_INTRAVM_FAKE_SRIOV_WORLD'


def _kernel_module():
    """fake_iproute, loaded by path (this file also runs as a script)."""
    spec = importlib.util.spec_from_file_location(
        'intravm_fake_iproute', os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fake_iproute.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SriovWorld(object):
    """Builder and kernel-side behaviour of one fake SR-IOV host."""

    def __init__(self, world):
        self.world = os.path.abspath(world)
        self.sys = os.path.join(self.world, 'sys')
        self.state_path = os.path.join(self.world, STATE_FILE)

    # ------------------------------------------------------------ state
    def load(self):
        with open(self.state_path) as handle:
            return json.load(handle)

    def save(self, state):
        tmp = self.state_path + '.tmp'
        with open(tmp, 'w') as handle:
            json.dump(state, handle, indent=1, sort_keys=True)
        os.rename(tmp, self.state_path)

    def _init(self):
        if not os.path.exists(self.state_path):
            os.makedirs(os.path.join(self.sys, 'class', 'net'), exist_ok=True)
            os.makedirs(os.path.join(self.sys, 'bus', 'pci', 'devices'), exist_ok=True)
            os.makedirs(os.path.join(self.sys, 'devices', PCI_ROOT), exist_ok=True)
            self.save({'sysfs_root': self.sys, 'links': {'1': {'ifname': 'lo', 'index': 1, 'pf': None}}, 'next_index': 2})
        return self.load()

    # ------------------------------------------------------------ paths
    def _dev(self, pci):
        return os.path.join(self.sys, 'devices', PCI_ROOT, pci)

    @staticmethod
    def _link(target, name):
        if os.path.islink(name):
            os.unlink(name)
        os.symlink(target, name)

    @staticmethod
    def _write_file(path, text):
        with open(path, 'w') as handle:
            handle.write(text + '\n')

    def _bus_link(self, pci):
        self._link(os.path.join('..', '..', '..', 'devices', PCI_ROOT, pci),
                   os.path.join(self.sys, 'bus', 'pci', 'devices', pci))

    def _driver_link(self, pci, driver):
        drv_dir = os.path.join(self.sys, 'bus', 'pci', 'drivers', driver)
        os.makedirs(drv_dir, exist_ok=True)
        self._link(os.path.join('..', '..', 'bus', 'pci', 'drivers', driver), os.path.join(self._dev(pci), 'driver'))

    @staticmethod
    def vf_pci(pf_pci, vf):
        """VF n sits at devfn 0x80 + PF function + 2n on the PF's bus (ixgbe's offset/stride)."""
        head, func = pf_pci.rsplit('.', 1)
        prefix = head.rsplit(':', 1)[0]
        devfn = 0x80 + int(func, 16) + 2 * vf
        return '%s:%02x.%x' % (prefix, devfn >> 3, devfn & 7)

    # ---------------------------------------------------------- builders
    def add_pf(self, ifname, driver='mlx5_core', total_vfs=8, speed=10000, pci=None,
               set_vf_rate=True, get_vf_config=True, link_up=True):
        """A PF netdev with SR-IOV capability (no VFs enabled yet)."""
        state = self._init()
        index = state['next_index']
        state['next_index'] = index + 1
        pci = pci or '0000:%02x:00.0' % (2 + index)
        dev = self._dev(pci)
        os.makedirs(os.path.join(dev, 'net', ifname))
        self._write_file(os.path.join(dev, 'sriov_totalvfs'), str(total_vfs))
        self._write_file(os.path.join(dev, 'sriov_numvfs'), '0')
        self._driver_link(pci, driver)
        self._bus_link(pci)
        net = os.path.join(dev, 'net', ifname)
        self._write_file(os.path.join(net, 'ifindex'), str(index))
        self._write_file(os.path.join(net, 'speed'), str(speed if link_up else -1))
        self._link(os.path.join('..', '..', '..', pci), os.path.join(net, 'device'))
        self._link(os.path.join('..', '..', 'devices', PCI_ROOT, pci, 'net', ifname),
                   os.path.join(self.sys, 'class', 'net', ifname))
        state['links'][str(index)] = {
            'ifname': ifname, 'index': index, 'mac': '02:00:00:00:%02x:00' % index,
            'pf': {'pci': pci, 'driver': driver, 'total_vfs': total_vfs, 'set_vf_rate': set_vf_rate,
                   'get_vf_config': get_vf_config, 'vf_rate_link_speed': 0, 'vfs': []},
        }
        self.save(state)
        return index

    def add_plain_nic(self, ifname, driver='virtio_net', speed=-1):
        """A netdev without SR-IOV (no sriov_totalvfs), like a virtio NIC."""
        state = self._init()
        index = state['next_index']
        state['next_index'] = index + 1
        pci = '0000:00:%02x.0' % (2 + index)
        dev = self._dev(pci)
        os.makedirs(os.path.join(dev, 'net', ifname))
        self._driver_link(pci, driver)
        self._bus_link(pci)
        net = os.path.join(dev, 'net', ifname)
        self._write_file(os.path.join(net, 'speed'), str(speed))
        self._link(os.path.join('..', '..', '..', pci), os.path.join(net, 'device'))
        self._link(os.path.join('..', '..', 'devices', PCI_ROOT, pci, 'net', ifname),
                   os.path.join(self.sys, 'class', 'net', ifname))
        state['links'][str(index)] = {'ifname': ifname, 'index': index, 'mac': '02:00:00:00:%02x:00' % index, 'pf': None}
        self.save(state)
        return index

    # ------------------------------------------------------ kernel side
    def pf_entry(self, state, ifname):
        for link in state['links'].values():
            if link['ifname'] == ifname and link['pf'] is not None:
                return link
        raise KeyError('no fake PF %r' % ifname)

    def write(self, path, text):
        """Store text into a sysfs attribute as the kernel would, raising its OSError.

        Only sriov_numvfs is writable here (as for us on real hardware).
        """
        path = os.path.abspath(path)
        if os.path.basename(path) != 'sriov_numvfs':
            raise OSError(errno.EACCES, os.strerror(errno.EACCES), path)
        pf_pci = os.path.basename(os.path.dirname(os.path.realpath(path)))
        state = self.load()
        link = [lk for lk in state['links'].values() if lk['pf'] and lk['pf']['pci'] == pf_pci]
        if not link:
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), path)
        link = link[0]
        pf = link['pf']
        try:
            num = int(str(text).strip(), 0)
            if num < 0 or num > 0xffff:
                raise ValueError(num)
        except ValueError:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), path)
        if num > pf['total_vfs']:
            raise OSError(errno.ERANGE, os.strerror(errno.ERANGE), path)
        current = len(pf['vfs'])
        if num == current:
            return
        if num and current:
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), path)
        dev = self._dev(pf_pci)
        if num == 0:
            for vf in range(current):
                vf_pci = self.vf_pci(pf_pci, vf)
                os.unlink(os.path.join(dev, 'virtfn%d' % vf))
                os.unlink(os.path.join(self.sys, 'bus', 'pci', 'devices', vf_pci))
                vf_dev = self._dev(vf_pci)
                for name in os.listdir(vf_dev):
                    os.unlink(os.path.join(vf_dev, name))
                os.rmdir(vf_dev)
            pf['vfs'] = []
            pf['vf_rate_link_speed'] = 0
        else:
            for vf in range(num):
                vf_pci = self.vf_pci(pf_pci, vf)
                os.makedirs(self._dev(vf_pci))
                self._link(os.path.join('..', pf_pci), os.path.join(self._dev(vf_pci), 'physfn'))
                self._link(os.path.join('..', vf_pci), os.path.join(dev, 'virtfn%d' % vf))
                self._bus_link(vf_pci)
                self._driver_link(vf_pci, 'vfio-pci')
                pf['vfs'].append({'vf': vf, 'mac': '02:00:%02x:00:00:%02x' % (link['index'], vf),
                                  'min_tx_rate': 0, 'max_tx_rate': 0, 'rx_bytes': 0, 'tx_bytes': 0,
                                  'rx_packets': 0, 'tx_packets': 0})
        self._write_file(os.path.join(dev, 'sriov_numvfs'), str(num))
        self.save(state)

    def set_numvfs(self, ifname, num):
        """echo num > /sys/class/net/PF/device/sriov_numvfs"""
        self.write(os.path.join(self.sys, 'class', 'net', ifname, 'device', 'sriov_numvfs'), str(num))

    def set_link_speed(self, ifname, speed):
        """The link renegotiated at speed Mbps (-1: link down); the driver's link watchdog runs."""
        self._write_file(os.path.join(self.sys, 'class', 'net', ifname, 'speed'), str(speed))
        _kernel_module().FakeKernel(self.state_path).load()  # load() runs the driver watchdog

    def set_vf_mac(self, ifname, vf, mac):
        state = self.load()
        self.pf_entry(state, ifname)['pf']['vfs'][vf]['mac'] = mac.lower()
        self.save(state)

    def add_traffic(self, ifname, vf, rx_bytes, tx_bytes):
        """Count traffic on a VF (what the NIC's counters would show)."""
        state = self.load()
        entry = self.pf_entry(state, ifname)['pf']['vfs'][vf]
        entry['rx_bytes'] += rx_bytes
        entry['tx_bytes'] += tx_bytes
        entry['rx_packets'] += 1 if rx_bytes else 0
        entry['tx_packets'] += 1 if tx_bytes else 0
        self.save(state)

    def vf_state(self, ifname, vf):
        """The kernel's own record of one VF (tests use it as the oracle)."""
        return dict(self.pf_entry(self.load(), ifname)['pf']['vfs'][vf])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='action', required=True)
    create = sub.add_parser('create')
    create.add_argument('world')
    create.add_argument('--pf', action='append', default=[], help='NAME:DRIVER:TOTAL_VFS:SPEED[:nosetrate]')
    create.add_argument('--plain', action='append', default=[], help='NAME of a NIC without SR-IOV')
    numvfs = sub.add_parser('numvfs')
    numvfs.add_argument('world')
    numvfs.add_argument('pf')
    numvfs.add_argument('num')
    speed = sub.add_parser('speed')
    speed.add_argument('world')
    speed.add_argument('pf')
    speed.add_argument('mbps', type=int)
    mac = sub.add_parser('mac')
    mac.add_argument('world')
    mac.add_argument('pf')
    mac.add_argument('vf', type=int)
    mac.add_argument('mac')
    traffic = sub.add_parser('traffic')
    traffic.add_argument('world')
    traffic.add_argument('pf')
    traffic.add_argument('vf', type=int)
    traffic.add_argument('rx', type=int)
    traffic.add_argument('tx', type=int)
    args = parser.parse_args(argv)
    world = SriovWorld(args.world)
    try:
        if args.action == 'create':
            for spec in args.pf:
                parts = spec.split(':')
                world.add_pf(parts[0], driver=parts[1], total_vfs=int(parts[2]), speed=int(parts[3]),
                             set_vf_rate=not (len(parts) > 4 and parts[4] == 'nosetrate'))
            for name in args.plain:
                world.add_plain_nic(name)
        elif args.action == 'numvfs':
            world.set_numvfs(args.pf, args.num)
        elif args.action == 'speed':
            world.set_link_speed(args.pf, args.mbps)
        elif args.action == 'mac':
            world.set_vf_mac(args.pf, args.vf, args.mac)
        else:
            world.add_traffic(args.pf, args.vf, args.rx, args.tx)
    except OSError as exc:
        sys.stderr.write('write error: %s\n' % exc)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
