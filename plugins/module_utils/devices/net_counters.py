# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-domain network byte counters for the host predictor.

read_net_counters(conn, sysfs_root) returns
    {domain: {iface: {'rx_bytes': n, 'tx_bytes': n}}}
from the domain's point of view (rx = received by the guest). iface is the
NIC's MAC address (stable across restarts, unlike vnetN), or for a PCI
<hostdev> without a MAC its host PCI address. virtio/tap NICs are read from
libvirt's interface stats, SR-IOV VFs from netlink's IFLA_VF_STATS on the
PF. Counters are cumulative; the predictor differentiates them.

counters_from() is the pure part: it joins parsed NICs with the two
sources, so it is tested without a daemon or hardware.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.adaptive.intravm.plugins.module_utils.host import domain_nics
from ansible_collections.adaptive.intravm.plugins.module_utils.devices import sriov

STATS_INTERFACE = 16  # VIR_DOMAIN_STATS_INTERFACE
LIST_ACTIVE = 1       # VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE


def tap_counters(stats):
    """{host device: {rx_bytes, tx_bytes}} from one domain's getAllDomainStats record."""
    out = {}
    for i in range(stats.get('net.count', 0)):
        name = stats.get('net.%d.name' % i)
        if name:
            out[name] = {'rx_bytes': stats.get('net.%d.rx.bytes' % i, 0),
                         'tx_bytes': stats.get('net.%d.tx.bytes' % i, 0)}
    return out


def counters_from(nics, stats, vf_counters):
    """{iface: {rx_bytes, tx_bytes}} for one domain.

    nics: domain_nics.parse_nics() of its live XML; stats: its libvirt stats
    record; vf_counters(nic): (rx_bytes, tx_bytes) of a passthrough NIC, or
    None when it cannot be resolved to a VF. NICs without counters are left out.
    """
    taps = tap_counters(stats)
    out = {}
    for nic in nics:
        key = nic['mac'] or nic['pci']
        if domain_nics.is_passthrough(nic):
            found = vf_counters(nic)
            if found is not None and found[0] is not None:
                out[key] = {'rx_bytes': found[0], 'tx_bytes': found[1]}
        elif nic['target'] in taps:
            out[key or nic['target']] = taps[nic['target']]
    return out


class VfCounterReader(object):
    """Resolves a passthrough NIC to its VF and reads its counters, one netlink dump per PF per call."""

    def __init__(self, netlink, sysfs_root):
        self.netlink = netlink
        self.root = sysfs_root
        self.pf_cache = {}

    def _vfs(self, pf):
        if pf not in self.pf_cache:
            self.pf_cache[pf] = self.netlink.vfs(pf)
        return self.pf_cache[pf]

    def __call__(self, nic):
        found = sriov.locate_vf(self.root, nic, self._vfs)
        entry = sriov.find_vf(self._vfs(found[0]), found[1]) if found else None
        return (entry['rx_bytes'], entry['tx_bytes']) if entry else None


def read_net_counters(conn, sysfs_root=sriov.DEFAULT_SYSFS_ROOT):
    """{domain: {iface: {rx_bytes, tx_bytes}}} for every running domain on conn.

    VF counters are read only where a domain has a passthrough NIC and a
    netlink backend is available; otherwise those NICs are left out.
    """
    records = conn.getAllDomainStats(STATS_INTERFACE, LIST_ACTIVE)
    parsed = [(dom.name(), domain_nics.parse_nics(dom.XMLDesc(0)), stats) for dom, stats in records]
    needs_vf = any(domain_nics.is_passthrough(n) for _name, nics, _stats in parsed for n in nics)
    netlink = sriov.Netlink() if needs_vf and sriov.HAS_PYROUTE2 else None
    try:
        reader = VfCounterReader(netlink, sysfs_root) if netlink else (lambda nic: None)
        return dict((name, counters_from(nics, stats, reader)) for name, nics, stats in parsed)
    finally:
        if netlink is not None:
            netlink.close()
