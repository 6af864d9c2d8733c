#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: vf_bandwidth
short_description: Set the transmit rate limits of an SR-IOV VF through netlink
version_added: 0.1.0
description:
  - Sets the minimum (guaranteed) and maximum transmit rate of one SR-IOV
    virtual function (VF), in Mbps, with one netlink C(IFLA_VF_RATE) message
    to the physical function (PF) - what C(ip link set dev PF vf N min_tx_rate X max_tx_rate Y) does.
  - The VF is chosen either directly (O(pf) and O(vf)) or by the libvirt
    domain that holds it (O(name), optionally O(interface)). For a domain the
    VF's PCI address comes from its XML (C(<interface type='hostdev'>) or
    C(<hostdev type='pci'>)), then the PF and VF index from sysfs
    (C(physfn) and C(virtfnN) links); when sysfs has no such VF, the
    interface's MAC address is matched against the VF MACs netlink reports.
  - Current rates are always read from netlink, never cached, because drivers
    reset them silently (ixgbe zeroes every VF rate when the link speed changes).
  - Everything is validated before any change; a request that fails
    validation or that the driver refuses changes nothing.
  - For virtio/tap interfaces use M(adaptive.intravm.iface_bandwidth).
author:
  - adaptive.intravm contributors (@adaptive-intravm)
requirements:
  - pyroute2
options:
  name:
    description:
      - Domain whose VF to limit. Mutually exclusive with O(pf).
    type: str
  interface:
    description:
      - Which of the domain's VFs, by MAC address, alias or host PCI address.
      - May be omitted when the domain has exactly one VF.
    type: str
  pf:
    description:
      - Name of the PF network interface, for example C(ens1f0). Requires O(vf).
    type: str
  vf:
    description:
      - VF index on O(pf).
    type: int
  min_tx_rate:
    description:
      - Guaranteed minimum transmit rate in Mbps; C(0) means none.
      - When omitted the VF keeps its current minimum.
    type: int
  max_tx_rate:
    description:
      - Maximum transmit rate in Mbps; C(0) means no limit.
      - When omitted the VF keeps its current maximum.
    type: int
  sysfs_root:
    description:
      - Where sysfs is mounted. Tests point it at a fake tree.
    type: path
    default: /sys
extends_documentation_fragment:
  - adaptive.intravm.attributes.ACTION
  - adaptive.intravm.libvirt
notes:
  - libvirt-python is needed only when the VF is chosen by O(name).
  - Checks made before any change - min above max (when max is not 0), max
    above the PF's link speed, the sum of all VFs' minimums above the link
    speed, a VF index beyond C(sriov_numvfs), a PF without SR-IOV, a domain
    without a VF. When the link is down its speed is unknown and the two
    speed checks are skipped with a warning.
  - Drivers add their own rules. ixgbe, for example, refuses any non-zero
    minimum and maxima of 10 Mbps or less; such a refusal fails with the
    driver's name and the refused values.
seealso:
  - module: adaptive.intravm.iface_bandwidth
  - name: Kernel SR-IOV sysfs ABI
    description: sriov_numvfs, sriov_totalvfs and the virtfnN/physfn links.
    link: https://www.kernel.org/doc/Documentation/ABI/testing/sysfs-bus-pci
'''

EXAMPLES = r'''
- name: Cap the VF of web01 at 2 Gb/s and guarantee it 500 Mb/s
  adaptive.intravm.vf_bandwidth:
    name: web01
    min_tx_rate: 500
    max_tx_rate: 2000

- name: Choose one of two VFs by MAC address
  adaptive.intravm.vf_bandwidth:
    name: db01
    interface: "52:54:00:6b:1c:02"
    max_tx_rate: 4000

- name: Remove the limits of VF 3 on ens1f0
  adaptive.intravm.vf_bandwidth:
    pf: ens1f0
    vf: 3
    min_tx_rate: 0
    max_tx_rate: 0

- name: Read the current rates only (no rate given)
  adaptive.intravm.vf_bandwidth:
    pf: ens1f0
    vf: 3
  register: vf3
