# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host side of the profiler channel: reads a guest's ring and trusts nothing.

The guest owns every byte of the region, so everything read is checked
against what the host knows (the region's real size, the last sequence and
timestamp it accepted, its own clock). Nothing a guest writes makes poll()
raise; each refusal is a typed Rejection counted in `stats`. Work and memory
per poll are bounded by host-side limits, never by guest-supplied numbers.

Reads use pread() on the file rather than a mapping: a region truncated
under us returns short reads instead of killing the process with SIGBUS.
Only a regular file is read, opened non-blocking and without following a
link: whoever can create a FIFO in /dev/shm must not stop the predictor.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import itertools
import os
import stat
import time

from ansible_collections.adaptive.intravm.plugins.module_utils.channel import shm_format as fmt
from ansible_collections.adaptive.intravm.plugins.module_utils.regular_file import NotRegularFile, open_regular

# Rejection reasons, each with a counter in RingReader.stats.
REASONS = (
    'region_missing', 'region_not_file', 'region_too_small', 'empty', 'bad_magic', 'bad_version', 'bad_header',
    'bad_geometry', 'bad_record', 'bad_crc', 'unknown_metric', 'duplicate_metric', 'bad_value',
    'bad_sequence', 'bad_timestamp', 'too_fast', 'torn',
)

# Host policy defaults.
DEFAULT_MIN_INTERVAL_S = 0.1   # sustained rate a guest may write at: 10 records/s
READ_BUDGET_BYTES = 1 << 20    # most bytes copied out of the ring per poll, every read counted
SEQ_READS = 4                  # reads of write_seq to get two that agree
LAP_PROBE_BYTES = 8            # a refused slot's own seq, read again to tell our lag from a bad record


class Rejection(object):
    """Why something a guest wrote was refused: a stable reason and a detail."""

    __slots__ = ('reason', 'detail', 'seq')

    def __init__(self, reason, detail, seq=None):
        self.reason = reason
        self.detail = detail
        self.seq = seq

    def __repr__(self):
        return 'Rejection(%r, %r, seq=%r)' % (self.reason, self.detail, self.seq)


class Sample(object):
    """One validated record: guest sequence, guest timestamp, boot id, metrics."""

    __slots__ = ('seq', 'timestamp_ns', 'boot_id', 'metrics')

    def __init__(self, seq, timestamp_ns, boot_id, metrics):
        self.seq = seq
        self.timestamp_ns = timestamp_ns
        self.boot_id = boot_id
        self.metrics = metrics

    def __repr__(self):
        return 'Sample(seq=%d, boot_id=%s, %d metrics)' % (self.seq, self.boot_id, len(self.metrics))


class _FileSource(object):
    """pread() access to /dev/shm/NAME; reopens, and checks the type again, when the file is replaced."""

    def __init__(self, path):
        self.path = path
        self._fd = None
        self._ino = None

    def size(self):
        """Current size of the region, or None when the file does not exist.

        Raises NotRegularFile for anything but a regular file, a link included
        (lstat); regular_file.open_regular checks the opened descriptor again,
        so a swap between the lstat() and the open() is caught too.
        """
        try:
            st = os.lstat(self.path)
        except OSError:
            self.close()
            return None
        if not stat.S_ISREG(st.st_mode):
            self.close()
            raise NotRegularFile('%s is not a regular file (mode %o)' % (self.path, st.st_mode))
        if self._fd is None or (st.st_dev, st.st_ino) != self._ino:
            self.close()
            try:
                fd, opened = open_regular(self.path)
            except NotRegularFile:
                raise
            except OSError:
                return None
            self._fd, self._ino = fd, (opened.st_dev, opened.st_ino)
        return os.fstat(self._fd).st_size

    def read(self, offset, length):
        return os.pread(self._fd, length, offset)

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
        self._fd = None
        self._ino = None


class _BufferSource(object):
    """A bytes-like region (tests, benchmarks, an mmap the caller owns)."""

    def __init__(self, buf):
        self._view = memoryview(buf).cast('B')

    def size(self):
        return len(self._view)

    def read(self, offset, length):
        return self._view[offset:offset + length].tobytes()

    def close(self):
        pass


