# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cost of one record through the ivshmem channel, each way, in Python.

Writes records the way the guest agent does (into a shared mapping of a
/dev/shm file) and reads them the way the host does (RingReader on the file,
all checks on). The metric set is what the real sampler produced on this
machine, widened to --vcpus vCPUs. Baseline in the same run: the same
metrics as JSON lines (encode / decode) - the obvious alternative format.
write_us / read_us are wall-clock time per record (what the targets are
about); *_cpu_us are this process's CPU time, steadier on a shared machine;
floor_unpack_dict_us is what only unpacking a record's floats and building
a metrics dict costs here: the floor of a reader that hands out a dict per
record, which RingReader avoids (its samples' metrics are read on use).

    python benchmarks/channel.py [--records N] [--vcpus N] [--json OUT]
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import importlib.util
import json
import os
import struct
import sys
import tempfile
import time

from ansible_collections.adaptive.intravm.plugins.module_utils.channel.shm_reader import RingReader

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_US = 5.0


def load_agent():
    spec = importlib.util.spec_from_file_location('intravm_profiler', os.path.join(REPO, 'services', 'profiler', 'intravm_profiler.py'))
    agent = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(agent)
    return agent


def real_metrics(agent, vcpus):
    """One real sample from this machine, with per-vCPU metrics for `vcpus` vCPUs."""
    sampler = agent.Sampler(gpu=False, perf=False)
    sampler.sample()
    time.sleep(0.2)
    metrics = sampler.sample()
    per_cpu = dict((k.split('.', 2)[2], v) for k, v in metrics.items() if k.startswith('vcpu.0.'))
    metrics = dict((k, v) for k, v in metrics.items() if not k.startswith('vcpu.'))
    for i in range(vcpus):
        for suffix, value in per_cpu.items():
            metrics['vcpu.%d.%s' % (i, suffix)] = value
    return metrics


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--records', type=int, default=20000)
    parser.add_argument('--vcpus', type=int, default=4)
    parser.add_argument('--region-mib', type=int, default=4)
    parser.add_argument('--json', help='write the results here')
    args = parser.parse_args(argv)

    agent = load_agent()
    metrics = real_metrics(agent, args.vcpus)
    size = args.region_mib << 20
    fd, path = tempfile.mkstemp(prefix='intravm-bench-', dir='/dev/shm' if os.path.isdir('/dev/shm') else None)
    try:
        os.ftruncate(fd, size)
        os.close(fd)
        writer = agent.RingWriter(path, b'\x01' * 16, 64 + 5 * args.vcpus, 1000)
        reader = RingReader(path, min_interval_s=1e-9, burst=10 ** 9)
        cap = writer.header.capacity
        chunk = max(1, cap // 2)       # write half a ring, then read it: no overruns
        probe = sorted(metrics)[0]
        write_s = read_s = write_cpu = read_cpu = 0.0
        read_n = 0
        stamp = 1
        done = 0
        touched = 0.0
        while done < args.records:
            n = min(chunk, args.records - done)
            t0, c0 = time.perf_counter(), time.process_time()
            for _n in range(n):
                stamp += 1
                writer.write(stamp, metrics)
            t1, c1 = time.perf_counter(), time.process_time()
            got = 0
            while got < n:
                for sample in reader.poll():
                    touched += sample.metrics[probe]     # the host uses every sample's metrics dict
                    got += 1
            t2, c2 = time.perf_counter(), time.process_time()
            write_s += t1 - t0
            read_s += t2 - t1
            write_cpu += c1 - c0
            read_cpu += c2 - c1
            read_n += got
            done += n
        writer.close()
        refused = dict((k, v) for k, v in reader.stats.items() if v and k not in ('accepted', 'polls'))
        reader.close()
    finally:
        os.unlink(path)

    # Baseline: JSON lines of the same metrics.
    n = min(args.records, 5000)
    t0 = time.perf_counter()
    lines = [json.dumps({'seq': i, 'timestamp_ns': i, 'metrics': metrics}) for i in range(n)]
    t1 = time.perf_counter()
    for line in lines:
        json.loads(line)
    t2 = time.perf_counter()

    # Same run: unpack one record's floats and build a metrics dict, the floor of a reader
    # that hands out a dict per record (RingReader's MetricsView reads values on use).
    names = tuple(metrics)
    values_struct = struct.Struct('<%dd' % len(names))
    packed = values_struct.pack(*metrics.values())
    template = dict.fromkeys(names, 0.0)
    f0 = time.perf_counter()
    for _n in range(n):
        floor_dict = template.copy()
        floor_dict.update(zip(names, values_struct.unpack_from(packed, 0)))
    floor_us = (time.perf_counter() - f0) / n * 1e6

    result = {
        'records': args.records,
        'metrics_per_record': len(metrics),
        'record_bytes': writer.header.record_size,
        'write_us': write_s / args.records * 1e6,
        'read_us': read_s / read_n * 1e6,
        'write_cpu_us': write_cpu / args.records * 1e6,
        'read_cpu_us': read_cpu / read_n * 1e6,
        'records_per_s': args.records / (write_s + read_s),
        'reader_refusals': refused,
        'baseline_json_encode_us': (t1 - t0) / n * 1e6,
        'baseline_json_decode_us': (t2 - t1) / n * 1e6,
        'floor_unpack_dict_us': floor_us,
        'target_us': TARGET_US,
    }
    result['write_within_target'] = result['write_us'] <= TARGET_US
    result['read_within_target'] = result['read_us'] <= TARGET_US
    for key in ('metrics_per_record', 'record_bytes', 'write_us', 'read_us', 'write_cpu_us', 'read_cpu_us', 'records_per_s',
                'baseline_json_encode_us', 'baseline_json_decode_us', 'floor_unpack_dict_us', 'write_within_target',
                'read_within_target'):
        value = result[key]
        print('%-26s %s' % (key, ('%.2f' % value) if isinstance(value, float) else value))
    if refused:
        print('reader refusals (should be none): %s' % refused)
    if args.json:
        with open(args.json, 'w') as handle:
            json.dump(result, handle, indent=2, sort_keys=True)
    return 0 if not refused else 1


if __name__ == '__main__':
    sys.exit(main())
