# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SR-IOV fakes behave as hardware-interfaces.md says the kernel and drivers do.

The fakes are only worth what their fidelity is, so they are tested on
their own: sriov_numvfs write errors, VF info only with ext_mask=1, the
core's and ixgbe's refusals, ixgbe's silent reset, pyroute2 call shapes.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os

import pytest
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from fakes.fake_iproute import FakeIPRoute, factory
from fakes.fake_sriov_sysfs import SriovWorld, main as sysfs_cli


@pytest.fixture
def world(tmp_path):
    w = SriovWorld(str(tmp_path / 'world'))
    w.add_pf('ens1f0', driver='ixgbe', total_vfs=4, speed=10000)
    w.add_pf('ens2f0', driver='mlx5_core', total_vfs=8, speed=25000)
    return w


@pytest.fixture
def ipr(world):
    with FakeIPRoute(state_path=world.state_path) as sock:
        yield sock


def vf_rates(ipr, name):
    msg = ipr.link('get', index=ipr.link_lookup(ifname=name)[0], ext_mask=1)[0]
    return [vi.get_attr('IFLA_VF_RATE') for vi in msg.get_attr('IFLA_VFINFO_LIST').get_attrs('IFLA_VF_INFO')]


def set_rate(ipr, name, vf, min_rate, max_rate):
    ipr.link('set', index=ipr.link_lookup(ifname=name)[0],
             vf={'vf': vf, 'rate': {'min_tx_rate': min_rate, 'max_tx_rate': max_rate}})


# ------------------------------------------------------------------ sysfs

def test_numvfs_write_creates_vf_links_both_ways(world):
    world.set_numvfs('ens1f0', 3)
    dev = os.path.join(world.sys, 'class', 'net', 'ens1f0', 'device')
    assert open(os.path.join(dev, 'sriov_numvfs')).read().strip() == '3'
    for n in range(3):
        vf_pci = os.path.basename(os.readlink(os.path.join(dev, 'virtfn%d' % n)))
        back = os.path.join(world.sys, 'bus', 'pci', 'devices', vf_pci, 'physfn')
        assert os.path.realpath(back) == os.path.realpath(dev)
    assert not os.path.exists(os.path.join(dev, 'virtfn3'))


def test_numvfs_above_total_is_erange(world):
    with pytest.raises(OSError) as err:
        world.set_numvfs('ens1f0', 5)
    assert err.value.errno == errno.ERANGE
    assert open(os.path.join(world.sys, 'class', 'net', 'ens1f0', 'device', 'sriov_numvfs')).read().strip() == '0'


def test_numvfs_nonzero_to_other_nonzero_is_ebusy_and_zero_first_works(world):
    world.set_numvfs('ens2f0', 2)
    with pytest.raises(OSError) as err:
        world.set_numvfs('ens2f0', 4)
    assert err.value.errno == errno.EBUSY
    world.set_numvfs('ens2f0', 2)  # same value: accepted, nothing happens
    world.set_numvfs('ens2f0', 0)
    dev = os.path.join(world.sys, 'class', 'net', 'ens2f0', 'device')
    assert not [n for n in os.listdir(dev) if n.startswith('virtfn')]
    world.set_numvfs('ens2f0', 4)
    assert sorted(n for n in os.listdir(dev) if n.startswith('virtfn')) == ['virtfn%d' % i for i in range(4)]


def test_numvfs_garbage_is_einval_and_other_attributes_are_read_only(world):
    path = os.path.join(world.sys, 'class', 'net', 'ens1f0', 'device', 'sriov_numvfs')
    with pytest.raises(OSError) as err:
        world.write(path, 'two')
    assert err.value.errno == errno.EINVAL
    with pytest.raises(OSError) as err:
        world.write(os.path.join(world.sys, 'class', 'net', 'ens1f0', 'device', 'sriov_totalvfs'), '9')
    assert err.value.errno == errno.EACCES


def test_cli_reports_the_write_error(world, capsys):
    assert sysfs_cli(['numvfs', world.world, 'ens1f0', '9']) == 1
    assert 'Numerical result out of range' in capsys.readouterr().err


# ---------------------------------------------------------------- netlink

