# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host reader trusts nothing: every rejection path, overruns, reboots, fuzzing."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math
import os
import signal
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.adaptive.intravm.plugins.module_utils.channel import shm_format as fmt
from ansible_collections.adaptive.intravm.plugins.module_utils.channel.shm_reader import READ_BUDGET_BYTES, REASONS, RingReader

BOOT_A = b'\xaa' * 16
BOOT_B = b'\xbb' * 16
SIZE = 1 << 14


class Clock(object):
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Guest(object):
    """A well-behaved writer into a bytearray, so tests can then misbehave on purpose."""

    def __init__(self, size=SIZE, boot=BOOT_A, entries=8):
        self.buf = bytearray(size)
        self.boot(boot, entries)

    def boot(self, boot, entries=8):
        rsize = fmt.record_size_for(entries)
        self.header = fmt.Header(rsize, fmt.capacity_for(len(self.buf), rsize), 1000, boot)
        fmt.init_region(self.buf, self.header)
        self.seed = fmt.boot_seed(boot)
        self.seq = 0
        self.ts = 0

    def write(self, metrics=None, ts=None, seq=None, publish=True):
        self.seq = self.seq + 1 if seq is None else seq
        self.ts = self.ts + 10 ** 9 if ts is None else ts
        keys, values = fmt.encode_metrics(metrics or {'cpu.busy': 0.5, 'vcpu.0.busy': 0.5})
        fmt.write_record(self.buf, self.header, self.seed, self.seq, self.ts, keys, values)
        if not publish:
            struct.pack_into('<Q', self.buf, fmt.WRITE_SEQ_OFFSET, self.seq - 1)

    def slot(self, seq):
        return fmt.slot_offset(self.header, seq)

    def reseal(self, seq):
        """Recompute a record's CRC after a deliberate edit (a malicious guest can)."""
        off = self.slot(seq)
        count = struct.unpack_from('<H', self.buf, off + 4)[0]
        end = off + fmt.RECORD_HEAD_SIZE + fmt.ENTRY_SIZE * min(count, fmt.max_entries(self.header.record_size))
        struct.pack_into('<I', self.buf, off, zlib.crc32(bytes(self.buf[off + 4:end]), self.seed) & 0xffffffff)


def reader_for(guest, **kw):
    clock = Clock()
    kw.setdefault('clock', clock)
    return RingReader(guest.buf, **kw), clock


def nonzero(stats):
    return dict((k, v) for k, v in stats.items() if v and k != 'polls')


def test_accepts_records_in_order():
    guest = Guest()
    reader, _clock = reader_for(guest)
    assert reader.poll() == []
    for _n in range(3):
        guest.write()
    got = reader.poll()
    assert [s.seq for s in got] == [1, 2, 3]
    assert got[0].metrics == {'cpu.busy': 0.5, 'vcpu.0.busy': 0.5}
    assert got[0].boot_id == fmt.boot_id_text(BOOT_A)
    assert reader.poll() == []
    assert nonzero(reader.stats) == {'accepted': 3}
    assert set(REASONS) <= set(reader.stats)


@pytest.mark.parametrize('mangle, reason', [
    (lambda b: b.__setitem__(slice(0, 8), b'XXXXXXXX'), 'bad_magic'),
    (lambda b: struct.pack_into('<H', b, 8, 99), 'bad_version'),
    (lambda b: struct.pack_into('<H', b, 10, 32), 'bad_header'),
    (lambda b: struct.pack_into('<I', b, 40, 0), 'bad_header'),
])
def test_bad_headers(mangle, reason):
    guest = Guest()
    guest.write()
    mangle(guest.buf)
    reader, _clock = reader_for(guest)
    assert reader.poll() == []
    assert reader.stats[reason] == 1
    assert reader.last_rejection.reason == reason


def _resealed_header(buf, record_size=None, capacity=None, interval=None):
    if record_size is not None:
        struct.pack_into('<I', buf, 12, record_size)
    if capacity is not None:
        struct.pack_into('<I', buf, 16, capacity)
    if interval is not None:
        struct.pack_into('<I', buf, 20, interval)
    struct.pack_into('<I', buf, 40, zlib.crc32(bytes(buf[0:40])) & 0xffffffff)


