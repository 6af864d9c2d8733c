# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guest agent: /proc parsers, the sampler on a fake /proc, device discovery, writer -> reader."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

from ansible_collections.adaptive.intravm.plugins.module_utils.channel import shm_format as fmt
from ansible_collections.adaptive.intravm.plugins.module_utils.channel.shm_reader import RingReader

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
AGENT = os.path.join(REPO, 'services', 'profiler', 'intravm_profiler.py')
spec = importlib.util.spec_from_file_location('intravm_profiler', AGENT)
agent = importlib.util.module_from_spec(spec)
spec.loader.exec_module(agent)

STAT_1 = """cpu  100 0 100 800 0 0 0 0 0 0
cpu0 50 0 50 400 0 0 0 0 0 0
cpu1 50 0 50 400 0 0 0 0 0 0
intr 1 2 3
procs_running 3
procs_blocked 1
"""
STAT_2 = """cpu  250 0 150 1000 50 0 0 50 0 0
cpu0 190 0 60 400 0 0 0 0 0 0
cpu1 60 0 90 600 50 0 0 50 0 0
procs_running 4
procs_blocked 0
"""
MEMINFO = "MemTotal:        1000 kB\nMemFree:          100 kB\nMemAvailable:     250 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n"
VMSTAT_1 = "pgfault 1000\npgmajfault 10\nnuma_hit 100\nnuma_miss 0\nnuma_foreign 0\npswpin 0\npswpout 0\n"
VMSTAT_2 = "pgfault 3000\npgmajfault 30\nnuma_hit 300\nnuma_miss 40\nnuma_foreign 0\npswpin 0\npswpout 0\n"
PSI = "some avg10=1.50 avg60=0.00 avg300=0.00 total=1\nfull avg10=0.25 avg60=0.00 avg300=0.00 total=1\n"
DISK_1 = "   8       0 vda 10 0 100 0 5 0 50 0 0 0 0\n   8       1 vda1 10 0 100 0 5 0 50 0 0 0 0\n   7 0 loop0 9 0 9 0 9 0 9 0 0 0 0\n"
DISK_2 = "   8       0 vda 20 0 300 0 7 0 150 0 0 0 0\n   8       1 vda1 20 0 300 0 7 0 150 0 0 0 0\n   7 0 loop0 99 0 99 0 9 0 9 0 0 0 0\n"
NET_HEAD = "Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets\n"
NET_1 = NET_HEAD + "    lo: 500 5 0 0 0 0 0 0 500 5 0 0 0 0 0 0\n  eth0: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n"
NET_2 = NET_HEAD + "    lo: 900 9 0 0 0 0 0 0 900 9 0 0 0 0 0 0\n  eth0: 3000 30 0 0 0 0 0 0 2500 25 0 0 0 0 0 0\n"


def test_parse_proc_stat():
    got = agent.parse_proc_stat(STAT_1)
    assert got['cpu'] == [100, 0, 100, 800, 0, 0, 0, 0]
    assert sorted(got['cpus']) == [0, 1]
    assert got['procs_running'] == 3 and got['procs_blocked'] == 1


def test_cpu_fractions():
    busy, user, system, iowait, steal = agent.cpu_fractions([0] * 8, [60, 0, 20, 0, 10, 0, 0, 10])
    assert (busy, user, system, iowait, steal) == (0.8, 0.6, 0.2, 0.1, 0.1)
    assert agent.cpu_fractions([5] * 8, [5] * 8) is None


def test_parsers():
    assert agent.parse_psi(PSI) == {'some': 1.5, 'full': 0.25}
    assert agent.parse_keyed(MEMINFO)['MemAvailable'] == 250
    assert agent.parse_keyed(VMSTAT_1, sep=' ')['numa_hit'] == 100
    assert agent.parse_diskstats(DISK_1, {'vda'}) == {'vda': (10, 100, 5, 50)}
    assert sorted(agent.parse_diskstats(DISK_1)) == ['vda', 'vda1']
    assert agent.parse_net_dev(NET_1) == {'eth0': (1000, 10, 2000, 20)}
    assert agent.rate(10, 5, 1.0) == 0.0


