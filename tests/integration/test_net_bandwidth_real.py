# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Network bandwidth against real parts: libvirtd, and the kernel's netdevsim where it exists.

Each check that cannot run here skips with the reason, never silently:
live interface shaping needs tc's sfq qdisc and police action; the
netdevsim tier needs root and the netdevsim module.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import subprocess
import uuid

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.adaptive.intravm.plugins.module_utils.devices import net_counters
from ansible_collections.adaptive.intravm.plugins.module_utils.devices import sriov
from ansible_collections.adaptive.intravm.plugins.modules import iface_bandwidth, vf_bandwidth

MAC = '52:54:00:5e:00:%02x'
NIC = "<interface type='ethernet'><mac address='%s'/><model type='virtio'/></interface>"
MISSING_TC = ('qdisc kind is unknown', 'TC action')


def run(module, capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def test_counters_of_a_real_domain(make_domain, libvirtd):
    dom = make_domain('cnt', vcpus=1, devices=NIC % (MAC % 1))
    found = net_counters.read_net_counters(libvirtd)[dom.name()]
    assert list(found) == [MAC % 1]
    target = re.search(r"<target dev='([^']+)'", dom.XMLDesc(0)).group(1)
    oracle = subprocess.run(['virsh', '-c', 'qemu:///system', 'domifstat', dom.name(), target],
                            stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    rx = int(re.search(r'rx_bytes (\d+)', oracle).group(1))
    tx = int(re.search(r'tx_bytes (\d+)', oracle).group(1))
    assert found[MAC % 1]['rx_bytes'] <= rx and found[MAC % 1]['tx_bytes'] <= tx  # counters only grow
    assert found[MAC % 1]['rx_bytes'] >= 0


def test_live_and_config_apply_together_or_config_is_restored(make_domain, capsys):
    """Config is set first; when live fails (tc support missing) config must be put back."""
    dom = make_domain('ifbw', vcpus=1, devices=NIC % (MAC % 2))
    target = re.search(r"<target dev='([^']+)'", dom.XMLDesc(0)).group(1)  # vnetN: not in the config XML
    res = run(iface_bandwidth, capsys, name=dom.name(), interface=target,
              inbound={'average': 500}, outbound={'average': 400})
    config = dom.interfaceParameters(MAC % 2, 2)
    if res.get('failed'):
        assert 'live bandwidth' in res['msg'] and res['restored'] == ['config'] and res['restore_errors'] == []
        assert config['inbound.average'] == 0 and config['outbound.average'] == 0
    else:
        assert res['changed'] and config['inbound.average'] == 500


def test_live_shaping(make_domain, capsys):
    dom = make_domain('ifbw', vcpus=1, devices=NIC % (MAC % 4))
    res = run(iface_bandwidth, capsys, name=dom.name(), inbound={'average': 500}, outbound={'average': 400}, config=False)
    if res.get('failed') and any(m in res['msg'] for m in MISSING_TC):
        pytest.skip('live interface bandwidth unavailable on this kernel (libvirt: %s)' % res['msg'])
    assert res['changed'] and res['sides'] == ['live'], res
    assert dom.interfaceParameters(MAC % 4, 1)['inbound.average'] == 500
    again = run(iface_bandwidth, capsys, name=dom.name(), inbound={'average': 500}, outbound={'average': 400}, config=False)
    assert not again['changed']


def test_iface_bandwidth_live_only_on_running_domain(make_domain, capsys):
    dom = make_domain('ifbw', vcpus=1, devices=NIC % (MAC % 3), start=False)
    res = run(iface_bandwidth, capsys, name=dom.name(), outbound={'average': 100}, config=False)
    assert res['failed'] and 'nothing to apply' in res['msg'] and 'not running' in res['msg']


# ------------------------------------------------------------- netdevsim

def _netdevsim():
    """Why the netdevsim tier cannot run here, or None."""
    if os.geteuid() != 0:
        return 'needs root'
    if not os.path.isdir('/sys/bus/netdevsim'):
        try:
            proc = subprocess.run(['modprobe', 'netdevsim'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  universal_newlines=True, check=False)
        except OSError as exc:
            return 'no /sys/bus/netdevsim and modprobe cannot run: %s' % exc
        if proc.returncode != 0 or not os.path.isdir('/sys/bus/netdevsim'):
            return 'no /sys/bus/netdevsim and `modprobe netdevsim` failed: %s' % proc.stdout.strip()
    if not sriov.HAS_PYROUTE2:
        return 'pyroute2 not installed'
    return None


@pytest.fixture
def netdevsim_pf():
    reason = _netdevsim()
    if reason:
        pytest.skip('netdevsim real-kernel tier: %s' % reason)
    dev_id = 7000 + int(uuid.uuid4().hex[:3], 16)
    with open('/sys/bus/netdevsim/new_device', 'w') as handle:
        handle.write('%d 1' % dev_id)
    dev = '/sys/bus/netdevsim/devices/netdevsim%d' % dev_id
    try:
        with open(os.path.join(dev, 'sriov_numvfs'), 'w') as handle:
            handle.write('4')
        names = os.listdir(os.path.join(dev, 'net'))
        yield names[0]
    finally:
        with open('/sys/bus/netdevsim/del_device', 'w') as handle:
            handle.write('%d' % dev_id)


def test_netdevsim_vf_rate(netdevsim_pf, capsys):
    first = run(vf_bandwidth, capsys, pf=netdevsim_pf, vf=2, min_tx_rate=100, max_tx_rate=1000)
    assert first['changed'], first
    with sriov.Netlink() as nl:
        assert [v for v in nl.vfs(netdevsim_pf) if v['vf'] == 2][0]['max_tx_rate'] == 1000
    assert not run(vf_bandwidth, capsys, pf=netdevsim_pf, vf=2, min_tx_rate=100, max_tx_rate=1000)['changed']
    bad = run(vf_bandwidth, capsys, pf=netdevsim_pf, vf=4, max_tx_rate=10)
    assert bad['failed'] and 'VF index 4 is out of range' in bad['msg']