class RingReader(object):
    """Reads new records from one guest's ring; see poll().

    source: a path ('/dev/shm/NAME') or a bytes-like buffer.
    min_interval_s: the fastest sustained rate the host accepts (host policy,
    whatever interval the guest claims); burst: how many records may arrive
    at once (backlog after the reader paused), by default one ring's worth.
    """

    def __init__(self, source, min_interval_s=DEFAULT_MIN_INTERVAL_S, burst=None, clock=time.monotonic):
        if isinstance(source, str):
            self._src = _FileSource(source)
        else:
            self._src = _BufferSource(source)
        self.min_interval_s = float(min_interval_s)
        self.burst = int(burst) if burst is not None else None
        self._clock = clock
        self.stats = dict((reason, 0) for reason in REASONS)
        self.stats.update(accepted=0, overruns=0, reboots=0, polls=0)
        self.last_rejection = None
        self.recent_rejections = collections.deque(maxlen=32)
        self.boot_id = None          # text form of the boot we follow
        self._boot_raw = None
        self._seed = None
        self._last_seq = 0           # last sequence consumed (accepted or refused)
        self._last_ts = 0
        self._tokens = None
        self._refill_at = None
        self._polled_at = None       # host clock of the last poll that read a header
        self._key_cache = {}
        self._layout = None          # RecordLayout of the last accepted record
        self.copied_bytes = 0        # bytes the last poll copied out of the region, at most READ_BUDGET_BYTES

    def close(self):
        self._src.close()

    def _reject(self, reason, detail, seq=None, count=1):
        rej = Rejection(reason, detail, seq)
        self.stats[reason] += count
        self.last_rejection = rej
        self.recent_rejections.append(rej)
        return rej

    def _refill(self, capacity):
        limit = float(self.burst if self.burst is not None else capacity)
        now = self._clock()
        if self._tokens is None:
            self._tokens = limit
        else:
            self._tokens = min(limit, self._tokens + (now - self._refill_at) / self.min_interval_s)
        self._refill_at = now

    def _read(self, offset, length):
        """Bytes of the region, counted against this poll's READ_BUDGET_BYTES."""
        data = self._src.read(offset, length)
        self.copied_bytes += len(data)
        return data

    def poll(self):
        """New validated samples since the last poll, oldest first. Never raises for guest data.

        Every byte it copies counts against READ_BUDGET_BYTES: the header,
        each read of write_seq, the slots, and the second look at each slot
        refused (LAP_PROBE_BYTES). The slots read are what is left of the
        budget after the header and write_seq, at their worst-case cost:
        every one refused.
        """
        self.stats['polls'] += 1
        self.copied_bytes = 0
        try:
            size = self._src.size()
        except NotRegularFile as exc:
            self._reject('region_not_file', str(exc))
            return []
        if size is None:
            self._reject('region_missing', 'no region at %s' % getattr(self._src, 'path', 'buffer'))
            return []
        try:
            head = self._read(0, fmt.HEADER_SIZE)
            header, write_seq = fmt.parse_header(head, size if len(head) >= fmt.HEADER_SIZE else len(head))
            write_seq = self._settled_write_seq(write_seq)
        except fmt.FormatError as exc:
            self._reject(exc.reason if exc.reason in self.stats else 'bad_header', exc.detail)
            return []
        except OSError as exc:
            self._reject('region_missing', 'cannot read region: %s' % exc)
            return []
        self._refill(header.capacity)
        since, self._polled_at = self._polled_at, self._clock()
        if header.boot_id != self._boot_raw:
            if self._boot_raw is not None:
                self.stats['reboots'] += 1
            self._boot_raw = header.boot_id
            self.boot_id = fmt.boot_id_text(header.boot_id)
            self._seed = fmt.boot_seed(header.boot_id)
            self._last_seq = 0
            self._last_ts = 0
        if write_seq == self._last_seq:
            return []
        if write_seq < self._last_seq:
            # Sequences only grow within one boot; a writer that goes back is refused
            # and followed from its new position so a restarted writer is not mute forever.
            self._reject('bad_sequence', 'write_seq went back from %d to %d' % (self._last_seq, write_seq), write_seq)
            self._last_seq = write_seq
            return []
        first = self._last_seq + 1
        # The oldest slot may be under rewrite right now; never start there.
        oldest_safe = write_seq - header.capacity + 2
        if first < oldest_safe:
            self._count_overrun(oldest_safe - first, since, header, write_seq)
            first = oldest_safe
        # At least 15 slots: the budget less the header and write_seq's reads, over the largest record and its probe.
        batch = (READ_BUDGET_BYTES - self.copied_bytes) // (header.record_size + LAP_PROBE_BYTES)
        last = min(write_seq, first + batch - 1)
        return self._read_range(header, first, last)

    def _settled_write_seq(self, write_seq):
        """write_seq once two reads agree.

        Our writer publishes with one store, but an older profiler stored the
        sequence byte by byte, and a read racing that sees half of each value:
        a sequence that went "back" or leapt ahead, blamed on a good guest.
        The window is nanoseconds, so a second read settles it.
        """
        for _attempt in range(SEQ_READS):
            again = self._read_u64(fmt.WRITE_SEQ_OFFSET)
            if again is None:
                raise fmt.FormatError('region_too_small', 'region shrank under the reader')
            if again == write_seq:
                return write_seq
            write_seq = again
        return write_seq

    def _read_u64(self, offset):
        """The u64 at offset, or None when the region no longer holds it (a short read)."""
        data = self._read(offset, 8)
        return fmt.WRITE_SEQ.unpack(data)[0] if len(data) == 8 else None

    def _lapped(self, header, seq):
        """True when seq's slot now holds a later record of this ring: our copy may mix two records.

        Judged by the slot itself, not by write_seq, so a guest cannot relabel a
        bad record as our lag by moving write_seq alone.
        """
        try:
            now = self._read_u64(fmt.slot_offset(header, seq) + 8)   # the record's own seq field
        except OSError:
            return False
        return now is not None and now > seq and (now - seq) % header.capacity == 0

    def _count_overrun(self, skipped, since, header, write_seq):
        """Count records lost to the ring's wrap, in records the writer can have written.

        The first poll of a ring starts at its newest records without calling
        the older ones lost. A jump in sequence larger than a writer at the
        host's rate limit could have made since the last poll is a guest that
        skipped numbers, a bad_sequence, not millions of overruns.
        """
        if since is None:
            return
        possible = int((self._polled_at - since) / self.min_interval_s) + header.capacity
        if skipped > possible:
            self._reject('bad_sequence', 'write_seq jumped by %d records, more than the %d a writer at the rate limit could write'
                         % (skipped, possible), write_seq)
        else:
            self.stats['overruns'] += skipped

    def _read_range(self, header, first, last):
        samples = []
        rsize = header.record_size
        seq = first
        while seq <= last:
            # One pread per contiguous run of slots (two when the range wraps).
            slot_index = (seq - 1) % header.capacity
            run = min(last - seq + 1, header.capacity - slot_index)
            try:
                data = self._read(fmt.slot_offset(header, seq), run * rsize)
            except OSError as exc:
                self._reject('region_missing', 'cannot read region: %s' % exc, seq)
                return samples
            whole = min(run, len(data) // rsize)
            self._accept_run(header, data, seq, whole, samples)
            if whole < run:
                self._last_seq = seq + whole
                self._reject('region_too_small', 'region shrank under the reader', seq + whole)
                return samples
            seq += run
        return samples

    def _accept_run(self, header, data, first, count, samples):
        """Append the samples of `count` consecutive slots of data (slot i holds seq first + i).

        The common case, the writer's usual metric set with everything valid,
        goes through the cached RecordLayout's decode_run() in bulk, at most
        as many records as the rate limit has tokens for. A slot it stops at
        goes through _accept(), every check in order with the exact reason
        for a refusal, and bulk decoding resumes after it.
        """
        rsize = header.record_size
        view = memoryview(data)
        i = 0
        while i < count:
            layout = self._layout
            if layout is not None and layout.crc_end <= rsize:
                limit = min(count - i, int(self._tokens))
                timestamps, decoded = layout.decode_run(data, i * rsize, rsize, limit, self._seed, first + i, self._last_ts)
                got = len(timestamps)
                if got:
                    samples.extend(map(Sample, range(first + i, first + i + got), timestamps,
                                       itertools.repeat(self.boot_id, got), decoded))
                    self._last_ts = timestamps[-1]
                    self._tokens -= got
                    self.stats['accepted'] += got
                    i += got
                    self._last_seq = first + i - 1
                    if i == count:
                        break
            self._last_seq = first + i
            sample = self._accept(header, view[i * rsize:(i + 1) * rsize], first + i)
            if sample is not None:
                samples.append(sample)
            i += 1

    def _accept(self, header, slot, seq):
        """One slot with every check in order; a Sample, or None with the refusal recorded."""
        try:
            timestamp_ns, metrics, layout = fmt.decode_slot(slot, header, self._seed, seq, self._key_cache)
        except fmt.FormatError as exc:
            if exc.reason == 'overwritten' or self._lapped(header, seq):
                # Overrun while we copied it (a slot half old, half new fails any check),
                # or a writer that skipped numbers: not evidence of a bad record.
                self._reject('torn', exc.detail, seq)
            else:
                self._reject(exc.reason if exc.reason in self.stats else 'bad_record', exc.detail, seq)
            return None
        if timestamp_ns <= self._last_ts:
            self._reject('bad_timestamp', 'record %d timestamp %d not after %d' % (seq, timestamp_ns, self._last_ts), seq)
            return None
        if self._tokens < 1.0:
            self._reject('too_fast', 'record %d over the host rate limit (1 per %.3f s, burst %s)'
                         % (seq, self.min_interval_s, self.burst or header.capacity), seq)
            return None
        self._tokens -= 1.0
        self._last_ts = timestamp_ns
        self._layout = layout
        self.stats['accepted'] += 1
        return Sample(seq, timestamp_ns, self.boot_id, metrics)
