# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The profiler's shared-memory record format: one definition for guest and host.

Pure code, stdlib only, Python 3.8 compatible: the guest agent carries a copy
of this file, the host reader imports it from the collection. Functions here
read and write bytes in a buffer the caller owns (an mmap, a bytearray); they
do no I/O of their own.

Layout (little endian) of a region of `region_size` bytes:

    header (64 bytes)
      0  magic        8s   b'IVMPROF\\x00' (written last by the writer)
      8  version      u16  FORMAT_VERSION
      10 header_size  u16  HEADER_SIZE
      12 record_size  u32  bytes per ring slot, a multiple of 8
      16 capacity     u32  ring slots
      20 interval_ms  u32  the writer's sampling interval
      24 boot_id      16s  the guest's /proc/sys/kernel/random/boot_id
      40 header_crc   u32  CRC-32 of bytes 0..40
      44 reserved     u32
      48 write_seq    u64  sequence number of the last complete record (0: none)
      56 reserved     u64
    ring: `capacity` slots of `record_size` bytes; record `seq` lives in
    slot (seq - 1) % capacity.

    record
      0  crc          u32  CRC-32 of bytes 4 .. 24 + 12 * count, seeded with
                           the CRC of the boot id (a record left over from
                           another boot never validates)
      4  count        u16  metric entries
      6  flags        u16  0
      8  seq          u64
      16 timestamp_ns u64  guest CLOCK_REALTIME
      24 keys         count x u32 (metric kind << 16 | index)
      .. values       count x f64 (right after the keys)

