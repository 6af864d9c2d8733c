# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""forecast_format: the document the daemon builds is the document every reader's one check accepts, value by value."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json

import pytest

from ansible_collections.adaptive.intravm.plugins.module_utils.channel import forecast_format as ff
from ansible_collections.adaptive.intravm.plugins.module_utils.channel.forecast_format import ForecastFormatError


def built():
    """A document as the daemon builds it: every block, through the builders."""
    memory = ff.memory_block(3.2e9, {'p50': [3.0e9, 3.1e9], 'p90': [3.4e9, 3.6e9], 'p99': [3.5e9, 3.9e9]}, 3.3e9,
                             {'psi_mem_some': 1.5, 'swap_in': 0.0})
    peak = ff.peak_block([900, 3600], ['lstm', 'last_plus_peak_err_p90'], ([0.3, 0.4], [0.5, 0.7]),
                         vcpu={0: ([0.2, 0.3], [0.4, 0.6]), 1: ([0.1, 0.1], [0.2, 0.3])})
    entry = ff.vm_entry('u-1', 2, 'lstm', [300, 900], ([0.2, 0.3], [0.4, 0.5]),
                        vcpu={0: ([0.2, 0.3], [0.4, 0.5]), 1: ([0.1, 0.1], [0.2, 0.2])},
                        net=([1e6, 2e6], [3e6, 4e6]), gpu=([0.0, 0.0], [0.1, 0.1]), actual_cpu=0.25, samples=12,
                        memory=memory, cpu_peak=peak)
    return json.loads(json.dumps(ff.document('hv1', 1.7e9, 300, {'web': entry})))


def test_what_the_daemon_builds_is_what_readers_accept():
    doc = built()
    assert ff.check(doc, 'here') is doc
    assert doc['version'] == ff.VERSION == 2
    assert doc['vms']['web']['memory'] == {'used_bytes': 3200000000, 'floor_bytes': 3300000000,
                                           'peak_bytes': {'p50': [3000000000, 3100000000], 'p90': [3400000000, 3600000000],
                                                          'p99': [3500000000, 3900000000]},
                                           'pressure': {'psi_mem_some': 1.5, 'swap_in': 0.0}}
    assert ff.age_s(doc, 1.7e9 + 12.5) == 12.5


def _with(path, value):
    doc = built()
    target = doc
    keys = path.split('.')
    for key in keys[:-1]:
        target = target[int(key) if isinstance(target, list) else key]
    last = keys[-1]
    if value is KeyError:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return doc


