# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vf_bandwidth end to end in-process: real AnsibleModule, fake SR-IOV host.

The fakes go into the product's seams from outside (intravm_inject, and
sysfs_root); domains come from libvirt's test:/// driver with a node file,
so no daemon is needed here (the integration target uses the real one).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.adaptive.intravm.plugins.modules import vf_bandwidth
from fakes import fake_iproute, intravm_inject
from fakes.fake_sriov_sysfs import SriovWorld


@pytest.fixture
def world(tmp_path, monkeypatch):
    w = SriovWorld(str(tmp_path / 'world'))
    w.add_pf('ens1f0', driver='ixgbe', total_vfs=4, speed=10000)       # 0000:04:00.0
    w.add_pf('ens2f0', driver='mlx5_core', total_vfs=8, speed=25000)   # 0000:05:00.0
    w.add_pf('ens3f0', driver='fake_norate', total_vfs=2, speed=10000, set_vf_rate=False)
    w.add_plain_nic('eth9')
    for pf, num in (('ens1f0', 4), ('ens2f0', 8), ('ens3f0', 2)):
        w.set_numvfs(pf, num)
    monkeypatch.setenv('ADAPTIVE_INTRAVM_FAKE_SRIOV_WORLD', w.world)
    intravm_inject.install_iproute(monkeypatch, fake_iproute.factory())
    return w


@pytest.fixture
def test_uri(tmp_path):
    """A test:/// host with a domain holding two VFs and one without any."""
    node = tmp_path / 'node.xml'
    node.write_text("""<node>
  <domain type='test'><name>web01</name><memory>65536</memory><os><type>hvm</type></os><devices>
    <interface type='hostdev' managed='yes'><mac address='52:54:00:11:22:33'/>
      <source><address type='pci' domain='0x0000' bus='0x04' slot='0x10' function='0x2'/></source>
      <alias name='ua-fast'/></interface>
    <interface type='hostdev' managed='yes'><mac address='02:00:03:00:00:05'/>
      <source><address type='pci' domain='0x0000' bus='0x0a' slot='0x00' function='0x1'/></source>
      <alias name='ua-bymac'/></interface>
  </devices></domain>
  <domain type='test'><name>novf</name><memory>65536</memory><os><type>hvm</type></os></domain>
</node>""")
    return 'test://%s' % node


def run(capsys, world, check=False, diff=False, **args):
    args.setdefault('sysfs_root', world.sys)
    args['_ansible_check_mode'] = check
    args['_ansible_diff'] = diff
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            vf_bandwidth.main()
    return json.loads(capsys.readouterr().out)


def test_by_pf_changes_once_then_idempotent(world, capsys):
    first = run(capsys, world, pf='ens2f0', vf=2, min_tx_rate=1000, max_tx_rate=5000, diff=True)
    assert first['changed'] and first['min_tx_rate'] == 1000 and first['max_tx_rate'] == 5000
    assert first['diff'] == {'before': {'min_tx_rate': 0, 'max_tx_rate': 0},
                             'after': {'min_tx_rate': 1000, 'max_tx_rate': 5000}}
    assert first['pci'] == '0000:05:10.4' and first['driver'] == 'mlx5_core' and first['resolved_by'] == 'pf'
    assert world.vf_state('ens2f0', 2)['min_tx_rate'] == 1000
    second = run(capsys, world, pf='ens2f0', vf=2, min_tx_rate=1000, max_tx_rate=5000)
    assert not second['changed']


def test_omitted_value_keeps_current(world, capsys):
    run(capsys, world, pf='ens2f0', vf=0, min_tx_rate=100, max_tx_rate=900)
    res = run(capsys, world, pf='ens2f0', vf=0, max_tx_rate=800)
    assert res['changed'] and (res['min_tx_rate'], res['max_tx_rate']) == (100, 800)
    assert not run(capsys, world, pf='ens2f0', vf=0)['changed']


def test_check_mode_predicts_and_changes_nothing(world, capsys):
    res = run(capsys, world, check=True, pf='ens2f0', vf=1, max_tx_rate=700)
    assert res['changed'] and res['max_tx_rate'] == 700
    assert world.vf_state('ens2f0', 1)['max_tx_rate'] == 0


@pytest.mark.parametrize('args,match', [
    (dict(pf='ens2f0', vf=0, min_tx_rate=3000, max_tx_rate=2000), 'min_tx_rate=3000 Mbps is above max_tx_rate=2000'),
    (dict(pf='ens2f0', vf=0, max_tx_rate=25001), 'above the link speed of PF ens2f0 .25000 Mbps'),
    (dict(pf='ens2f0', vf=0, min_tx_rate=25001), 'guaranteed minimums of PF ens2f0 sum to 25001'),
    (dict(pf='ens2f0', vf=8, max_tx_rate=1), 'VF index 8 is out of range for PF ens2f0: it has 8'),
    (dict(pf='eth9', vf=0, max_tx_rate=1), 'eth9 is not an SR-IOV physical function'),
    (dict(pf='nope0', vf=0, max_tx_rate=1), "no network interface 'nope0'"),
])
def test_validation_fails_and_changes_nothing(world, capsys, args, match):
    before = open(world.state_path).read()
    res = run(capsys, world, **args)
    assert res['failed']
    assert re.search(match, res['msg']), res['msg']
    assert open(world.state_path).read() == before


def test_sum_of_minimums_counts_other_vfs(world, capsys):
    run(capsys, world, pf='ens2f0', vf=0, min_tx_rate=20000)
    res = run(capsys, world, pf='ens2f0', vf=1, min_tx_rate=5001)
    assert res['failed'] and 'sum to 25001 Mbps' in res['msg'] and 'other VFs hold 20000' in res['msg']
    assert run(capsys, world, pf='ens2f0', vf=1, min_tx_rate=5000)['changed']