def test_replies_are_real_ifinfmsg_and_vf_info_needs_ext_mask(world, ipr):
    world.set_numvfs('ens2f0', 2)
    index = ipr.link_lookup(ifname='ens2f0')[0]
    plain = ipr.link('get', index=index)[0]
    assert isinstance(plain, ifinfmsg)
    assert plain.get_attr('IFLA_IFNAME') == 'ens2f0'
    assert plain.get_attr('IFLA_VFINFO_LIST') is None and plain.get_attr('IFLA_NUM_VF') is None
    ext = ipr.link('get', index=index, ext_mask=1)[0]
    assert ext.get_attr('IFLA_NUM_VF') == 2
    infos = ext.get_attr('IFLA_VFINFO_LIST').get_attrs('IFLA_VF_INFO')
    assert [vi.get_attr('IFLA_VF_RATE')['vf'] for vi in infos] == [0, 1]
    assert infos[1].get_attr('IFLA_VF_MAC')['mac'] == world.vf_state('ens2f0', 1)['mac']


def test_pf_without_vfs_has_num_vf_zero_and_no_list(ipr):
    ext = ipr.link('get', index=ipr.link_lookup(ifname='ens1f0')[0], ext_mask=1)[0]
    assert ext.get_attr('IFLA_NUM_VF') == 0
    assert ext.get_attr('IFLA_VFINFO_LIST') is None


def test_unknown_links(ipr):
    assert ipr.link_lookup(ifname='nope0') == []
    with pytest.raises(NetlinkError) as err:
        ipr.link('get', index=999)
    assert err.value.code == errno.ENODEV
    with pytest.raises(NetlinkError) as err:
        ipr.link('set', index=999, vf={'vf': 0, 'rate': {'min_tx_rate': 0, 'max_tx_rate': 1}})
    assert err.value.code == errno.ENODEV


def test_set_consumes_the_callers_vf_dict_like_pyroute2(world, ipr):
    world.set_numvfs('ens2f0', 1)
    spec = {'vf': 0, 'rate': {'min_tx_rate': 100, 'max_tx_rate': 900}}
    ipr.link('set', index=ipr.link_lookup(ifname='ens2f0')[0], vf=spec)
    assert spec == {}
    assert vf_rates(ipr, 'ens2f0')[0] == {'vf': 0, 'min_tx_rate': 100, 'max_tx_rate': 900}


def test_a_rate_without_min_sends_min_zero(world, ipr):
    """A struct field left out is 0 on the wire: why callers must send both."""
    world.set_numvfs('ens2f0', 1)
    set_rate(ipr, 'ens2f0', 0, 100, 900)
    ipr.link('set', index=ipr.link_lookup(ifname='ens2f0')[0], vf={'vf': 0, 'rate': {'max_tx_rate': 800}})
    assert vf_rates(ipr, 'ens2f0')[0] == {'vf': 0, 'min_tx_rate': 0, 'max_tx_rate': 800}


def test_core_rejects_min_above_nonzero_max(world, ipr):
    world.set_numvfs('ens2f0', 1)
    with pytest.raises(NetlinkError) as err:
        set_rate(ipr, 'ens2f0', 0, 500, 400)
    assert err.value.code == errno.EINVAL
    set_rate(ipr, 'ens2f0', 0, 500, 0)  # max 0 = unlimited: allowed
    assert vf_rates(ipr, 'ens2f0')[0]['min_tx_rate'] == 500


def test_vf_index_beyond_numvfs_is_einval(world, ipr):
    world.set_numvfs('ens2f0', 2)
    with pytest.raises(NetlinkError) as err:
        set_rate(ipr, 'ens2f0', 2, 0, 100)
    assert err.value.code == errno.EINVAL


def test_driver_without_ndo_set_vf_rate_is_eopnotsupp(world, ipr):
    world.add_pf('ens3f0', driver='fake_norate', total_vfs=2, set_vf_rate=False)
    world.set_numvfs('ens3f0', 2)
    with pytest.raises(NetlinkError) as err:
        set_rate(ipr, 'ens3f0', 0, 0, 100)
    assert err.value.code == errno.EOPNOTSUPP
    with pytest.raises(NetlinkError) as err:
        set_rate(ipr, 'lo', 0, 0, 100)
    assert err.value.code == errno.EOPNOTSUPP


