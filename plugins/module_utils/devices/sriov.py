# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one seam to SR-IOV hardware: netlink through pyroute2, and sysfs.

Everything that touches a PF or VF goes through here, so tests swap the
hardware by configuration instead of patching code paths:

* sysfs paths are always joined under `sysfs_root` (a module option,
  default /sys), so a fake tree in a temporary directory stands in for it;
* the netlink class is the module attribute IPRoute (pyroute2's), which
  tests replace from the outside (tests/fakes/intravm_inject.py); nothing
  here loads test code.

VF state is always re-read from netlink, never cached: drivers reset rates
silently (ixgbe on a link speed change).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import traceback

from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset

try:
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError
    HAS_PYROUTE2 = True
    PYROUTE2_IMPORT_ERROR = None
except ImportError:
    IPRoute = None
    HAS_PYROUTE2 = False
    PYROUTE2_IMPORT_ERROR = traceback.format_exc()

    class NetlinkError(Exception):
        """Stand-in so except clauses work when pyroute2 is missing."""

        def __init__(self, code, msg=None):
            super(NetlinkError, self).__init__(code, msg or os.strerror(code))
            self.code = code

DEFAULT_SYSFS_ROOT = '/sys'
RTEXT_FILTER_VF = 1  # ext_mask bit that makes the kernel add IFLA_VFINFO_LIST


class SriovError(Exception):
    """A PF/VF problem described for an operator (names the PF, VF or path)."""


# ---------------------------------------------------------------- sysfs

def _read(path):
    with open(path) as handle:
        return handle.read().strip()


def _net_dir(root, pf):
    return os.path.join(root, 'class', 'net', pf)


def pf_exists(root, pf):
    """Whether a network interface called pf exists under root/class/net."""
    return os.path.isdir(_net_dir(root, pf))


def sriov_counts(root, pf):
    """(sriov_totalvfs, sriov_numvfs) of the PF, or SriovError when it has no SR-IOV.

    sriov_totalvfs is None where the device has no such file (netdevsim keeps
    its maximum in debugfs); sriov_numvfs is what makes a PF.
    """
    if not pf_exists(root, pf):
        raise SriovError('no network interface %r under %s' % (pf, os.path.join(root, 'class', 'net')))
    device = os.path.join(_net_dir(root, pf), 'device')
    numvfs = os.path.join(device, 'sriov_numvfs')
    if not os.path.exists(numvfs):
        raise SriovError('%s is not an SR-IOV physical function (%s does not exist)' % (pf, numvfs))
    total = os.path.join(device, 'sriov_totalvfs')
    return (int(_read(total)) if os.path.exists(total) else None), int(_read(numvfs))


def link_speed(root, pf):
    """PF link speed in Mbps from sysfs, or None when the link is down or unknown.

    The kernel answers EINVAL on read, or -1, while the link is down.
    """
    try:
        speed = int(_read(os.path.join(_net_dir(root, pf), 'speed')))
    except (OSError, IOError, ValueError):
        return None
    return speed if speed > 0 else None


def driver_name(root, pf):
    """Name of the PF's kernel driver (the target of device/driver), or 'unknown'."""
    link = os.path.join(_net_dir(root, pf), 'device', 'driver')
    try:
        return os.path.basename(os.readlink(link))
    except OSError:
        return 'unknown'


def virtfns(device):
    """{VF index: PCI address} from the virtfnN links of a PF's PCI device folder; {} where it cannot be listed."""
    try:
        names = os.listdir(device)
    except OSError:
        return {}
    return dict((int(name[6:]), os.path.basename(os.readlink(os.path.join(device, name))))
                for name in names if name.startswith('virtfn') and cpuset.is_number(name[6:]))


def vf_pci_addresses(root, pf):
    """{VF index: PCI address} from the PF's device/virtfnN links."""
    return virtfns(os.path.join(_net_dir(root, pf), 'device'))


def resolve_vf_pci(root, pci):
    """(PF netdev name, VF index) of the VF at PCI address pci, or None.

    Follows bus/pci/devices/<VF>/physfn to the PF, the PF's net/ folder to
    its netdev name, and the PF's virtfnN link that points back at the VF.
    None when sysfs has no such VF (not a VF, or not on this host).
    """
    vf_dir = os.path.join(root, 'bus', 'pci', 'devices', pci)
    physfn = os.path.join(vf_dir, 'physfn')
    if not os.path.islink(physfn):
        return None
    pf_pci = os.path.basename(os.readlink(physfn))
    pf_dir = os.path.join(root, 'bus', 'pci', 'devices', pf_pci)
    try:
        pf_names = sorted(os.listdir(os.path.join(pf_dir, 'net')))
    except OSError:
        return None
    if not pf_names:
        return None
    for index, address in virtfns(pf_dir).items():
        if address == pci:
            return pf_names[0], index
    return None


def sriov_pfs(root):
    """Names of the network interfaces under root/class/net that have SR-IOV."""
    net = os.path.join(root, 'class', 'net')
    try:
        names = sorted(os.listdir(net))
    except OSError:
        return []
    return [n for n in names if os.path.exists(os.path.join(net, n, 'device', 'sriov_numvfs'))]


def find_vf(vfs, vf):
    """The entry for VF index vf in a Netlink.vfs() list, or None."""
    for entry in vfs:
        if entry['vf'] == vf:
            return entry
    return None


def locate_vf(root, nic, vfs_of):
    """(PF, VF index, 'sysfs' or 'mac') of a domain's passthrough NIC (domain_nics), or None.

    By its PCI address through sysfs, else by its MAC among the VFs that
    vfs_of(pf) lists (Netlink.vfs, or a cache of it) for each SR-IOV PF.
    """
    found = resolve_vf_pci(root, nic['pci']) if nic['pci'] else None
    if found is not None:
        return found + ('sysfs',)
    for pf in sriov_pfs(root) if nic['mac'] else ():
        for entry in vfs_of(pf):
            if (entry.get('mac') or '').lower() == nic['mac']:
                return pf, entry['vf'], 'mac'
    return None


# -------------------------------------------------------------- netlink

class Netlink(object):
    """An open rtnetlink socket with the few VF operations we use.

    Use as a context manager; every read goes to the kernel.
    """

    def __init__(self):
        self.ipr = IPRoute()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.ipr.close()

    def index(self, ifname):
        """Interface index of ifname, or SriovError."""
        found = self.ipr.link_lookup(ifname=ifname)
        if not found:
            raise SriovError('netlink knows no interface %r' % ifname)
        return found[0]

    def vfs(self, ifname):
        """The PF's VFs as netlink reports them (IFLA_VFINFO_LIST, ext_mask=1).

        Each: vf, mac, min_tx_rate, max_tx_rate, rx_bytes, tx_bytes (the
        counters are None where the driver gives no IFLA_VF_STATS).
        """
        msg = self.ipr.link('get', index=self.index(ifname), ext_mask=RTEXT_FILTER_VF)[0]
        vflist = msg.get_attr('IFLA_VFINFO_LIST')
        if vflist is None:
            return []
        result = []
        for info in vflist.get_attrs('IFLA_VF_INFO'):
            rate = info.get_attr('IFLA_VF_RATE')
            mac = info.get_attr('IFLA_VF_MAC')
            if rate is not None:
                entry = {'vf': rate['vf'], 'min_tx_rate': rate['min_tx_rate'], 'max_tx_rate': rate['max_tx_rate']}
            else:  # kernels before IFLA_VF_RATE only report the legacy max
                legacy = info.get_attr('IFLA_VF_TX_RATE')
                entry = {'vf': legacy['vf'], 'min_tx_rate': 0, 'max_tx_rate': legacy['tx_rate']}
            entry['mac'] = mac['mac'] if mac is not None else None
            stats = info.get_attr('IFLA_VF_STATS')
            entry['rx_bytes'] = stats.get_attr('IFLA_VF_STATS_RX_BYTES') if stats is not None else None
            entry['tx_bytes'] = stats.get_attr('IFLA_VF_STATS_TX_BYTES') if stats is not None else None
            result.append(entry)
        return result

    def set_vf_rate(self, ifname, vf, min_tx_rate, max_tx_rate):
        """Send one IFLA_VF_RATE with both values; NetlinkError propagates."""
        # pyroute2 pops keys from the dict it is given: build a fresh one each call.
        self.ipr.link('set', index=self.index(ifname),
                      vf={'vf': vf, 'rate': {'min_tx_rate': min_tx_rate, 'max_tx_rate': max_tx_rate}})


def netlink_error_code(exc):
    """errno of a NetlinkError (EIO when the object carries none)."""
    return getattr(exc, 'code', errno.EIO)
