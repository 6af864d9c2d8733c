# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""memory_balloon's logic: set a domain's balloon target within its maximum and above what the guest uses.

plan_balloon() is pure (state and request in, changes or a refusal out) so the
rules are tested without libvirt; run(module) reads the domain, plans, applies
through the rollback journal and waits for the guest to reach the target.
The balloon only moves when the guest's virtio-balloon driver answers, so the
live value compared is the balloon's `actual` size, not the last request.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import time
import xml.etree.ElementTree as ET
from fractions import Fraction

from ansible.module_utils.common.text.formatters import human_to_bytes

from ansible_collections.adaptive.intravm.plugins.module_utils.apply.rollback import Journal
from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError
from ansible_collections.adaptive.intravm.plugins.module_utils.host import libvirt_conn

KIB = 1024
PAGE = 4096          # the balloon moves whole guest pages
MAX_SIZE = 1 << 63   # 8 EiB: above any memory libvirt can give a domain
MAX_SIZE_TEXT = 64   # characters of a size as written: a few digits past the largest size, and a unit
_SIZE = re.compile(r'([0-9]*)(?:\.([0-9]+))?[ \t]*([A-Za-z]*)\Z')

# memoryStats() keys (KiB or counts) -> the names we report (bytes or counts).
STATS = (
    ('actual', 'actual_bytes', KIB), ('unused', 'unused_bytes', KIB), ('available', 'available_bytes', KIB),
    ('usable', 'usable_bytes', KIB), ('disk_caches', 'disk_caches_bytes', KIB), ('rss', 'rss_bytes', KIB),
    ('major_fault', 'major_faults', 1), ('minor_fault', 'minor_faults', 1),
    ('swap_in', 'swap_in_bytes', KIB), ('swap_out', 'swap_out_bytes', KIB), ('last_update', 'last_update', 1),
)


def read_stats(raw):
    """libvirt's memoryStats() dict in bytes and counts, under names that say their unit."""
    return dict((name, int(raw[key]) * scale) for key, name, scale in STATS if key in raw)


def guest_used(stats):
    """Bytes the guest uses (its total less what it could free without swapping), or None without guest stats."""
    if 'available_bytes' in stats and 'usable_bytes' in stats:
        return max(0, stats['available_bytes'] - stats['usable_bytes'])
    return None


def read_side(xml_text):
    """{'memory_bytes', 'max_bytes', 'balloon', 'stats_period'} from a domain XML (live or inactive)."""
    root = ET.fromstring(xml_text)

    def kib(tag):
        node = root.find(tag)
        return int(node.text) * KIB if node is not None else None
    balloon = root.find('./devices/memballoon')
    model = balloon.get('model') if balloon is not None else None
    stats = balloon.find('stats') if balloon is not None else None
    return {
        'memory_bytes': kib('currentMemory') or kib('memory'),
        'max_bytes': kib('memory'),
        'balloon': model not in (None, 'none'),
        'stats_period': int(stats.get('period', 0)) if stats is not None else 0,
    }