'''

RETURN = r'''
pf:
  description: PF network interface the VF belongs to.
  returned: always
  type: str
  sample: ens1f0
vf:
  description: VF index on the PF.
  returned: always
  type: int
  sample: 3
pci:
  description: PCI address of the VF, when sysfs knows it.
  returned: always
  type: str
  sample: "0000:03:10.6"
driver:
  description: Kernel driver of the PF.
  returned: always
  type: str
  sample: ixgbe
link_speed:
  description: PF link speed in Mbps, or null when the link is down.
  returned: always
  type: int
  sample: 10000
resolved_by:
  description: How the VF was found - C(pf) (given), C(sysfs) (PCI address via physfn/virtfnN) or C(mac) (VF MAC in netlink).
  returned: always
  type: str
  sample: sysfs
min_tx_rate:
  description: Minimum transmit rate in Mbps after the run (re-read from netlink; predicted in check mode).
  returned: always
  type: int
  sample: 500
max_tx_rate:
  description: Maximum transmit rate in Mbps after the run (re-read from netlink; predicted in check mode).
  returned: always
  type: int
  sample: 2000
diff:
  description: Rates before and after.
  returned: when diff mode is on
  type: dict
  sample: {"before": {"min_tx_rate": 0, "max_tx_rate": 0}, "after": {"min_tx_rate": 500, "max_tx_rate": 2000}}