@pytest.mark.parametrize('fields', [
    {'capacity': 2 ** 32 - 1}, {'record_size': 2 ** 31}, {'record_size': 65}, {'capacity': 1},
    {'interval': 0}, {'capacity': SIZE},
])
def test_impossible_geometry_with_valid_crc(fields):
    guest = Guest()
    _resealed_header(guest.buf, **fields)
    reader, _clock = reader_for(guest)
    assert reader.poll() == []
    assert nonzero(reader.stats) == {'bad_geometry': 1}


def test_empty_missing_and_small_regions(tmp_path):
    reader = RingReader(bytearray(SIZE))
    reader.poll()
    assert reader.stats['empty'] == 1
    reader = RingReader(bytearray(10))
    reader.poll()
    assert reader.stats['region_too_small'] == 1
    reader = RingReader(str(tmp_path / 'absent'))
    assert reader.poll() == []
    assert reader.stats['region_missing'] == 1


def test_file_region_replaced_and_truncated(tmp_path):
    path = tmp_path / 'region'
    guest = Guest()
    guest.write()
    path.write_bytes(bytes(guest.buf))
    reader = RingReader(str(path))
    assert [s.seq for s in reader.poll()] == [1]
    guest.write()
    tmp = tmp_path / 'new'
    tmp.write_bytes(bytes(guest.buf))
    os.rename(str(tmp), str(path))      # a new file (new inode) is picked up
    assert [s.seq for s in reader.poll()] == [2]
    guest.write()
    path.write_bytes(bytes(guest.buf[:fmt.HEADER_SIZE + 10]))   # truncated under the reader
    assert reader.poll() == []
    assert reader.stats['bad_geometry'] == 1
    path.write_bytes(bytes(guest.buf[:20]))
    assert reader.poll() == []
    assert reader.stats['region_too_small'] == 1
    reader.close()


def test_bad_crc():
    guest = Guest()
    guest.write()
    guest.buf[guest.slot(1) + 30] ^= 0xff
    reader, _clock = reader_for(guest)
    assert reader.poll() == []
    assert nonzero(reader.stats) == {'bad_crc': 1}


@pytest.mark.parametrize('metrics, reason', [
    ({'cpu.busy': float('nan')}, 'bad_value'),
    ({'cpu.busy': float('inf')}, 'bad_value'),
    ({'cpu.busy': -0.5}, 'bad_value'),
    ({'cpu.busy': 1.5}, 'bad_value'),
    ({'disk.read_bytes_per_s': 1e30}, 'bad_value'),
])
def test_bad_values(metrics, reason):
    guest = Guest()
    guest.write(metrics)
    reader, _clock = reader_for(guest)
    assert reader.poll() == []
    assert nonzero(reader.stats) == {reason: 1}


def test_unknown_and_duplicate_metrics_with_valid_crc():
    guest = Guest()
    key = fmt.metric_key('cpu.busy')
    fmt.write_record(guest.buf, guest.header, guest.seed, 1, 10, [0x7fff0000], [0.5])
    fmt.write_record(guest.buf, guest.header, guest.seed, 2, 20, [key, key], [0.5, 0.5])
    reader, _clock = reader_for(guest)
    assert reader.poll() == []
    assert nonzero(reader.stats) == {'unknown_metric': 1, 'duplicate_metric': 1}


def test_count_beyond_record_is_refused():
    guest = Guest()
    guest.write()
    struct.pack_into('<H', guest.buf, guest.slot(1) + 4, 60000)
    reader, _clock = reader_for(guest)
    assert reader.poll() == []
    assert nonzero(reader.stats) == {'bad_record': 1}


def test_sequence_going_back_and_timestamps():
    guest = Guest()
    guest.write()
    guest.write()
    reader, _clock = reader_for(guest)
    assert len(reader.poll()) == 2
    struct.pack_into('<Q', guest.buf, fmt.WRITE_SEQ_OFFSET, 1)
    assert reader.poll() == []
    assert reader.stats['bad_sequence'] == 1
    guest.seq = 1
    guest.write(ts=5)                       # seq 2 again, timestamp back in time
    assert reader.poll() == []
    assert reader.stats['bad_timestamp'] == 1


def test_slot_holding_another_sequence_is_torn():
    guest = Guest()
    guest.write()
    guest.write(seq=5, publish=False)       # writes slot of seq 5, publishes 4
    struct.pack_into('<Q', guest.buf, fmt.WRITE_SEQ_OFFSET, 2)
    reader, _clock = reader_for(guest)
    got = reader.poll()
    assert [s.seq for s in got] == [1]
    assert reader.stats['torn'] == 1


