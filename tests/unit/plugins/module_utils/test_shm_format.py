# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The record format: round trips, geometry limits, metric names."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math
import uuid

import pytest

from ansible_collections.adaptive.intravm.plugins.module_utils import shm_format as fmt

BOOT = uuid.UUID('12345678-1234-5678-9abc-def012345678').bytes


def make_region(size=1 << 16, entries=40, interval_ms=1000, boot=BOOT):
    buf = bytearray(size)
    rsize = fmt.record_size_for(entries)
    header = fmt.Header(rsize, fmt.capacity_for(size, rsize), interval_ms, boot)
    fmt.init_region(buf, header)
    return buf, header


def test_header_round_trip():
    buf, header = make_region()
    parsed, seq = fmt.parse_header(buf, len(buf))
    assert parsed == header
    assert seq == 0
    assert buf[:8] == fmt.MAGIC


def test_record_round_trip():
    buf, header = make_region()
    seed = fmt.boot_seed(BOOT)
    metrics = {'cpu.busy': 0.5, 'vcpu.3.steal': 0.25, 'mem.available_bytes': 2.0 ** 33, 'runnable': 3.0}
    keys, values = fmt.encode_metrics(metrics)
    fmt.write_record(buf, header, seed, 1, 1000, keys, values)
    assert fmt.read_write_seq(buf) == 1
    off = fmt.slot_offset(header, 1)
    ts, got = fmt.decode_record(bytes(buf[off:off + header.record_size]), header, seed, 1)
    assert ts == 1000
    assert got == metrics


def test_slots_wrap():
    _buf, header = make_region()
    assert fmt.slot_offset(header, 1) == fmt.HEADER_SIZE
    assert fmt.slot_offset(header, header.capacity + 1) == fmt.HEADER_SIZE


def test_record_from_another_boot_fails_crc():
    buf, header = make_region()
    keys, values = fmt.encode_metrics({'cpu.busy': 0.5})
    fmt.write_record(buf, header, fmt.boot_seed(BOOT), 1, 1, keys, values)
    off = fmt.slot_offset(header, 1)
    with pytest.raises(fmt.FormatError) as err:
        fmt.decode_record(bytes(buf[off:off + header.record_size]), header, fmt.boot_seed(b'\x01' * 16), 1)
    assert err.value.reason == 'bad_crc'


@pytest.mark.parametrize('name', ['cpu.busy', 'vcpu.0.busy', 'vcpu.4095.iowait', 'gpu.util', 'psi.cpu.some_avg10'])
def test_metric_key_round_trip(name):
    assert fmt.spec_of_key(fmt.metric_key(name))[0] == name


@pytest.mark.parametrize('name', ['cpu.bogus', 'vcpu.4096.busy', 'vcpu.01.busy', 'vcpu.-1.busy', 'vcpu.x.busy', ''])
def test_unknown_metric_names(name):
    with pytest.raises(fmt.FormatError) as err:
        fmt.metric_key(name)
    assert err.value.reason == 'unknown_metric'


def test_spec_of_key_rejects_index_on_fixed_metric_and_unknown_kind():
    assert fmt.spec_of_key(fmt.metric_key('cpu.busy') | 1) is None
    assert fmt.spec_of_key(0xffff0000) is None


@pytest.mark.parametrize('rsize, cap, interval', [
    (63, 4, 1000), (fmt.MAX_RECORD_SIZE + 8, 2, 1000), (100, 4, 1000),   # size bounds and alignment
    (64, 1, 1000), (64, fmt.MAX_CAPACITY + 1, 1000),                       # capacity bounds
    (64, 4, 5), (64, 4, fmt.MAX_INTERVAL_MS + 1),                          # interval bounds
    (1024, 64, 1000),                                                      # does not fit the region
])
def test_geometry_rejected(rsize, cap, interval):
    with pytest.raises(fmt.FormatError) as err:
        fmt.check_geometry(rsize, cap, interval, 4096)
    assert err.value.reason == 'bad_geometry'


def test_too_many_metrics_for_record():
    buf, header = make_region(entries=2)
    keys, values = fmt.encode_metrics(dict(('vcpu.%d.busy' % i, 0.1) for i in range(10)))
    with pytest.raises(fmt.FormatError) as err:
        fmt.write_record(buf, header, 0, 1, 1, keys, values)
    assert err.value.reason == 'too_many_metrics'


def test_record_size_for_limits():
    assert fmt.record_size_for(0) == fmt.MIN_RECORD_SIZE
    assert fmt.max_entries(fmt.record_size_for(100)) >= 100
    with pytest.raises(fmt.FormatError):
        fmt.record_size_for(10 ** 6)


def test_boot_id_text_round_trip():
    text = '12345678-1234-5678-9abc-def012345678\n'
    assert fmt.boot_id_text(fmt.boot_id_bytes(text)) == text.strip()
    with pytest.raises(fmt.FormatError):
        fmt.boot_id_bytes('not a uuid')


@pytest.mark.parametrize('value, ok', [(0.0, True), (1.0, True), (1.0001, False), (-0.1, False),
                                       (float('nan'), False), (float('inf'), False)])
def test_value_range(value, ok):
    buf, header = make_region()
    seed = fmt.boot_seed(BOOT)
    fmt.write_record(buf, header, seed, 1, 1, [fmt.metric_key('cpu.busy')], [value])
    off = fmt.slot_offset(header, 1)
    slot = bytes(buf[off:off + header.record_size])
    if ok:
        assert fmt.decode_record(slot, header, seed, 1)[1]['cpu.busy'] == value
    else:
        with pytest.raises(fmt.FormatError) as err:
            fmt.decode_record(slot, header, seed, 1)
        assert err.value.reason == 'bad_value'
    assert fmt.finite(value) == (not (math.isnan(value) or math.isinf(value)))
