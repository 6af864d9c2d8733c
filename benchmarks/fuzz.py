# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fuzzing campaign over everything that reads untrusted input, with its figures.

Each target gets seeded random cases (the same seed gives the same cases) and
counts what must stay zero:
- escapes: an exception other than the target's own typed error (for
  checkpoints: any exception out of the predictor that attaches them);
- accepted_bad: an input accepted that should not be (a value out of its
  metric's bounds or not finite, a sequence that went back, a cpuset with a
  non-ASCII digit, a forecast document with any value not of its format,
  judged by the fuzzer's own reading of the format, not forecast_format's);
- refused: clean refusals (the target's own error), counted so a campaign
  shows it reached both sides;
- false_alarms (channel_race only): refusals or overruns blamed on a
  well-behaved writer racing the reader in another process.
Surfaces: the ring reader, the cpuset grammar, forecast documents from an
endpoint, the event source's round on odd documents, fetches that drip, fail
or redirect out of http(s) (past_deadline: refusals that came later than the
timeout plus one read), the forecast `memory` block through plan_resize, the
QEMU hook's rewrite of domain XML, apply_plan's plans (refused_after_connect:
refusals that came after it reached libvirt, which must stay 0: a refusal
changes nothing), lock records, and checkpoints. It also prints polls/cases, the most bytes one poll copied and
the peak traced memory. `make test` runs a short campaign (tests/unit/test_fuzz_campaign.py);
this runs a long one:

    python benchmarks/fuzz.py [--cases N] [--seed S] [--race-s SECONDS] [--json OUT]
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import copy
import functools
import json
import logging
import math
import mmap
import operator
import os
import random
import socket
import struct
import sys
import tempfile
import time
import tracemalloc
import zlib
from http import client as http_client

from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset
from ansible_collections.adaptive.intravm.plugins.module_utils.plan import forecast_doc
from ansible_collections.adaptive.intravm.plugins.module_utils.channel import forecast_format as ff
from ansible_collections.adaptive.intravm.plugins.module_utils.channel import shm_format as fmt
from ansible_collections.adaptive.intravm.plugins.module_utils.channel.shm_reader import READ_BUDGET_BYTES, RingReader

BOOT = b'\x5a' * 16
DIGITS = '0123456789' + '\u0661\u0662\u00b2\u00b9\uff11\u0967\u1811\U0001d7cf'
CPUSET_ALPHABET = DIGITS + ',-^ \t\n_.x+'


class _CountingSource(object):
    """Wraps a reader's source to record the most bytes one poll copied."""

    def __init__(self, inner):
        self.inner = inner
        self.copied = 0

    def size(self):
        return self.inner.size()

    def read(self, offset, length):
        data = self.inner.read(offset, length)
        self.copied += len(data)
        return data

    def close(self):
        self.inner.close()


def _region(rng, size=8192):
    buf = bytearray(size)
    rsize = fmt.record_size_for(rng.randint(1, 12))
    header = fmt.Header(rsize, fmt.capacity_for(size, rsize), 1000, BOOT)
    fmt.init_region(buf, header)
    seed = fmt.boot_seed(BOOT)
    for seq in range(1, rng.randint(1, 3 * header.capacity) + 1):
        metrics = {'cpu.busy': rng.random(), 'vcpu.%d.busy' % rng.randint(0, 7): rng.random(), 'runnable': float(seq)}
        keys, values = fmt.encode_metrics(metrics)
        fmt.write_record(buf, header, seed, seq, seq * 10 ** 9, keys, values)
    return buf, header, seed


def _mutate(rng, buf, header, seed):
    """One hostile edit: random bytes, a bad value resealed with a good CRC, a wild write_seq, a new geometry."""
    kind = rng.randrange(5) if len(buf) >= fmt.HEADER_SIZE else 4
    if kind == 0:
        for _n in range(rng.randint(1, 16)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
    elif kind == 1:
        seq = fmt.read_write_seq(buf)
        off = fmt.slot_offset(header, seq) if seq else len(buf)
        if off + header.record_size <= len(buf):
            count = struct.unpack_from('<H', buf, off + 4)[0]
            count = min(count, fmt.max_entries(header.record_size))
            if count:
                value_at = off + fmt.RECORD_HEAD_SIZE + 4 * count + 8 * rng.randrange(count)
                struct.pack_into('<d', buf, value_at, rng.choice([float('nan'), float('inf'), -1.0, 1e300, -0.0, 2.0]))
                end = off + fmt.RECORD_HEAD_SIZE + fmt.ENTRY_SIZE * count
                struct.pack_into('<I', buf, off, zlib.crc32(bytes(buf[off + 4:end]), seed) & 0xffffffff)
    elif kind == 2:
        struct.pack_into('<Q', buf, fmt.WRITE_SEQ_OFFSET, rng.choice([0, 1, 2 ** 64 - 1, rng.getrandbits(64), rng.getrandbits(20)]))
    elif kind == 3:
        struct.pack_into('<II', buf, 12, rng.getrandbits(32), rng.getrandbits(32))
        struct.pack_into('<I', buf, 40, zlib.crc32(bytes(buf[0:40])) & 0xffffffff)
    else:
        size = rng.randrange(len(buf) + 1)
        return bytearray(buf[:size])
    return buf


def fuzz_channel(cases, seed):
    """Adversarial regions polled by RingReader: nothing escapes, nothing out of bounds, bounded copies."""
    rng = random.Random(seed)
    out = {'polls': 0, 'escapes': 0, 'accepted': 0, 'accepted_bad': 0, 'max_copied_bytes': 0}
    for _case in range(cases):
        buf, header, rseed = _region(rng)
        reader = RingReader(buf, burst=10 ** 6)
        counting = _CountingSource(reader._src)  # pylint: disable=protected-access
        reader._src = counting  # pylint: disable=protected-access
        last_seq = {}
        for _poll in range(rng.randint(1, 6)):
            counting.copied = 0
            try:
                samples = reader.poll()
            except Exception:  # pylint: disable=broad-except  # counting escapes is the point
                out['escapes'] += 1
                samples = []
            out['polls'] += 1
            out['max_copied_bytes'] = max(out['max_copied_bytes'], counting.copied)
            for sample in samples:
                out['accepted'] += 1
                if sample.seq <= last_seq.get(sample.boot_id, 0) or not _in_bounds(sample):
                    out['accepted_bad'] += 1
                last_seq[sample.boot_id] = sample.seq
            mutated = _mutate(rng, buf, header, rseed)
            if mutated is not buf:     # truncated: the reader now sees the shorter region
                buf = mutated
                counting.inner = type(counting.inner)(buf)
    for buf in _budget_regions():
        reader = RingReader(buf, burst=10 ** 6)
        counting = _CountingSource(reader._src)  # pylint: disable=protected-access
        reader._src = counting  # pylint: disable=protected-access
        for _poll in range(2):
            counting.copied = 0
            try:
                out['accepted_bad'] += len(reader.poll())   # every slot is bad
            except Exception:  # pylint: disable=broad-except
                out['escapes'] += 1
            out['polls'] += 1
            out['max_copied_bytes'] = max(out['max_copied_bytes'], counting.copied)
    return out


def _budget_regions():
    """The most a poll can be made to copy: rings of the smallest and of the largest slots, every one refused.

    Each slot holds its own sequence and no CRC, so each is refused (bad_crc)
    and read a second time to tell a lapped copy (torn) from a bad record:
    with 64-byte slots that second look took the poll to 1,179,720 bytes.
    """
    for rsize in (fmt.MIN_RECORD_SIZE, fmt.MAX_RECORD_SIZE):
        header = fmt.Header(rsize, READ_BUDGET_BYTES // rsize + 2, 1000, BOOT)
        buf = bytearray(fmt.HEADER_SIZE + header.capacity * rsize)
        fmt.init_region(buf, header)
        for seq in range(1, header.capacity + 1):
            struct.pack_into('<Q', buf, fmt.slot_offset(header, seq) + 8, seq)
        struct.pack_into('<Q', buf, fmt.WRITE_SEQ_OFFSET, header.capacity)
        yield buf


def _in_bounds(sample):
    for name, value in sample.metrics.items():
        spec = fmt.spec_of_key(fmt.metric_key(name))
        if spec is None or not math.isfinite(value) or not spec[1] <= value <= spec[2]:
            return False
    return True


def channel_race(seconds, records_per_s=None):
    """A well-behaved writer in another process races the reader on a /dev/shm file: no refusal may blame it."""
    size = 1 << 16
    directory = '/dev/shm' if os.path.isdir('/dev/shm') else None
    fd, path = tempfile.mkstemp(prefix='intravm-fuzz-', dir=directory)
    try:
        os.ftruncate(fd, size)
        region = mmap.mmap(fd, size, mmap.MAP_SHARED)
        os.close(fd)
        rsize = fmt.record_size_for(3)
        header = fmt.Header(rsize, fmt.capacity_for(size, rsize), 1000, BOOT)
        fmt.init_region(region, header)
        pid = os.fork()
        if pid == 0:    # the guest: writes as fast as it can for `seconds`
            writer = fmt.RecordWriter(region, header, fmt.boot_seed(BOOT), fmt.encode_metrics({'cpu.busy': 0.5, 'runnable': 1.0})[0])
            seq, end = 0, time.monotonic() + seconds
            while time.monotonic() < end:
                seq += 1
                writer.write(seq, seq, (0.5, 1.0))
            writer.close()
            os._exit(0)
        reader = RingReader(path, min_interval_s=1e-9, burst=10 ** 9)
        polls = accepted = 0
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            accepted += len(reader.poll())
            polls += 1
        accepted += len(reader.poll())
        written = fmt.read_write_seq(region)
        stats = dict(reader.stats)
        reader.close()
        region.close()
    finally:
        os.unlink(path)
    blamed = dict((k, v) for k, v in stats.items() if v and k in ('bad_sequence', 'bad_header', 'bad_crc', 'bad_record', 'bad_timestamp'))
    return {'polls': polls, 'written': written, 'accepted': accepted, 'overruns': stats['overruns'], 'torn': stats['torn'],
            'false_alarms': sum(blamed.values()), 'false_alarm_reasons': blamed,
            'overruns_beyond_written': max(0, stats['overruns'] + accepted - written)}


def fuzz_cpuset(cases, seed):
    rng = random.Random(seed)
    out = {'cases': cases, 'escapes': 0, 'accepted': 0, 'accepted_bad': 0}
    for _case in range(cases):
        text = ''.join(rng.choice(CPUSET_ALPHABET) for _n in range(rng.randint(0, 12)))
        if rng.random() < 0.02:         # numbers too long for int() (over 4300 digits)
            text += rng.choice(DIGITS[:10]) * rng.choice([13, 4301, 10000])
        try:
            ids = cpuset.parse(text)
        except cpuset.CpusetError:
            continue
        except Exception:  # pylint: disable=broad-except
            out['escapes'] += 1
            continue
        out['accepted'] += 1
        if any(ch in DIGITS[10:] for ch in text) or any(not 0 <= i <= cpuset.MAX_CPU_ID for i in ids):
            out['accepted_bad'] += 1
    return out


def _json_value(rng, depth=0):
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False, 0, -1, 1e308, float('nan'), 'x', ''])
    if kind == 2:
        return rng.random()
    if kind == 3:
        return ''.join(rng.choice('ab\u0661"\\') for _n in range(rng.randint(0, 4)))
    if kind == 4:
        return rng.randint(-2 ** 70, 2 ** 70)
    if kind == 5:
        return [_json_value(rng, depth + 1) for _n in range(rng.randint(0, 3))]
    return dict(('k%d' % i, _json_value(rng, depth + 1)) for i in range(rng.randint(0, 3)))


def _good_doc(rng):
    """A document as the predictor writes it (forecast_format's builders), 1 to 3 VMs, every block."""
    vms = {}
    for i in range(rng.randint(1, 3)):
        n = rng.randint(1, 3)
        pair = ([0.1 * n, 0.2], [0.3, 0.4])
        memory = ff.memory_block(2e9, {'p50': [2e9, 2.1e9], 'p90': [2.2e9, 2.4e9]}, 2.3e9, {'psi_mem_some': 0.5, 'swap_in': 0.0})
        vms['vm%d' % i] = ff.vm_entry('u-%d' % i, n, 'lstm', [300, 900], pair, vcpu=dict((v, pair) for v in range(n)),
                                      net=pair, gpu=pair, actual_cpu=0.2, samples=10, memory=memory,
                                      cpu_peak=ff.peak_block([900, 3600], ['lstm', 'lstm'], pair, vcpu={0: pair}))
        if rng.random() < 0.5:
            vms['vm%d' % i]['allocated_cpus'] = n
    doc = ff.document('hv1', 1.0e9, 300, vms)
    doc['host_cpus'] = 4
    return json.loads(json.dumps(doc))


ODD_VALUES = [None, True, False, -1, -1e-9, 0, 0.5, 1e308, 10 ** 400, 2 ** 64, float('nan'), float('inf'), 'x', '2', '\u0661',
              '', [], [1.0], [2], {}, {'p90': [1]}, '1G']


def _mutate_doc(rng, doc):
    """Up to three values anywhere in doc replaced by odd ones (the probe's kind: a string, a list, 10**400, ...)."""
    for _change in range(rng.randint(0, 3)):
        parent, key = None, None
        target = doc
        for _depth in range(rng.randint(1, 7)):
            if isinstance(target, dict) and target:
                parent, key = target, rng.choice(sorted(target))
            elif isinstance(target, list) and target:
                parent, key = target, rng.randrange(len(target))
            else:
                break
            target = parent[key]
        if parent is None:
            continue
        if rng.random() < 0.1 and isinstance(parent, dict):
            del parent[key]
        else:
            parent[key] = copy.deepcopy(rng.choice(ODD_VALUES + [_json_value(rng)]))
    return doc


def _forecast_body(rng):
    kind = rng.randrange(6)
    if kind == 0:
        return bytes(rng.getrandbits(8) for _n in range(rng.randint(0, 64)))
    if kind == 1:
        n = rng.choice([10, 100, 1000, 5000, 100000])
        return ('{"version": 2, "generated_at": 1, "vms": ' + '[' * n + ']' * n + '}').encode()
    if kind == 2:
        return ('{"version": 2, "generated_at": 1, "vms": {}, "pad": "%s"}' % ('x' * rng.choice([10, 1 << 20]))).encode()
    if kind == 3:
        doc = {'version': rng.choice([1, 2, 2, 3, '2']), 'generated_at': rng.choice([1.0, 1.0, 'x', None, float('nan'), True, 10 ** 400]),
               'vms': rng.choice([{}, [], {'a': _json_value(rng)}, {'a': {'cpu': _json_value(rng)}}, {'a': {'cpu_peak': _json_value(rng)}}])}
        return json.dumps(doc).encode()
    return json.dumps(_mutate_doc(rng, _good_doc(rng))).encode()


def _numbers_ok(values, n):
    return (isinstance(values, list) and len(values) == n and
            all(type(v) in (int, float) and 0 <= v <= 2 ** 63 for v in values))


def _quantiles_ok(block, n, ordered=False):
    return (isinstance(block, dict) and 'p50' in block and 'p90' in block and all(_numbers_ok(v, n) for v in block.values())
            and (not ordered or all(a <= b for a, b in zip(block['p50'], block['p90']))))


def _vm_ok(vm):
    """The fuzzer's own reading of the format, written apart from forecast_format: what an accepted VM must be.

    An optional block that is null counts as absent, as every reader takes it.
    """
    vm = dict((k, v) for k, v in vm.items() if v is not None or k not in ('cpu', 'net', 'gpu', 'vcpu', 'memory', 'cpu_peak', 'actual'))
    n = len(vm.get('horizons_s') or ())
    if any(k in vm for k in ('cpu', 'net', 'gpu', 'vcpu', 'memory')) and not (n and _numbers_ok(vm['horizons_s'], n)):
        return False
    whole = [vm[k] for k in ('vcpus', 'samples') if k in vm]
    if not all(type(v) is int and v >= (0 if i else 1) for i, v in enumerate(whole)):  # pylint: disable=unidiomatic-typecheck
        return False
    if 'allocated_cpus' in vm and not _numbers_ok([vm['allocated_cpus']], 1):
        return False
    if not all(_quantiles_ok(vm[k], n) for k in ('cpu', 'net', 'gpu') if k in vm):
        return False
    if 'vcpu' in vm and not (isinstance(vm['vcpu'], dict) and all(_quantiles_ok(q, n) for q in vm['vcpu'].values())):
        return False
    mem = vm.get('memory')
    if mem is not None:
        if not isinstance(mem, dict) or not all(_numbers_ok([mem[k]], 1) for k in ('used_bytes', 'floor_bytes') if k in mem):
            return False
        if mem.get('peak_bytes') is not None and not _quantiles_ok(mem['peak_bytes'], n):
            return False
        if mem.get('pressure') is not None and not (isinstance(mem['pressure'], dict) and _numbers_ok(list(mem['pressure'].values()), len(mem['pressure']))):
            return False
    peak = vm.get('cpu_peak')
    if peak is not None:
        w = len(peak.get('windows_s') or ()) if isinstance(peak, dict) else 0
        if not (w and _numbers_ok(peak['windows_s'], w) and _quantiles_ok(dict((k, peak.get(k)) for k in ('p50', 'p90')), w, True)
                and all(_quantiles_ok(q, w, True) for q in (peak.get('vcpu') or {}).values())):
            return False
    return True


def _doc_ok(doc):
    return (doc.get('version') in (1, 2) and type(doc.get('generated_at')) in (int, float)  # pylint: disable=unidiomatic-typecheck
            and isinstance(doc.get('vms'), dict) and ('host_cpus' not in doc or type(doc['host_cpus']) is int)  # pylint: disable=unidiomatic-typecheck
            and all(_vm_ok(vm) for vm in doc['vms'].values()))


def _tally(out, outcome):
    out['cases'] += 1
    out[outcome] += 1


def _figures():
    return {'cases': 0, 'refused': 0, 'accepted': 0, 'escapes': 0, 'accepted_bad': 0}


def fuzz_forecasts(cases, seed, max_bytes=1 << 19):
    """Bodies from an endpoint (junk, deep, large, odd-typed predictor documents) read by forecast_doc: refused or fully valid."""
    rng = random.Random(seed)
    out = _figures()
    for _case in range(cases):
        body = _forecast_body(rng)

        def opener(url, timeout, body=body):
            import io  # pylint: disable=import-outside-toplevel
            return io.BytesIO(body)

        doc = _checked(out, forecast_doc.load, url='http://127.0.0.1/forecasts', opener=opener, max_bytes=max_bytes)
        if doc is not None:
            _tally(out, 'accepted' if _doc_ok(doc) else 'accepted_bad')
    return out


def _checked(out, read, *args, **kwargs):
    """read(...)'s document, or None with the case counted: a ForecastDocError is a refusal, anything else an escape."""
    try:
        return read(*args, **kwargs)
    except forecast_doc.ForecastDocError:
        _tally(out, 'refused')
    except Exception:  # pylint: disable=broad-except
        _tally(out, 'escapes')
    return None


def fuzz_event_source(cases, seed):
    """The event source's round on odd documents: conditions() and the debouncer never raise on what the check let through."""
    source = _event_source()
    rng = random.Random(seed)
    out = _figures()
    debouncer = source.Debouncer(1)
    for _case in range(cases):
        checked = _checked(out, forecast_doc.check, _mutate_doc(rng, _good_doc(rng)), 'fuzz')
        if checked is None:
            continue
        try:
            held = source.conditions(checked, rng.randint(0, 3), rng.choice([0.1, 0.9]), rng.choice([None, 2]))
            debouncer.update(held)
            json.dumps(held)
        except Exception:  # pylint: disable=broad-except
            _tally(out, 'escapes')
            continue
        _tally(out, 'accepted' if _doc_ok(checked) else 'accepted_bad')
    return out


class _Answer(object):
    """A response whose reads drip, fail or lie about where they came from."""

    def __init__(self, rng, clock, body):
        self.rng, self.clock, self.body = rng, clock, body
        self.final = rng.choice(['http://127.0.0.1/forecasts'] * 4 + ['ftp://127.0.0.1/x', 'file:///etc/shadow', 'https://h/f'])

    def geturl(self):
        return self.final

    def read1(self, size):
        self.clock[0] += self.rng.choice([0.0] * 12 + [0.05, 2.0])
        if self.rng.random() < 0.05:
            raise self.rng.choice([OSError('reset'), socket.timeout('timed out'), ValueError('bad chunk')])
        size = self.rng.randint(1, 4096)
        chunk, self.body = self.body[:size], self.body[size:]
        return chunk

    def close(self):
        pass


def fuzz_fetches(cases, seed, timeout=5.0):
    """Fetches that drip, fail, redirect out of http(s) or answer late: a ForecastDocError within the timeout, or a good document."""
    rng = random.Random(seed)
    out = dict(_figures(), past_deadline=0)
    for _case in range(cases):
        clock = [0.0]
        body = _forecast_body(rng) if rng.random() < 0.5 else json.dumps(_good_doc(rng)).encode()
        fail = rng.choice([None, None, None, OSError('refused'), socket.timeout('timed out'), http_client.BadStatusLine('x'),
                           forecast_doc.ForecastDocError('redirect refused')])

        def opener(url, timeout, body=body, fail=fail, clock=None):
            if fail is not None:
                raise fail
            return _Answer(rng, clock, body)
        opener = functools.partial(opener, clock=clock)

        try:
            doc = forecast_doc.fetch('http://127.0.0.1/forecasts', opener, timeout, clock=functools.partial(operator.getitem, clock, 0))
            doc = forecast_doc.parse(doc, 'fuzz')
        except forecast_doc.ForecastDocError:
            _tally(out, 'refused')
            out['past_deadline'] += clock[0] > timeout + 3.0     # one read may overrun, never more
            continue
        except Exception:  # pylint: disable=broad-except
            _tally(out, 'escapes')
            continue
        _tally(out, 'accepted' if _doc_ok(doc) and clock[0] <= timeout + 3.0 else 'accepted_bad')
    return out


def fuzz_memory(cases, seed):
    """Odd memory blocks through plan_resize: refused by name (PlannerInputError), or whole-MiB targets within bounds."""
    from ansible_collections.adaptive.intravm.plugins.module_utils.plan.inputs import PlannerInputError  # pylint: disable=import-outside-toplevel
    from ansible_collections.adaptive.intravm.plugins.module_utils.plan.resize import plan_resize  # pylint: disable=import-outside-toplevel
    rng = random.Random(seed)
    out = _figures()
    mib = 1 << 20
    for _case in range(cases):
        doc = _good_doc(rng)
        vm = doc['vms']['vm0']
        _mutate_doc(rng, {'memory': vm['memory'], 'horizons_s': vm['horizons_s']})
        sizes = {'vm0': {'memory_bytes': 2 << 30, 'max_memory_bytes': 4 << 30, 'balloon': True, 'vcpus': vm['vcpus'] if isinstance(vm.get('vcpus'), int) else 1,
                         'max_vcpus': 4}}
        bounds = {'vm0': {'min_memory': 256 * mib, 'max_memory': 4 << 30, 'min_vcpus': 1, 'max_vcpus': 4}}
        try:
            plan = plan_resize(doc['vms'], sizes, bounds, 8 << 30)
        except PlannerInputError:
            _tally(out, 'refused')
            continue
        except Exception:  # pylint: disable=broad-except
            _tally(out, 'escapes')
            continue
        ok = _vm_ok(vm) and all(256 * mib <= e['memory_bytes'] <= 4 << 30 and e['memory_bytes'] % mib == 0
                                for e in plan['memory_balloon'])
        _tally(out, 'accepted' if ok else 'accepted_bad')
    return out


HOOK_PIECES = ['<vcpu placement="static" cpuset="%s">%d</vcpu>', '<vcpupin vcpu="%d" cpuset="%s"/>', '<emulatorpin cpuset="%s"/>',
               '<iothreadpin iothread="%d" cpuset="%s"/>', '<memory mode="strict" nodeset="%s"/>',
               '<memnode cellid="%d" mode="strict" nodeset="%s"/>', '<!-- %s -->', '<![CDATA[ <vcpupin cpuset="%s"/> ]]>',
               '<metadata>%s</metadata>', '<name>%s</name>']


def _hook_xml(rng):
    """A domain XML with pins naming CPUs and nodes the host may lack, sometimes malformed, deep, long or odd."""
    def ids():
        return rng.choice(['0', '1', '0-3', '2,5', '7', '0-63', '^1', '', 'x', '\u0661', '3-1', '0-65535'])

    pins = []
    for _n in range(rng.randint(0, 6)):
        piece = rng.choice(HOOK_PIECES)
        args = tuple(rng.randint(0, 9) if spec == 'd' else ids() for spec in
                     [c for i, c in enumerate(piece) if i and piece[i - 1] == '%'])
        pins.append(piece % args)
    cputune = '<cputune>%s</cputune>' % ''.join(p for p in pins if 'pin' in p and 'CDATA' not in p)
    numatune = '<numatune>%s</numatune>' % ''.join(p for p in pins if 'nodeset' in p)
    other = ''.join(p for p in pins if 'pin' not in p and 'nodeset' not in p or 'CDATA' in p)
    text = '<domain type="kvm">\n  %s\n  %s\n  %s\n</domain>\n' % (other, cputune, numatune)
    kind = rng.randrange(10)
    if kind == 0:
        text = text[:rng.randrange(len(text))]                      # cut short
    elif kind == 1:
        depth = rng.choice([100, 300, 20000])
        text = text.replace('</domain>', '<metadata>' + '<a>' * depth + '</a>' * depth + '</metadata></domain>')
    elif kind == 2:
        text = '<!DOCTYPE d [<!ENTITY e "x">]>' + text
    elif kind == 3:
        spot = rng.randrange(len(text))
        text = text[:spot] + rng.choice(['<', '>', '&', '"', "'", '\x00', '\ud800', ']]>']) + text[spot:]
    return text


def _hook_output_ok(hook, new, host_cpus, host_nodes):
    """What the hook may print: well-formed XML whose pins name only CPUs and nodes the host has."""
    import xml.etree.ElementTree as ET  # pylint: disable=import-outside-toplevel
    try:
        root = ET.fromstring(new)
    except ET.ParseError:
        return False
    for path, (attribute, names) in hook.PINS.items():
        for element in root.iterfind('/'.join(('.',) + path[1:])):
            value = element.get(attribute)
            if value is None:
                continue
            try:
                named = cpuset.parse(value)
            except cpuset.CpusetError:
                continue                # a value libvirt itself would refuse is the hook's to leave, not to invent
            if not named <= (host_cpus if names == 'CPU' else host_nodes):
                return False
    return True


def fuzz_hook(cases, seed):
    """The QEMU hook's rewrite on odd domain XML: a clean refusal (the XML left unchanged), or well-formed XML it can start here."""
    hook = _qemu_hook()
    from xml.parsers import expat  # pylint: disable=import-outside-toplevel
    rng = random.Random(seed)
    out = _figures()
    for _case in range(cases):
        text = _hook_xml(rng)
        host_cpus, host_nodes = frozenset(range(rng.randint(1, 8))), frozenset(range(rng.randint(1, 2)))
        try:
            new, _changes = hook.rewrite(text, host_cpus, host_nodes)
        except (ValueError, expat.ExpatError):
            _tally(out, 'refused')
            continue
        except Exception:  # pylint: disable=broad-except
            _tally(out, 'escapes')
            continue
        # left unchanged (None) only when the XML already names nothing the host lacks
        _tally(out, 'accepted' if _hook_output_ok(hook, text if new is None else new, host_cpus, host_nodes) else 'accepted_bad')
    return out


def _qemu_hook():
    """services/hooks/intravm_qemu_hook.py, imported as the collection has it."""
    from ansible_collections.adaptive.intravm.services.hooks import intravm_qemu_hook  # pylint: disable=import-outside-toplevel
    return intravm_qemu_hook


def _good_plan(rng):
    """An allocation_plan result's plan as apply_plan takes it: 1 to 3 domains, pins and memory."""
    plan = {'vcpu_pin': [], 'numa_memory': []}
    for i in range(rng.randint(1, 3)):
        name = 'vm%d' % i
        vcpus = dict((str(v), rng.choice(['0', '1', '0-3', '2,5'])) for v in range(rng.randint(1, 3)))
        plan['vcpu_pin'].append({'name': name, 'vcpus': vcpus, 'emulator': '0-3', 'iothreads': {'1': '0-1'}, 'expect': dict(vcpus)})
        plan['numa_memory'].append({'name': name, 'mode': 'strict', 'nodeset': rng.choice(['0', '1', '0-1'])})
    return plan


def _cpuset_text_ok(text):
    """A cpuset string, or a CPU id as a whole number (YAML's `emulator: 0`, which Ansible gives the modules as '0')."""
    if isinstance(text, int) and not isinstance(text, bool):
        return 0 <= text <= cpuset.MAX_CPU_ID
    if not isinstance(text, str):
        return False
    try:
        return bool(cpuset.parse(text))
    except cpuset.CpusetError:
        return False


def _index_map_ok(value):
    return value is None or (isinstance(value, dict) and all(isinstance(k, str) and k.isascii() and k.isdigit()
                                                             and _cpuset_text_ok(v) for k, v in value.items()))


def _plan_entry_ok(key, entry):
    """The fuzzer's own reading of what apply_plan may take into a domain: the shapes vcpu_pin and numa_memory take."""
    if key == 'vcpu_pin':
        return (all(_index_map_ok(entry.get(k)) for k in ('vcpus', 'iothreads', 'expect'))
                and (entry.get('emulator') is None or _cpuset_text_ok(entry['emulator'])))
    return ((entry.get('mode') is None or entry['mode'] in ('strict', 'preferred', 'interleave', 'restrictive'))
            and (entry.get('nodeset') is None or _cpuset_text_ok(entry['nodeset'])) and _index_map_ok(entry.get('memnodes'))
            and any(entry.get(k) is not None for k in ('mode', 'nodeset', 'memnodes')))


class _NoHost(object):
    """apply_plan's module seen by a plan that must be refused: connecting to libvirt is already a change of state."""

    def __init__(self, plan):
        self.params = {'plan': plan, 'kinds': ['cpu', 'numa'], 'reserved_cpus': '', 'live_unsupported': 'fail'}
        self.connected = 0

    def connect(self):
        self.connected += 1
        raise _Reached()


class _Reached(Exception):
    """The plan was accepted whole and apply_plan went on to the host."""


def fuzz_apply_plan(cases, seed):
    """Plans with odd values in any entry (the probe's vcpus: ["0"], expect: "forged", iothreads: "x", memnodes: [1]):
    refused whole before apply_plan connects to libvirt, or every entry of the shapes the single-domain modules take."""
    from ansible_collections.adaptive.intravm.plugins.module_utils.apply import plan_apply  # pylint: disable=import-outside-toplevel
    rng = random.Random(seed)
    out = dict(_figures(), refused_after_connect=0)
    for _case in range(cases):
        plan = _good_plan(rng)
        _mutate_doc(rng, plan)
        module = _NoHost(plan)
        try:
            plan_apply.run(module)
        except _Reached:
            ok = all(isinstance(e, dict) and _plan_entry_ok(key, e) for key in ('vcpu_pin', 'numa_memory')
                     for e in plan.get(key) or [])
            _tally(out, 'accepted' if ok else 'accepted_bad')
            continue
        except plan_apply.PlanError:
            _tally(out, 'refused')
            out['refused_after_connect'] += module.connected
            continue
        except Exception:  # pylint: disable=broad-except
            _tally(out, 'escapes')
            continue
        _tally(out, 'accepted')     # nothing to apply: returned before connecting
    return out


def _lock_body(rng):
    """A lock file's bytes: a record as HostLock writes it with odd values, junk, deep nesting or a JSON that is no record."""
    record = {'owner': 'run-1', 'acquired_at': 1.7e9, 'since': '2026-12-08T00:00:00Z', 'ttl': 1800, 'host': 'hv1', 'note': 'x'}
    kind = rng.randrange(6)
    if kind == 0:
        return bytes(rng.getrandbits(8) for _n in range(rng.randint(0, 64)))
    if kind == 1:
        return ('[' * rng.choice([10, 1000, 70000])).encode()
    if kind == 2:
        return json.dumps(_json_value(rng)).encode()
    if kind == 3:
        return b'{"owner": "run-1", "acquired_at": ' + rng.choice([b'NaN', b'Infinity', b'-1e300', b'1e300', b'1' * 500]) + b'}'
    return json.dumps(_mutate_doc(rng, record)).encode()


def fuzz_lock_records(cases, seed):
    """Lock files with odd records read by HostLock: a record of HostLock's shape, or unreadable and so stale; never a crash."""
    from ansible_collections.adaptive.intravm.plugins.module_utils.apply import host_lock  # pylint: disable=import-outside-toplevel
    rng = random.Random(seed)
    out = _figures()
    folder = tempfile.mkdtemp(prefix='intravm-fuzz-lock-')
    path = os.path.join(folder, 'rebalance.lock')
    try:
        for _case in range(cases):
            with open(path, 'wb') as handle:
                handle.write(_lock_body(rng))
            lock = host_lock.HostLock(path, clock=lambda: 1.7e9 + 60)
            try:
                record = lock.read()
                stale = host_lock.is_stale(record, 1.7e9 + 60, 1800)
                host_lock.describe(record, 1.7e9 + 60)
            except Exception:  # pylint: disable=broad-except
                _tally(out, 'escapes')
                continue
            if record.get('unreadable'):
                _tally(out, 'refused' if stale else 'accepted_bad')
                continue
            when = record['acquired_at']
            ok = (isinstance(record.get('owner'), str) and record['owner'] and not isinstance(when, bool)
                  and isinstance(when, (int, float)) and math.isfinite(when)
                  and (record.get('ttl') is None or 0 < record['ttl'] < float('inf')))
            _tally(out, 'accepted' if ok else 'accepted_bad')
    finally:
        import shutil  # pylint: disable=import-outside-toplevel
        shutil.rmtree(folder, ignore_errors=True)
    return out


def _event_source():
    """The EDA event source module (a plugin file, not a package)."""
    import importlib.util  # pylint: disable=import-outside-toplevel
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'extensions', 'eda', 'plugins', 'event_source', 'forecasts.py')
    spec = importlib.util.spec_from_file_location('intravm_forecasts_source', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _checkpoint_blob(rng, params, extra):
    """A valid checkpoint with a few random changes: a tensor re-shaped, re-filled or re-typed, a key dropped, junk."""
    import torch  # pylint: disable=import-outside-toplevel
    blob = {'format': 1, 'params': dict(params), 'extra': dict(extra)}
    fills = [0.0, 1.0, -1.0, 2.5, 1e300, float('nan'), float('inf')]
    for _change in range(rng.randint(0, 3)):
        part = rng.choice(['format', 'params', 'extra', 'extra'])
        if part == 'format' or not isinstance(blob[part], dict) or rng.random() < 0.1:
            blob[part] = rng.choice([None, 2, [], 'x', {'a': 1}, torch.zeros(3)])
            continue
        key = rng.choice(sorted(blob[part]) + ['junk'])
        old = blob[part].get(key)
        kind = rng.randrange(5)
        if kind == 0:
            blob[part].pop(key, None)
        elif kind == 1 and torch.is_tensor(old):
            shape = [max(0, d + rng.choice([-1, 0, 1])) for d in old.shape] or [rng.randint(0, 3)]
            blob[part][key] = torch.full(shape, rng.choice(fills), dtype=torch.float64)
        elif kind == 2 and torch.is_tensor(old):
            blob[part][key] = old.to(rng.choice([torch.float64, torch.float16, torch.int64, torch.bool, torch.complex64]))
        elif kind == 3:
            blob[part][key] = rng.choice([-4, 10 ** 20, float('nan'), 'x', None, [], [1.0] * 9])
        else:
            value = old.to(torch.float64) if torch.is_tensor(old) and old.numel() else torch.zeros(2, dtype=torch.float64)
            value = value.clone()
            value.view(-1)[rng.randrange(value.numel())] = rng.choice(fills)
            blob[part][key] = value
    return blob


def fuzz_checkpoints(cases, seed):
    """Checkpoints that load but are wrong: attached to a real Predictor, none may crash it or be used unchecked."""
    import torch  # pylint: disable=import-outside-toplevel
    from ansible_collections.adaptive.intravm.services.predictor import daemon, features  # pylint: disable=import-outside-toplevel
    from ansible_collections.adaptive.intravm.services.predictor import model as mdl  # pylint: disable=import-outside-toplevel
    rng = random.Random(seed)
    out = {'cases': cases, 'escapes': 0, 'accepted': 0, 'accepted_bad': 0, 'set_aside': 0}
    horizons, hidden = [1, 3], 4
    root = tempfile.mkdtemp(prefix='intravm-fuzz-ckpt-')
    cfg = daemon.load_config(overrides={
        'state_dir': os.path.join(root, 'state'), 'state_file': os.path.join(root, 'run', 'forecasts.json'),
        'listen': '127.0.0.1:0', 'gpu': False, 'hidden': hidden, 'horizons': horizons, 'chunk': 4, 'step_s': 1})
    logging.getLogger('host_predictor').setLevel(logging.CRITICAL)   # every set-aside file logs a warning
    pred = daemon.Predictor(cfg, clock=lambda: 5000.0)
    params = mdl.StackedLSTM(1, features.N_FEATURES, hidden, horizons, seed=3).state_dict()
    hist = torch.tensor([[1000.0 + t, 0.3, 10.0, float('nan'), 0.5, 0.0, float('nan')] for t in range(5)], dtype=torch.float64)
    extra = {'scale': 0.3, 'steps': 5, 'history': hist, 'state': torch.zeros(2, hidden), 'calib': [0.0] * len(horizons),
             'windows': list(cfg['windows']), 'saved_at': 1.0}
    try:
        for case in range(cases):
            uuid = 'vm-%d' % case
            path = pred._ckpt_path(uuid)  # pylint: disable=protected-access
            torch.save(_checkpoint_blob(rng, params, extra), path)
            try:
                pred.events.put(('active', uuid, uuid))
                pred.drain_events()
                track = pred.vms[uuid]
                used = os.path.exists(path)
                for t in range(2):
                    pred.step({uuid: {'vcpu.current': 1, 'vcpu.0.time': t * 0.5e9, 'vcpu.0.delay': 0}}, now=5000.0 + t)
                entry = pred.doc['vms'][uuid]
                pred.events.put(('undefined', uuid, uuid))
                pred.drain_events()
            except Exception:  # pylint: disable=broad-except
                out['escapes'] += 1
                continue
            if not used:
                out['set_aside'] += 1
                continue
            out['accepted'] += 1
            if (track.steps < 0 or any(len(row) != 7 for row in track.hist)
                    or not all(math.isfinite(v) for v in entry['cpu']['p50'] + entry['cpu']['p90'])):
                out['accepted_bad'] += 1
    finally:
        import shutil  # pylint: disable=import-outside-toplevel
        shutil.rmtree(root, ignore_errors=True)
    return out


def campaign(cases=2000, seed=1, race_s=2.0):
    """Run every target; returns {target: figures} plus peak traced memory."""
    tracemalloc.start()
    results = {}
    started = time.perf_counter()
    results['channel'] = fuzz_channel(cases, seed)
    results['cpuset'] = fuzz_cpuset(cases * 5, seed)
    results['forecasts'] = fuzz_forecasts(max(1, cases // 4), seed)
    results['event_source'] = fuzz_event_source(max(1, cases // 4), seed)
    results['fetches'] = fuzz_fetches(max(1, cases // 4), seed)
    results['memory'] = fuzz_memory(max(1, cases // 4), seed)
    results['hook'] = fuzz_hook(max(1, cases // 4), seed)
    results['apply_plan'] = fuzz_apply_plan(max(1, cases // 4), seed)
    results['lock_records'] = fuzz_lock_records(max(1, cases // 4), seed)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    results['checkpoints'] = fuzz_checkpoints(max(1, cases // 10), seed)
    if race_s > 0:
        results['channel_race'] = channel_race(race_s)
    results['meta'] = {'seed': seed, 'cases': cases, 'race_s': race_s, 'peak_traced_mib': round(peak / 1048576.0, 2),
                       'read_budget_bytes': READ_BUDGET_BYTES, 'seconds': round(time.perf_counter() - started, 1)}
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--cases', type=int, default=50000)
    parser.add_argument('--seed', type=int, default=int(time.time()))
    parser.add_argument('--race-s', type=float, default=30.0)
    parser.add_argument('--json', help='write the results here')
    args = parser.parse_args(argv)
    results = campaign(args.cases, args.seed, args.race_s)
    for target, figures in results.items():
        print('%-13s %s' % (target, ', '.join('%s %s' % kv for kv in figures.items())))
    if args.json:
        with open(args.json, 'w') as handle:
            json.dump(results, handle, indent=1, sort_keys=True)
    bad = sum(f.get('escapes', 0) + f.get('accepted_bad', 0) + f.get('false_alarms', 0) for f in results.values())
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
