# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the real guest agent costs: CPU share of one core and resident memory.

Runs services/profiler/intravm_profiler.py as its own process (next to a copy
of shm_format.py, as installed in a guest, collection not on its path) at
--interval, writing to a region file in /dev/shm, for --seconds. CPU is read
from /proc/PID/stat after a warm-up (start-up is reported apart), RSS from
/proc/PID/status at the end. Baseline in the same run: a Python process that
only sleeps, so the interpreter's own floor is visible next to the agent.

    python benchmarks/profiler_overhead.py --seconds S [--interval 1] [--json OUT]
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from ansible_collections.adaptive.intravm.plugins.module_utils.channel.shm_reader import RingReader

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf('SC_CLK_TCK')
TARGET_CPU_PERCENT = 0.1
TARGET_RSS_MB = 15.0


def cpu_seconds(pid):
    """CPU time in ns resolution (schedstat), not 10 ms clock ticks."""
    try:
        with open('/proc/%d/schedstat' % pid) as handle:
            return int(handle.read().split()[0]) / 1e9
    except (IOError, OSError, ValueError):
        with open('/proc/%d/stat' % pid) as handle:
            fields = handle.read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / float(TICK)


def rss_mb(pid, key='VmRSS'):
    with open('/proc/%d/status' % pid) as handle:
        for line in handle:
            if line.startswith(key + ':'):
                return int(line.split()[1]) / 1024.0
    return 0.0


def measure(argv, seconds, warmup):
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={'PATH': os.environ.get('PATH', '')})
    try:
        time.sleep(warmup)
        start_cpu = cpu_seconds(proc.pid)
        t0 = time.monotonic()
        time.sleep(seconds)
        used = cpu_seconds(proc.pid) - start_cpu
        wall = time.monotonic() - t0
        # The region is shared memory (RssShmem): here a /dev/shm file, in a guest
        # the ivshmem BAR, which is device memory and not in the agent's RSS at all.
        return {'startup_cpu_s': start_cpu, 'cpu_percent_of_core': 100.0 * used / wall,
                'rss_total_mb': rss_mb(proc.pid), 'rss_mb': rss_mb(proc.pid) - rss_mb(proc.pid, 'RssShmem'),
                'peak_rss_mb': rss_mb(proc.pid, 'VmHWM'), 'alive': proc.poll() is None}
    finally:
        proc.terminate()
        proc.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=60)
    parser.add_argument('--interval', type=float, default=1.0)
    parser.add_argument('--warmup', type=float, default=3.0)
    parser.add_argument('--json', help='write the results here')
    args = parser.parse_args(argv)

    work = tempfile.mkdtemp(prefix='intravm-overhead-')
    fd, region = tempfile.mkstemp(prefix='intravm-overhead-', dir='/dev/shm')
    os.close(fd)
    try:
        shutil.copy(os.path.join(REPO, 'services', 'profiler', 'intravm_profiler.py'), work)
        shutil.copy(os.path.join(REPO, 'plugins', 'module_utils', 'channel', 'shm_format.py'), work)
        with open(region, 'wb') as handle:
            handle.truncate(4 << 20)
        agent = measure([sys.executable, os.path.join(work, 'intravm_profiler.py'), '--config', '/nonexistent',
                         '--interval', str(args.interval), '--device', region], args.seconds, args.warmup)
        reader = RingReader(region)
        samples = len(reader.poll())
        reader.close()
        idle = measure([sys.executable, '-c', 'import time\nwhile True: time.sleep(%r)' % args.interval],
                       min(args.seconds, 10), 1.0)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if os.path.exists(region):
            os.unlink(region)

    result = {
        'interval_s': args.interval,
        'seconds': args.seconds,
        'samples': samples,
        'cpu_percent_of_core': agent['cpu_percent_of_core'],
        'rss_mb': agent['rss_mb'],
        'rss_total_mb_with_region_pages': agent['rss_total_mb'],
        'peak_rss_mb': agent['peak_rss_mb'],
        'startup_cpu_s': agent['startup_cpu_s'],
        'agent_alive_at_end': agent['alive'],
        'baseline_sleeping_python_cpu_percent': idle['cpu_percent_of_core'],
        'baseline_sleeping_python_rss_mb': idle['rss_mb'],
        'target_cpu_percent': TARGET_CPU_PERCENT,
        'target_rss_mb': TARGET_RSS_MB,
    }
    result['cpu_within_target'] = result['cpu_percent_of_core'] <= TARGET_CPU_PERCENT
    result['rss_within_target'] = result['rss_mb'] <= TARGET_RSS_MB
    for key in sorted(result):
        value = result[key]
        print('%-38s %s' % (key, ('%.4f' % value) if isinstance(value, float) else value))
    if args.json:
        with open(args.json, 'w') as handle:
            json.dump(result, handle, indent=2, sort_keys=True)
    return 0 if agent['alive'] and samples > 0 else 1


if __name__ == '__main__':
    sys.exit(main())
