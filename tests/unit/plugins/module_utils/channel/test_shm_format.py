# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The record format: round trips, geometry limits, metric names."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math
import mmap
import os
import struct
import uuid

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.adaptive.intravm.plugins.module_utils.channel import shm_format as fmt

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
    ts, got = fmt.decode_slot(bytes(buf[off:off + header.record_size]), header, seed, 1)[:2]
    assert ts == 1000
    assert got == metrics


def test_metrics_view_reads_like_a_dict_and_copies_to_one():
    layout = fmt.RecordLayout(fmt.pack_keys([fmt.metric_key('cpu.busy'), fmt.metric_key('vcpu.1.busy')]), 2)
    view = layout.metrics((0.25, 0.75))
    assert list(view) == ['cpu.busy', 'vcpu.1.busy']
    assert len(view) == 2 and 'cpu.busy' in view and 'runnable' not in view
    assert view['vcpu.1.busy'] == 0.75 and view.get('runnable') is None
    with pytest.raises(KeyError):
        view['runnable']  # pylint: disable=pointless-statement
    plain = dict(view)
    assert isinstance(plain, dict) and plain == {'cpu.busy': 0.25, 'vcpu.1.busy': 0.75} == view
    assert view != {'cpu.busy': 0.25}
    other = layout.metrics((0.5, 0.5))
    assert other['cpu.busy'] == 0.5 and view['cpu.busy'] == 0.25  # records share the index, not values


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
        fmt.decode_slot(bytes(buf[off:off + header.record_size]), header, fmt.boot_seed(b'\x01' * 16), 1)
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
        assert fmt.decode_slot(slot, header, seed, 1)[1]['cpu.busy'] == value
    else:
        with pytest.raises(fmt.FormatError) as err:
            fmt.decode_slot(slot, header, seed, 1)
        assert err.value.reason == 'bad_value'


# ---------------------------------------------------------------- compiled layouts (bulk decoding)

SPECIALS = [0.0, -0.0, 1.0, 100.0, 1e3, 1e6, 1e7, 1e13, 2.0 ** 60, 5e-324, -5e-324, 1.0000000000000002,
            0.9999999999999999, 100.00000000000001, 2.0 ** 60 * (1 + 2.0 ** -52), 1e300, -1.0,
            float('nan'), -float('nan'), float('inf'), -float('inf')]
LAYOUT_NAMES = ('cpu.busy', 'psi.cpu.some_avg10', 'load1', 'vcpus', 'hw.ipc', 'disk.read_bytes_per_s',
                'mem.total_bytes', 'vcpu.7.steal')


def _layout_run(values_per_record, names=LAYOUT_NAMES, entries=16):
    buf, header = make_region(size=1 << 16, entries=entries)
    seed = fmt.boot_seed(BOOT)
    keys = [fmt.metric_key(n) for n in names]
    for i, values in enumerate(values_per_record):
        fmt.write_record(buf, header, seed, i + 1, 1000 * (i + 1), keys, values)
    start = fmt.slot_offset(header, 1)
    data = bytes(buf[start:start + header.record_size * len(values_per_record)])
    return data, header, seed, fmt.RecordLayout(fmt.pack_keys(keys), len(keys))


def _in_range_or_at_the_edge(name):
    high = fmt.spec_of_key(fmt.metric_key(name))[2]
    return st.one_of(st.floats(min_value=0.0, max_value=high),
                     st.sampled_from([0.0, -0.0, 5e-324, high, math.nextafter(high, 0.0), math.nextafter(high, math.inf)]))


@settings(max_examples=500, deadline=None)
@given(st.tuples(*[_in_range_or_at_the_edge(n) for n in LAYOUT_NAMES]),
       st.lists(st.tuples(st.integers(min_value=0, max_value=len(LAYOUT_NAMES) - 1),
                          st.one_of(st.sampled_from(SPECIALS), st.floats())), max_size=2),
       st.booleans())
def test_bulk_decoding_accepts_exactly_what_the_per_value_check_accepts(base, edits, without_lanes):
    values = list(base)
    for index, value in edits:
        values[index] = value
    data, header, seed, layout = _layout_run([values])
    if without_lanes:
        layout.sign_lanes = layout.limit_lanes = None      # the path for bounds lanes cannot express
    timestamps, decoded = layout.decode_run(data, 0, header.record_size, 1, seed, 1, 0)
    try:
        expected = fmt.decode_slot(data, header, seed, 1)[:2]
    except fmt.FormatError as exc:
        assert exc.reason == 'bad_value'
        assert decoded == []
        return
    if decoded:
        assert (timestamps[0], decoded[0]) == expected
        assert tuple(decoded[0]) == LAYOUT_NAMES
    else:
        # Only -0.0 (in range, sign bit set) is left to the per-value check.
        assert not without_lanes and any(v == 0.0 and math.copysign(1.0, v) < 0 for v in values)