@pytest.mark.parametrize('min_rate,max_rate', [(1, 1000), (0, 10), (0, 5), (0, 10001)])
def test_ixgbe_refusals(world, ipr, min_rate, max_rate):
    world.set_numvfs('ens1f0', 2)
    with pytest.raises(NetlinkError) as err:
        set_rate(ipr, 'ens1f0', 1, min_rate, max_rate)
    assert err.value.code == errno.EINVAL
    assert vf_rates(ipr, 'ens1f0')[1] == {'vf': 1, 'min_tx_rate': 0, 'max_tx_rate': 0}


def test_ixgbe_needs_the_link_up_at_10g(world, ipr):
    world.set_numvfs('ens1f0', 1)
    world.set_link_speed('ens1f0', 1000)
    with pytest.raises(NetlinkError):
        set_rate(ipr, 'ens1f0', 0, 0, 500)
    world.set_link_speed('ens1f0', -1)
    with pytest.raises(NetlinkError):
        set_rate(ipr, 'ens1f0', 0, 0, 500)
    world.set_link_speed('ens1f0', 10000)
    set_rate(ipr, 'ens1f0', 0, 0, 11)
    assert vf_rates(ipr, 'ens1f0')[0]['max_tx_rate'] == 11


def test_ixgbe_silently_zeroes_all_rates_when_link_speed_changes(world, ipr):
    world.set_numvfs('ens1f0', 3)
    set_rate(ipr, 'ens1f0', 0, 0, 1000)
    set_rate(ipr, 'ens1f0', 2, 0, 3000)
    world.set_link_speed('ens1f0', -1)  # link down: nothing yet
    assert [r['max_tx_rate'] for r in vf_rates(ipr, 'ens1f0')] == [1000, 0, 3000]
    world.set_link_speed('ens1f0', 1000)  # back up at another speed
    assert [r['max_tx_rate'] for r in vf_rates(ipr, 'ens1f0')] == [0, 0, 0]
    world.set_link_speed('ens1f0', 10000)
    assert [r['max_tx_rate'] for r in vf_rates(ipr, 'ens1f0')] == [0, 0, 0]


def test_other_drivers_keep_rates_across_speed_changes(world, ipr):
    world.set_numvfs('ens2f0', 1)
    set_rate(ipr, 'ens2f0', 0, 100, 1000)
    world.set_link_speed('ens2f0', 10000)
    assert vf_rates(ipr, 'ens2f0')[0] == {'vf': 0, 'min_tx_rate': 100, 'max_tx_rate': 1000}


def test_legacy_tx_rate_keeps_the_current_min(world, ipr):
    world.set_numvfs('ens2f0', 1)
    set_rate(ipr, 'ens2f0', 0, 100, 1000)
    ipr.link('set', index=ipr.link_lookup(ifname='ens2f0')[0], vf={'vf': 0, 'tx_rate': 2000})
    assert vf_rates(ipr, 'ens2f0')[0] == {'vf': 0, 'min_tx_rate': 100, 'max_tx_rate': 2000}


def test_vfs_before_a_failing_one_stay_applied(world, ipr):
    world.set_numvfs('ens2f0', 2)
    with pytest.raises(NetlinkError):
        ipr.link('set', index=ipr.link_lookup(ifname='ens2f0')[0],
                 vf=[{'vf': 0, 'rate': {'min_tx_rate': 0, 'max_tx_rate': 700}},
                     {'vf': 1, 'rate': {'min_tx_rate': 900, 'max_tx_rate': 700}}])
    assert [r['max_tx_rate'] for r in vf_rates(ipr, 'ens2f0')] == [700, 0]


def test_state_is_shared_between_sockets_through_disk(world, monkeypatch):
    world.set_numvfs('ens2f0', 1)
    monkeypatch.setenv('ADAPTIVE_INTRAVM_FAKE_SRIOV_WORLD', world.world)
    cls = factory()
    with cls() as first:
        set_rate(first, 'ens2f0', 0, 0, 1234)
    with cls() as second:
        assert vf_rates(second, 'ens2f0')[0]['max_tx_rate'] == 1234


def test_unmodelled_requests_say_so(world, ipr):
    with pytest.raises(NotImplementedError):
        ipr.link('set', index=ipr.link_lookup(ifname='ens2f0')[0], mtu=9000)
    ipr.close()
    with pytest.raises(OSError):
        ipr.link('get', index=1)
