#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one AWX job costs when it rebalances a fleet: `ansible-playbook rebalance.yml` across N hosts.

    python benchmarks/fleet.py --hosts 10,100 [--domains 8] [--forks 25] [--baseline REV] --json OUT

Each inventory host is a hypervisor stand-in with its own forecasts file, its
own state directory and lock, and connection local, run with the forks an AWX
job template would use. They share this machine's real libvirtd and its
paused domains: libvirt's test:/// driver cannot stand in here (a custom host
file gets no NUMA cells and no CPUs in its capabilities, and it refuses live
pinning), and a real libvirtd per stand-in does not fit on two cores. Every
host plans the same moves from the same forecasts, as at a host's first
rebalance (no domain pinned yet, so the plan pins every domain); the first to
apply makes them, the others find them made (compare-and-swap: superseded),
so each host runs every module call a real host runs. Reported per run: wall time,
CPU seconds (the controller and every module process) per host, per task
(from the json callback's start/end per host), the plan's time per host, and
failed hosts. Run by N, the per-host cost should fall, not rise. With
--baseline REV the same runs are made with the collection as it was at that
git revision (a worktree staged beside this one), for a comparison in the same
run: e.g. the rebalance role before apply_plan, which pinned and placed each
domain with its own module call.

Also the event source following a fleet: one activation's poll of N local
predictor endpoints (HTTP servers replaying a recorded forecast document),
timed per poll.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import asyncio
import collections
import datetime
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import libvirt

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, '.build', 'collections')
sys.path[:0] = [COLLECTIONS, os.path.join(REPO, 'tests')]

import libvirt_harness  # noqa: E402  pylint: disable=wrong-import-position,import-error
from forecast_endpoint import Endpoint  # noqa: E402  pylint: disable=wrong-import-position,import-error
from integration.test_rebalance_playbooks import forecast  # noqa: E402  pylint: disable=wrong-import-position,import-error

from ansible_collections.adaptive.intravm.extensions.eda.plugins.event_source import forecasts as source  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset  # noqa: E402  pylint: disable=wrong-import-position

BIN = os.path.dirname(sys.executable)


def make_domains(conn, count, vcpus):
    names = [libvirt_harness.unique_name('fleet%d' % i) for i in range(count)]
    for name in names:
        libvirt_harness.create(conn, libvirt_harness.domain_xml(name, vcpus=vcpus))
    return names


def unpin_all(conn, names):
    """Start every run as a host's first rebalance: no domain pinned yet, so the plan pins every one."""
    host_cpus = conn.getCPUMap()[0]
    every = set(range(host_cpus))
    for name in names:
        dom = conn.lookupByName(name)
        libvirt_harness.pin_vcpus(dom, every)
        for flags in (libvirt.VIR_DOMAIN_AFFECT_LIVE, libvirt.VIR_DOMAIN_AFFECT_CONFIG):
            dom.pinEmulator(cpuset.to_cpumap(every, host_cpus), flags)


def inventory(work, hosts, names, vcpus):
    inv = {'hypervisors': {'hosts': {}}}
    for i in range(hosts):
        host = 'hv%03d' % i
        folder = os.path.join(work, host)
        os.makedirs(folder)
        path = os.path.join(folder, 'forecasts.json')
        with open(path, 'w') as out:
            json.dump(forecast(names, vcpus, 0.9), out)
        inv['hypervisors']['hosts'][host] = {
            'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
            'rebalance_forecasts_path': path, 'rebalance_state_dir': os.path.join(folder, 'state'),
            'rebalance_textfile_dir': '', 'rebalance_lock_wait': 600, 'rebalance_forecast_max_age': 3600,
            'rebalance_max_moves': 4 * len(names) * vcpus,
            'rebalance_policy': {'vms': dict((n, {'min_cpus': 1}) for n in names)}}
    path = os.path.join(work, 'inventory.json')
    with open(path, 'w') as out:
        json.dump(inv, out)
    return path


def seconds(stamp):
    return datetime.datetime.strptime(stamp, '%Y-%m-%dT%H:%M:%S.%fZ').timestamp()