def test_overrun_is_counted_and_reader_catches_up():
    guest = Guest()
    reader, clock = reader_for(guest, burst=10 ** 6)
    assert reader.poll() == []              # following the ring from its start
    cap = guest.header.capacity
    for _n in range(cap * 3 + 5):
        guest.write()
    clock.now += 10 ** 6
    got = reader.poll()
    assert reader.stats['overruns'] == cap * 3 + 5 - (cap - 1)
    assert [s.seq for s in got] == list(range(2 * cap + 7, 3 * cap + 6))
    assert reader.stats['torn'] == 0


def test_records_before_the_first_poll_are_not_overruns():
    """A reader (re)started on a busy ring takes its newest records and blames the guest for nothing."""
    guest = Guest()
    cap = guest.header.capacity
    for _n in range(cap * 3 + 5):
        guest.write()
    reader, _clock = reader_for(guest, burst=10 ** 6)
    assert [s.seq for s in reader.poll()] == list(range(2 * cap + 7, 3 * cap + 6))
    assert nonzero(reader.stats) == {'accepted': cap - 1}


def test_sequence_leap_beyond_the_rate_limit_is_bad_sequence_not_overruns():
    """Overruns are counted in records a writer could have written, not in sequence numbers."""
    guest = Guest()
    guest.write()
    reader, clock = reader_for(guest)
    assert len(reader.poll()) == 1
    clock.now += 10.0                       # 100 records at the default 0.1 s limit, plus a ring
    guest.write(seq=10 ** 12)
    got = reader.poll()
    assert [s.seq for s in got] == [10 ** 12]
    assert reader.stats['overruns'] == 0
    assert reader.stats['bad_sequence'] == 1


def test_torn_write_seq_of_an_old_byte_wise_writer_is_read_again():
    """A write_seq read half-old, half-new is read again rather than blamed on the guest."""
    guest = Guest()
    for _n in range(255):
        guest.write()
    reader, clock = reader_for(guest)
    assert len(reader.poll()) > 0
    guest.write(publish=False)              # record 256 in its slot, write_seq still 255
    # A byte-wise store of 256 over 255 passes through 0x100 + 0xff ... and 0x000:
    # the first read sees the half-written 0, the next read the finished 256.
    reads = iter([struct.pack('<Q', 256)] * 4)
    real_read = reader._src.read

    def racing_read(offset, length):
        if offset == 0:
            data = bytearray(real_read(offset, length))
            struct.pack_into('<Q', data, fmt.WRITE_SEQ_OFFSET, 0)
            return bytes(data)
        if offset == fmt.WRITE_SEQ_OFFSET and length == 8:
            return next(reads)
        return real_read(offset, length)

    reader._src.read = racing_read
    clock.now += 1.0
    got = reader.poll()
    assert [s.seq for s in got] == [256]
    assert reader.stats['bad_sequence'] == 0 and reader.stats['overruns'] == 0


def test_a_slot_the_writer_lapped_while_we_copied_it_is_torn_not_bad_crc():
    """A copy half old, half new fails its CRC; when the slot now holds a later record, that is our lag."""
    guest = Guest()
    guest.write()
    reader, clock = reader_for(guest)
    assert len(reader.poll()) == 1
    guest.write()
    guest.buf[guest.slot(2) + fmt.RECORD_HEAD_SIZE + 1] ^= 0xff      # what a mixed copy looks like
    real_read = reader._src.read

    def read(offset, length):                  # the slot's own seq, read after the copy: rewritten since
        if offset == guest.slot(2) + 8 and length == 8:
            return struct.pack('<Q', 2 + guest.header.capacity)
        return real_read(offset, length)

    reader._src.read = read
    clock.now += 1.0
    assert reader.poll() == []
    assert reader.stats['torn'] == 1 and reader.stats['bad_crc'] == 0
    # The same bytes while the guest moves write_seq a ring ahead after our first read of it:
    # the slot still holds record 2, so this is the guest's own bad record, not our lag.
    seq_reads = []

    def guest_moves_write_seq(offset, length):
        if offset == fmt.WRITE_SEQ_OFFSET and length == 8:
            seq_reads.append(offset)
            if len(seq_reads) > 1:
                return struct.pack('<Q', 2 + guest.header.capacity)
        return real_read(offset, length)

    reader._src.read = guest_moves_write_seq
    reader._last_seq = 1
    assert reader.poll() == []
    assert reader.stats['bad_crc'] == 1


