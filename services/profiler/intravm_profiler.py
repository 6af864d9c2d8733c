# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""adaptive.intravm guest profiler: samples the guest and writes the ivshmem ring.

Stdlib only, Python 3.8+. Runs as a service inside each guest; for debugging
run it in the foreground with --stdout and/or --once. Each optional source
(PSI, NUMA counters, NVML, hardware counters) switches itself off when the
guest lacks it. The record format lives in shm_format.py, which sits next to
this file in a guest and in plugins/module_utils in the collection.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import mmap
import operator
import os
import sys
import time

try:
    from ansible_collections.adaptive.intravm.plugins.module_utils.channel import shm_format as fmt
except ImportError:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import shm_format as fmt  # noqa: E402  pylint: disable=import-error

IVSHMEM_VENDOR = '0x1af4'
IVSHMEM_DEVICE = '0x1110'
DEFAULT_CONFIG = '/etc/intravm-profiler/profiler.json'
CPU_FIELDS = ('user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal')


# ---------------------------------------------------------------- parsers (pure)

def parse_proc_stat(text):
    """/proc/stat -> {'cpu': [8 ints], 'cpus': {n: [8 ints]}, 'procs_running', 'procs_blocked'}."""
    out = {'cpus': {}}
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        tag = parts[0]
        if tag.startswith('cpu'):
            ticks = [int(x) for x in parts[1:9]]
            ticks += [0] * (8 - len(ticks))
            if tag == 'cpu':
                out['cpu'] = ticks
            else:
                out['cpus'][int(tag[3:])] = ticks
        elif tag in ('procs_running', 'procs_blocked') and len(parts) > 1:
            out[tag] = int(parts[1])
    return out


def parse_keyed(text, sep=None, wanted=None):
    """Lines of 'key value ...' (/proc/vmstat, /proc/meminfo) -> {key: int of first value}.

    sep=None handles meminfo's 'Key:   123 kB'; wanted limits the keys kept
    (vmstat has ~180 lines and we need a handful).
    """
    out = {}
    for line in text.splitlines():
        key, _sep, rest = line.partition(':' if sep is None else sep)
        if wanted is not None and key not in wanted:
            continue
        parts = rest.split()
        if parts:
            try:
                out[key] = int(parts[0])
            except ValueError:
                pass
    return out