def staged_revision(rev):
    """(collections path holding the collection at git revision rev, cleanup); a detached worktree."""
    top = tempfile.mkdtemp(prefix='fleet-baseline-')
    tree = os.path.join(top, 'tree')
    subprocess.run(['git', '-C', REPO, 'worktree', 'add', '--detach', tree, rev], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    collections = os.path.join(top, 'collections')
    os.makedirs(os.path.join(collections, 'ansible_collections', 'adaptive'))
    os.symlink(tree, os.path.join(collections, 'ansible_collections', 'adaptive', 'intravm'))

    def cleanup():
        subprocess.run(['git', '-C', REPO, 'worktree', 'remove', '--force', tree], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(top, ignore_errors=True)
    return collections, cleanup


def run_job(work, inv, forks, collections=COLLECTIONS):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_NOCOLOR='1', ANSIBLE_FORKS=str(forks),
               ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_LOCALHOST_WARNING='0',
               ANSIBLE_HOST_KEY_CHECKING='0', PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), os.path.join(REPO, 'playbooks', 'rebalance.yml'),
                           '-i', inv, '-e', json.dumps({'target_hosts': 'hypervisors'})],
                          cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        raise SystemExit('ansible-playbook did not print JSON (rc %d):\n%s\n%s'
                         % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return wall, cpu, report, proc.returncode


def task_times(report):
    """{task name: [seconds per host]}."""
    out = collections.defaultdict(list)
    for play in report['plays']:
        for task in play['tasks']:
            duration = task['task'].get('duration', {})
            per_host = task.get('hosts', {})
            if 'start' in duration and 'end' in duration and per_host:
                span = seconds(duration['end']) - seconds(duration['start'])
                out[task['task']['name'].rsplit(' : ', 1)[-1]].append(span / max(1, len(per_host)))
    return out


def plan_entries(report):
    """Mean number of domains a host's plan pins (the vcpu_pin entries of 'Compute the plan')."""
    counts = []
    for play in report['plays']:
        for task in play['tasks']:
            if task['task']['name'].rsplit(' : ', 1)[-1] == 'Compute the plan':
                counts.extend(len((r.get('plan') or {}).get('vcpu_pin') or []) for r in task['hosts'].values())
    return round(sum(counts) / len(counts), 2) if counts else None


def first_failures(report):
    """{host: 'task: msg'} of each host's first failed task (ignored ones left out)."""
    out = {}
    for play in report['plays']:
        for task in play['tasks']:
            for host, result in task['hosts'].items():
                if result.get('failed') and host not in out and not result.get('_ansible_ignore_errors'):
                    out[host] = '%s: %s' % (task['task']['name'].rsplit(' : ', 1)[-1], str(result.get('msg'))[:300])
    return out


def one_run(conn, names, vcpus, hosts, forks, collections=COLLECTIONS, label='this tree'):
    work = tempfile.mkdtemp(prefix='fleet-')
    try:
        unpin_all(conn, names)
        inv = inventory(work, hosts, names, vcpus)
        wall, cpu, report, rc = run_job(work, inv, forks, collections)
        stats = report.get('stats', {})
        failed = sorted(h for h, s in stats.items() if s.get('failures') or s.get('unreachable'))
        why = first_failures(report)
        tasks = task_times(report)
        plan = tasks.get('Compute the plan', [])
        return {
            'collection': label, 'hosts': hosts, 'forks': forks, 'domains': len(names), 'rc': rc,
            'wall_s': round(wall, 2), 'cpu_s': round(cpu, 2), 'cpu_s_per_host': round(cpu / hosts, 3),
            'wall_s_per_host': round(wall / hosts, 3),
            'plan_s_per_host': round(sum(plan) / len(plan), 3) if plan else None,
            'domains_pinned_per_plan': plan_entries(report),
            'failed_hosts': len(failed), 'failed': dict((h, why.get(h)) for h in failed[:5]),
            'changed_hosts': sum(1 for s in stats.values() if s.get('changed')),
            'task_s_per_host': dict((name, round(sum(v) / len(v), 3)) for name, v in sorted(tasks.items())),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def event_source_run(endpoints, vms, repeat=3):
    """Seconds for one poll of one activation following `endpoints` predictors (every fourth one hot).

    With debounce 1 the first poll raises one event per hot endpoint, so an
    activation stopped at that many events has made exactly one poll.
    """
    names = ['vm%02d' % i for i in range(vms)]
    servers = [Endpoint(dict(forecast(names, 4, 0.95 if i % 4 == 0 else 0.1), host_cpus=vms * 2))
               for i in range(endpoints)]
    hot = (endpoints + 3) // 4
    args = {'endpoints': [{'host': 'hv%03d' % i, 'url': s.url} for i, s in enumerate(servers)],
            'interval': 0, 'debounce': 1, 'max_events': hot}
    times, events = [], []

    class Queue(object):
        async def put(self, event):
            events.append(event['intravm']['host'])
    before = resource.getrusage(resource.RUSAGE_SELF)
    try:
        for _round in range(repeat):
            start = time.monotonic()
            asyncio.run(source.main(Queue(), args))
            times.append(time.monotonic() - start)
    finally:
        for server in servers:
            server.close()
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {'endpoints': endpoints, 'poll_s': round(sorted(times)[len(times) // 2], 3),
            'events_per_poll': len(events) // repeat, 'hot_endpoints': hot,
            'cpu_s_per_poll': round(((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) / repeat, 3)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    ap.add_argument('--hosts', default='10,100', help='comma-separated host counts')
    ap.add_argument('--domains', type=int, default=16, help='paused domains every host plans')
    ap.add_argument('--vcpus', type=int, default=2)
    ap.add_argument('--forks', type=int, default=25, help='ansible forks (an AWX job template setting)')
    ap.add_argument('--endpoints', default='10,100', help='predictor endpoints one event-source activation follows')
    ap.add_argument('--baseline', help='git revision whose collection makes the same runs, for comparison')
    ap.add_argument('--json', help='write the results here')
    args = ap.parse_args()
    conn = libvirt.open(libvirt_harness.SYSTEM_URI)
    names = make_domains(conn, args.domains, args.vcpus)
    runs = []
    variants = [(COLLECTIONS, 'this tree', None)]
    try:
        if args.baseline:
            collections, cleanup = staged_revision(args.baseline)
            variants.append((collections, 'baseline %s' % args.baseline, cleanup))
        for hosts in [int(h) for h in args.hosts.split(',') if h]:
            for collections, label, _cleanup in variants:
                result = one_run(conn, names, args.vcpus, hosts, args.forks, collections, label)
                runs.append(result)
                print('%-22s %4d hosts, %d forks, %s domains pinned per plan: wall %6.1f s, CPU %.2f s/host, '
                      'plan %.3f s/host, failed %d, changed %d'
                      % (label, hosts, args.forks, result['domains_pinned_per_plan'], result['wall_s'],
                         result['cpu_s_per_host'], result['plan_s_per_host'] or 0, result['failed_hosts'],
                         result['changed_hosts']), flush=True)
    finally:
        for name in names:
            libvirt_harness.remove(conn, name)
        conn.close()
        for _collections, _label, cleanup in variants:
            if cleanup:
                cleanup()
    sources = []
    for count in [int(e) for e in args.endpoints.split(',') if e]:
        result = event_source_run(count, 40)
        sources.append(result)
        print('event source: %d endpoints, one poll %.2f s (%d of %d hot endpoints raised), CPU %.2f s per poll'
              % (count, result['poll_s'], result['events_per_poll'], result['hot_endpoints'], result['cpu_s_per_poll']),
              flush=True)
    out = {'runs': runs, 'event_source': sources,
           'meta': {'domains': args.domains, 'vcpus': args.vcpus, 'forks': args.forks, 'cpus': os.cpu_count()}}
    if args.json:
        with open(args.json, 'w') as handle:
            json.dump(out, handle, indent=1, sort_keys=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