def test_a_region_that_shrinks_between_reads_is_refused_not_raised(tmp_path):
    """The header read sees the region whole, the write_seq re-read finds it truncated: a refusal, no exception."""
    path = tmp_path / 'region'
    guest = Guest()
    guest.write()
    path.write_bytes(bytes(guest.buf))
    reader = RingReader(str(path))
    real_read = reader._src.read

    def read(offset, length):
        if offset == fmt.WRITE_SEQ_OFFSET and length == 8:
            with open(str(path), 'r+b') as handle:
                handle.truncate(20)
        return real_read(offset, length)

    reader._src.read = read
    assert reader.poll() == []
    assert reader.stats['region_too_small'] == 1
    reader.close()


def test_fifo_region_never_blocks_the_reader(tmp_path):
    """A FIFO at the region path (first open, or swapped in later) is refused without blocking."""
    signal.signal(signal.SIGALRM, _hung)
    signal.alarm(10)                        # a regression hangs in open(): fail instead
    try:
        _fifo_cases(tmp_path)
    finally:
        signal.alarm(0)


def _hung(_signum, _frame):
    raise AssertionError('the reader blocked on the region path')


def _fifo_cases(tmp_path):
    path = tmp_path / 'region'
    os.mkfifo(str(path))
    reader = RingReader(str(path))
    assert reader.poll() == []
    assert reader.stats['region_not_file'] == 1
    os.unlink(str(path))
    guest = Guest()
    guest.write()
    path.write_bytes(bytes(guest.buf))
    assert [s.seq for s in reader.poll()] == [1]
    tmp = tmp_path / 'fifo'
    os.mkfifo(str(tmp))
    os.rename(str(tmp), str(path))          # a FIFO swapped in under the reader
    assert reader.poll() == []
    assert reader.stats['region_not_file'] == 2
    os.unlink(str(path))
    os.symlink(os.devnull, str(path))       # nor does it follow a link anywhere else
    assert reader.poll() == []
    assert reader.stats['region_not_file'] == 3
    reader.close()


def test_reboot_detected_and_followed():
    guest = Guest()
    guest.write()
    reader, _clock = reader_for(guest)
    assert len(reader.poll()) == 1
    guest.boot(BOOT_B)
    guest.write()
    got = reader.poll()
    assert [(s.seq, s.boot_id) for s in got] == [(1, fmt.boot_id_text(BOOT_B))]
    assert reader.stats['reboots'] == 1


def test_stale_records_of_previous_boot_are_never_accepted():
    guest = Guest()
    for _n in range(3):
        guest.write()
    # A new boot publishing seq 3 without rewriting the slots: old CRCs do not match the new boot.
    static = bytearray(guest.buf[:fmt.HEADER_SIZE])
    static[24:40] = BOOT_B
    guest.buf[24:40] = BOOT_B
    struct.pack_into('<I', guest.buf, 40, zlib.crc32(bytes(guest.buf[0:40])) & 0xffffffff)
    reader, _clock = reader_for(guest)
    assert reader.poll() == []
    assert reader.stats['bad_crc'] == 3


def test_guest_writing_faster_than_allowed():
    guest = Guest(size=1 << 16)
    reader, clock = reader_for(guest, min_interval_s=1.0, burst=5)
    for _n in range(20):
        guest.write()
    got = reader.poll()
    assert len(got) == 5
    assert reader.stats['too_fast'] == 15
    clock.now += 3.0
    for _n in range(3):
        guest.write()
    assert len(reader.poll()) == 3


def test_work_per_poll_is_bounded_by_host_budget():
    guest = Guest(size=4 << 20, entries=5000)        # ~60 kB records
    reader, clock = reader_for(guest, burst=10 ** 6)
    for _n in range(40):
        guest.write()
    clock.now += 10 ** 6
    first = reader.poll()
    assert 0 < len(first) < 40
    assert len(first) * guest.header.record_size <= 1 << 20
    total = len(first)
    for _n in range(5):
        total += len(reader.poll())
    assert total == 40


