# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a vcpu_pin request changes, decided before libvirt is touched.

Pure functions: validate a request against the domain's current pins and the
host's CPUs, and list the changes (side, kind, id, old, new). The module
applies that list; tests exercise every rule here without a daemon.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from collections import namedtuple

from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset
from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError

# side: 'live' or 'config'; kind: 'vcpu', 'emulator' or 'iothread'; key: index or id (None for emulator)
PinChange = namedtuple('PinChange', 'side kind key old new')


class PinRequestError(IntravmError, ValueError):
    """A request that must be refused before anything changes."""


def parse_request(vcpus, emulator, iothreads, reserved_cpus, online_cpus):
    """Normalised request {'vcpus': {int: str}, 'emulator': str|None, 'iothreads': {int: str}}.

    Every cpuset is parsed, checked against the online host CPUs and the
    reserved ones, and returned in canonical form.
    """
    online = cpuset.parse(online_cpus)
    reserved = _parse('reserved_cpus', reserved_cpus or '')

    def check(label, text):
        cpus = _parse(label, text)
        if not cpus:
            raise PinRequestError('%s: empty cpuset; give at least one CPU' % label)
        offline = cpus - online
        if offline:
            raise PinRequestError('%s: CPUs %s are not online on this host (online: %s)'
                                  % (label, cpuset.format(offline), cpuset.format(online)))
        clash = cpus & reserved
        if clash:
            raise PinRequestError('%s: CPUs %s are in reserved_cpus (%s)'
                                  % (label, cpuset.format(clash), cpuset.format(reserved)))
        return cpuset.format(cpus)

    request = {'vcpus': {}, 'emulator': None, 'iothreads': {}}
    for key, text in _mapping('vcpus', vcpus):
        index = _index('vcpus', key)
        request['vcpus'][index] = check('vcpus[%s]' % key, text)
    if emulator is not None:
        request['emulator'] = check('emulator', emulator)
    for key, text in _mapping('iothreads', iothreads):
        tid = _index('iothreads', key)
        request['iothreads'][tid] = check('iothreads[%s]' % key, text)
    return request


def check_shape(vcpus, emulator, iothreads, expect):
    """Refuse (PinRequestError) a request whose values are not of the request's shape, without a host to check against.

    vcpus, iothreads and expect: None or a mapping of index (ASCII digits) to a
    cpuset string; emulator: None or a cpuset string. What parse_request and
    changed_since check later against the host and the domain (online CPUs,
    reserved CPUs, vCPUs the domain has) is left to them; this is what
    apply_plan checks of every entry before it changes the first domain.
    """
    def nonempty(label, text):
        if not _parse(label, text):
            raise PinRequestError('%s: empty cpuset; give at least one CPU' % label)

    for label, value in (('vcpus', vcpus), ('iothreads', iothreads), ('expect', expect)):
        for key, text in _mapping(label, value):
            _index(label, key)
            nonempty('%s[%s]' % (label, key), text)
    if emulator is not None:
        nonempty('emulator', emulator)


def plan_changes(request, current_by_side):
    """Changes needed on each side; current_by_side maps side → read_pins() result.

    Raises PinRequestError for a vCPU index or iothread id the domain lacks.
    """
    changes = []
    for side in sorted(current_by_side, key=lambda s: s != 'live'):  # live first
        current = current_by_side[side]
        for index in sorted(request['vcpus']):
            if str(index) not in current['vcpus']:
                raise PinRequestError('vcpus[%d]: the domain has %d vCPUs on its %s side (indexes 0-%d)'
                                      % (index, len(current['vcpus']), side, len(current['vcpus']) - 1))
            old = current['vcpus'][str(index)]
            if old != request['vcpus'][index]:
                changes.append(PinChange(side, 'vcpu', index, old, request['vcpus'][index]))
        if request['emulator'] is not None and current['emulator'] != request['emulator']:
            changes.append(PinChange(side, 'emulator', None, current['emulator'], request['emulator']))
        for tid in sorted(request['iothreads']):
            if str(tid) not in current['iothreads']:
                raise PinRequestError('iothreads[%d]: no such iothread on the %s side (iothreads: %s)'
                                      % (tid, side, ', '.join(sorted(current['iothreads'])) or 'none'))
            old = current['iothreads'][str(tid)]
            if old != request['iothreads'][tid]:
                changes.append(PinChange(side, 'iothread', tid, old, request['iothreads'][tid]))
    return changes


def changed_since(expect, current):
    """[(index, expected, now)] for each vCPU in expect whose pin in current (read_pins shape) differs.

    expect is the placement a plan was computed from ({index: cpuset}); a vCPU
    the domain no longer has reads as None. Cpusets compare by CPUs, not text.
    """
    drift = []
    for key, text in _mapping('expect', expect):
        index = _index('expect', key)
        want = _parse('expect[%s]' % key, text)
        now = current['vcpus'].get(str(index))
        if now is None or cpuset.parse(now) != want:
            drift.append((index, cpuset.format(want), now))
    return sorted(drift)


def describe_drift(drift):
    """'vcpu 0 0 -> 1, vcpu 3 2 -> gone' for a changed_since() list."""
    return ', '.join('vcpu %d %s -> %s' % (index, was, 'gone' if now is None else now) for index, was, now in drift)


def apply_to(pins, change, value):
    """A copy of pins (read_pins shape) with one change's target set to value."""
    result = {'vcpus': dict(pins['vcpus']), 'emulator': pins['emulator'], 'iothreads': dict(pins['iothreads'])}
    if change.kind == 'vcpu':
        result['vcpus'][str(change.key)] = value
    elif change.kind == 'iothread':
        result['iothreads'][str(change.key)] = value
    else:
        result['emulator'] = value
    return result


def _mapping(label, value):
    """The (key, value) pairs of an optional mapping option, or PinRequestError naming what it is instead."""
    if value is None:
        return []
    if not isinstance(value, dict):
        raise PinRequestError('%s must be a mapping of index to cpuset (such as {"0": "2-3"}), got %s %s'
                              % (label, type(value).__name__, _short(value)))
    return list(value.items())


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + '...'


def _parse(label, text):
    try:
        return cpuset.parse(text)
    except cpuset.CpusetError as exc:
        raise PinRequestError('%s: %s' % (label, exc))


def _index(label, key):
    try:
        return cpuset.index(key, 'key')
    except cpuset.CpusetError as exc:
        raise PinRequestError('%s: %s' % (label, exc))