def test_driver_refusals_name_driver_and_values(world, capsys):
    res = run(capsys, world, pf='ens3f0', vf=1, max_tx_rate=100)
    assert res['failed'] and 'driver fake_norate' in res['msg'] and 'EOPNOTSUPP' in res['msg']
    assert 'max_tx_rate=100' in res['msg'] and res['unchanged'] == {'min_tx_rate': 0, 'max_tx_rate': 0}
    res = run(capsys, world, pf='ens1f0', vf=1, min_tx_rate=50)
    assert res['failed'] and 'ixgbe refused min_tx_rate=50 max_tx_rate=0' in res['msg']
    res = run(capsys, world, pf='ens1f0', vf=1, max_tx_rate=10)
    assert res['failed'] and 'ixgbe refused min_tx_rate=0 max_tx_rate=10' in res['msg']
    assert world.vf_state('ens1f0', 1)['max_tx_rate'] == 0


def test_rates_are_reread_after_ixgbe_reset(world, capsys):
    assert run(capsys, world, pf='ens1f0', vf=3, max_tx_rate=4000)['changed']
    world.set_link_speed('ens1f0', 1000)
    world.set_link_speed('ens1f0', 10000)
    res = run(capsys, world, pf='ens1f0', vf=3, max_tx_rate=4000)
    assert res['changed'], 'a cached rate would have said not changed'


def test_link_down_skips_speed_checks_with_warning(world, capsys):
    world.set_link_speed('ens2f0', -1)
    res = run(capsys, world, pf='ens2f0', vf=0, max_tx_rate=40000)
    assert res['changed'] and res['link_speed'] is None
    assert 'speed checks were skipped' in json.dumps(res['warnings'])


def test_by_domain_via_sysfs_and_via_mac(world, capsys, test_uri):
    res = run(capsys, world, uri=test_uri, name='web01', interface='ua-fast', max_tx_rate=2000)
    assert res['changed'] and (res['pf'], res['vf'], res['resolved_by']) == ('ens1f0', 1, 'sysfs')
    res = run(capsys, world, uri=test_uri, name='web01', interface='02:00:03:00:00:05', min_tx_rate=300)
    assert res['changed'] and (res['pf'], res['vf'], res['resolved_by']) == ('ens2f0', 5, 'mac')
    assert res['pci'] == '0000:05:11.2'
    assert world.vf_state('ens2f0', 5)['min_tx_rate'] == 300


def test_by_domain_errors(world, capsys, test_uri):
    res = run(capsys, world, uri=test_uri, name='web01', max_tx_rate=1)
    assert res['failed'] and 'has 2 SR-IOV VF' in res['msg']
    res = run(capsys, world, uri=test_uri, name='novf', max_tx_rate=1)
    assert res['failed'] and "domain 'novf' has no SR-IOV VF" in res['msg']
    res = run(capsys, world, uri=test_uri, name='ghost', max_tx_rate=1)
    assert res['failed'] and "'ghost' not found" in res['msg']
    world.set_vf_mac('ens2f0', 5, '02:00:03:00:00:99')
    res = run(capsys, world, uri=test_uri, name='web01', interface='ua-bymac', max_tx_rate=1)
    assert res['failed'] and 'is not a VF of any SR-IOV PF' in res['msg'] and '0000:0a:00.1' in res['msg']


def test_argument_rules(world, capsys):
    assert 'mutually exclusive' in run(capsys, world, pf='ens2f0', vf=0, name='x')['msg']
    assert 'required together' in run(capsys, world, pf='ens2f0')['msg']
    assert 'one of the following is required' in run(capsys, world, max_tx_rate=1)['msg']


class HalfApplyingNetlink(object):
    """A driver that keeps only the new maximum, then may refuse to put the old rates back."""

    def __init__(self, refuse_restore=False):
        self.vf = {'vf': 0, 'min_tx_rate': 0, 'max_tx_rate': 0}
        self.refuse_restore = refuse_restore
        self.calls = 0

    def vfs(self, _pf):
        return [dict(self.vf)]

    def set_vf_rate(self, _pf, _vf, min_rate, max_rate):
        self.calls += 1
        if self.calls > 1 and self.refuse_restore:
            raise vf_bandwidth.sriov.NetlinkError(16, 'busy')
        self.vf.update(min_tx_rate=min_rate if self.calls > 1 else 0, max_tx_rate=max_rate)


@pytest.mark.parametrize('refuse_restore', [False, True])
def test_a_rate_the_driver_did_not_keep_is_put_back(refuse_restore):
    netlink = HalfApplyingNetlink(refuse_restore)
    before = {'min_tx_rate': 0, 'max_tx_rate': 0}
    with pytest.raises(vf_bandwidth.vf_rates.VfRateError) as err:
        vf_bandwidth.set_rates(netlink, 'ens2f0', 0, 'mlx5_core', before, {'min_tx_rate': 100, 'max_tx_rate': 900})
    assert 'accepted min_tx_rate=100 max_tx_rate=900' in str(err.value) and 'min_tx_rate=0 max_tx_rate=900' in str(err.value)
    if refuse_restore:
        assert 'could not restore min_tx_rate=0 max_tx_rate=0' in err.value.facts['restore_error']
        assert netlink.vf['max_tx_rate'] == 900
    else:
        assert err.value.facts == {'restored': before} and netlink.vf['max_tx_rate'] == 0