@pytest.fixture
def fake_proc(tmp_path):
    proc = tmp_path / 'proc'
    (proc / 'pressure').mkdir(parents=True)
    (proc / 'net').mkdir()
    (tmp_path / 'sys' / 'block' / 'vda').mkdir(parents=True)

    def phase(n):
        (proc / 'stat').write_text(STAT_1 if n == 1 else STAT_2)
        (proc / 'vmstat').write_text(VMSTAT_1 if n == 1 else VMSTAT_2)
        (proc / 'diskstats').write_text(DISK_1 if n == 1 else DISK_2)
        (proc / 'net' / 'dev').write_text(NET_1 if n == 1 else NET_2)
        (proc / 'meminfo').write_text(MEMINFO)
        (proc / 'loadavg').write_text('0.50 0.40 0.30 1/100 42\n')
        (proc / 'pressure' / 'cpu').write_text(PSI)
    phase(1)
    return tmp_path, phase


def test_sampler_on_fake_proc(fake_proc, monkeypatch):
    root, phase = fake_proc
    times = iter([100.0, 102.0])
    monkeypatch.setattr(agent.time, 'monotonic', lambda: next(times))
    sampler = agent.Sampler(proc=str(root / 'proc'), sysfs=str(root / 'sys'), gpu=False, perf=False)
    assert sampler.sources() == {'psi': ['cpu'], 'gpu': False, 'perf': []}
    assert sampler.sample() == {}
    phase(2)
    m = sampler.sample()
    assert m['vcpus'] == 2.0
    assert m['vcpu.0.busy'] == pytest.approx(1.0)           # 140 user + 10 system of 150
    assert m['vcpu.1.busy'] == pytest.approx(50 / 350.0)     # 10 user + 40 system of 350
    assert m['vcpu.1.steal'] == pytest.approx(50 / 350.0)
    assert m['vcpu.1.iowait'] == pytest.approx(50 / 350.0)
    assert m['cpu.busy'] == pytest.approx(200 / 500.0)
    assert m['runnable'] == 3.0 and m['blocked'] == 0.0
    assert m['psi.cpu.some_avg10'] == 1.5 and m['psi.cpu.full_avg10'] == 0.25
    assert 'psi.io.some_avg10' not in m
    assert m['mem.available_frac'] == 0.25
    assert m['mem.major_faults_per_s'] == 10.0
    assert m['mem.minor_faults_per_s'] == 990.0
    assert m['numa.miss_per_s'] == 20.0
    assert m['disk.read_bytes_per_s'] == 200 * 512 / 2.0     # partitions and loop devices not counted
    assert m['disk.write_ops_per_s'] == 1.0
    assert m['net.rx_bytes_per_s'] == 1000.0 and m['net.tx_packets_per_s'] == 2.5   # lo excluded
    assert 'gpu.util' not in m and 'hw.ipc' not in m
    keys, values = fmt.encode_metrics(m)                      # every name is in the format
    assert len(keys) == len(values) == len(m)


def test_find_ivshmem(tmp_path):
    devs = tmp_path / 'bus' / 'pci' / 'devices'
    for addr, vendor, device in (('0000:00:01.0', '0x8086', '0x7000'), ('0000:00:03.0', '0x1af4', '0x1110')):
        (devs / addr).mkdir(parents=True)
        (devs / addr / 'vendor').write_text(vendor + '\n')
        (devs / addr / 'device').write_text(device + '\n')
    assert agent.find_ivshmem(str(tmp_path)) is None          # no BAR2 file yet
    (devs / '0000:00:03.0' / 'resource2').write_bytes(b'')
    assert agent.find_ivshmem(str(tmp_path)) == str(devs / '0000:00:03.0' / 'resource2')
    assert agent.find_ivshmem(str(tmp_path / 'nothing')) is None


