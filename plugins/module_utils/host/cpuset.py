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


class CpusetError(ValueError):
    """A cpuset string that cannot be parsed; the message names the bad part."""


def parse(text):
    """Return the frozenset of CPU ids in a cpuset string.

    Accepts "0-3,6", "2", "^"-exclusions ("0-7,^3") as libvirt does, and
    surrounding whitespace. An empty string is the empty set.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str):
        raise CpusetError('cpuset must be a string such as "0-3,6", got %r' % (text,))
    text = text.strip(_SPACE)
    if not text:
        return frozenset()
    included, excluded = set(), set()
    for part in text.split(','):
        part = part.strip(_SPACE)
        target = included
        if part.startswith('^'):
            target, part = excluded, part[1:]
        if not part:
            raise CpusetError('empty element in cpuset %r' % text)
        if '-' in part:
            lo, hi = part.split('-', 1)
            first, last = _cpu_id(lo, text), _cpu_id(hi, text)
            if first > last:
                raise CpusetError('descending range %r in cpuset %r' % (part, text))
            target.update(range(first, last + 1))
        else:
            target.add(_cpu_id(part, text))
    result = included - excluded
    if not result:
        raise CpusetError('cpuset %r excludes every CPU it includes' % text)
    return frozenset(result)


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
        raise CpusetError('%r in cpuset %r is not a CPU number' % (token, text))
    value = int(token)
    if value > MAX_CPU_ID:
        raise CpusetError('CPU %d in cpuset %r is above the supported maximum %d' % (value, text, MAX_CPU_ID))
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
