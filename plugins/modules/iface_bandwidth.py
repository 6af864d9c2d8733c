#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: iface_bandwidth
short_description: Shape a domain's virtio/tap interface with libvirt's interface bandwidth
version_added: 0.1.0
description:
  - Sets libvirt's C(<bandwidth>) of one interface of a domain
    (C(virDomainSetInterfaceParameters)) - inbound and outbound average, peak
    and burst, and inbound floor - live and in the persistent configuration.
  - For interfaces libvirt shapes on the host with tc - types C(network),
    C(bridge), C(direct) and C(ethernet). For SR-IOV VFs use M(adaptive.intravm.vf_bandwidth).
  - A direction that is given is set whole (fields left out are 0); a
    direction that is omitted is left as it is. C(average=0) removes the
    limit of that direction.
  - Validates before changing anything. The config side is set first, then
    the live side; when the live side fails the config side is put back (and
    a failure to put it back is reported too).
author:
  - adaptive.intravm contributors (@adaptive-intravm)
options:
  interface:
    description:
      - The interface, by MAC address, alias or host-side device (for example C(vnet0)).
      - A host-side device name exists only while the domain runs, so it
        works only with O(live=true) on a running domain; the config side is
        then found by the same NIC's MAC address.
      - May be omitted when the domain has exactly one interface libvirt can shape.
    type: str
  inbound:
    description:
      - Traffic into the domain. average, peak and floor in kilobytes per
        second, burst in kilobytes (libvirt's units).
    type: dict
    suboptions:
      average:
        description: Average rate; 0 removes the inbound limit.
        type: int
        default: 0
      peak:
        description: Peak rate; needs O(inbound.average).
        type: int
        default: 0
      burst:
        description: Size of a burst at peak rate; needs O(inbound.average).
        type: int
        default: 0
      floor:
        description: Guaranteed minimum; only for interfaces of type C(network).
        type: int
        default: 0
  outbound:
    description:
      - Traffic out of the domain, in the units of O(inbound). libvirt has no outbound floor.
    type: dict
    suboptions:
      average:
        description: Average rate; 0 removes the outbound limit.
        type: int
        default: 0
      peak:
        description: Peak rate; needs O(outbound.average).
        type: int
        default: 0
      burst:
        description: Size of a burst at peak rate; needs O(outbound.average).
        type: int
        default: 0
  live:
    description:
      - Change the running domain. Skipped (and said so in RV(sides)) when the domain is not running.
    type: bool
    default: true
  config:
    description:
      - Change the persistent configuration. Skipped for a transient domain.
    type: bool
    default: true
extends_documentation_fragment:
  - adaptive.intravm.attributes.ACTION
  - adaptive.intravm.libvirt
  - adaptive.intravm.libvirt.DOMAIN
notes:
  - libvirt shapes live traffic with tc; inbound needs the C(sfq) qdisc and
    outbound the C(police) action. On a kernel without them the live change
    fails with libvirt's message and the config side is restored.
seealso:
  - module: adaptive.intravm.vf_bandwidth
  - name: libvirt domain XML, Quality of service
    description: The <bandwidth> element and its units.
    link: https://libvirt.org/formatdomain.html#quality-of-service
'''

EXAMPLES = r'''
- name: Limit web01's NIC to about 10 MB/s in and 5 MB/s out, live and persistent
  adaptive.intravm.iface_bandwidth:
    name: web01
    inbound:
      average: 10000
      peak: 20000
      burst: 1024
    outbound:
      average: 5000

- name: Remove the inbound limit of one of two NICs, persistent config only
  adaptive.intravm.iface_bandwidth:
    name: web01
    interface: "52:54:00:aa:bb:01"
    inbound:
      average: 0
    live: false
'''

RETURN = r'''
interface:
  description: MAC address of the interface that was shaped.
  returned: always
  type: str
  sample: "52:54:00:aa:bb:01"
sides:
  description: Sides the request applied to, C(live) and/or C(config).
  returned: always
  type: list
  elements: str
  sample: [live, config]
bandwidth:
  description: Bandwidth after the run per side (predicted in check mode), as inbound/outbound dicts.
  returned: always
  type: dict
  sample: {"config": {"inbound": {"average": 10000, "peak": 20000, "burst": 1024, "floor": 0},
                      "outbound": {"average": 5000, "peak": 0, "burst": 0}}}
diff:
  description: Bandwidth before and after, per side.
  returned: when diff mode is on
  type: dict
'''

import functools

from ansible_collections.adaptive.intravm.plugins.module_utils.host import domain_nics
from ansible_collections.adaptive.intravm.plugins.module_utils.apply import iface_rates
from ansible_collections.adaptive.intravm.plugins.module_utils.apply.rollback import PartialApplyError, Step, apply_all
from ansible_collections.adaptive.intravm.plugins.module_utils.host import libvirt_conn
from ansible_collections.adaptive.intravm.plugins.module_utils.module_base import LIBVIRT, IntravmModule


def side_flags(dom, side):
    return libvirt_conn.effective_flags(dom, side == 'live', side == 'config')


def plan(params, dom):
    """Per side: the NIC, current and wanted parameters; validated, nothing changed."""
    active, persistent = bool(dom.isActive()), bool(dom.isPersistent())
    sides = [s for s, wanted, possible in (('live', params['live'], active), ('config', params['config'], persistent))
             if wanted and possible]
    if not sides:
        raise iface_rates.IfaceRateError('nothing to apply to domain %r: live=%s (domain %s), config=%s (domain %s)'
                                         % (params['name'], params['live'], 'running' if active else 'not running',
                                            params['config'], 'persistent' if persistent else 'transient'))
    wanted = iface_rates.typed_params(params['inbound'], params['outbound'])
    steps = []
    selector = params['interface']
    for side in sides:
        xml = dom.XMLDesc(libvirt_conn.XML_INACTIVE if side == 'config' else 0)
        try:
            nic = domain_nics.select_nic(domain_nics.parse_nics(xml), selector, params['name'],
                                         domain_nics.is_shapeable)
        except domain_nics.NicSelectionError as exc:
            raise iface_rates.IfaceRateError('%s side: %s' % (side, exc))
        # The config XML has no host device name (vnetN): find the same NIC there by its MAC.
        selector = nic['mac']
        iface_rates.validate(wanted, nic, params['name'])
        current = dom.interfaceParameters(nic['mac'], side_flags(dom, side))
        steps.append({'side': side, 'mac': nic['mac'], 'before': current,
                      'changes': iface_rates.changes(current, wanted)})
    return sides, wanted, steps


def apply(name, dom, wanted, steps):
    """Set each side that differs, config first; on an error put back the sides already set.

    Config goes first because the live side is the one that depends on the
    host (tc qdiscs and actions) and is the likelier to fail.
    """
    todo = []
    for step in sorted(steps, key=lambda s: s['side'] != 'config'):
        if step['changes']:
            flags = side_flags(dom, step['side'])
            todo.append(Step(step['side'], functools.partial(dom.setInterfaceParameters, step['mac'], wanted, flags),
                             functools.partial(dom.setInterfaceParameters, step['mac'], step['before'], flags)))
    try:
        apply_all(todo, describe_error=libvirt_conn.error_text)
    except PartialApplyError as exc:
        raise refusal(exc, name, steps[0]['mac'], wanted)  # both sides are the same NIC, found by its MAC


def refusal(exc, name, mac, wanted):
    """The error for a side libvirt refused; `restored` lists each side put back or tried to (see restore_errors)."""
    msg = ('libvirt refused %s bandwidth %s for interface %s of domain %r: %s'
           % (exc.failed, ', '.join('%s=%d' % (k, wanted[k]) for k in sorted(wanted)), mac, name, exc.cause))
    restore_errors = ['%s: %s' % e for e in exc.rollback_errors]
    if restore_errors:
        msg += '; restoring failed too: ' + '; '.join(restore_errors)
    elif exc.rolled_back:
        msg += '; restored the %s side' % ', '.join(exc.rolled_back)
    return iface_rates.IfaceRateError(msg, restored=exc.rolled_back + [side for side, _err in exc.rollback_errors],
                                      restore_errors=restore_errors)


def run(module):
    params = module.params
    dom = libvirt_conn.lookup_domain(module.connect(), params['name'])
    sides, wanted, steps = plan(params, dom)
    changed = any(s['changes'] for s in steps)
    if changed and not module.check_mode:
        apply(params['name'], dom, wanted, steps)
    after = {}
    for step in steps:
        if module.check_mode:
            merged = dict(step['before'])
            merged.update(wanted)
        else:
            merged = dom.interfaceParameters(step['mac'], side_flags(dom, step['side']))
        after[step['side']] = iface_rates.as_nested(merged)
    return dict(changed=changed, interface=steps[0]['mac'], sides=sides, bandwidth=after,
                diff={'before': dict((s['side'], iface_rates.as_nested(s['before'])) for s in steps), 'after': after})


def main():
    rate = dict(type='int', default=0)
    module = IntravmModule(
        domain=True,
        argument_spec=dict(
            interface=dict(type='str'),
            inbound=dict(type='dict', options=dict(average=rate, peak=rate, burst=rate, floor=rate)),
            outbound=dict(type='dict', options=dict(average=rate, peak=rate, burst=rate)),
        ),
        sides=True,
        required_one_of=[('inbound', 'outbound')],
        requires=[LIBVIRT],
    )
    module.run_and_exit(run)


if __name__ == '__main__':
    main()
