# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure VF rate rules and domain NIC parsing used by vf_bandwidth/iface_bandwidth."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno

import pytest
from hypothesis import given, strategies as st

from ansible_collections.adaptive.intravm.plugins.module_utils.host import domain_nics
from ansible_collections.adaptive.intravm.plugins.module_utils.apply import vf_rates

VFS = [{'vf': 0, 'min_tx_rate': 3000}, {'vf': 1, 'min_tx_rate': 0}, {'vf': 2, 'min_tx_rate': 4000}]


def test_desired_fills_missing_from_current():
    cur = {'min_tx_rate': 100, 'max_tx_rate': 900}
    assert vf_rates.desired_rates(cur) == (100, 900)
    assert vf_rates.desired_rates(cur, max_tx_rate=0) == (100, 0)
    assert vf_rates.desired_rates(cur, min_tx_rate=5) == (5, 900)


@pytest.mark.parametrize('args,match', [
    ((1, 500, 400), 'min_tx_rate=500 Mbps is above max_tx_rate=400'),
    ((1, 0, 10001), 'max_tx_rate=10001 Mbps is above the link speed of PF ens1f0 .10000'),
    ((1, 3001, 0), 'sum to 10001 Mbps, above its link speed of 10000 Mbps .other VFs hold 7000'),
    ((3, 0, 0), 'VF index 3 is out of range for PF ens1f0: it has 3 VF'),
    ((-1, 0, 0), 'VF index -1 is out of range'),
    ((1, -5, 0), 'min_tx_rate=-5 Mbps is out of range'),
    ((1, 0, 2 ** 32), 'max_tx_rate=4294967296 Mbps is out of range'),
])
def test_validation_errors_name_the_value(args, match):
    vf, lo, hi = args
    with pytest.raises(vf_rates.VfRateError, match=match):
        vf_rates.validate('ens1f0', vf, lo, hi, 3, 10000, VFS)


def test_no_vfs_enabled():
    with pytest.raises(vf_rates.VfRateError, match='no VFs enabled'):
        vf_rates.validate('ens1f0', 0, 0, 0, 0, 10000, [])


def test_valid_requests_pass():
    vf_rates.validate('ens1f0', 1, 3000, 0, 3, 10000, VFS)          # sums to exactly the link speed
    vf_rates.validate('ens1f0', 0, 6000, 6000, 3, 10000, VFS)       # own old minimum is replaced
    vf_rates.validate('ens1f0', 1, 9000, 20000, 3, None, VFS)       # speed unknown: speed checks skipped


@given(st.integers(0, 20000), st.integers(0, 20000), st.integers(1, 40000))
def test_validate_accepts_exactly_the_consistent_requests(lo, hi, speed):
    vfs = [{'vf': 0, 'min_tx_rate': 0}, {'vf': 1, 'min_tx_rate': 1000}]
    ok = (hi == 0 or lo <= hi) and hi <= speed and lo + 1000 <= speed
    try:
        vf_rates.validate('p', 0, lo, hi, 2, speed, vfs)
        assert ok
    except vf_rates.VfRateError:
        assert not ok


def test_refusal_messages_name_driver_and_values():
    msg = vf_rates.refusal_message(errno.EOPNOTSUPP, 'fake_norate', 'ens3f0', 1, 0, 100)
    assert 'fake_norate' in msg and 'EOPNOTSUPP' in msg and 'max_tx_rate=100' in msg and 'VF 1' in msg
    msg = vf_rates.refusal_message(errno.EINVAL, 'ixgbe', 'ens1f0', 0, 50, 100)
    assert 'ixgbe refused min_tx_rate=50 max_tx_rate=100' in msg and 'min_tx_rate=0' in msg
    assert 'EBUSY' in vf_rates.refusal_message(errno.EBUSY, 'x', 'p', 0, 0, 0)


DOMAIN = """<domain type='qemu'><name>web01</name><devices>
  <interface type='hostdev' managed='yes'><mac address='52:54:00:11:22:33'/>
    <source><address type='pci' domain='0x0000' bus='0x03' slot='0x10' function='0x2'/></source>
    <alias name='ua-sriov0'/></interface>
  <hostdev mode='subsystem' type='pci' managed='yes'>
    <source><address domain='0x0000' bus='0x03' slot='0x10' function='0x4'/></source></hostdev>
  <hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source></hostdev>
  <interface type='ethernet'><mac address='52:54:00:AA:BB:01'/><target dev='vnet3'/><model type='virtio'/><alias name='net1'/></interface>
  <interface type='user'><mac address='52:54:00:aa:bb:02'/></interface>
</devices></domain>"""


def test_parse_nics():
    nics = domain_nics.parse_nics(DOMAIN)
    assert [(n['kind'], n['type'], n['pci']) for n in nics] == [
        ('interface', 'hostdev', '0000:03:10.2'), ('hostdev', 'hostdev', '0000:03:10.4'),
        ('interface', 'ethernet', None), ('interface', 'user', None)]
    assert nics[0]['mac'] == '52:54:00:11:22:33' and nics[0]['alias'] == 'ua-sriov0'
    assert nics[2]['mac'] == '52:54:00:aa:bb:01' and nics[2]['target'] == 'vnet3'
    assert domain_nics.parse_nics('<domain/>') == []


def test_select_nic():
    nics = domain_nics.parse_nics(DOMAIN)
    pick = domain_nics.select_nic
    assert pick(nics, 'ua-sriov0', 'web01', domain_nics.is_passthrough)['pci'] == '0000:03:10.2'
    assert pick(nics, '52:54:00:11:22:33', 'web01', domain_nics.is_passthrough)['alias'] == 'ua-sriov0'
    assert pick(nics, '0000:03:10.4', 'web01', domain_nics.is_passthrough)['kind'] == 'hostdev'
    assert pick(nics, None, 'web01', domain_nics.is_shapeable)['target'] == 'vnet3'
    assert pick(nics, 'VNET3', 'web01', domain_nics.is_shapeable)['mac'] == '52:54:00:aa:bb:01'
    with pytest.raises(domain_nics.NicSelectionError, match='has 2 SR-IOV VF .* choose one'):
        pick(nics, None, 'web01', domain_nics.is_passthrough)
    with pytest.raises(domain_nics.NicSelectionError, match="no interface 'zz'; it has: 52:54:00:11:22:33, 0000:03:10.4"):
        pick(nics, 'zz', 'web01', domain_nics.is_passthrough)
    with pytest.raises(domain_nics.NicSelectionError, match="of type 'user', not a virtio/tap"):
        pick(nics, '52:54:00:aa:bb:02', 'web01', domain_nics.is_shapeable)
    with pytest.raises(domain_nics.NicSelectionError, match="domain 'empty' has no SR-IOV VF"):
        pick([], None, 'empty', domain_nics.is_passthrough)