def plan_balloon(before, target, stats_period, floor):
    """The changes that take each side of `before` to `target` bytes and `stats_period`, or IntravmError.

    before: {side: read_side() of it}, the live side's memory_bytes being the
    balloon's actual size. floor: the least bytes the guest may keep (None:
    unknown); it limits a shrink below what a side holds now, on each side:
    the persistent currentMemory is what the guest boots with, so the config
    side is held to the same floor, and refused a shrink without one.
    """
    changes = []
    for side, now in sorted(before.items()):
        if not now['balloon']:
            raise IntravmError('the domain has no balloon device (<memballoon model="none"> or none at all): '
                               'add <memballoon model="virtio"/> to its definition (takes effect at the next boot)')
        if target > now['max_bytes']:
            raise IntravmError('memory %d MiB is above the domain\'s maximum of %d MiB (%s); raising the maximum needs '
                               'a restart' % (target // 2 ** 20, now['max_bytes'] // 2 ** 20, side))
        if target < now['memory_bytes']:
            if floor is None:
                raise IntravmError('cannot shrink (%s): the guest reports no memory statistics, so how much it uses is '
                                   'unknown (a running guest reports them with the virtio-balloon driver and a '
                                   'stats_period > 0)' % side)
            if target < floor:
                raise IntravmError('memory %s is below the floor of %d MiB (what the guest uses now plus min_free, %s); '
                                   'nothing changed' % (_mib(target), -(-floor // 2 ** 20), side))
        if stats_period is not None and now['stats_period'] != stats_period:
            changes.append({'side': side, 'what': 'stats_period', 'before': now['stats_period'], 'after': stats_period})
        if now['memory_bytes'] != target:
            changes.append({'side': side, 'what': 'memory_bytes', 'before': now['memory_bytes'], 'after': target})
    return changes


def _mib(value):
    """'4 KiB' below a MiB, else whole MiB: a refused 4K target reads as what it is, not as 0 MiB."""
    return '%d MiB' % (value // 2 ** 20) if value >= 2 ** 20 else '%d KiB' % (value // KIB)


def applied(before, changes):
    """`before` with `changes` made: what the domain should look like after them."""
    after = dict((side, dict(now)) for side, now in before.items())
    for change in changes:
        after[change['side']][change['what']] = change['after']
    return after


def setter(dom, change, flags, value):
    if change['what'] == 'stats_period':
        return lambda: dom.setMemoryStatsPeriod(value, flags)
    return lambda: dom.setMemoryFlags(value // KIB, flags)


def read_state(dom, sides):
    state = {}
    for side in sides:
        state[side] = read_side(dom.XMLDesc(libvirt_conn.XML_INACTIVE if side == 'config' else 0))
    if 'live' in state:
        state['live']['memory_bytes'] = int(dom.info()[2]) * KIB
    return state


def wait_for(dom, target, seconds, poll=0.5):
    """Wait up to `seconds` for the balloon's actual size to reach target; True when it did."""
    deadline = time.time() + seconds
    while True:
        if int(dom.info()[2]) * KIB == target:
            return True
        if time.time() >= deadline:
            return False
        time.sleep(poll)


def guest_stats(dom, stats_period, wait):
    """The balloon's statistics; after a stats period change, wait one period for the guest's first report."""
    stats = read_stats(dom.memoryStats())
    deadline = time.time() + (stats_period + 1 if wait and stats_period else 0)
    while guest_used(stats) is None and time.time() < deadline:
        time.sleep(0.5)
        stats = read_stats(dom.memoryStats())
    return stats


def size(value, option):
    """Bytes from a size such as 1536M, 1.5G or 2G (binary units; a plain number is MiB); IntravmError naming option.

    The one size parser (memory_balloon's memory and min_free, allocation_plan's
    resize bounds). The number is ASCII digits, with a fraction after a '.'
    (float() also takes "\u0661" and "1_0"), worked out exactly, never
    through a float (a 40,000-digit size was "cannot convert float infinity
    to integer"); at most MAX_SIZE_TEXT characters and MAX_SIZE bytes. The
    unit is what Ansible's human_to_bytes takes (K, KB, kilobyte, ...).
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise IntravmError('%s: %s is not a size such as 1536M or 2G' % (option, _shown(value)))
    text = str(value).strip(' \t\r\n')
    if len(text) > MAX_SIZE_TEXT:
        raise IntravmError('%s: %s is not a size: a size is at most %d characters (such as 1536M or 2G)'
                           % (option, _shown(value), MAX_SIZE_TEXT))
    match = _SIZE.match(text)
    if match is None or not (match.group(1) or match.group(2)):
        raise IntravmError('%s: %s is not a size such as 1536M or 2G (ASCII digits, a "." before a fraction, '
                           'then a unit; a plain number is MiB)' % (option, _shown(value)))
    whole, fraction, unit = match.group(1) or '0', match.group(2) or '', match.group(3)
    try:
        scale = int(human_to_bytes('1' + unit, default_unit='M'))
    except ValueError as exc:
        raise IntravmError('%s: %s has no unit a size can have (%s)' % (option, _shown(value), exc))
    exact = Fraction(int(whole + fraction), 10 ** len(fraction)) * scale
    if exact > MAX_SIZE:
        raise IntravmError('%s: %s is above %d EiB, the largest size' % (option, _shown(value), MAX_SIZE >> 60))
    return int(round(exact))


def _shown(value):
    text = repr(value)
    return text if len(text) <= 40 else '%s... (%d characters)' % (text[:30], len(text))


def run(module):
    params = module.params
    target, min_free, period = size(params['memory'], 'memory'), size(params['min_free'], 'min_free'), params['stats_period']
    if target <= 0 or period < 0:
        raise IntravmError('memory must be positive and stats_period not negative')
    conn = module.connect()
    dom = libvirt_conn.lookup_domain(conn, params['name'])
    sides = module.sides(dom)
    target -= target % PAGE
    before = read_state(dom, sides)
    journal = Journal(describe_error=libvirt_conn.error_text)
    stats = {}
    if 'live' not in sides and dom.isActive():
        # config only, of a running guest: its floor is still what it uses now plus min_free
        stats = guest_stats(dom, period, wait=False)
    elif 'live' in sides:
        live = before['live']
        if live['balloon'] and period and live['stats_period'] == 0 and target < live['memory_bytes'] \
                and not module.check_mode:
            # A shrink needs the guest's use, and a guest never asked for statistics has none:
            # ask (undone below if the request is then refused), and wait one period for them.
            flags = libvirt_conn.effective_flags(dom, True, False)
            journal.run('live stats_period 0 -> %d' % period, lambda: dom.setMemoryStatsPeriod(period, flags),
                        lambda: dom.setMemoryStatsPeriod(0, flags))
            stats = guest_stats(dom, period, wait=True)
        else:
            stats = guest_stats(dom, period, wait=False)
    used = guest_used(stats)
    made = [{'side': 'live', 'what': 'stats_period', 'before': 0, 'after': period}] if journal.done else []
    try:
        changes = made + plan_balloon(applied(before, made), target, period, None if used is None else used + min_free)
    except IntravmError:
        journal.rollback()
        raise
    result = {
        'changed': bool(changes), 'changes': changes, 'reached': None,
        'guest_used_bytes': used, 'stats': stats,
        'diff': {'before': before, 'after': applied(before, changes)},
    }
    if changes and not module.check_mode:
        for change in changes[len(journal.done):]:
            flags = libvirt_conn.effective_flags(dom, change['side'] == 'live', change['side'] == 'config')
            journal.run('%(side)s %(what)s %(before)s -> %(after)s' % change,
                        setter(dom, change, flags, change['after']), setter(dom, change, flags, change['before']))
        if any(c['side'] == 'live' and c['what'] == 'memory_bytes' for c in changes):
            result['reached'] = wait_for(dom, target, params['wait'])
            if not result['reached']:
                module.warn('the guest has not reached the balloon target within %d s (is its virtio-balloon '
                            'driver loaded?); the request stands and the guest may get there later' % params['wait'])
        result['diff']['after'] = read_state(dom, sides)
        if 'live' in sides:
            result['stats'] = read_stats(dom.memoryStats())
    after = result['diff']['after']
    result['memory'] = after[sides[0]]
    if len(sides) == 2:
        result['config_memory'] = after['config']
    return result