# The second probe's odd-typed values (issue 26, defects 1 and 5), and their neighbours: each one is refused by name.
BAD = [
    ('vms.web.vcpus', 'abc', r"vcpus is 'abc': a whole number"),
    ('vms.web.vcpus', [2], r'vcpus is \[2\]'),
    ('vms.web.vcpus', 0, 'vcpus is 0'),
    ('vms.web.vcpus', True, 'vcpus is True'),
    ('vms.web.cpu', [1.0], r'cpu must be an object of quantiles'),
    ('vms.web.cpu', 'hot', r"cpu must be an object of quantiles, got 'hot'"),
    ('vms.web.cpu.p90', [10 ** 400, 1], r'cpu\.p90\[0\] is 1000'),
    ('vms.web.cpu.p90', [0.1], r'cpu\.p90 must be a list with one value per horizon \(2\)'),
    ('vms.web.cpu.p90', 'x', r'cpu\.p90 must be a list'),
    ('vms.web.cpu.p50', KeyError, 'cpu has no p50'),
    ('vms.web.cpu.P90', [0, 0], "'P90' is not a quantile"),
    ('vms.web.net.p90.1', float('nan'), r'net\.p90\[1\] is nan'),
    ('vms.web.gpu.p50.0', -0.5, r'gpu\.p50\[0\] is -0\.5'),
    ('vms.web.vcpu.1.p90.0', '0.2', r"vcpu\[1\]\.p90\[0\] is '0\.2'"),
    ('vms.web.vcpu.x', {'p50': [0, 0], 'p90': [0, 0]}, "vcpu: 'x' is not a vCPU index"),
    ('vms.web.horizons_s', KeyError, 'horizons_s must be a list of 1 to 64'),
    ('vms.web.horizons_s.1', 0, r'horizons_s\[1\] is 0'),
    ('vms.web.allocated_cpus', 'x', "allocated_cpus is 'x'"),
    ('vms.web.allocated_cpus', float('inf'), 'allocated_cpus is inf'),
    ('vms.web.actual', {'cpu': 'busy'}, 'actual must be an object of numbers'),
    ('vms.web.samples', -1, 'samples is -1'),
    ('vms.web.uuid', 7, 'uuid is 7'),
    ('vms.web.model', 'm' * 65, 'model is'),
    ('vms.web.memory', [1], r'memory must be an object, got \[1\]'),
    ('vms.web.memory.peak_bytes.p90', ['1G', 1], r"peak_bytes\.p90\[0\] is '1G'"),
    ('vms.web.memory.peak_bytes.p90', [10 ** 400, 1], r'peak_bytes\.p90\[0\] is 1000'),
    ('vms.web.memory.peak_bytes.p90', [-4096, 1], r'peak_bytes\.p90\[0\] is -4096'),
    ('vms.web.memory.peak_bytes.p90', [2 ** 64, 1], r'peak_bytes\.p90\[0\] is 18446744073709551616'),
    ('vms.web.memory.peak_bytes', {'p90': [1, 1]}, 'peak_bytes has no p50'),
    ('vms.web.memory.floor_bytes', '1G', "floor_bytes is '1G'"),
    ('vms.web.memory.floor_bytes', -1, 'floor_bytes is -1'),
    ('vms.web.memory.used_bytes', float('nan'), 'used_bytes is nan'),
    ('vms.web.memory.pressure', {'psi_mem_some': 'high'}, r"pressure\['psi_mem_some'\] is 'high'"),
    ('vms.web.memory.pressure', [1], 'pressure must be an object'),
    ('vms.web.cpu_peak.p90.0', 10 ** 400, r'cpu_peak\.p90\[0\] is 1000'),
    ('host_cpus', 'two', "host_cpus is 'two'"),
    ('host_cpus', {}, r'host_cpus is \{\}'),
    ('host_cpus', 0, 'host_cpus is 0'),
    ('host', ['hv1'], r"host is \['hv1'\]"),
    ('step_s', 0, 'step_s is 0'),
    ('generated_at', 10 ** 400, 'generated_at'),
    ('generated_at', -1, 'generated_at'),
]


@pytest.mark.parametrize('path, value, message', BAD, ids=['%s=%r' % (p, v)[:60] for p, v, _m in BAD])
def test_every_value_is_checked(path, value, message):
    doc = _with(path, value)
    before = copy.deepcopy(doc)
    with pytest.raises(ForecastFormatError, match=message):
        ff.check(doc, 'here')
    assert doc == before


def test_unknown_keys_are_left_alone_for_a_newer_predictor():
    doc = _with('vms.web.disk', {'p50': 'later'})
    assert ff.check(dict(doc, extra={'x': 1}), 'here')


def test_version_1_is_version_2_without_cpu_peak():
    doc = _with('version', 1)
    del doc['vms']['web']['cpu_peak']
    assert ff.check(doc, 'here') is doc
    assert ff.check({'version': 2, 'generated_at': 1, 'vms': {'a': {}}}, 'here')    # a VM with nothing yet


def test_a_long_value_is_cut_in_the_message():
    with pytest.raises(ForecastFormatError) as err:
        ff.check(_with('vms.web.vcpus', 'x' * 10000), 'here')
    assert len(str(err.value)) < 250


def test_number_and_whole_are_the_bounds_of_the_format():
    assert ff.number(0) and ff.number(2.5) and ff.number(2 ** 63)
    assert not any(ff.number(v) for v in (True, None, '1', -1e-9, float('nan'), float('inf'), 2 ** 63 + 2 ** 11, 10 ** 400))
    assert ff.whole(3, 1, 4) and not ff.whole(3.0) and not ff.whole(True) and not ff.whole(5, 1, 4)
