# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure rules of memory_balloon and vcpu_count: what they change and what they refuse."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.adaptive.intravm.plugins.module_utils.apply.balloon_apply import (
    guest_used, plan_balloon, read_side, read_stats, size,
)
from ansible_collections.adaptive.intravm.plugins.module_utils.apply.balloon_apply import run as balloon_run
from ansible_collections.adaptive.intravm.plugins.module_utils.apply.vcpu_apply import enabled_ids, plan_vcpus
from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError

MIB = 2 ** 20


def side(memory_mib, max_mib=512, balloon=True, period=5):
    return {'memory_bytes': memory_mib * MIB, 'max_bytes': max_mib * MIB, 'balloon': balloon, 'stats_period': period}


def test_read_side_takes_current_and_maximum_and_the_stats_period():
    xml = """<domain><memory unit='KiB'>524288</memory><currentMemory unit='KiB'>393216</currentMemory>
      <devices><memballoon model='virtio'><stats period='2'/></memballoon></devices></domain>"""
    assert read_side(xml) == {'memory_bytes': 384 * MIB, 'max_bytes': 512 * MIB, 'balloon': True, 'stats_period': 2}
    bare = "<domain><memory unit='KiB'>131072</memory><devices><memballoon model='none'/></devices></domain>"
    assert read_side(bare) == {'memory_bytes': 128 * MIB, 'max_bytes': 128 * MIB, 'balloon': False, 'stats_period': 0}


def test_guest_use_comes_from_the_balloon_statistics_only():
    stats = read_stats({'actual': 524288, 'available': 467864, 'usable': 432420, 'major_fault': 93})
    assert stats['available_bytes'] == 467864 * 1024 and stats['major_faults'] == 93
    assert guest_used(stats) == (467864 - 432420) * 1024
    assert guest_used(read_stats({'actual': 524288, 'rss': 1000})) is None


def test_shrink_and_grow_are_planned_per_side_and_rounded_to_pages():
    before = {'live': side(512), 'config': side(512)}
    changes = plan_balloon(before, 384 * MIB, 5, floor=100 * MIB)
    assert [(c['side'], c['what'], c['after']) for c in changes] == [
        ('config', 'memory_bytes', 384 * MIB), ('live', 'memory_bytes', 384 * MIB)]
    assert plan_balloon({'live': side(384)}, 384 * MIB, 5, floor=None) == []   # nothing to do: no floor needed
    grow = plan_balloon({'live': side(384)}, 512 * MIB, 2, floor=None)
    assert [(c['what'], c['after']) for c in grow] == [('stats_period', 2), ('memory_bytes', 512 * MIB)]


@pytest.mark.parametrize('before, target, floor, message', [
    ({'live': side(512, balloon=False)}, 256, 0, 'no balloon device'),
    ({'live': side(512)}, 1024, 0, 'above the domain.s maximum of 512 MiB'),
    ({'config': side(256, max_mib=256)}, 300, 0, 'above the domain.s maximum'),
    ({'live': side(512)}, 100, 200 * MIB, 'below the floor of 200 MiB'),
    ({'live': side(512)}, 256, None, 'reports no memory statistics'),
])
def test_refusals_name_the_reason(before, target, floor, message):
    with pytest.raises(IntravmError, match=message):
        plan_balloon(before, target * MIB, 5, floor)


def test_a_grow_needs_no_floor_and_a_config_shrink_is_held_to_the_same_floor():
    """Probe 26 #4: memory 4K with live: false set a 256 MiB domain's persistent currentMemory to 4 KiB."""
    assert plan_balloon({'config': side(64)}, 128 * MIB, None, floor=None)[0]['after'] == 128 * MIB
    assert plan_balloon({'config': side(256)}, 192 * MIB, None, floor=150 * MIB)[0]['after'] == 192 * MIB
    for target in (4096, MIB):
        with pytest.raises(IntravmError, match=r'memory %s is below the floor of 150 MiB .*config' % (
                '4 KiB' if target == 4096 else '1 MiB')):
            plan_balloon({'config': side(256)}, target, None, floor=150 * MIB)
        with pytest.raises(IntravmError, match=r'cannot shrink \(config\): the guest reports no memory statistics'):
            plan_balloon({'config': side(256)}, target, None, floor=None)
    with pytest.raises(IntravmError, match='below the floor'):
        plan_balloon({'live': side(256), 'config': side(256)}, MIB, None, floor=150 * MIB)


class BalloonDomain(object):
    """A running 256 MiB domain whose guest uses 100 MiB, as memory_balloon reads it."""

    def __init__(self, active=True):
        self.active = active
        self.set = []

    def XMLDesc(self, flags=0):  # pylint: disable=invalid-name,unused-argument
        return ("<domain><memory unit='KiB'>262144</memory><currentMemory unit='KiB'>262144</currentMemory>"
                "<devices><memballoon model='virtio'><stats period='5'/></memballoon></devices></domain>")

    def isActive(self):  # pylint: disable=invalid-name
        return self.active

    def isPersistent(self):  # pylint: disable=invalid-name
        return True

    def info(self):
        return [1, 262144, 262144, 1, 0]

    def memoryStats(self):  # pylint: disable=invalid-name
        return {'actual': 262144, 'available': 250000, 'usable': 250000 - 100 * 1024} if self.active else {}

    def setMemoryFlags(self, kib, flags):  # pylint: disable=invalid-name
        self.set.append((kib, flags))