'''

from collections import namedtuple

from ansible_collections.adaptive.intravm.plugins.module_utils.host import domain_nics
from ansible_collections.adaptive.intravm.plugins.module_utils.host import libvirt_conn
from ansible_collections.adaptive.intravm.plugins.module_utils.devices import sriov
from ansible_collections.adaptive.intravm.plugins.module_utils.apply import vf_rates
from ansible_collections.adaptive.intravm.plugins.module_utils.apply.rollback import Journal
from ansible_collections.adaptive.intravm.plugins.module_utils.errors import reported
from ansible_collections.adaptive.intravm.plugins.module_utils.module_base import IntravmModule


# Where the VF is: PF name, VF index, PCI address, and how we found it.
VfTarget = namedtuple('VfTarget', 'pf vf pci resolved_by')


def domain_vf(module, netlink):
    """Find the VF the domain holds: XML -> PCI -> sysfs, else MAC -> netlink."""
    params = module.params
    xml = libvirt_conn.lookup_domain(module.connect(), params['name']).XMLDesc(0)
    try:
        nic = domain_nics.select_nic(domain_nics.parse_nics(xml), params['interface'], params['name'],
                                     domain_nics.is_passthrough)
    except domain_nics.NicSelectionError as exc:
        raise sriov.SriovError(str(exc))
    root = params['sysfs_root']
    found = sriov.locate_vf(root, nic, netlink.vfs)
    if found is not None:
        pf, vf, how = found
        return VfTarget(pf, vf, nic['pci'] if how == 'sysfs' else sriov.vf_pci_addresses(root, pf).get(vf), how)
    raise sriov.SriovError('VF %s of domain %r (PCI %s) is not a VF of any SR-IOV PF under %s, and no PF reports its MAC'
                           % (domain_nics.nic_label(nic), params['name'], nic['pci'] or 'unknown', root))


def rates(entry):
    return {'min_tx_rate': entry['min_tx_rate'], 'max_tx_rate': entry['max_tx_rate']}


def set_rates(netlink, pf, vf, driver, before, wanted):
    """Set the VF's rates and re-read them; on a refusal or a mismatch put `before` back and fail saying how it went.

    The undo is journaled before the change, not after it: a refused message
    may still have changed one of the two rates.
    """
    outcome = {'unchanged': before}

    def put_back():
        now = sriov.find_vf(netlink.vfs(pf), vf)
        if now is not None and rates(now) != before:
            netlink.set_vf_rate(pf, vf, before['min_tx_rate'], before['max_tx_rate'])
            outcome.pop('unchanged')
            outcome['restored'] = before

    journal = Journal()
    journal.run('rates of VF %d of PF %s' % (vf, pf), lambda: None, put_back)
    try:
        netlink.set_vf_rate(pf, vf, wanted['min_tx_rate'], wanted['max_tx_rate'])
    except sriov.NetlinkError as exc:
        msg = vf_rates.refusal_message(sriov.netlink_error_code(exc), driver, pf, vf, wanted['min_tx_rate'], wanted['max_tx_rate'])
    else:
        after = rates(sriov.find_vf(netlink.vfs(pf), vf))
        if after == wanted:
            return after
        msg = ('driver %s accepted min_tx_rate=%d max_tx_rate=%d for VF %d of PF %s but now reports min_tx_rate=%d max_tx_rate=%d'
               % (driver, wanted['min_tx_rate'], wanted['max_tx_rate'], vf, pf, after['min_tx_rate'], after['max_tx_rate']))
    _rolled_back, errors = journal.rollback()
    if errors:
        outcome = {'restore_error': 'could not restore min_tx_rate=%d max_tx_rate=%d: %s'
                                    % (before['min_tx_rate'], before['max_tx_rate'], errors[0][1])}
    raise vf_rates.VfRateError(msg, **outcome)


def run(module):
    params = module.params
    root = params['sysfs_root']
    with sriov.Netlink() as netlink:
        if params['name']:
            target = domain_vf(module, netlink)
        else:
            pf, vf = params['pf'], params['vf']
            target = VfTarget(pf, vf, sriov.vf_pci_addresses(root, pf).get(vf) if sriov.pf_exists(root, pf) else None, 'pf')
        pf = target.pf
        _total, num_vfs = sriov.sriov_counts(root, pf)
        speed = sriov.link_speed(root, pf)
        driver = sriov.driver_name(root, pf)
        vfs = netlink.vfs(pf)
        current = sriov.find_vf(vfs, target.vf)
        if current is None and 0 <= target.vf < num_vfs:
            raise sriov.SriovError('netlink reports no VF %d on PF %s although sriov_numvfs is %d'
                                   % (target.vf, pf, num_vfs))
        # The range check needs no current state; give it a placeholder so it reports first.
        base = current or {'min_tx_rate': 0, 'max_tx_rate': 0}
        want_min, want_max = vf_rates.desired_rates(base, params['min_tx_rate'], params['max_tx_rate'])
        vf_rates.validate(pf, target.vf, want_min, want_max, num_vfs, speed, vfs)
        if speed is None:
            module.warn('link speed of PF %s is unknown (link down?); speed checks were skipped' % pf)
        before = rates(current)
        wanted = {'min_tx_rate': want_min, 'max_tx_rate': want_max}
        changed = before != wanted
        after = wanted
        if changed and not module.check_mode:
            after = set_rates(netlink, pf, target.vf, driver, before, wanted)
    return dict(changed=changed, pf=pf, vf=target.vf, pci=target.pci, driver=driver, link_speed=speed,
                resolved_by=target.resolved_by, diff={'before': before, 'after': after}, **after)


def main():
    module = IntravmModule(
        argument_spec=dict(
            name=dict(type='str'),
            interface=dict(type='str'),
            pf=dict(type='str'),
            vf=dict(type='int'),
            min_tx_rate=dict(type='int'),
            max_tx_rate=dict(type='int'),
            sysfs_root=dict(type='path', default=sriov.DEFAULT_SYSFS_ROOT),
        ),
        mutually_exclusive=[('name', 'pf'), ('interface', 'pf')],
        required_one_of=[('name', 'pf')],
        required_together=[('pf', 'vf')],
        requires=[(sriov.HAS_PYROUTE2, 'pyroute2', sriov.PYROUTE2_IMPORT_ERROR)],
    )
    module.run_and_exit(run, errors={sriov.SriovError: reported(''), sriov.NetlinkError: reported('netlink error: '),
                                     OSError: reported('sysfs error: ')})


if __name__ == '__main__':
    main()
