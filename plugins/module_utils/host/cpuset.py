# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CPU set strings ("0-3,8,10-11") and the numbers in them, as libvirt and the kernel write them.

Pure functions, no I/O: the same grammar serves modules, planner and daemon,
so a cpuset, a NUMA node or a vCPU index means exactly one thing everywhere.
A number is 1 to 12 ASCII digits: str.isdigit() and int() also take "١"
(ARABIC-INDIC DIGIT ONE), "²", "1_0" and surrounding newlines, and a pin
must never move because of one.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

_NUMBER = re.compile(r'[0-9]{1,12}\Z')  # 12 digits: int() refuses over 4300 with a plain ValueError
_SPACE = ' \t\r\n'  # ASCII whitespace only, like the digits

# Upper bound on a CPU id we accept from users or libvirt; keeps a typo such as
# "0-4000000" from allocating a huge set.
MAX_CPU_ID = 65535

# Longest cpuset string accepted: room for every canonical set of CPUs
# 0..MAX_CPU_ID (the longest, every other CPU, is 191,052 characters), so a
# string that long costs milliseconds, and a longer one is refused unread.
MAX_TEXT_LENGTH = 1 << 18


class CpusetError(ValueError):
    """A cpuset string that cannot be parsed; the message names the bad part."""


def parse(text):
    """Return the frozenset of CPU ids in a cpuset string.

    Accepts "0-3,6", "2", "^"-exclusions ("0-7,^3") as libvirt does, and
    surrounding whitespace. An empty string is the empty set.

    The cost is bounded by the text's length and MAX_CPU_ID, never by what the
    ranges add up to: ranges are merged as bounds and expanded once, so
    "0-65535" written 20,000 times costs what one does. A text longer than
    MAX_TEXT_LENGTH is refused before it is split.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str):
        raise CpusetError('cpuset must be a string such as "0-3,6", got %r' % (text,))
    if len(text) > MAX_TEXT_LENGTH:
        raise CpusetError('cpuset %s is %d characters long, more than the %d any set of CPUs 0-%d needs'
                          % (_shown(text), len(text), MAX_TEXT_LENGTH, MAX_CPU_ID))
    text = text.strip(_SPACE)
    if not text:
        return frozenset()
    included, excluded = [], []
    for part in text.split(','):
        part = part.strip(_SPACE)
        target = included
        if part.startswith('^'):
            target, part = excluded, part[1:]
        if not part:
            raise CpusetError('empty element in cpuset %s' % _shown(text))
        if '-' in part:
            lo, hi = part.split('-', 1)
            first, last = _cpu_id(lo, text), _cpu_id(hi, text)
            if first > last:
                raise CpusetError('descending range %s in cpuset %s' % (_shown(part), _shown(text)))
        else:
            first = last = _cpu_id(part, text)
        target.append((first, last))
    result = frozenset(cpu for first, last in _subtract(_merge(included), _merge(excluded))
                       for cpu in range(first, last + 1))
    if not result:
        raise CpusetError('cpuset %s excludes every CPU it includes' % _shown(text))
    return result


def _merge(spans):
    """Sorted, disjoint, non-adjacent (first, last) spans covering the same ids as spans."""
    merged = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1] + 1:
            if last > merged[-1][1]:
                merged[-1][1] = last
        else:
            merged.append([first, last])
    return merged


def _subtract(spans, holes):
    """The parts of merged spans outside merged holes, as (first, last) in order."""
    out, h = [], 0
    for first, last in spans:
        while h < len(holes) and holes[h][1] < first:
            h += 1
        k = h
        while first <= last and k < len(holes) and holes[k][0] <= last:
            if holes[k][0] > first:
                out.append((first, holes[k][0] - 1))
            first = max(first, holes[k][1] + 1)
            k += 1
        if first <= last:
            out.append((first, last))
    return out


def _shown(text):
    """text for an error message: repr, cut short so a refused 200 kB cpuset gives a readable line."""
    return repr(text) if len(text) <= 80 else '%r...' % (text[:60],)


def is_number(text):
    """True when text is a string of ASCII digits and nothing else."""
    return isinstance(text, str) and _NUMBER.match(text) is not None


def index(value, what='index', maximum=MAX_CPU_ID):
    """A non-negative int from an int or a string of ASCII digits (spaces around allowed).

    For keys and ids that operators and guests write: vCPU indexes, NUMA cells,
    iothread ids. Raises CpusetError naming `what` for anything else.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and is_number(value.strip(_SPACE)):
        number = int(value.strip(_SPACE))
    else:
        raise CpusetError('%s %r is not a non-negative integer of ASCII digits' % (what, value))
    if not 0 <= number <= maximum:
        raise CpusetError('%s %r is outside 0..%d' % (what, value, maximum))
    return number


def _cpu_id(token, text):
    token = token.strip(_SPACE)
    if not is_number(token):
        raise CpusetError('%s in cpuset %s is not a CPU number' % (_shown(token), _shown(text)))
    value = int(token)
    if value > MAX_CPU_ID:
        raise CpusetError('CPU %d in cpuset %s is above the supported maximum %d' % (value, _shown(text), MAX_CPU_ID))
    return value


def format(cpus):  # pylint: disable=redefined-builtin
    """Canonical cpuset string: sorted, ranges collapsed ("0-3,6")."""
    ids = sorted(set(cpus))
    parts = []
    i = 0
    while i < len(ids):
        j = i
        while j + 1 < len(ids) and ids[j + 1] == ids[j] + 1:
            j += 1
        parts.append(str(ids[i]) if i == j else '%d-%d' % (ids[i], ids[j]))
        i = j + 1
    return ','.join(parts)


def normalize(text):
    """Canonical form of a cpuset string, so equal sets compare equal as text."""
    return format(parse(text))


def from_cpumap(cpumap):
    """Set of CPU ids from a libvirt cpumap (a tuple of booleans, one per host CPU)."""
    return frozenset(i for i, on in enumerate(cpumap) if on)


def to_cpumap(cpus, host_cpus):
    """libvirt cpumap tuple of length host_cpus with True for each CPU in cpus."""
    cpus = frozenset(cpus)
    return tuple(i in cpus for i in range(host_cpus))
