# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""iface_bandwidth in-process against libvirt's test:/// driver (no daemon).

Each module run opens its own connection, and a test:///file connection
starts from the file each time, so idempotency and rollback are checked on
the real libvirtd (integration target iface_bandwidth and
tests/integration/test_net_bandwidth_real.py), not here.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.adaptive.intravm.plugins.modules import iface_bandwidth


@pytest.fixture
def uri(tmp_path):
    node = tmp_path / 'node.xml'
    node.write_text("""<node>
  <domain type='test'><name>web01</name><memory>65536</memory><os><type>hvm</type></os><devices>
    <interface type='ethernet'><mac address='52:54:00:aa:bb:01'/><target dev='testnet0'/><alias name='ua-web'/></interface>
    <interface type='user'><mac address='52:54:00:aa:bb:02'/></interface>
    <interface type='hostdev'><mac address='52:54:00:aa:bb:03'/>
      <source><address type='pci' domain='0' bus='4' slot='16' function='2'/></source></interface>
  </devices></domain>
</node>""")
    return 'test://%s' % node


def run(capsys, check=False, diff=False, **args):
    args['_ansible_check_mode'] = check
    args['_ansible_diff'] = diff
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            iface_bandwidth.main()
    return json.loads(capsys.readouterr().out)


def test_sets_live_and_config(uri, capsys):
    res = run(capsys, uri=uri, name='web01', inbound={'average': 1000, 'peak': 2000, 'burst': 64},
              outbound={'average': 300}, diff=True)
    assert res['changed'] and res['interface'] == '52:54:00:aa:bb:01' and res['sides'] == ['live', 'config']
    for side in ('live', 'config'):
        assert res['bandwidth'][side]['inbound'] == {'average': 1000, 'peak': 2000, 'burst': 64, 'floor': 0}
        assert res['bandwidth'][side]['outbound'] == {'average': 300, 'peak': 0, 'burst': 0}
        assert res['diff']['before'][side]['inbound']['average'] == 0


def test_check_mode_predicts(uri, capsys):
    res = run(capsys, check=True, uri=uri, name='web01', interface='ua-web', outbound={'average': 5})
    assert res['changed'] and res['bandwidth']['config']['outbound']['average'] == 5


def test_zero_request_on_unshaped_nic_is_not_a_change(uri, capsys):
    res = run(capsys, uri=uri, name='web01', interface='testnet0', inbound={'average': 0})
    assert not res['changed']


@pytest.mark.parametrize('args,match', [
    (dict(interface='52:54:00:aa:bb:02', inbound={'average': 1}), "of type 'user', not a virtio/tap"),
    (dict(interface='52:54:00:aa:bb:03', inbound={'average': 1}), "of type 'hostdev', not a virtio/tap"),
    (dict(interface='52:54:00:aa:bb:99', inbound={'average': 1}), "no interface '52:54:00:aa:bb:99'"),
    (dict(inbound={'peak': 9}), 'inbound.peak=9 needs inbound.average'),
    (dict(inbound={'average': 9, 'floor': 1}), "floor only on interfaces of type 'network'"),
    (dict(name='ghost', inbound={'average': 1}), "'ghost' not found"),
    (dict(live=False, config=False, inbound={'average': 1}), 'nothing to apply'),
    (dict(), 'one of the following is required: inbound, outbound'),
])
def test_bad_input(uri, capsys, args, match):
    args.setdefault('name', 'web01')
    res = run(capsys, uri=uri, **args)
    assert res['failed'] and match in res['msg'], res['msg']