def parse_psi(text):
    """/proc/pressure/X -> {'some': avg10, 'full': avg10} (percent)."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] in ('some', 'full'):
            for item in parts[1:]:
                if item.startswith('avg10='):
                    out[parts[0]] = float(item[6:])
    return out


def parse_diskstats(text, whole_disks=None):
    """/proc/diskstats -> {dev: (reads, read_sectors, writes, write_sectors)}.

    whole_disks: names to keep (partitions double-count); None keeps all but
    loop/ram/dm devices.
    """
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 10:
            continue
        name = parts[2]
        if whole_disks is not None:
            if name not in whole_disks:
                continue
        elif name.startswith(('loop', 'ram', 'dm-', 'zram')):
            continue
        out[name] = (int(parts[3]), int(parts[5]), int(parts[7]), int(parts[9]))
    return out


def parse_net_dev(text):
    """/proc/net/dev -> {iface: (rx_bytes, rx_packets, tx_bytes, tx_packets)}, without lo."""
    out = {}
    for line in text.splitlines()[2:]:
        if ':' not in line:
            continue
        name, rest = line.split(':', 1)
        name = name.strip()
        fields = rest.split()
        if name == 'lo' or len(fields) < 10:
            continue
        out[name] = (int(fields[0]), int(fields[1]), int(fields[8]), int(fields[9]))
    return out


def cpu_fractions(prev, cur):
    """(busy, user, system, iowait, steal) fractions between two tick vectors."""
    delta = [max(0, c - p) for c, p in zip(cur, prev)]
    total = float(sum(delta))
    if total <= 0:
        return None
    user, nice, system, _idle, iowait, irq, softirq, steal = delta
    busy = (user + nice + system + irq + softirq) / total
    return (min(1.0, busy), (user + nice) / total, (system + irq + softirq) / total,
            iowait / total, steal / total)


def rate(prev, cur, seconds):
    """Per-second rate of a counter; 0 when it went back (reset, wrap)."""
    if seconds <= 0 or cur < prev:
        return 0.0
    return (cur - prev) / seconds


# ---------------------------------------------------------------- optional sources

class NvmlSource(object):
    """GPU utilisation through libnvidia-ml.so.1 (ctypes); off when absent."""

    def __init__(self):
        self.handles = []
        try:
            import ctypes  # pylint: disable=import-outside-toplevel
            self._ct = ctypes
            lib = ctypes.CDLL('libnvidia-ml.so.1')
            if lib.nvmlInit_v2() != 0:
                return
            count = ctypes.c_uint(0)
            if lib.nvmlDeviceGetCount_v2(ctypes.byref(count)) != 0:
                return
            for i in range(count.value):
                handle = ctypes.c_void_p()
                if lib.nvmlDeviceGetHandleByIndex_v2(i, ctypes.byref(handle)) == 0:
                    self.handles.append(handle)
            self._lib = lib
        except (OSError, AttributeError):
            self.handles = []

    def sample(self, metrics):
        if not self.handles:
            return

        class Util(self._ct.Structure):
            _fields_ = [('gpu', self._ct.c_uint), ('memory', self._ct.c_uint)]
        gpu = mem = 0.0
        seen = 0
        for handle in self.handles:
            util = Util()
            if self._lib.nvmlDeviceGetUtilizationRates(handle, self._ct.byref(util)) == 0:
                gpu += util.gpu
                mem += util.memory
                seen += 1
        metrics['gpu.count'] = float(len(self.handles))
        if seen:
            metrics['gpu.util'] = min(1.0, gpu / seen / 100.0)
            metrics['gpu.mem_util'] = min(1.0, mem / seen / 100.0)


class PerfSource(object):
    """Instructions, cycles and cache misses per second via perf_event_open; off without a vPMU."""

    EVENTS = (('hw.cycles_per_s', 0), ('hw.instructions_per_s', 1), ('hw.cache_misses_per_s', 3))

    def __init__(self, cpus):
        self.fds = {}
        self.prev = {}
        try:
            import ctypes  # pylint: disable=import-outside-toplevel
        except ImportError:
            return
        libc = ctypes.CDLL(None, use_errno=True)
        nr = {'x86_64': 298, 'aarch64': 241}.get(os.uname().machine)
        if nr is None:
            return
        attr = ctypes.create_string_buffer(64)  # PERF_ATTR_SIZE_VER0
        for name, config in self.EVENTS:
            fds = []
            for cpu in cpus:
                ctypes.memset(attr, 0, 64)
                # type=PERF_TYPE_HARDWARE(0), size=64, config; flags: exclude_hv (bit 6)
                attr[0:16] = (0).to_bytes(4, 'little') + (64).to_bytes(4, 'little') + config.to_bytes(8, 'little')
                attr[40:48] = (1 << 6).to_bytes(8, 'little')
                fd = libc.syscall(nr, attr, -1, cpu, -1, 0)
                if fd < 0:
                    for other in fds:
                        os.close(other)
                    fds = []
                    break
                fds.append(fd)
            if fds:
                self.fds[name] = fds

    def sample(self, metrics, seconds):
        totals = {}
        for name, fds in self.fds.items():
            total = 0
            for fd in fds:
                total += int.from_bytes(os.pread(fd, 8, 0), 'little')
            totals[name] = total
            if name in self.prev:
                metrics[name] = rate(self.prev[name], total, seconds)
        if 'hw.cycles_per_s' in metrics and 'hw.instructions_per_s' in metrics and metrics['hw.cycles_per_s'] > 0:
            metrics['hw.ipc'] = min(1e3, metrics['hw.instructions_per_s'] / metrics['hw.cycles_per_s'])
        self.prev = totals


# ---------------------------------------------------------------- the sampler

def _read(path):
    try:
        with open(path, 'r') as handle:
            return handle.read()
    except (IOError, OSError):
        return None


class ProcFile(object):
    """A /proc file kept open and re-read from offset 0 each sample (no open() per sample)."""

    def __init__(self, path):
        self.path = path
        self.fd = None

    def read(self):
        try:
            if self.fd is None:
                self.fd = os.open(self.path, os.O_RDONLY)
            os.lseek(self.fd, 0, os.SEEK_SET)
            chunks = []
            while True:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
            return b''.join(chunks).decode('ascii', 'replace')
        except OSError:
            if self.fd is not None:
                os.close(self.fd)
            self.fd = None
            return None


MEMINFO_KEYS = frozenset(('MemTotal', 'MemAvailable', 'SwapTotal', 'SwapFree'))
VMSTAT_KEYS = frozenset(('pgfault', 'pgmajfault', 'pswpin', 'pswpout', 'numa_hit', 'numa_miss', 'numa_foreign'))


class Sampler(object):
    """Turns successive reads of /proc into one metrics dict per sample."""

    def __init__(self, proc='/proc', sysfs='/sys', gpu=True, perf=True):
        self.proc = proc
        self.sysfs = sysfs
        self.prev = None
        self.prev_t = None
        self.psi = [r for r in ('cpu', 'memory', 'io') if _read('%s/pressure/%s' % (proc, r)) is not None]
        blocks = os.path.join(sysfs, 'block')
        self.whole_disks = set(os.listdir(blocks)) if os.path.isdir(blocks) else None
        stat = parse_proc_stat(_read(proc + '/stat') or '')
        self.cpus = sorted(stat['cpus'])
        self.files = dict((name, ProcFile('%s/%s' % (proc, name))) for name in (
            'stat', 'vmstat', 'diskstats', 'net/dev', 'loadavg', 'meminfo',
            'pressure/cpu', 'pressure/memory', 'pressure/io'))
        self.gpu = NvmlSource() if gpu else None
        self.perf = PerfSource(self.cpus) if perf else None

    def sources(self):
        """Which optional sources are on, for the log line at start."""
        return {'psi': self.psi, 'gpu': bool(self.gpu and self.gpu.handles),
                'perf': sorted(self.perf.fds) if self.perf else []}

    def _counters(self):
        files = self.files
        return {
            'stat': parse_proc_stat(files['stat'].read() or ''),
            'vmstat': parse_keyed(files['vmstat'].read() or '', sep=' ', wanted=VMSTAT_KEYS),
            'disk': parse_diskstats(files['diskstats'].read() or '', self.whole_disks),
            'net': parse_net_dev(files['net/dev'].read() or ''),
        }

    def sample(self):
        """The metrics since the previous call ({} on the first call, which primes counters)."""
        now = time.monotonic()
        cur = self._counters()
        prev, prev_t = self.prev, self.prev_t
        self.prev, self.prev_t = cur, now
        metrics = {}
        if prev is None:
            if self.perf:
                self.perf.sample({}, 0)
            return metrics
        secs = now - prev_t
        st, pst = cur['stat'], prev['stat']
        metrics['vcpus'] = float(len(st['cpus']))
        if 'cpu' in st and 'cpu' in pst:
            fr = cpu_fractions(pst['cpu'], st['cpu'])
            if fr:
                for name, value in zip(('busy', 'user', 'system', 'iowait', 'steal'), fr):
                    metrics['cpu.' + name] = value
        for cpu, ticks in st['cpus'].items():
            if cpu in pst['cpus'] and cpu <= fmt.MAX_INDEX:
                fr = cpu_fractions(pst['cpus'][cpu], ticks)
                if fr:
                    for name, value in zip(('busy', 'user', 'system', 'iowait', 'steal'), fr):
                        metrics['vcpu.%d.%s' % (cpu, name)] = value
        if 'procs_running' in st:
            # procs_running counts the sampler itself.
            metrics['runnable'] = float(max(0, st['procs_running'] - 1))
        if 'procs_blocked' in st:
            metrics['blocked'] = float(st['procs_blocked'])
        load = self.files['loadavg'].read()
        if load:
            metrics['load1'] = float(load.split()[0])
        for res in self.psi:
            psi = parse_psi(self.files['pressure/' + res].read() or '')
            for kind, value in psi.items():
                metrics['psi.%s.%s_avg10' % (res, kind)] = min(100.0, value)
        self._memory(metrics, cur['vmstat'], prev['vmstat'], secs)
        self._io(metrics, cur, prev, secs)
        if self.gpu:
            self.gpu.sample(metrics)
        if self.perf:
            self.perf.sample(metrics, secs)
        return metrics

    def _memory(self, metrics, vm, pvm, secs):
        mem = parse_keyed(self.files['meminfo'].read() or '', wanted=MEMINFO_KEYS)
        total = mem.get('MemTotal', 0) * 1024
        if total > 0 and 'MemAvailable' in mem:
            avail = mem['MemAvailable'] * 1024
            metrics['mem.total_bytes'] = float(total)
            metrics['mem.available_bytes'] = float(avail)
            metrics['mem.available_frac'] = min(1.0, avail / float(total))
        swap_total = mem.get('SwapTotal', 0)
        metrics['mem.swap_used_frac'] = (
            min(1.0, max(0, swap_total - mem.get('SwapFree', 0)) / float(swap_total)) if swap_total else 0.0)
        for key, name in (('pgmajfault', 'mem.major_faults_per_s'), ('pswpin', 'mem.swap_in_per_s'),
                          ('pswpout', 'mem.swap_out_per_s'), ('numa_hit', 'numa.hit_per_s'),
                          ('numa_miss', 'numa.miss_per_s'), ('numa_foreign', 'numa.foreign_per_s')):
            if key in vm and key in pvm:
                metrics[name] = rate(pvm[key], vm[key], secs)
        if 'pgfault' in vm and 'pgfault' in pvm:
            minor = rate(pvm['pgfault'], vm['pgfault'], secs) - metrics.get('mem.major_faults_per_s', 0.0)
            metrics['mem.minor_faults_per_s'] = max(0.0, minor)

    @staticmethod
    def _io(metrics, cur, prev, secs):
        sums = [0.0, 0.0, 0.0, 0.0]
        for dev, vals in cur['disk'].items():
            old = prev['disk'].get(dev)
            if old:
                for i in range(4):
                    sums[i] += rate(old[i], vals[i], secs)
        metrics['disk.read_ops_per_s'] = sums[0]
        metrics['disk.read_bytes_per_s'] = sums[1] * 512
        metrics['disk.write_ops_per_s'] = sums[2]
        metrics['disk.write_bytes_per_s'] = sums[3] * 512
        sums = [0.0, 0.0, 0.0, 0.0]
        for dev, vals in cur['net'].items():
            old = prev['net'].get(dev)
            if old:
                for i in range(4):
                    sums[i] += rate(old[i], vals[i], secs)
        metrics['net.rx_bytes_per_s'], metrics['net.rx_packets_per_s'] = sums[0], sums[1]
        metrics['net.tx_bytes_per_s'], metrics['net.tx_packets_per_s'] = sums[2], sums[3]


# ---------------------------------------------------------------- the channel

def find_ivshmem(sysfs='/sys'):
    """Path of the first ivshmem-plain device's BAR2 (resource2), or None."""
    base = os.path.join(sysfs, 'bus', 'pci', 'devices')
    try:
        devices = sorted(os.listdir(base))
    except OSError:
        return None
    for dev in devices:
        vendor = (_read(os.path.join(base, dev, 'vendor')) or '').strip()
        device = (_read(os.path.join(base, dev, 'device')) or '').strip()
        if vendor == IVSHMEM_VENDOR and device == IVSHMEM_DEVICE:
            res = os.path.join(base, dev, 'resource2')
            if os.path.exists(res):
                return res
    return None