def _every_slot_refused(rsize):
    """A ring of rsize-byte slots, each holding its own seq and no CRC: refused (bad_crc), then read again for a lap."""
    header = fmt.Header(rsize, READ_BUDGET_BYTES // rsize + 2, 1000, BOOT_A)
    buf = bytearray(fmt.HEADER_SIZE + header.capacity * rsize)
    fmt.init_region(buf, header)
    for seq in range(1, header.capacity + 1):
        struct.pack_into('<Q', buf, fmt.slot_offset(header, seq) + 8, seq)
    struct.pack_into('<Q', buf, fmt.WRITE_SEQ_OFFSET, header.capacity)
    return buf, header


@pytest.mark.parametrize('rsize', [fmt.MIN_RECORD_SIZE, fmt.MAX_RECORD_SIZE])
def test_a_poll_copies_at_most_its_budget_with_every_slot_refused(rsize):
    """The probe's ring (64-byte slots, all refused) had a poll copy 1,179,720 bytes: the budget paid the slots only."""
    buf, header = _every_slot_refused(rsize)
    reader = RingReader(buf, burst=10 ** 6, clock=Clock())
    real_read, copied = reader._src.read, []

    def counted(offset, length):
        data = real_read(offset, length)
        copied[-1] += len(data)
        return data

    reader._src.read = counted
    refused = 0
    while refused < header.capacity - 1:          # the oldest slot is never read: it may be under rewrite
        copied.append(0)
        assert reader.poll() == []
        assert copied[-1] <= READ_BUDGET_BYTES
        assert reader.copied_bytes == copied[-1]
        assert reader.stats['bad_crc'] > refused, 'each poll gets on'
        refused = reader.stats['bad_crc']
    assert refused == header.capacity - 1 and nonzero(reader.stats) == {'bad_crc': refused}
    per_slot = rsize + 8                          # the slot, and its own seq read again
    assert copied[0] == fmt.HEADER_SIZE + 8 + (READ_BUDGET_BYTES - fmt.HEADER_SIZE - 8) // per_slot * per_slot


# ---------------------------------------------------------------- fuzzing

def _check_samples(samples):
    for sample in samples:
        for name, value in sample.metrics.items():
            spec = fmt.spec_of_key(fmt.metric_key(name))
            assert spec[1] <= value <= spec[2]
            assert not math.isnan(value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=0, max_size=4096))
def test_fuzz_random_regions(data):
    reader = RingReader(bytearray(data))
    for _n in range(2):
        _check_samples(reader.poll())
    if len(data) < fmt.HEADER_SIZE:
        assert reader.stats['region_too_small'] == 2


def _valid_region():
    guest = Guest(size=4096)
    for i in range(12):
        guest.write({'cpu.busy': (i % 10) / 10.0, 'vcpu.%d.busy' % i: 0.5, 'runnable': float(i)})
    return guest


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=4095), st.integers(min_value=0, max_value=255)),
                min_size=1, max_size=24),
       st.booleans())
def test_fuzz_adversarial_mutations(edits, reseal):
    guest = _valid_region()
    for off, byte in edits:
        guest.buf[off] = byte
    if reseal:
        # A hostile guest can keep its CRCs valid while lying in every field.
        struct.pack_into('<I', guest.buf, 40, zlib.crc32(bytes(guest.buf[0:40])) & 0xffffffff)
        for seq in range(1, 13):
            if fmt.slot_offset(guest.header, seq) + guest.header.record_size <= len(guest.buf):
                guest.reseal(seq)
    reader = RingReader(guest.buf, burst=10 ** 6)
    total = 0
    for _n in range(3):
        samples = reader.poll()
        _check_samples(samples)
        total += len(samples)
    assert total == reader.stats['accepted'] <= guest.header.capacity


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2 ** 64 - 1))
def test_fuzz_write_seq(write_seq):
    guest = _valid_region()
    struct.pack_into('<Q', guest.buf, fmt.WRITE_SEQ_OFFSET, write_seq)
    reader = RingReader(guest.buf, burst=10 ** 6)
    samples = reader.poll()
    _check_samples(samples)
    assert len(samples) <= guest.header.capacity


def test_default_burst_takes_a_whole_ring_of_backlog_then_limits_the_rate():
    guest = Guest()
    reader, clock = reader_for(guest)
    cap = guest.header.capacity
    for _n in range(cap - 2):
        guest.write()
    assert len(reader.poll()) == cap - 2
    assert reader.stats['too_fast'] == 0
    clock.now += 1.0                      # 2 tokens left + 1 s at the default 0.1 s = 12 more
    for _n in range(cap - 2):
        guest.write()
    assert len(reader.poll()) == 12
    assert reader.stats['too_fast'] == cap - 2 - 12


# ---------------------------------------------------------------- bulk decoding of a steady metric set

STEADY = {'cpu.busy': 0.5, 'vcpu.0.busy': 0.25, 'vcpu.1.busy': 0.75, 'runnable': 2.0, 'mem.total_bytes': 2.0 ** 33}


