# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The predictor's forecast document: one definition for the daemon that writes it and every reader.

Pure code, stdlib only, Python 3.8 compatible, like the ring's shm_format.
The daemon builds the document with document(), vm_entry(), peak_block()
and memory_block(); allocation_plan, the planner, the event source and the
demo take it only through check() (or check_vm() for one VM's entry), which
looks at every value once, so a reader can use a checked document as it is:
no float() or .get() of a consumer ever meets a string, a list where a
number belongs, an integer beyond a float's range, NaN or a negative size.

Shape (version 2; version 1 is version 2 without cpu_peak):

    {version, generated_at, host?, host_cpus?, step_s?, vms: {name: entry}}
    entry: uuid?, vcpus?, model?, horizons_s (when any forecast is given),
           cpu? net? gpu? {p50: [one per horizon], p90: [...]},
           vcpu? {"0": {p50, p90}, ...}, actual? {cpu}, samples?, allocated_cpus?,
           memory? {used_bytes, peak_bytes: {pNN: [one per horizon]}, floor_bytes?, pressure? {name: number}},
           cpu_peak? {windows_s, models?, p50: [one per window], p90, vcpu? {"0": {p50, p90}}}

Every number is finite, from 0 to MAX_NUMBER (2**63: a byte count libvirt
can hold); counts are whole numbers; P50 <= P90 within cpu_peak. Keys a
reader does not know are left alone (a newer predictor may add some).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError

VERSION = 2
VERSIONS = (1, 2)         # version 1 is version 2 without cpu_peak
MAX_NUMBER = float(1 << 63)
MAX_HORIZONS = 64         # forecast horizons per VM (the predictor publishes 6 by default)
MAX_WINDOWS = 16          # peak windows per VM (the predictor publishes 2 by default)
MAX_VCPUS = 4096          # per-vCPU forecasts per VM: more than any KVM guest has
MAX_NAME = 64             # a served model's name, a uuid
MAX_HOST = 255            # a host name
MAX_PRESSURE = 16         # pressure signals per VM
QUANTILE_BLOCKS = ('cpu', 'net', 'gpu')
REQUIRED_QUANTILES = ('p50', 'p90')
_VCPU_INDEX = re.compile(r'[0-9]{1,4}\Z')
_QUANTILE = re.compile(r'p[0-9]{1,2}(\.[0-9]{1,6})?\Z')
_NAME = re.compile(r'[A-Za-z0-9_.:-]{1,64}\Z')


class ForecastFormatError(IntravmError, ValueError):
    """A value that is not of the forecast document's format; the message names it."""


# -- builders (the daemon) ---------------------------------------------------

def _rounded(values):
    return [round(float(v), 6) for v in values]


def _per_vcpu(vcpu):
    return dict((str(i), {'p50': _rounded(p[0]), 'p90': _rounded(p[1])}) for i, p in sorted(vcpu.items()))


def _seconds(values):
    """Whole seconds as ints (what a 300 s step gives), others as floats: a window of 0.5 s must not read as 0."""
    return [int(v) if float(v).is_integer() else float(v) for v in values]


def peak_block(windows_s, models, pair, vcpu=None):
    """A VM's `cpu_peak`: per window (seconds) the served model and P50/P90 of the peak CPU demand; vcpu as in vm_entry."""
    block = {'windows_s': _seconds(windows_s), 'models': list(models), 'p50': _rounded(pair[0]), 'p90': _rounded(pair[1])}
    if vcpu:
        block['vcpu'] = _per_vcpu(vcpu)
    return block


def memory_block(used_bytes, peak_bytes, floor_bytes, pressure):
    """A VM's `memory`: bytes in use now, {pNN: peak per horizon}, the day's floor, the guest's pressure signals now."""
    return {'used_bytes': int(round(used_bytes)), 'floor_bytes': int(round(floor_bytes)),
            'peak_bytes': dict((q, [int(round(v)) for v in values]) for q, values in peak_bytes.items()),
            'pressure': dict((k, round(float(v), 3)) for k, v in sorted(pressure.items()))}


def vm_entry(uuid, vcpus, model, horizons_s, cpu, vcpu=None, net=None, gpu=None, actual_cpu=None, samples=None,
             memory=None, cpu_peak=None):
    """One VM's record. cpu/net/gpu: (p50 list, p90 list) per horizon or None; vcpu: {index: (p50, p90)}.

    memory: a memory_block() or None; cpu_peak: a peak_block() or None.
    """
    entry = {'uuid': uuid, 'vcpus': int(vcpus), 'model': model, 'horizons_s': [int(h) for h in horizons_s]}
    for key, pair in (('cpu', cpu), ('net', net), ('gpu', gpu)):
        if pair is not None:
            entry[key] = {'p50': _rounded(pair[0]), 'p90': _rounded(pair[1])}
    if vcpu:
        entry['vcpu'] = _per_vcpu(vcpu)
    if actual_cpu is not None:
        entry['actual'] = {'cpu': round(float(actual_cpu), 6)}
    if samples is not None:
        entry['samples'] = int(samples)
    if memory is not None:
        entry['memory'] = memory
    if cpu_peak is not None:
        entry['cpu_peak'] = cpu_peak
    return entry


def document(host, generated_at, step_s, vms):
    return {'version': VERSION, 'generated_at': float(generated_at), 'host': host, 'step_s': int(step_s), 'vms': vms}


def age_s(doc, now):
    """Seconds since a checked document was generated (negative: dated in the future)."""
    return round(now - doc['generated_at'], 3)


# -- the check (every reader) ------------------------------------------------

def number(value):
    """True for a JSON number from 0 to MAX_NUMBER: not a bool, NaN, infinity, negative or beyond a float's range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return 0 <= float(value) <= MAX_NUMBER
    except OverflowError:       # an int like 10 ** 400
        return False


def whole(value, least=0, most=MAX_NUMBER):
    """True for an int (not a bool) from least to most."""
    return isinstance(value, int) and not isinstance(value, bool) and least <= value <= most


def _fail(where, text, *args):
    raise ForecastFormatError(('%s' + text) % ((where,) + args))


def _numbers(values, n, where, unit):
    """A list (or tuple) of n numbers, one per unit; the fast pass is one type and range test per value."""
    if isinstance(values, (list, tuple)) and len(values) == n:
        for v in values:
            if type(v) not in (float, int) or not 0 <= v <= MAX_NUMBER:  # pylint: disable=unidiomatic-typecheck
                break
        else:
            return
    if not isinstance(values, (list, tuple)) or len(values) != n:
        _fail(where, ' must be a list with one value per %s (%d), got %s', unit, n, _short(values))
    for i, v in enumerate(values):
        if not number(v):
            _fail(where, '[%d] is %s: a finite number >= 0 (at most 2**63) is required', i, _short(v))


def _quantiles(block, n, where, unit='horizon', ordered=False):
    """{p50: [n numbers], p90: [n numbers], other pNN...}; with ordered, P50 <= P90 value by value."""
    if not isinstance(block, dict):
        _fail(where, ' must be an object of quantiles, got %s', _short(block))
    for key in REQUIRED_QUANTILES:
        if key not in block:
            _fail(where, ' has no %s', key)
    for key in sorted(block, key=str):
        if not (isinstance(key, str) and _QUANTILE.match(key)):
            _fail(where, ': %s is not a quantile (p50, p90, p99, ...)', _short(key))
        _numbers(block[key], n, '%s.%s' % (where, key), unit)
    if ordered:
        for i, (low, high) in enumerate(zip(block['p50'], block['p90'])):
            if low > high:
                _fail(where, ': p50[%d] %r is above p90[%d] %r', i, low, i, high)


def _per_vcpu_quantiles(per, n, where, unit='horizon', ordered=False):
    if not isinstance(per, dict) or len(per) > MAX_VCPUS:
        _fail(where, ' must be an object of at most %d vCPUs', MAX_VCPUS)
    for index in sorted(per, key=str):
        if not (isinstance(index, str) and _VCPU_INDEX.match(index)):
            _fail(where, ': %s is not a vCPU index', _short(index))
        _quantiles(per[index], n, '%s[%s]' % (where, index), unit, ordered)


def _text(value, most):
    return isinstance(value, str) and len(value) <= most


def _short(value):
    """repr(value) for a message, cut so an error stays one readable line."""
    text = repr(value)
    return text if len(text) <= 80 else '%s...' % text[:77]


def _seconds_list(values, most, where, what):
    """values when it is a list of 1 to most positive numbers of seconds (horizons, windows)."""
    if not isinstance(values, list) or not 0 < len(values) <= most:
        _fail(where, ' must be a list of 1 to %d %s', most, what)
    for i, v in enumerate(values):
        if not number(v) or v <= 0:
            _fail(where, '[%d] is %s: a positive number of seconds is required', i, _short(v))
    return values


def _check_peak(block, where):
    """A cpu_peak block: windows_s, then P50 <= P90 per window, VM-wide and per vCPU."""
    if not isinstance(block, dict):
        _fail(where, ' must be an object')
    windows = _seconds_list(block.get('windows_s'), MAX_WINDOWS, where + '.windows_s', 'windows')
    models = block.get('models')
    if models is not None and not (isinstance(models, list) and len(models) == len(windows) and
                                   all(_text(m, MAX_NAME) for m in models)):
        _fail(where, '.models must be one model name per window')
    _quantiles(dict((k, block.get(k)) for k in REQUIRED_QUANTILES), len(windows), where, 'window', ordered=True)
    if block.get('vcpu') is not None:
        _per_vcpu_quantiles(block['vcpu'], len(windows), where + '.vcpu', 'window', ordered=True)


def _check_memory(block, n, where):
    if not isinstance(block, dict):
        _fail(where, ' must be an object, got %s', _short(block))
    for key in ('used_bytes', 'floor_bytes'):
        if key in block and not number(block[key]):
            _fail(where, '.%s is %s: a number of bytes from 0 to 2**63 is required', key, _short(block[key]))
    peaks = block.get('peak_bytes')
    if peaks is not None:
        _quantiles(peaks, n, where + '.peak_bytes')
    pressure = block.get('pressure')
    if pressure is not None:
        if not isinstance(pressure, dict) or len(pressure) > MAX_PRESSURE:
            _fail(where, '.pressure must be an object of at most %d signals', MAX_PRESSURE)
        for key in sorted(pressure, key=str):
            if not (isinstance(key, str) and _NAME.match(key)) or not number(pressure[key]):
                _fail(where, '.pressure[%s] is %s: a named number >= 0 is required', _short(key), _short(pressure[key]))


def check_vm(entry, where):
    """entry when every value of one VM's record is of the format; ForecastFormatError naming the first that is not."""
    if not isinstance(entry, dict):
        _fail(where, ' must be an object, got %s', _short(entry))
    for key, most in (('uuid', MAX_NAME), ('model', MAX_NAME)):
        if key in entry and not _text(entry[key], most):
            _fail(where, '.%s is %s: a string of at most %d characters is required', key, _short(entry[key]), most)
    for key, least, most in (('vcpus', 1, MAX_VCPUS), ('samples', 0, MAX_NUMBER)):
        if key in entry and not whole(entry[key], least, most):
            _fail(where, '.%s is %s: a whole number from %d to %d is required', key, _short(entry[key]), least, most)
    if 'allocated_cpus' in entry and not number(entry['allocated_cpus']):
        _fail(where, '.allocated_cpus is %s: a number >= 0 is required', _short(entry['allocated_cpus']))
    actual = entry.get('actual')
    if actual is not None and not (isinstance(actual, dict) and all(number(v) for v in actual.values())):
        _fail(where, '.actual must be an object of numbers >= 0, got %s', _short(actual))
    n = 0
    if any(key in entry for key in QUANTILE_BLOCKS + ('vcpu', 'memory')) or 'horizons_s' in entry:
        n = len(_seconds_list(entry.get('horizons_s'), MAX_HORIZONS, where + '.horizons_s', 'horizons'))
    for key in QUANTILE_BLOCKS:
        if entry.get(key) is not None:
            _quantiles(entry[key], n, '%s.%s' % (where, key))
    if entry.get('vcpu') is not None:
        _per_vcpu_quantiles(entry['vcpu'], n, where + '.vcpu')
    if entry.get('memory') is not None:
        _check_memory(entry['memory'], n, where + '.memory')
    if entry.get('cpu_peak') is not None:
        _check_peak(entry['cpu_peak'], where + '.cpu_peak')
    return entry


def check(doc, where):
    """doc when it is the predictor's document and every value in it is of the format (see the module's docstring)."""
    if not isinstance(doc, dict):
        raise ForecastFormatError('forecasts from %s must be a JSON object, got %r' % (where, type(doc).__name__))
    version = doc.get('version')
    if isinstance(version, bool) or version not in VERSIONS:
        raise ForecastFormatError('forecasts from %s have version %s; this collection reads versions %s'
                                  % (where, _short(version), ', '.join(str(v) for v in VERSIONS)))
    generated = doc.get('generated_at')
    if not number(generated):
        raise ForecastFormatError('forecasts from %s have no numeric generated_at (epoch seconds): %s'
                                  % (where, _short(generated)))
    prefix = 'forecasts from %s: ' % where
    if 'host' in doc and not _text(doc['host'], MAX_HOST):
        _fail(prefix, 'host is %s: a host name is required', _short(doc['host']))
    if 'host_cpus' in doc and not whole(doc['host_cpus'], 1, 1 << 20):
        _fail(prefix, 'host_cpus is %s: a whole number >= 1 is required', _short(doc['host_cpus']))
    if 'step_s' in doc and not (number(doc['step_s']) and doc['step_s'] > 0):
        _fail(prefix, 'step_s is %s: a positive number of seconds is required', _short(doc['step_s']))
    vms = doc.get('vms')
    if not isinstance(vms, dict):
        raise ForecastFormatError('forecasts from %s have no "vms" object' % where)
    for name in sorted(vms, key=str):
        if not isinstance(name, str) or not isinstance(vms[name], dict):
            _fail(prefix, 'vms[%s] must be an object named by a string', _short(name))
        check_vm(vms[name], '%svms[%r]' % (prefix, name))
    return doc