Concurrency: one writer, one reader, no locks. The writer fills a slot and
only then publishes its sequence in `write_seq`, with one aligned 8-byte
store (seq_word); a reader loads it with one aligned load. A reader copies a
slot and accepts it only when its embedded `seq` is the one expected and the
CRC matches, so a slot torn by a concurrent overwrite is detected (the
seqlock's role is played by seq + CRC).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import operator
import struct
import sys
import zlib

from collections.abc import Mapping

MAGIC = b'IVMPROF\x00'
FORMAT_VERSION = 1
HEADER_SIZE = 64
RECORD_HEAD_SIZE = 24
ENTRY_SIZE = 12  # u32 key + f64 value

MIN_RECORD_SIZE = 64
MAX_RECORD_SIZE = 65536
MIN_CAPACITY = 2
MAX_CAPACITY = 1 << 20
MIN_INTERVAL_MS = 10
MAX_INTERVAL_MS = 3600 * 1000
MAX_INDEX = 4095  # highest vCPU index a record may carry

HEADER_STATIC = struct.Struct('<8sHHIII16s')    # bytes 0..40
HEADER_CRC = struct.Struct('<I')                # at 40
WRITE_SEQ = struct.Struct('<Q')                 # at 48
WRITE_SEQ_OFFSET = 48
HEADER_CRC_OFFSET = 40
RECORD_HEAD = struct.Struct('<IHHQQ')
_DOUBLE_AT = struct.Struct('<d').unpack_from

FRACTION = (0.0, 1.0)
PERCENT = (0.0, 100.0)
COUNT = (0.0, 1e7)
RATE = (0.0, 1e13)       # events or bytes per second
BYTES = (0.0, 2.0 ** 60)
RATIO = (0.0, 1e3)

# kind id -> (name, indexed, (low, high)). Ids are part of the wire format:
# add new ones, never renumber. Indexed names carry {} for the vCPU number.
METRIC_KINDS = {
    1: ('cpu.busy', False, FRACTION),
    2: ('cpu.user', False, FRACTION),
    3: ('cpu.system', False, FRACTION),
    4: ('cpu.iowait', False, FRACTION),
    5: ('cpu.steal', False, FRACTION),
    6: ('vcpus', False, COUNT),
    10: ('vcpu.{}.busy', True, FRACTION),
    11: ('vcpu.{}.user', True, FRACTION),
    12: ('vcpu.{}.system', True, FRACTION),
    13: ('vcpu.{}.iowait', True, FRACTION),
    14: ('vcpu.{}.steal', True, FRACTION),
    20: ('runnable', False, COUNT),
    21: ('blocked', False, COUNT),
    22: ('load1', False, (0.0, 1e6)),
    30: ('psi.cpu.some_avg10', False, PERCENT),
    31: ('psi.cpu.full_avg10', False, PERCENT),
    32: ('psi.memory.some_avg10', False, PERCENT),
    33: ('psi.memory.full_avg10', False, PERCENT),
    34: ('psi.io.some_avg10', False, PERCENT),
    35: ('psi.io.full_avg10', False, PERCENT),
    40: ('mem.total_bytes', False, BYTES),
    41: ('mem.available_bytes', False, BYTES),
    42: ('mem.available_frac', False, FRACTION),
    43: ('mem.swap_used_frac', False, FRACTION),
    44: ('mem.major_faults_per_s', False, RATE),
    45: ('mem.minor_faults_per_s', False, RATE),
    46: ('mem.swap_in_per_s', False, RATE),
    47: ('mem.swap_out_per_s', False, RATE),
    50: ('numa.hit_per_s', False, RATE),
    51: ('numa.miss_per_s', False, RATE),
    52: ('numa.foreign_per_s', False, RATE),
    60: ('disk.read_bytes_per_s', False, RATE),
    61: ('disk.write_bytes_per_s', False, RATE),
    62: ('disk.read_ops_per_s', False, RATE),
    63: ('disk.write_ops_per_s', False, RATE),
    70: ('net.rx_bytes_per_s', False, RATE),
    71: ('net.tx_bytes_per_s', False, RATE),
    72: ('net.rx_packets_per_s', False, RATE),
    73: ('net.tx_packets_per_s', False, RATE),
    80: ('gpu.util', False, FRACTION),
    81: ('gpu.mem_util', False, FRACTION),
    82: ('gpu.count', False, COUNT),
    90: ('hw.instructions_per_s', False, RATE),
    91: ('hw.cycles_per_s', False, RATE),
    92: ('hw.cache_misses_per_s', False, RATE),
    93: ('hw.ipc', False, RATIO),
}


class FormatError(ValueError):
    """Bytes that are not a valid region or record; `reason` is a stable code."""

    def __init__(self, reason, detail):
        super(FormatError, self).__init__('%s: %s' % (reason, detail))
        self.reason = reason
        self.detail = detail


_FIXED_KEYS = dict((name, kind << 16) for kind, (name, indexed, _b) in METRIC_KINDS.items() if not indexed)
_INDEXED_KINDS = dict((name.split('.', 2)[2], kind) for kind, (name, indexed, _b) in METRIC_KINDS.items() if indexed)

# key -> (name, low, high); filled on first sight of each valid key so that
# decoding is one dict lookup. It holds valid keys only, so it is bounded.
SPEC_OF_KEY = {}


def spec_of_key(key):
    """(name, low, high) for a wire key, or None when no metric has that key."""
    spec = SPEC_OF_KEY.get(key)
    if spec is None:
        kind, index = key >> 16, key & 0xffff
        entry = METRIC_KINDS.get(kind)
        if entry is None:
            return None
        name, indexed, bounds = entry
        if indexed:
            if index > MAX_INDEX:
                return None
            name = name.format(index)
        elif index:
            return None
        spec = SPEC_OF_KEY[key] = (name, bounds[0], bounds[1])
    return spec


def metric_key(name):
    """Wire key of a metric name, or FormatError('unknown_metric')."""
    key = _FIXED_KEYS.get(name)
    if key is not None:
        return key
    parts = name.split('.', 2)
    if len(parts) == 3 and parts[0] == 'vcpu' and parts[1].isascii() and parts[1].isdigit() and parts[2] in _INDEXED_KINDS:
        index = int(parts[1])
        if index <= MAX_INDEX and str(index) == parts[1]:
            return (_INDEXED_KINDS[parts[2]] << 16) | index
    raise FormatError('unknown_metric', 'no metric called %r' % (name,))


def max_entries(record_size):
    """How many metrics fit in one record of record_size bytes."""
    return (record_size - RECORD_HEAD_SIZE) // ENTRY_SIZE


def record_size_for(entries):
    """Smallest valid record size (a multiple of 64) holding `entries` metrics."""
    size = RECORD_HEAD_SIZE + ENTRY_SIZE * entries
    size = max(MIN_RECORD_SIZE, (size + 63) // 64 * 64)
    if size > MAX_RECORD_SIZE:
        raise FormatError('bad_geometry', '%d entries need %d bytes, more than %d' % (entries, size, MAX_RECORD_SIZE))
    return size


def capacity_for(region_size, record_size):
    """Ring slots that fit in a region of region_size bytes."""
    return min(MAX_CAPACITY, (region_size - HEADER_SIZE) // record_size)


def boot_seed(boot_id):
    """CRC seed bound to one guest boot."""
    return zlib.crc32(boot_id) & 0xffffffff


def boot_id_bytes(text):
    """16 bytes of a boot id as the kernel prints it (a UUID); FormatError otherwise."""
    hexpart = text.strip().replace('-', '')
    try:
        raw = bytes(bytearray.fromhex(hexpart))
    except ValueError:
        raw = b''
    if len(raw) != 16:
        raise FormatError('bad_boot_id', 'not a 16-byte UUID: %r' % (text[:64],))
    return raw


def boot_id_text(raw):
    """The UUID text form of 16 boot id bytes."""
    h = ''.join('%02x' % c for c in bytearray(raw))
    return '%s-%s-%s-%s-%s' % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


class Header(object):
    """The static part of a region header."""

    __slots__ = ('record_size', 'capacity', 'interval_ms', 'boot_id')

    def __init__(self, record_size, capacity, interval_ms, boot_id):
        self.record_size = record_size
        self.capacity = capacity
        self.interval_ms = interval_ms
        self.boot_id = boot_id

    def __eq__(self, other):
        return isinstance(other, Header) and all(getattr(self, a) == getattr(other, a) for a in self.__slots__)

    def __repr__(self):
        return 'Header(record_size=%d, capacity=%d, interval_ms=%d, boot_id=%s)' % (
            self.record_size, self.capacity, self.interval_ms, boot_id_text(self.boot_id))


def check_geometry(record_size, capacity, interval_ms, region_size):
    """Raise FormatError unless these header values are possible for region_size."""
    if not MIN_RECORD_SIZE <= record_size <= MAX_RECORD_SIZE or record_size % 8:
        raise FormatError('bad_geometry', 'record_size %d outside %d..%d or not a multiple of 8'
                          % (record_size, MIN_RECORD_SIZE, MAX_RECORD_SIZE))
    if not MIN_CAPACITY <= capacity <= MAX_CAPACITY:
        raise FormatError('bad_geometry', 'capacity %d outside %d..%d' % (capacity, MIN_CAPACITY, MAX_CAPACITY))
    if HEADER_SIZE + record_size * capacity > region_size:
        raise FormatError('bad_geometry', '%d slots of %d bytes do not fit a region of %d bytes'
                          % (capacity, record_size, region_size))
    if not MIN_INTERVAL_MS <= interval_ms <= MAX_INTERVAL_MS:
        raise FormatError('bad_geometry', 'interval_ms %d outside %d..%d' % (interval_ms, MIN_INTERVAL_MS, MAX_INTERVAL_MS))


def init_region(buf, header):
    """Write a fresh header and clear the ring; the magic goes in last.

    buf is a writable buffer (mmap, bytearray) covering the whole region.
    """
    size = len(buf)
    check_geometry(header.record_size, header.capacity, header.interval_ms, size)
    if len(header.boot_id) != 16:
        raise FormatError('bad_boot_id', 'boot id must be 16 bytes')
    buf[0:8] = b'\x00' * 8
    end = HEADER_SIZE + header.record_size * header.capacity
    chunk = b'\x00' * 65536
    for off in range(8, end, 65536):
        n = min(65536, end - off)
        buf[off:off + n] = chunk[:n]
    static = HEADER_STATIC.pack(b'\x00' * 8, FORMAT_VERSION, HEADER_SIZE, header.record_size,
                                header.capacity, header.interval_ms, header.boot_id)
    buf[8:40] = static[8:40]
    HEADER_CRC.pack_into(buf, HEADER_CRC_OFFSET, zlib.crc32(MAGIC + static[8:40]) & 0xffffffff)
    WRITE_SEQ.pack_into(buf, WRITE_SEQ_OFFSET, 0)
    buf[0:8] = MAGIC


def parse_header(buf, region_size):
    """(Header, write_seq) from the first HEADER_SIZE bytes of buf, or FormatError.

    Every field is checked against region_size, the size of the whole region
    as the host knows it (never as the guest claims it).
    """
    if region_size < HEADER_SIZE or len(buf) < HEADER_SIZE:
        raise FormatError('region_too_small', 'region of %d bytes, header needs %d' % (region_size, HEADER_SIZE))
    magic, version, header_size, record_size, capacity, interval_ms, boot_id = HEADER_STATIC.unpack_from(buf, 0)
    if magic != MAGIC:
        if magic == b'\x00' * 8:
            raise FormatError('empty', 'no writer has initialised the region yet')
        raise FormatError('bad_magic', 'magic %r' % (magic,))
    if version != FORMAT_VERSION:
        raise FormatError('bad_version', 'version %d, this reader knows %d' % (version, FORMAT_VERSION))
    if header_size != HEADER_SIZE:
        raise FormatError('bad_header', 'header_size %d, expected %d' % (header_size, HEADER_SIZE))
    (crc,) = HEADER_CRC.unpack_from(buf, HEADER_CRC_OFFSET)
    if crc != zlib.crc32(bytes(buf[0:40])) & 0xffffffff:
        raise FormatError('bad_header', 'header CRC mismatch')
    check_geometry(record_size, capacity, interval_ms, region_size)
    (write_seq,) = WRITE_SEQ.unpack_from(buf, WRITE_SEQ_OFFSET)
    return Header(record_size, capacity, interval_ms, boot_id), write_seq


def seq_word(buf):
    """write_seq as a one-element view: its reads and writes are single aligned 8-byte accesses.

    struct.pack_into stores a '<Q' one byte at a time, so a reader racing the
    writer saw half-old, half-new sequences (0 in 401 of 10 M header reads).
    A memoryview of native 'Q' is read and written with one machine load or
    store, and write_seq sits 8-aligned in a page-aligned region. None where
    that is not the wire's byte order or buf offers no writable buffer.

    The views made on the way are released here, so the word is the only
    one left holding buf: release() it (RecordWriter.close does) and an mmap
    under it can close.
    """
    if sys.byteorder != 'little':
        return None
    made = []
    try:
        made.append(memoryview(buf))
        made.append(made[-1].cast('B'))
        made.append(made[-1][WRITE_SEQ_OFFSET:WRITE_SEQ_OFFSET + 8])
        return made[-1].cast('Q')
    except (TypeError, ValueError):
        return None
    finally:
        for view in made:
            view.release()


def read_write_seq(buf):
    """The writer's published sequence number, read with one load where buf allows."""
    word = seq_word(buf)
    if word is None:
        return WRITE_SEQ.unpack_from(buf, WRITE_SEQ_OFFSET)[0]
    try:
        return word[0]
    finally:
        word.release()


def slot_offset(header, seq):
    """Byte offset of the slot that holds record seq (seq >= 1)."""
    return HEADER_SIZE + ((seq - 1) % header.capacity) * header.record_size


_BODY_STRUCTS = {}


def _body_struct(count):
    """The struct of a record after its CRC: count, flags, seq, ts, key bytes, values.

    Precompiled so that a record packs or unpacks in one C call; cached per
    count, and the cache is bounded so a guest cycling through counts
    cannot grow it.
    """
    st = _BODY_STRUCTS.get(count)
    if st is None:
        if len(_BODY_STRUCTS) >= 64:
            _BODY_STRUCTS.clear()
        st = _BODY_STRUCTS[count] = struct.Struct('<HHQQ%ds%dd' % (4 * count, count))
    return st


def encode_metrics(metrics):
    """(keys, values) lists for a {name: float} dict; FormatError for unknown names."""
    keys = []
    values = []
    for name, value in metrics.items():
        keys.append(metric_key(name))
        values.append(float(value))
    return keys, values


def pack_keys(keys):
    """The key array as written in a record; a writer with a fixed metric set packs it once."""
    return struct.pack('<%dI' % len(keys), *keys)


class RecordWriter(object):
    """Writes records of one metric set into one region; the writer's per-sample path.

    A writer sends the same metric set every interval, so the struct, the
    packed key array and the slot geometry are worked out once and a record
    is then packed with one struct call. Values are written as given; the
    reader is the one that refuses bad ones.
    """

    __slots__ = ('buf', 'seed', 'count', 'packed_keys', 'body', 'capacity', 'record_size', 'seq_word')

    def __init__(self, buf, header, seed, keys, packed_keys=None):
        count = len(keys)
        if count > max_entries(header.record_size):
            raise FormatError('too_many_metrics', '%d metrics, a %d-byte record holds %d'
                              % (count, header.record_size, max_entries(header.record_size)))
        self.buf = buf
        self.seed = seed
        self.count = count
        self.packed_keys = packed_keys if packed_keys is not None else pack_keys(keys)
        self.body = _body_struct(count)
        self.capacity = header.capacity
        self.record_size = header.record_size
        self.seq_word = seq_word(buf)

    def write(self, seq, timestamp_ns, values):
        """Write record seq into its slot, then publish it in write_seq (the order readers rely on).

        values: one per key, in key order (struct.error otherwise).
        """
        body = self.body.pack(self.count, 0, seq, timestamp_ns, self.packed_keys, *values)
        off = HEADER_SIZE + ((seq - 1) % self.capacity) * self.record_size
        self.buf[off:off + 4 + len(body)] = HEADER_CRC.pack(zlib.crc32(body, self.seed)) + body
        if self.seq_word is not None:
            self.seq_word[0] = seq
        else:
            WRITE_SEQ.pack_into(self.buf, WRITE_SEQ_OFFSET, seq)

    def close(self):
        """Let go of the buffer: release the write_seq view and drop buf; idempotent.

        An mmap cannot close while a view of it is held, so whoever owns the
        map closes the writer first. A closed writer writes no more (it
        would otherwise fall back to the byte-wise store of write_seq).
        """
        if self.seq_word is not None:
            self.seq_word.release()
            self.seq_word = None
        self.buf = None


def write_record(buf, header, seed, seq, timestamp_ns, keys, values, packed_keys=None):
    """Write record seq into its slot, then publish it in write_seq.

    keys/values come from encode_metrics; packed_keys (from pack_keys(keys))
    saves re-packing an unchanged metric set. A writer that sends the same
    set every time keeps a RecordWriter instead.
    """
    writer = RecordWriter(buf, header, seed, keys, packed_keys)
    try:
        writer.write(seq, timestamp_ns, values)
    finally:
        writer.close()


class MetricsView(Mapping):
    """A record's metrics as a read-only {name: value} mapping, read from its bytes on use.

    A record is validated in full when it is accepted (CRC, keys, every value
    in range, which the bounds lanes check on the raw bytes), but a value is
    unpacked only when something reads it. The name -> position index
    belongs to the layout and is shared by every record of that metric set.
    So accepting a record costs one small object, not 54 floats, a tuple and
    a dict: a host that reads a few metrics of the newest sample of a poll
    does not pay for the rest. A view keeps the poll's bytes (at most the
    reader's per-poll budget) alive. dict(view) makes a plain dict.
    """

    __slots__ = ('_index', '_values', '_data', '_offset')

    def __init__(self, index, values, data=None, offset=0):
        self._index = index
        self._values = values      # a tuple, or None: read from data at offset
        self._data = data
        self._offset = offset

    def __getitem__(self, name):
        if self._values is None:
            return _DOUBLE_AT(self._data, self._offset + 8 * self._index[name])[0]
        return self._values[self._index[name]]

    def __iter__(self):
        return iter(self._index)

    def __len__(self):
        return len(self._index)

    def __contains__(self, name):
        return name in self._index

    def __repr__(self):
        return 'MetricsView(%r)' % (dict(self),)


class RecordLayout(object):
    """One checked metric set, compiled once; a writer sends the same set in every record.

    Holds the value struct, the metric names, their bounds and the
    name -> position index its MetricsView objects share, so that
    decode_run() checks a record of this set with a handful of C-level calls
    instead of a Python loop per value. Built only from a key array that
    passed every key check.
    """

    __slots__ = ('count', 'key_bytes', 'names', 'lows', 'highs', 'record', 'values', 'values_at', 'crc_end',
                 'index', 'sign_lanes', 'limit_lanes')

    def __init__(self, key_bytes, count):
        specs = []
        for key in struct.unpack('<%dI' % count, key_bytes):
            spec = spec_of_key(key)
            if spec is None:
                raise FormatError('unknown_metric', 'unknown key 0x%08x' % key)
            specs.append(spec)
        names = tuple(spec[0] for spec in specs)
        if len(set(names)) != count:
            raise FormatError('duplicate_metric', 'a metric is named twice')
        self.count = count
        self.key_bytes = bytes(key_bytes)
        self.names = names
        self.lows = tuple(spec[1] for spec in specs)
        self.highs = tuple(spec[2] for spec in specs)
        self.values = struct.Struct('<%dd' % count)
        self.values_at = RECORD_HEAD_SIZE + 4 * count
        self.crc_end = RECORD_HEAD_SIZE + ENTRY_SIZE * count
        self.index = dict((name, i) for i, name in enumerate(names))
        # The bounds as lanes of one integer, for a check of every value with
        # a few integer operations. For doubles with the sign bit clear, IEEE 754
        # orders the bit patterns as it orders the numbers, inf and NaN above
        # every finite value: 0 <= v <= high is "sign bit clear and
        # bits(v) <= bits(high)". With the value bytes read as one little-endian
        # integer of 64-bit lanes, `lanes & sign_lanes` finds any sign bit; and
        # when there is none, in `limit_lanes - lanes` (each limit lane is
        # bits(high) plus the top bit, so no lane borrows from the next) lane i
        # keeps its top bit exactly when bits(v_i) <= bits(high_i). Exact,
        # except that -0.0 (sign bit set, yet in range) is left to in_bounds().
        # Needs low 0 and finite highs, true of every metric in METRIC_KINDS.
        # Built from packed bytes: linear in count, as a guest may change its set.
        if all(low == 0.0 for low in self.lows) and all(0.0 <= high < float('inf') for high in self.highs):
            self.sign_lanes = int.from_bytes(b'\x00\x00\x00\x00\x00\x00\x00\x80' * count, 'little')
            self.limit_lanes = self.sign_lanes | int.from_bytes(struct.pack('<%dd' % count, *self.highs), 'little')
        else:
            self.sign_lanes = self.limit_lanes = None

    def in_bounds(self, values):
        """The per-value check: every value within its metric's [low, high] (NaN never is)."""
        return all(map(operator.le, self.lows, values)) and all(map(operator.le, values, self.highs))

    def metrics(self, values):
        """The {name: value} mapping of one record of this set, in wire order."""
        return MetricsView(self.index, values)

    def decode_run(self, data, offset, stride, limit, seed, seq, after_ts):
        """(timestamps, MetricsView list) of the valid records of this set at the start of a run of slots.

        Slot k (at offset + k * stride in data, a bytes object) should hold
        record seq + k. Decodes up to `limit` slots and stops at the first one
        that is not accepted: another sequence or metric set, a bad CRC, a
        value out of bounds, or a timestamp not after the previous one
        (after_ts for the first). The caller then checks that slot with
        decode_slot() for the exact reason. Acceptance here makes the same
        checks as decode_slot(), only in bulk.
        """
        head = RECORD_HEAD.unpack_from
        view = memoryview(data)
        count, key_bytes, crc_end, values_at = self.count, self.key_bytes, self.crc_end, self.values_at
        signs, limits = self.sign_lanes, self.limit_lanes
        index, make_view = self.index, MetricsView
        crc32, from_bytes = zlib.crc32, int.from_bytes
        timestamps = []
        decoded = []
        for k in range(limit):
            off = offset + k * stride
            crc, n, _flags, rseq, ts = head(data, off)
            if (rseq != seq + k or n != count or ts <= after_ts
                    or not data.startswith(key_bytes, off + RECORD_HEAD_SIZE)
                    or crc != crc32(view[off + 4:off + crc_end], seed)):
                break
            if signs is not None:
                lanes = from_bytes(view[off + values_at:off + crc_end], 'little')
                if lanes & signs or (limits - lanes) & signs != signs:
                    break
                metrics = make_view(index, None, data, off + values_at)
            else:                                     # a table with other bounds: no lanes
                values = self.values.unpack_from(data, off + values_at)
                if not self.in_bounds(values):
                    break
                metrics = make_view(index, values)
            after_ts = ts
            timestamps.append(ts)
            decoded.append(metrics)
        return timestamps, decoded


def decode_slot(slot, header, seed, expected_seq, key_cache=None):
    """(timestamp_ns, {name: value}, RecordLayout) of one slot's bytes, or FormatError.

    slot holds at least header.record_size bytes copied from the ring.
    Checks, in order: the count fits the record, the sequence is the one
    expected (else the slot was overwritten: 'overwritten'), the CRC, each
    key is a known metric, no duplicates, each value finite and in range.
    key_cache: a dict the caller owns, mapping a key array to its
    RecordLayout (a writer sends the same metric set every time); kept
    here to at most 16 entries.
    """
    crc, count, _flags, seq, timestamp_ns = RECORD_HEAD.unpack_from(slot, 0)
    if count > (header.record_size - RECORD_HEAD_SIZE) // ENTRY_SIZE:
        raise FormatError('bad_record', 'count %d does not fit a %d-byte record' % (count, header.record_size))
    if seq != expected_seq:
        raise FormatError('overwritten', 'slot holds seq %d, expected %d' % (seq, expected_seq))
    vstart = RECORD_HEAD_SIZE + 4 * count
    end = vstart + 8 * count
    if crc != zlib.crc32(slot[4:end], seed) & 0xffffffff:
        raise FormatError('bad_crc', 'record %d fails its CRC' % seq)
    key_bytes = bytes(slot[RECORD_HEAD_SIZE:vstart])
    layout = key_cache.get(key_bytes) if key_cache is not None else None
    if layout is None:
        try:
            layout = RecordLayout(key_bytes, count)
        except FormatError as exc:
            raise FormatError(exc.reason, 'record %d: %s' % (seq, exc.detail))
        if key_cache is not None:
            if len(key_cache) >= 16:
                key_cache.clear()
            key_cache[key_bytes] = layout
    values = struct.unpack_from('<%dd' % count, slot, vstart)
    if not layout.in_bounds(values):
        for name, value, low, high in zip(layout.names, values, layout.lows, layout.highs):
            if not low <= value <= high:
                raise FormatError('bad_value', 'record %d: %s = %r outside %g..%g' % (seq, name, value, low, high))
    return timestamp_ns, layout.metrics(values), layout