def test_refusals_in_the_middle_of_a_steady_run_are_typed_and_the_rest_accepted():
    guest = Guest(size=1 << 16)
    reader, _clock = reader_for(guest)
    guest.write(STEADY)
    assert len(reader.poll()) == 1               # the metric set is now compiled
    guest.write(STEADY)
    accepted_ts = guest.ts
    guest.write(dict(STEADY, runnable=float('nan')))
    guest.write(dict(STEADY, **{'vcpu.1.busy': 1.5}))
    guest.write(STEADY, ts=accepted_ts)          # not after the last accepted timestamp
    guest.write(dict(STEADY, **{'cpu.busy': -0.0}))   # -0.0 is in range
    guest.write({'cpu.busy': 0.5})               # another metric set
    guest.write(STEADY)
    guest.buf[guest.slot(guest.seq) + 40] ^= 0x01
    guest.write(STEADY)
    got = reader.poll()
    assert [s.seq for s in got] == [2, 6, 7, 9]
    assert got[0].metrics == STEADY and list(got[0].metrics) == list(STEADY)
    assert got[1].metrics['cpu.busy'] == 0.0 and got[2].metrics == {'cpu.busy': 0.5}
    assert nonzero(reader.stats) == {'accepted': 5, 'bad_value': 2, 'bad_timestamp': 1, 'bad_crc': 1}
    assert [r.seq for r in reader.recent_rejections] == [3, 4, 5, 8]


def test_steady_run_respects_the_rate_limit_and_reboots():
    guest = Guest(size=1 << 16)
    reader, clock = reader_for(guest, min_interval_s=1.0, burst=4)
    for _n in range(10):
        guest.write(STEADY)
    assert [s.seq for s in reader.poll()] == [1, 2, 3, 4]
    assert reader.stats['too_fast'] == 6
    clock.now += 2.0
    guest.boot(BOOT_B)                           # same metric set, new boot: new CRC seed
    for _n in range(3):
        guest.write(STEADY)
    got = reader.poll()
    assert [(s.seq, s.boot_id) for s in got] == [(1, fmt.boot_id_text(BOOT_B)), (2, fmt.boot_id_text(BOOT_B))]
    assert reader.stats['too_fast'] == 7


def test_steady_run_after_geometry_change_with_the_same_boot():
    guest = Guest(size=1 << 16)
    reader, _clock = reader_for(guest, burst=10 ** 6)
    guest.write(STEADY)
    assert len(reader.poll()) == 1
    guest.boot(BOOT_A, entries=1)                # 64-byte records: smaller than the compiled set's
    guest.write({'cpu.busy': 0.5})
    guest.write({'cpu.busy': 0.5})               # the reader goes on from seq 2: one slot to read
    assert [(s.seq, s.metrics) for s in reader.poll()] == [(2, {'cpu.busy': 0.5})]
    assert nonzero(reader.stats) == {'accepted': 2}


def _steady_region():
    guest = Guest(size=4096)
    for i in range(12):
        guest.write(dict(STEADY, **{'cpu.busy': (i % 10) / 10.0}))
    return guest


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(min_value=fmt.HEADER_SIZE, max_value=4095), st.integers(min_value=0, max_value=255)),
                min_size=1, max_size=8),
       st.booleans(), st.integers(min_value=0, max_value=11))
def test_fuzz_steady_runs_accept_only_what_the_exact_decoder_accepts(edits, reseal, polled_first):
    guest = _steady_region()
    reader = RingReader(guest.buf, burst=10 ** 6)
    struct.pack_into('<Q', guest.buf, fmt.WRITE_SEQ_OFFSET, polled_first)
    reader.poll()                                # the metric set compiled from untouched records
    struct.pack_into('<Q', guest.buf, fmt.WRITE_SEQ_OFFSET, 12)
    for off, byte in edits:
        guest.buf[off] = byte
    if reseal:
        for seq in range(1, 13):
            if fmt.slot_offset(guest.header, seq) + guest.header.record_size <= len(guest.buf):
                guest.reseal(seq)
    samples = reader.poll()
    _check_samples(samples)
    for sample in samples:
        off = fmt.slot_offset(guest.header, sample.seq)
        slot = bytes(guest.buf[off:off + guest.header.record_size])
        assert fmt.decode_slot(slot, guest.header, guest.seed, sample.seq)[:2] == (sample.timestamp_ns, sample.metrics)
    assert reader.stats['accepted'] == polled_first + len(samples)