class RingWriter(object):
    """Maps the region and appends records; continues a ring left by this boot."""

    def __init__(self, path, boot_id, entries, interval_ms):
        fd = os.open(path, os.O_RDWR | getattr(os, 'O_SYNC', 0))
        try:
            size = os.fstat(fd).st_size
            self.map = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        record_size = fmt.record_size_for(entries)
        header = fmt.Header(record_size, fmt.capacity_for(size, record_size), interval_ms, boot_id)
        self.seq = 0
        try:
            old, seq = fmt.parse_header(self.map, size)
            if old == header:
                self.seq = seq
        except fmt.FormatError:
            pass
        if self.seq == 0:
            fmt.init_region(self.map, header)
        self.header = header
        self.seed = fmt.boot_seed(boot_id)
        self._given = None           # how many metrics the compiled set was made from
        self._values_of = None       # metrics dict -> values tuple in key order (one C call)
        self._record = None          # fmt.RecordWriter of that set

    def close(self):
        """Release the record writer's view of the map, then the map; idempotent."""
        if self._record is not None:
            self._record.close()
            self._record = None
            self._given = None
        if not self.map.closed:
            self.map.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _compile(self, metrics):
        """Keys and a C-level value getter for a new metric set; its values in that order."""
        names = list(metrics)[:fmt.max_entries(self.header.record_size)]
        keys = [fmt.metric_key(n) for n in names]
        if len(names) > 1:
            self._values_of = operator.itemgetter(*names)
        else:
            self._values_of = lambda m, names=tuple(names): tuple(m[n] for n in names)
        self._given = len(metrics)
        if self._record is not None:
            self._record.close()
        self._record = fmt.RecordWriter(self.map, self.header, self.seed, keys)
        return self._values_of(metrics)

    def write(self, timestamp_ns, metrics):
        """Append one sample; the record is sized at start for every metric this guest can produce.

        The metric set rarely changes, so it is compiled once: a dict of the
        same size holding every compiled name is the same set, whatever its
        order, and its values are fetched in key order with one call.
        """
        try:
            if len(metrics) != self._given:
                raise KeyError('metric set changed')
            values = self._values_of(metrics)
        except KeyError:
            values = self._compile(metrics)
        self.seq += 1
        self._record.write(self.seq, timestamp_ns, values)