class BalloonModule(object):
    def __init__(self, dom, **params):
        self.dom, self.check_mode = dom, False
        self.params = dict({'name': 'web01', 'min_free': '128M', 'stats_period': 5, 'wait': 0, 'live': False,
                            'config': True}, **params)

    def connect(self):
        dom = self.dom

        class Conn(object):
            def lookupByName(self, name):  # pylint: disable=invalid-name,unused-argument
                return dom
        return Conn()

    def sides(self, _dom):
        return [s for s in ('live', 'config') if self.params[s]]

    def warn(self, text):
        raise AssertionError(text)


@pytest.mark.parametrize('memory', ['4K', '1M', '200M'])
def test_memory_balloon_refuses_a_config_only_shrink_below_the_running_guests_floor(memory):
    """Probe 26 #4, through run(): the config-only floor is what the running guest uses plus min_free (228 MiB)."""
    dom = BalloonDomain()
    with pytest.raises(IntravmError, match='below the floor of 228 MiB'):
        balloon_run(BalloonModule(dom, memory=memory))
    assert dom.set == []
    with pytest.raises(IntravmError, match='reports no memory statistics'):
        balloon_run(BalloonModule(BalloonDomain(active=False), memory=memory))
    out = balloon_run(BalloonModule(dom, memory='240M'))
    assert out['changed'] and dom.set == [(240 * 1024, 2)]


@pytest.mark.parametrize('value, says', [
    ('9' * 40000, 'is not a size: a size is at most 64 characters'),
    ('9' * 40000 + 'G', 'is not a size: a size is at most 64 characters'),
    ('9' * 30, 'is above 8 EiB, the largest size'),
    ('1' + '0' * 40 + 'K', 'is above 8 EiB'),
    ('\u0661G', 'is not a size such as 1536M'),
    ('1_0M', 'is not a size such as 1536M'),
    ('1e3', 'is not a size such as 1536M'),
    ('-1G', 'is not a size such as 1536M'),
    ('1Mb', 'has no unit a size can have'),
    (True, 'is not a size'),
    (['1G'], 'is not a size'),
])
def test_the_one_size_parser_refuses_by_name(value, says):
    """Probe 26 #9: a 40,000-digit size gave "cannot convert float infinity to integer"."""
    with pytest.raises(IntravmError) as err:
        size(value, 'min_free')
    assert str(err.value).startswith('min_free: ') and says in str(err.value) and len(str(err.value)) < 200


def test_the_one_size_parser_is_exact():
    assert [size(v, 'memory') for v in ('1536M', '1.5G', '2g', ' 1 G ', '512', 1536, '4K', '1GB', '.5G', '8E')] == [
        1536 * MIB, 1536 * MIB, 2048 * MIB, 1024 * MIB, 512 * MIB, 1536 * MIB, 4096, 1024 * MIB, 512 * MIB, 1 << 63]
    assert size('123456789012345678B', 'memory') == 123456789012345678     # a float would round it


def vside(current, maximum=4, ids=None):
    return {'current': current, 'maximum': maximum, 'ids': ids if ids is not None else list(range(current))}


def test_enabled_ids_follow_libvirts_order():
    xml = """<domain><vcpus><vcpu id='0' enabled='yes' order='1'/><vcpu id='1' enabled='no'/>
      <vcpu id='2' enabled='yes' order='3'/><vcpu id='3' enabled='yes' order='2'/></vcpus></domain>"""
    assert enabled_ids(xml, 3) == [0, 3, 2]
    assert enabled_ids('<domain/>', 2) == [0, 1]


def test_plug_needs_no_agent_and_unplug_names_the_leaving_vcpus():
    assert plan_vcpus({'live': vside(1), 'config': vside(1)}, 3, None) == [
        {'side': 'config', 'before': 1, 'after': 3}, {'side': 'live', 'before': 1, 'after': 3}]
    guest = {'online': {0, 1, 2, 3}, 'offlinable': {1, 2, 3}}
    assert plan_vcpus({'live': vside(4)}, 2, guest) == [{'side': 'live', 'before': 4, 'after': 2, 'remove': [2, 3]}]
    assert plan_vcpus({'config': vside(4)}, 2, None) == [{'side': 'config', 'before': 4, 'after': 2}]
    assert plan_vcpus({'live': vside(2)}, 2, None) == []


@pytest.mark.parametrize('before, count, guest, message', [
    ({'live': vside(2)}, 5, None, 'outside 1..4'),
    ({'live': vside(2)}, 0, None, 'outside 1..4'),
    ({'live': vside(3)}, 2, None, 'needs the guest.s cooperation'),
    ({'live': vside(3)}, 1, {'online': {0, 1, 2}, 'offlinable': {2}}, 'cannot take vCPUs 1 offline'),
])
def test_vcpu_refusals_name_the_reason(before, count, guest, message):
    with pytest.raises(IntravmError, match=message):
        plan_vcpus(before, count, guest)