def test_bulk_decoding_stops_at_the_first_record_it_does_not_accept():
    good = [0.5, 50.0, 1.0, 2.0, 1.5, 1e6, 2.0 ** 33, 0.25]
    bad = list(good)
    bad[2] = float('nan')
    data, header, seed, layout = _layout_run([good, good, bad, good])
    rsize = header.record_size
    timestamps, decoded = layout.decode_run(data, 0, rsize, 4, seed, 1, 0)
    assert timestamps == [1000, 2000] and len(decoded) == 2
    assert layout.decode_run(data, 3 * rsize, rsize, 1, seed, 4, 2000)[0] == [4000]
    assert layout.decode_run(data, 0, rsize, 4, seed, 2, 0)[0] == []              # slot holds another seq
    assert layout.decode_run(data, 0, rsize, 4, seed, 1, 1000)[0] == []           # timestamp not after
    assert layout.decode_run(data, 0, rsize, 1, fmt.boot_seed(b'\x01' * 16), 1, 0)[0] == []   # other boot
    assert layout.decode_run(data, 0, rsize, 1, seed, 1, 0)[0] == [1000]          # the limit holds
    other = fmt.RecordLayout(fmt.pack_keys([fmt.metric_key('cpu.busy')] + [fmt.metric_key(n) for n in LAYOUT_NAMES[:0:-1]]),
                             len(LAYOUT_NAMES))
    assert other.decode_run(data, 0, rsize, 4, seed, 1, 0)[0] == []               # another metric set


def test_layout_refuses_unknown_and_duplicate_keys():
    key = fmt.metric_key('cpu.busy')
    for keys, reason in (([key, key], 'duplicate_metric'), ([0x7fff0000], 'unknown_metric')):
        with pytest.raises(fmt.FormatError) as err:
            fmt.RecordLayout(fmt.pack_keys(keys), len(keys))
        assert err.value.reason == reason


def test_record_writer_refuses_a_set_that_does_not_fit_and_a_wrong_value_count():
    buf, header = make_region(entries=2)
    keys = [fmt.metric_key('vcpu.%d.busy' % i) for i in range(10)]
    with pytest.raises(fmt.FormatError) as err:
        fmt.RecordWriter(buf, header, 0, keys)
    assert err.value.reason == 'too_many_metrics'
    writer = fmt.RecordWriter(buf, header, fmt.boot_seed(BOOT), keys[:2])
    with pytest.raises(struct.error):
        writer.write(1, 1, [0.5])
    assert fmt.read_write_seq(buf) == 0
    writer.write(1, 1, [0.5, 0.25])
    off = fmt.slot_offset(header, 1)
    assert fmt.decode_slot(bytes(buf[off:off + header.record_size]), header, fmt.boot_seed(BOOT), 1)[:2] == (
        1, {'vcpu.0.busy': 0.5, 'vcpu.1.busy': 0.25})


def test_a_closed_record_writer_lets_its_map_close():
    """Regression (issue 27): benchmarks/channel.py died with BufferError at map.close()
    because the writer's aligned write_seq view still held the map."""
    size = 1 << 16
    region = mmap.mmap(-1, size)
    rsize = fmt.record_size_for(2)
    header = fmt.Header(rsize, fmt.capacity_for(size, rsize), 1000, BOOT)
    fmt.init_region(region, header)
    keys, values = fmt.encode_metrics({'cpu.busy': 0.5, 'runnable': 1.0})
    writer = fmt.RecordWriter(region, header, fmt.boot_seed(BOOT), keys)
    assert writer.seq_word is not None            # the aligned store is in use
    writer.write(1, 1, values)
    with pytest.raises(BufferError):              # an open writer holds a view of the map
        region.close()
    writer.close()
    writer.close()                                # idempotent
    with pytest.raises(TypeError):                # a closed writer writes no more
        writer.write(2, 2, values)
    assert fmt.read_write_seq(region) == 1        # read_write_seq leaves no view behind either
    fmt.write_record(region, header, fmt.boot_seed(BOOT), 2, 2, keys, values)   # nor does write_record
    word = fmt.seq_word(region)
    assert word[0] == 2
    word.release()                                # the word is the only view seq_word leaves
    region.close()
    assert region.closed


def test_write_seq_is_published_with_one_store_under_a_racing_reader():
    """A reader in another process never sees write_seq go back (a byte-wise store showed ~13 in 300,000)."""
    size = 1 << 16
    region = mmap.mmap(-1, size, mmap.MAP_SHARED)
    rsize = fmt.record_size_for(2)
    header = fmt.Header(rsize, fmt.capacity_for(size, rsize), 1000, b'\xaa' * 16)
    fmt.init_region(region, header)
    keys, values = fmt.encode_metrics({'cpu.busy': 0.5, 'vcpu.0.busy': 0.5})
    records = 300000
    pid = os.fork()
    if pid == 0:  # the writer
        writer = fmt.RecordWriter(region, header, fmt.boot_seed(b'\xaa' * 16), keys)
        for seq in range(1, records + 1):
            writer.write(seq, seq, values)
        os._exit(0)
    word = fmt.seq_word(region)
    last = went_back = 0
    while last < records:
        value = word[0]
        went_back += value < last
        last = max(last, value)
    os.waitpid(pid, 0)
    word.release()
    assert went_back == 0
    assert fmt.read_write_seq(region) == records
    region.close()