# ---------------------------------------------------------------- main

def load_config(path):
    if path and os.path.exists(path):
        with open(path) as handle:
            return json.load(handle)
    return {}


def build_parser():
    parser = argparse.ArgumentParser(description='adaptive.intravm guest profiler')
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='JSON configuration file')
    parser.add_argument('--interval', type=float, help='seconds between samples (default 1)')
    parser.add_argument('--device', help='region to write: a resource2 file or any file (default: find ivshmem)')
    parser.add_argument('--stdout', action='store_true', help='also print each sample as a JSON line')
    parser.add_argument('--once', action='store_true', help='take one sample and exit')
    parser.add_argument('--count', type=int, default=0, help='stop after this many samples (0: run forever)')
    parser.add_argument('--no-gpu', action='store_true', help='do not probe NVML')
    parser.add_argument('--no-perf', action='store_true', help='do not open hardware counters')
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    conf = load_config(args.config)
    interval = float(args.interval or conf.get('interval_s', 1.0))
    if not fmt.MIN_INTERVAL_MS <= interval * 1000 <= fmt.MAX_INTERVAL_MS:
        sys.stderr.write('intravm-profiler: interval %r s outside %g..%g\n'
                         % (interval, fmt.MIN_INTERVAL_MS / 1000.0, fmt.MAX_INTERVAL_MS / 1000.0))
        return 2
    sampler = Sampler(gpu=not (args.no_gpu or conf.get('gpu') is False),
                      perf=not (args.no_perf or conf.get('perf') is False))
    device = args.device or conf.get('device') or find_ivshmem()
    writer = None
    if device:
        boot_id = fmt.boot_id_bytes(_read('/proc/sys/kernel/random/boot_id') or '')
        writer = RingWriter(device, boot_id, 64 + 5 * len(sampler.cpus), int(round(interval * 1000)))
    elif not args.stdout:
        sys.stderr.write('intravm-profiler: no ivshmem device found and --stdout not given\n')
        return 3
    sys.stderr.write('intravm-profiler: interval %.3fs, device %s, sources %s\n'
                     % (interval, device or 'none', json.dumps(sampler.sources())))
    try:
        return _run(sampler, writer, interval, 1 if args.once else args.count, args.stdout)
    finally:
        if writer:
            writer.close()


def _run(sampler, writer, interval, count, stdout):
    """Sample every interval, write each sample (and print it with stdout); stop after count (0: never)."""
    sampler.sample()
    done = 0
    next_t = time.monotonic()
    while True:
        next_t += interval
        time.sleep(max(0.0, next_t - time.monotonic()))
        metrics = sampler.sample()
        stamp = time.time_ns()
        if writer:
            writer.write(stamp, metrics)
        if stdout:
            sys.stdout.write(json.dumps({'timestamp_ns': stamp, 'metrics': metrics}, sort_keys=True) + '\n')
            sys.stdout.flush()
        done += 1
        if count and done >= count:
            return 0


if __name__ == '__main__':
    sys.exit(main())
