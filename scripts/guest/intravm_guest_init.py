# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PID 1 of the tiny test guest: run the profiler as its unit says, a workload, then power off.

The tiny guest has no systemd or udev; this stands in for them. It starts the
ExecStart= line of the installed intravm-profiler.service (what the role
put there), the QEMU guest agent when the domain has its port, brings
hot-plugged vCPUs online (what udev's rule would do), runs the workload the
kernel command line asks for, and powers off cleanly (sync, remount
read-only, reboot(2) POWER_OFF).

Kernel command line options:
  intravm.seconds=N     power off after N seconds (default 60)
  intravm.busy_cpu=N    spin a busy loop pinned to vCPU N (repeatable as N,M)
  intravm.busy_after=S  start the busy loop S seconds after boot (default 0)
  intravm.duty=SCHED    replay a duty-cycle schedule (scripts/demo_load.py writes it):
                        steps joined by ',', per step one percentage per vCPU joined by '.'
  intravm.duty_t0=T     wall-clock epoch second at which step 0 starts (default: at once);
                        "signal": wait for the host to write T into /run/intravm-start through
                        the guest agent (once every guest is up), then start at T
  intravm.duty_step=S   seconds per step (default 5)
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ctypes
import os
import random
import shlex
import subprocess
import sys
import time

UNIT = '/etc/systemd/system/intravm-profiler.service'
START_FILE = '/run/intravm-start'
AGENT_PORT = 'org.qemu.guest_agent.0'
CPUS = '/sys/devices/system/cpu'
MS_RDONLY = 1
MS_REMOUNT = 32
POWER_OFF = 0x4321fedc


def log(msg):
    sys.stdout.write('intravm-guest-init: %s\n' % msg)
    sys.stdout.flush()


def options():
    opts = {}
    with open('/proc/cmdline') as handle:
        for arg in handle.read().split():
            if arg.startswith('intravm.') and '=' in arg:
                key, value = arg[len('intravm.'):].split('=', 1)
                opts[key] = value
    return opts


def exec_start(unit):
    """The ExecStart= command of a unit file, as argv."""
    with open(unit) as handle:
        for line in handle:
            if line.startswith('ExecStart='):
                return shlex.split(line[len('ExecStart='):].lstrip('-@+!:'))
    return None


def agent_device(sysfs='/sys'):
    """/dev path of the guest agent's virtio-serial port (no udev: no /dev/virtio-ports link), or None."""
    base = os.path.join(sysfs, 'class', 'virtio-ports')
    for port in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        try:
            with open(os.path.join(base, port, 'name')) as handle:
                if handle.read().strip() == AGENT_PORT:
                    return '/dev/' + port
        except OSError:
            continue
    return None


def wait_for_start(until):
    """The start time the host wrote into START_FILE (None if none came before `until`, monotonic)."""
    while time.monotonic() < until:
        try:
            with open(START_FILE) as handle:
                text = handle.read().strip()
            if text:
                return float(text)
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    return None


def cpu_dirs():
    return set(d for d in os.listdir(CPUS) if d[3:].isdigit() and d.startswith('cpu'))


def online_new_cpus(known):
    """Bring vCPUs that appeared since `known` online, as udev's rule would; returns the set seen now.

    Only new ones: a vCPU the guest agent took offline stays offline.
    """
    now = cpu_dirs()
    for cpu in sorted(now - known):
        path = os.path.join(CPUS, cpu, 'online')
        try:
            with open(path) as handle:
                if handle.read().strip() == '1':
                    continue
            with open(path, 'w') as handle:
                handle.write('1')
            log('hot-plugged %s is online' % cpu)
        except OSError as exc:
            log('cannot online %s: %s' % (cpu, exc))
    return now


def spin(cpu, until):
    pid = os.fork()
    if pid:
        return pid
    try:
        os.sched_setaffinity(0, {cpu})
        while time.monotonic() < until:
            pass
    finally:
        os._exit(0)  # pylint: disable=protected-access
    return 0


def parse_duty(text):
    """'90.10,20.80' -> [[0.9, 0.1], [0.2, 0.8]]: per step, per vCPU, busy fraction."""
    return [[min(1.0, max(0.0, int(p) / 100.0)) for p in step.split('.')] for step in text.split(',') if step]


def duty_cycle(cpu, schedule, t0, step_s, period=0.1):
    """Child pinned to vCPU cpu: busy duty*period, idle the rest, per step of the schedule.

    The busy part starts at a random point of each period, so how much two
    guests' busy parts overlap on a shared host CPU averages out within a step
    instead of hanging on when their loops happened to start.
    """
    pid = os.fork()
    if pid:
        return pid
    try:
        os.sched_setaffinity(0, {cpu})
        rng = random.Random(os.getpid() ^ int(time.time() * 1e6))
        while time.time() < t0:
            time.sleep(min(0.2, t0 - time.time()))
        while True:
            now = time.time()
            idx = int((now - t0) // step_s)
            if idx >= len(schedule):
                break
            duty = schedule[idx][cpu] if cpu < len(schedule[idx]) else 0.0
            busy = duty * period
            lead = rng.random() * (period - busy) if busy < period else 0.0
            if lead > 0:
                time.sleep(lead)
            busy_until = time.time() + busy
            while time.time() < busy_until:
                pass
            rest = period - (time.time() - now)
            if rest > 0:
                time.sleep(rest)
    finally:
        os._exit(0)  # pylint: disable=protected-access
    return 0


def power_off(libc):
    os.sync()
    libc.mount(None, b'/', None, MS_REMOUNT | MS_RDONLY, None)
    os.sync()
    libc.reboot(POWER_OFF)


def main():
    libc = ctypes.CDLL(None, use_errno=True)
    start = time.monotonic()
    opts = options()
    seconds = float(opts.get('seconds', 60))
    os.environ['PATH'] = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    children = []
    try:
        argv = exec_start(UNIT) if os.path.exists(UNIT) else None
        if argv:
            log('starting profiler: %s' % ' '.join(argv))
            children.append(subprocess.Popen(argv))
        else:
            log('no %s: profiler not installed' % UNIT)
        port = agent_device()
        if port and os.path.exists('/usr/sbin/qemu-ga'):
            log('starting the guest agent on %s' % port)
            children.append(subprocess.Popen(['/usr/sbin/qemu-ga', '--method=virtio-serial', '--path=' + port]))
        cpus = cpu_dirs()
        busy = [int(c) for c in opts.get('busy_cpu', '').split(',') if c.strip()]
        if busy:
            time.sleep(max(0.0, float(opts.get('busy_after', 0)) - (time.monotonic() - start)))
            for cpu in busy:
                log('busy loop on vCPU %d' % cpu)
                spin(cpu, start + seconds)
        if opts.get('duty'):
            schedule = parse_duty(opts['duty'])
            t0 = opts.get('duty_t0', time.time())
            if t0 == 'signal':
                log('waiting for the start signal in %s' % START_FILE)
                t0 = wait_for_start(start + seconds)
                if t0 is None:
                    raise RuntimeError('no start signal came')
            t0 = float(t0)
            step_s = float(opts.get('duty_step', 5))
            log('duty-cycle schedule: %d steps of %.1f s from %.0f' % (len(schedule), step_s, t0))
            for cpu in range(os.cpu_count() or 1):
                duty_cycle(cpu, schedule, t0, step_s)
        while time.monotonic() - start < seconds:
            time.sleep(0.5)
            cpus = online_new_cpus(cpus)
            try:
                while os.waitpid(-1, os.WNOHANG)[0] > 0:
                    pass
            except ChildProcessError:
                pass
        log('time is up, powering off')
    except Exception as exc:  # pylint: disable=broad-except
        log('error: %r' % (exc,))
    for child in children:
        child.terminate()
        try:
            child.wait(5)
        except subprocess.TimeoutExpired:
            child.kill()
    power_off(libc)


if __name__ == '__main__':
    main()
