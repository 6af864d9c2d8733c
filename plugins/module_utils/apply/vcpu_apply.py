# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vcpu_count's logic: hot-plug vCPUs into a running domain, and unplug them only with the guest's consent.

plan_vcpus() is pure; run(module) reads the domain and, when the count goes
down live, asks the QEMU guest agent to take the leaving vCPUs offline first
(a guest that loses a vCPU it is running on crashes or refuses the eject).
Without an agent that answers, an unplug is refused and nothing changes.
Plugged vCPUs are not pinned here: they join the placement the planner owns
and vcpu_pin pins them on the next run, by the same rules as the rest.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time
import xml.etree.ElementTree as ET

from ansible_collections.adaptive.intravm.plugins.module_utils.apply.rollback import Journal
from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError
from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset, libvirt_conn


def enabled_ids(xml_text, count):
    """Ids of the enabled vCPUs, in the order libvirt unplugs them last-first (from <vcpus>, else 0..count-1)."""
    nodes = ET.fromstring(xml_text).findall('./vcpus/vcpu')
    if not nodes:
        return list(range(count))
    on = [n for n in nodes if n.get('enabled') == 'yes']
    return [int(n.get('id')) for n in sorted(on, key=lambda n: (int(n.get('order') or 0), int(n.get('id'))))]


def plan_vcpus(before, count, guest):
    """The changes that take each side of `before` to `count` vCPUs, or IntravmError.

    before: {side: {'current', 'maximum', 'ids'}}; guest: the agent's
    guestVcpus() answer as sets ({'online', 'offlinable'}) or None when it does
    not answer. A live unplug names the vCPUs that leave (`remove`).
    """
    changes = []
    for side, now in sorted(before.items()):
        if not 1 <= count <= now['maximum']:
            raise IntravmError('count %d is outside 1..%d, the domain\'s maximum (%s); raising the maximum needs a '
                               'restart' % (count, now['maximum'], side))
        if now['current'] == count:
            continue
        change = {'side': side, 'before': now['current'], 'after': count}
        if side == 'live' and count < now['current']:
            leaving = now['ids'][count:]
            if guest is None:
                raise IntravmError('unplugging vCPUs %s needs the guest\'s cooperation and the QEMU guest agent does '
                                   'not answer; nothing changed' % cpuset.format(leaving))
            refused = [i for i in leaving if i in guest['online'] and i not in guest['offlinable']]
            if refused:
                raise IntravmError('the guest cannot take vCPUs %s offline (not offlinable); nothing changed'
                                   % cpuset.format(refused))
            change['remove'] = leaving
        changes.append(change)
    return changes


def read_state(dom, sides):
    state = {}
    for side in sides:
        flags = libvirt_conn.AFFECT_CONFIG if side == 'config' else libvirt_conn.AFFECT_LIVE
        current = dom.vcpusFlags(flags)
        state[side] = {'current': current, 'maximum': dom.vcpusFlags(flags | libvirt_conn.VCPU_MAXIMUM),
                       'ids': enabled_ids(dom.XMLDesc(libvirt_conn.XML_INACTIVE if side == 'config' else 0), current)}
    return state


def guest_view(dom):
    """The agent's view as sets {'vcpus', 'online', 'offlinable'}, or None when no agent answers."""
    if not dom.isActive():
        return None
    try:
        raw = dom.guestVcpus()
    except libvirt_conn.libvirt.libvirtError:
        return None
    if not raw:
        return None
    return dict((key, cpuset.parse(raw.get(key) or '')) for key in ('vcpus', 'online', 'offlinable'))


def public(guest):
    return None if guest is None else dict((k, cpuset.format(v)) for k, v in guest.items())


def wait_online(dom, ids, seconds, poll=0.5):
    """Wait up to `seconds` for the guest to bring `ids` online; the agent's last view (None without one)."""
    deadline = time.time() + seconds
    while True:
        guest = guest_view(dom)
        if guest is None or set(ids) <= guest['online'] or time.time() >= deadline:
            return guest
        time.sleep(poll)


def setter(dom, side, count):
    flags = libvirt_conn.AFFECT_CONFIG if side == 'config' else libvirt_conn.AFFECT_LIVE

    def call():
        try:
            dom.setVcpusFlags(count, flags)
        except libvirt_conn.libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt_conn.libvirt.VIR_ERR_OPERATION_TIMEOUT:
                raise
            # Seen with TCG guests on libvirt 9.0: the guest ejects the vCPU and QEMU removes it,
            # but no DEVICE_DELETED for it reaches libvirt, whose view then stays stale.
            raise IntravmError('libvirt timed out waiting for QEMU to remove the vCPU(s) (%s); the guest may have '
                               'released them while libvirt still counts them: check `virsh vcpucount` and the guest '
                               'agent before trying again' % libvirt_conn.error_text(exc))
    return call


def guest_state(dom, vcpu, online):
    return lambda: dom.setGuestVcpus(str(vcpu), 1 if online else 0)


def run(module):
    params = module.params
    count = params['count']
    conn = module.connect()
    dom = libvirt_conn.lookup_domain(conn, params['name'])
    sides = module.sides(dom)
    before = read_state(dom, sides)
    guest = guest_view(dom) if 'live' in sides else None
    changes = plan_vcpus(before, count, guest)
    after = dict((side, dict(now)) for side, now in before.items())
    for change in changes:
        after[change['side']]['current'] = change['after']
    result = {
        'changed': bool(changes),
        'changes': [dict(c, remove=cpuset.format(c['remove'])) if 'remove' in c else c for c in changes],
        'diff': {'before': strip(before), 'after': strip(after)},
    }
    if changes and not module.check_mode:
        journal = Journal(describe_error=libvirt_conn.error_text)
        for change in changes:
            for vcpu in change.get('remove', ()):
                if vcpu in guest['online']:
                    journal.run('guest vCPU %d offline' % vcpu, guest_state(dom, vcpu, False), guest_state(dom, vcpu, True))
            journal.run('%(side)s vCPUs %(before)d -> %(after)d' % change,
                        setter(dom, change['side'], change['after']), setter(dom, change['side'], change['before']))
        result['diff']['after'] = strip(read_state(dom, sides))
        plugged = [c for c in changes if c['side'] == 'live' and c['after'] > c['before']]
        if plugged:
            guest = wait_online(dom, read_state(dom, ['live'])['live']['ids'], params['wait'])
        elif guest is not None:
            guest = guest_view(dom)
    result['vcpus'] = result['diff']['after'][sides[0]]
    if len(sides) == 2:
        result['config_vcpus'] = result['diff']['after']['config']
    result['guest'] = public(guest)
    return result


def strip(state):
    """What the result shows of a side: the counts (the ids are how the plan is made)."""
    return dict((side, {'current': now['current'], 'maximum': now['maximum']}) for side, now in state.items())
