# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Network byte counters for the predictor: the pure join, and VF counters via the fakes."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


from ansible_collections.adaptive.intravm.plugins.module_utils.host import domain_nics
from ansible_collections.adaptive.intravm.plugins.module_utils.devices import net_counters
from ansible_collections.adaptive.intravm.plugins.module_utils.devices import sriov
from fakes import fake_iproute, intravm_inject
from fakes.fake_sriov_sysfs import SriovWorld


XML = """<domain><name>web01</name><devices>
  <interface type='ethernet'><mac address='52:54:00:aa:bb:01'/><target dev='vnet4'/></interface>
  <interface type='ethernet'><mac address='52:54:00:aa:bb:02'/><target dev='vnet5'/></interface>
  <interface type='hostdev'><mac address='52:54:00:11:22:33'/>
    <source><address type='pci' domain='0x0000' bus='0x04' slot='0x10' function='0x2'/></source></interface>
  <hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x04' slot='0x10' function='0x4'/></source></hostdev>
  <hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x09' slot='0x00' function='0x0'/></source></hostdev>
</devices></domain>"""
STATS = {'net.count': 2, 'net.0.name': 'vnet4', 'net.0.rx.bytes': 90, 'net.0.tx.bytes': 7,
         'net.1.name': 'vnet5', 'net.1.rx.bytes': 1, 'net.1.tx.bytes': 2}


def test_tap_counters():
    assert net_counters.tap_counters(STATS) == {'vnet4': {'rx_bytes': 90, 'tx_bytes': 7},
                                                'vnet5': {'rx_bytes': 1, 'tx_bytes': 2}}
    assert net_counters.tap_counters({}) == {}


def test_counters_from_joins_taps_and_vfs():
    vf = {'0000:04:10.2': (1000, 2000), '0000:04:10.4': (3, 4)}
    out = net_counters.counters_from(domain_nics.parse_nics(XML), STATS, lambda nic: vf.get(nic['pci']))
    assert out == {'52:54:00:aa:bb:01': {'rx_bytes': 90, 'tx_bytes': 7},
                   '52:54:00:aa:bb:02': {'rx_bytes': 1, 'tx_bytes': 2},
                   '52:54:00:11:22:33': {'rx_bytes': 1000, 'tx_bytes': 2000},
                   '0000:04:10.4': {'rx_bytes': 3, 'tx_bytes': 4}}   # unresolved 0000:09:00.0 left out


def test_vf_counter_reader_on_the_fake_host(tmp_path, monkeypatch):
    world = SriovWorld(str(tmp_path / 'w'))
    world.add_pf('ens1f0', driver='ixgbe', total_vfs=4)   # 0000:04:00.0, VFs at 04:10.0, .2, .4, .6
    world.set_numvfs('ens1f0', 4)
    world.add_traffic('ens1f0', 1, 1500, 600)
    world.add_traffic('ens1f0', 2, 10, 20)
    world.set_vf_mac('ens1f0', 3, '52:54:00:77:77:77')
    world.add_traffic('ens1f0', 3, 5, 6)
    monkeypatch.setenv('ADAPTIVE_INTRAVM_FAKE_SRIOV_WORLD', world.world)
    intravm_inject.install_iproute(monkeypatch, fake_iproute.factory())
    nics = domain_nics.parse_nics(XML)
    nics.append({'kind': 'interface', 'type': 'hostdev', 'mac': '52:54:00:77:77:77', 'alias': None,
                 'target': None, 'model': None, 'pci': '0000:0b:00.1'})  # unknown to sysfs: found by MAC
    with sriov.Netlink() as nl:
        out = net_counters.counters_from(nics, STATS, net_counters.VfCounterReader(nl, world.sys))
    assert out['52:54:00:11:22:33'] == {'rx_bytes': 1500, 'tx_bytes': 600}
    assert out['0000:04:10.4'] == {'rx_bytes': 10, 'tx_bytes': 20}
    assert out['52:54:00:77:77:77'] == {'rx_bytes': 5, 'tx_bytes': 6}
    assert '0000:09:00.0' not in out