def test_writer_to_reader_and_restart_continues(tmp_path):
    region = tmp_path / 'region'
    region.write_bytes(b'\x00' * (1 << 16))
    boot = b'\x42' * 16
    writer = agent.RingWriter(str(region), boot, 20, 1000)
    writer.write(1000, {'cpu.busy': 0.25, 'vcpu.0.busy': 0.5})
    writer.write(2000, {'cpu.busy': 0.75, 'vcpu.0.busy': 1.0})
    reader = RingReader(str(region))
    got = reader.poll()
    assert [(s.seq, s.metrics['cpu.busy']) for s in got] == [(1, 0.25), (2, 0.75)]
    again = agent.RingWriter(str(region), boot, 20, 1000)     # agent restart in the same boot
    assert again.seq == 2
    again.write(3000, {'cpu.busy': 0.5})
    assert [s.seq for s in reader.poll()] == [3]
    other = agent.RingWriter(str(region), b'\x43' * 16, 20, 1000)   # a new boot starts afresh
    assert other.seq == 0
    other.write(4000, {'cpu.busy': 0.5})
    assert [s.seq for s in reader.poll()] == [1]
    assert reader.stats['reboots'] == 1


def test_ring_writer_close_releases_the_map(tmp_path):
    """Regression (issue 27): close() lets go of the record writer's view, then the map."""
    region = tmp_path / 'region'
    region.write_bytes(b'\x00' * (1 << 16))
    with agent.RingWriter(str(region), b'\x42' * 16, 20, 1000) as writer:
        writer.write(1000, {'cpu.busy': 0.25})
        mapped = writer.map
    assert mapped.closed
    writer.close()                                            # idempotent
    assert [s.seq for s in RingReader(str(region)).poll()] == [1]


def test_agent_runs_standalone_with_plain_shm_format(tmp_path):
    """As installed in a guest: the agent next to a copy of shm_format.py, no collection on the path."""
    shutil.copy(AGENT, str(tmp_path / 'intravm_profiler.py'))
    shutil.copy(os.path.join(REPO, 'plugins', 'module_utils', 'channel', 'shm_format.py'), str(tmp_path / 'shm_format.py'))
    region = tmp_path / 'region'
    region.write_bytes(b'\x00' * (1 << 18))
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    proc = subprocess.run([sys.executable, '-S', str(tmp_path / 'intravm_profiler.py'), '--config', '/nonexistent',
                           '--interval', '0.05', '--count', '3', '--stdout', '--device', str(region), '--no-perf'],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, universal_newlines=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 3
    reader = RingReader(str(region))
    got = reader.poll()
    assert [s.seq for s in got] == [1, 2, 3]
    assert got[-1].metrics['vcpus'] == lines[-1]['metrics']['vcpus'] >= 1


def test_bad_interval_and_missing_device(tmp_path):
    assert agent.main(['--config', '/nonexistent', '--interval', '0.001', '--once', '--stdout']) == 2
    assert agent.main(['--config', '/nonexistent', '--device', '', '--once', '--no-perf', '--no-gpu']) in (0, 3)


def test_writer_follows_metric_set_changes_and_any_dict_order(tmp_path):
    region = tmp_path / 'region'
    region.write_bytes(b'\x00' * (1 << 16))
    writer = agent.RingWriter(str(region), b'\x42' * 16, 4, 1000)
    sent = [
        {'cpu.busy': 0.25, 'vcpu.0.busy': 0.5, 'runnable': 1.0},
        {'runnable': 2.0, 'cpu.busy': 0.75, 'vcpu.0.busy': 1.0},       # same set, another order
        {'cpu.busy': 0.5, 'vcpu.0.busy': 0.5, 'blocked': 3.0},         # same size, another set
        {'cpu.busy': 0.5},                                             # a single metric
        {},                                                            # none at all
        dict(('vcpu.%d.busy' % i, 0.5) for i in range(12)),            # more than the record holds
    ]
    for i, metrics in enumerate(sent):
        writer.write(1000 * (i + 1), metrics)
    got = RingReader(str(region)).poll()
    assert fmt.max_entries(writer.header.record_size) < 12
    assert [s.metrics for s in got[:5]] == sent[:5]
    assert got[5].metrics == dict(('vcpu.%d.busy' % i, 0.5) for i in range(fmt.max_entries(writer.header.record_size)))
    with pytest.raises(fmt.FormatError):
        writer.write(7000, {'cpu.bogus': 1.0})
