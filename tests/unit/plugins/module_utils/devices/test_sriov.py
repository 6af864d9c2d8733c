# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SR-IOV seam: sysfs under sysfs_root, netlink via the configured IPRoute.

Against the fakes where we lack hardware, and against this machine's real
kernel and /sys for what it does have (lo refuses VF rates with
EOPNOTSUPP; its NICs have no SR-IOV).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os

import pytest

from ansible_collections.adaptive.intravm.plugins.module_utils.devices import sriov
from fakes import fake_iproute, intravm_inject
from fakes.fake_sriov_sysfs import SriovWorld


@pytest.fixture
def world(tmp_path, monkeypatch):
    w = SriovWorld(str(tmp_path / 'world'))
    w.add_pf('ens1f0', driver='ixgbe', total_vfs=4, speed=10000)
    w.add_plain_nic('eth9')
    w.set_numvfs('ens1f0', 3)
    monkeypatch.setenv('ADAPTIVE_INTRAVM_FAKE_SRIOV_WORLD', w.world)
    intravm_inject.install_iproute(monkeypatch, fake_iproute.factory())
    return w


def test_sysfs_reads(world):
    root = world.sys
    assert sriov.sriov_counts(root, 'ens1f0') == (4, 3)
    assert sriov.link_speed(root, 'ens1f0') == 10000
    assert sriov.driver_name(root, 'ens1f0') == 'ixgbe'
    addrs = sriov.vf_pci_addresses(root, 'ens1f0')
    assert sorted(addrs) == [0, 1, 2]
    for index, pci in addrs.items():
        assert sriov.resolve_vf_pci(root, pci) == ('ens1f0', index)
    assert sriov.sriov_pfs(root) == ['ens1f0']


def test_find_vf_and_locate_vf(world):
    vfs = [{'vf': 0, 'mac': '02:00:00:00:00:AA'}, {'vf': 1, 'mac': None}]
    assert sriov.find_vf(vfs, 1) is vfs[1] and sriov.find_vf(vfs, 2) is None
    lists = {'ens1f0': vfs}
    assert sriov.locate_vf(world.sys, {'pci': None, 'mac': '02:00:00:00:00:aa'}, lists.get) == ('ens1f0', 0, 'mac')
    assert sriov.locate_vf(world.sys, {'pci': None, 'mac': '02:00:00:00:00:bb'}, lists.get) is None
    pci = sriov.vf_pci_addresses(world.sys, 'ens1f0')[2]
    assert sriov.locate_vf(world.sys, {'pci': pci, 'mac': None}, lists.get) == ('ens1f0', 2, 'sysfs')


def test_pf_without_sriov_and_missing_pf(world):
    with pytest.raises(sriov.SriovError, match="eth9 is not an SR-IOV physical function"):
        sriov.sriov_counts(world.sys, 'eth9')
    with pytest.raises(sriov.SriovError, match="no network interface 'nope0'"):
        sriov.sriov_counts(world.sys, 'nope0')
    assert sriov.resolve_vf_pci(world.sys, '0000:99:00.0') is None
    pf_pci = os.path.basename(os.readlink(os.path.join(world.sys, 'class', 'net', 'ens1f0', 'device')))
    assert sriov.resolve_vf_pci(world.sys, pf_pci) is None  # a PF is not a VF


def test_pf_without_totalvfs_file_like_netdevsim(world):
    """netdevsim has sriov_numvfs but keeps its maximum in debugfs."""
    os.unlink(os.path.join(world.sys, 'class', 'net', 'ens1f0', 'device', 'sriov_totalvfs'))
    assert sriov.sriov_counts(world.sys, 'ens1f0') == (None, 3)
    assert sriov.sriov_pfs(world.sys) == ['ens1f0']


def test_link_down_speed_is_unknown(world):
    world.set_link_speed('ens1f0', -1)
    assert sriov.link_speed(world.sys, 'ens1f0') is None
    os.unlink(os.path.join(world.sys, 'class', 'net', 'ens1f0', 'speed'))
    assert sriov.link_speed(world.sys, 'ens1f0') is None


def test_netlink_through_the_configured_fake(world):
    assert sriov.IPRoute.__name__ == 'IPRoute' and sriov.IPRoute.__module__ != 'pyroute2.iproute.linux'
    with sriov.Netlink() as nl:
        vfs = nl.vfs('ens1f0')
        assert [v['vf'] for v in vfs] == [0, 1, 2]
        nl.set_vf_rate('ens1f0', 2, 0, 4000)
        assert nl.vfs('ens1f0')[2]['max_tx_rate'] == 4000
        world.add_traffic('ens1f0', 2, 1500, 64)
        assert (nl.vfs('ens1f0')[2]['rx_bytes'], nl.vfs('ens1f0')[2]['tx_bytes']) == (1500, 64)
        with pytest.raises(sriov.NetlinkError) as err:
            nl.set_vf_rate('ens1f0', 2, 10, 4000)
        assert sriov.netlink_error_code(err.value) == errno.EINVAL
        with pytest.raises(sriov.SriovError, match="no interface 'nope0'"):
            nl.vfs('nope0')
        assert nl.vfs('eth9') == []


# ------------------------------------------------------- the real kernel

@pytest.mark.skipif(not sriov.HAS_PYROUTE2, reason='pyroute2 not installed')
def test_real_kernel_lo_has_no_vfs_and_refuses_rates(monkeypatch):
    with sriov.Netlink() as nl:
        assert nl.vfs('lo') == []
        try:
            nl.set_vf_rate('lo', 0, 0, 100)
        except sriov.NetlinkError as exc:
            if exc.code == errno.EPERM:
                pytest.skip('real-kernel check needs CAP_NET_ADMIN (got EPERM)')
            assert exc.code == errno.EOPNOTSUPP
        else:
            pytest.fail('the kernel accepted a VF rate on lo')


def test_real_sysfs_nics_here_are_not_sriov():
    names = [n for n in os.listdir('/sys/class/net') if n != 'lo']
    pfs = sriov.sriov_pfs('/sys')
    plain = [n for n in names if n not in pfs]
    if not plain:
        pytest.skip('every NIC of this host has SR-IOV')
    with pytest.raises(sriov.SriovError, match='is not an SR-IOV physical function'):
        sriov.sriov_counts('/sys', plain[0])
