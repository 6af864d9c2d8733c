# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make demo`: two real guests replay real traces in blocks, static and with the closed loop, in ABBA order.

    python scripts/demo.py [--traces data/traces] [--out demo-out] [--seed 7] [--blocks 8]
                           [--steps 6] [--step-s 8] [--dwell 3,6] [--control] [--json OUT]

Builds (or reuses) the guest image with the profiler, boots two 2-vCPU guests with an
ivshmem channel, starts the host predictor, and replays a seeded trace -> duty-cycle
schedule (scripts/demo_load.py) once per block. Every block starts from the static
pinning (vCPU i of each guest on host CPU i); in a STATIC block it never changes, in an
ADAPTIVE block every new forecast goes through the planner in this process and
playbooks/rebalance.yml runs whenever it would move a vCPU. Blocks come in pairs, SA AS
SA AS ..., so a drift over the run falls on both conditions alike; the report gives the
adaptive/static ratio of vCPU delay per pair, their mean and a 95 % bootstrap interval
(and, with --control, the same for blocks in which the loop stays off: the noise).
Writes report.json and demo.png under --out. Everything it started (domains, regions,
the daemon) is removed on exit, Ctrl-C and failure included.
benchmarks/loop_on_guests.py runs the long form.
See docs/demo.md.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

import libvirt  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.adaptive.intravm.services.predictor import traces as trace_io  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.adaptive.intravm.plugins.module_utils.plan import forecast_doc  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.adaptive.intravm.plugins.module_utils.host.placement import running_placements  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.adaptive.intravm.plugins.module_utils.plan.from_forecasts import plan_from_forecasts  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.adaptive.intravm.plugins.module_utils.plan.planner import PlannerConflictError, PlannerInputError  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.adaptive.intravm.plugins.module_utils.host.topology import parse_capabilities  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.adaptive.intravm.scripts import control_cgroup, demo_load, guests  # noqa: E402  pylint: disable=wrong-import-position

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
VCPUS = 2
BOOT_TIMEOUT_S = 240   # a guest whose agent does not answer by then failed to boot
START_MARGIN_S = 3     # from the start signal to the first load step, for both guests to read it
# The schedule rides on the guest kernel's command line, which x86 Linux cuts at 2048
# characters; the domain's own arguments take about 150 of them.
MAX_CMDLINE = 1800
MAX_SAMPLE_GAP_S = 5.0   # a block's delay is read from the samples nearest its start and end
# The control plane runs below the guests so that on a 2-CPU host it takes what their vCPUs
# leave: the predictor and every ansible-playbook run in an idle cgroup (scripts/control_cgroup.py;
# a scheduling policy alone is not enough across cgroups), and within it the predictor at nice 19
# and ansible-playbook as SCHED_IDLE. This process only samples (one libvirt call a second) and
# keeps the blocks' time, so it stays outside.
NICE = ['nice', '-n', '19']
IDLE = ['chrt', '--idle', '0']


def log(msg):
    print('demo: [%s] %s' % (time.strftime('%H:%M:%S'), msg))
    sys.stdout.flush()


def env():
    e = dict(os.environ)
    e['PYTHONPATH'] = COLLECTIONS + (os.pathsep + e['PYTHONPATH'] if e.get('PYTHONPATH') else '')
    e['ANSIBLE_COLLECTIONS_PATH'] = COLLECTIONS
    e['PATH'] = os.path.dirname(sys.executable) + os.pathsep + e.get('PATH', '')
    return e


def playbook_cmd(path, extra):
    """ansible-playbook PATH on localhost with this interpreter and extra vars."""
    return [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), path, '-i', 'localhost,', '-c', 'local',
            '-e', json.dumps(dict(extra, ansible_python_interpreter=sys.executable))]


def playbook(path, extra, quiet=True):
    res = subprocess.run(playbook_cmd(path, extra), env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                         check=False)
    if res.returncode != 0 or not quiet:
        print(res.stdout[-4000:])
    return res.returncode


def build_image():
    log('building (or reusing) the guest image with the profiler baked in')
    res = subprocess.run([os.path.join(ROOT, 'scripts', 'build-guest-image.sh'), '--profiler'],
                         stdout=subprocess.PIPE, universal_newlines=True, check=True)
    return res.stdout.strip().splitlines()[-1]


def make_schedules(traces_dir, seed, steps, dwell=(3, 6), limit_vms=40):
    """Seeded schedules for the two guests from the first limit_vms traces (see demo_load)."""
    vms = trace_io.load_traces(traces_dir, limit_vms=limit_vms)
    rng = random.Random(seed)
    picked = demo_load.pick_windows({vm.vm_id: list(vm.cpu_demand) for vm in vms}, 2, steps, rng)
    out = []
    for vm_id, offset, window in picked:
        out.append({'trace_vm': vm_id, 'offset': offset, 'window': window,
                    'duty': demo_load.duty_schedule(window, VCPUS, rng, dwell[0], dwell[1])})
    return out


class Sampler(object):
    """Once a second: per-vCPU time and delay (getAllDomainStats), pins, and the forecast document."""

    def __init__(self, conn, names, state_file):
        self.conn, self.names, self.state_file = conn, names, state_file
        self.samples = []   # (t, {dom: {vcpu: delay}}), for demo_load.phase_delay
        self.rows = []      # everything, for the plot and report.json
        self.forecasts = {}  # generated_at -> {dom: (p50, p90, horizon_s)}

    def sample(self):
        now = time.time()
        doms = [self.conn.lookupByName(n) for n in self.names]
        stats = self.conn.domainListGetStats(doms, libvirt.VIR_DOMAIN_STATS_VCPU)
        delay, busy, pins = {}, {}, {}
        for dom, rec in stats:
            n = int(rec.get('vcpu.current', 0))
            delay[dom.name()] = {i: rec.get('vcpu.%d.delay' % i, 0) for i in range(n)}
            busy[dom.name()] = {i: rec.get('vcpu.%d.time' % i, 0) for i in range(n)}
            try:
                pins[dom.name()] = [[c for c, ok in enumerate(row) if ok] for row in dom.vcpuPinInfo(0)]
            except libvirt.libvirtError:
                pins[dom.name()] = None
        self.samples.append((now, delay))
        try:
            with open('/proc/stat') as handle:
                steal = demo_load.steal_seconds(handle.read(), os.sysconf('SC_CLK_TCK'))
        except (OSError, ValueError):
            steal = None
        self.rows.append({'t': now, 'delay': delay, 'time': busy, 'pins': pins, 'steal_s': steal})
        try:
            doc = forecast_doc.load(path=self.state_file)     # checked: every value of the format, none re-checked here
        except forecast_doc.ForecastDocError:
            return
        entry = {}
        for name in self.names:
            vm = doc['vms'].get(name)
            if vm and 'cpu' in vm:
                entry[name] = {'p50': vm['cpu']['p50'][0], 'p90': vm['cpu']['p90'][0],
                               'h_s': vm['horizons_s'][0], 'model': vm.get('model')}
        if entry:
            self.forecasts[doc['generated_at']] = entry


def static_pins(conn, names):
    """vCPU i of every guest on host CPU i, emulator threads on every CPU: how each guest starts.

    Balanced when each guest's load is spread. The emulator pin is reset too:
    rebalance.yml pins it to the CPUs of the VM's vCPUs, and under TCG a guest
    whose emulator thread shares one CPU with its busy vCPUs waits far longer
    (a static block after an adaptive one measured 273 s of delay against 144 s
    before this reset), which would charge the loop's last pins to the next block.
    """
    ncpu = conn.getInfo()[2]
    every = tuple(True for _c in range(ncpu))
    for name in names:
        dom = conn.lookupByName(name)
        for v in range(VCPUS):
            dom.pinVcpuFlags(v, tuple(c == v % ncpu for c in range(ncpu)), libvirt.VIR_DOMAIN_AFFECT_LIVE)
        dom.pinEmulator(every, libvirt.VIR_DOMAIN_AFFECT_LIVE)


def float_pins(conn, names):
    """Every vCPU and emulator thread on every host CPU: libvirt's default, the kernel balances them (the float blocks)."""
    every = tuple(True for _c in range(conn.getInfo()[2]))
    for name in names:
        dom = conn.lookupByName(name)
        for v in range(VCPUS):
            dom.pinVcpuFlags(v, every, libvirt.VIR_DOMAIN_AFFECT_LIVE)
        dom.pinEmulator(every, libvirt.VIR_DOMAIN_AFFECT_LIVE)


def planned_moves(conn, names, topology, state_file, policy, seen, max_age=300):
    """The moves the planner would make now, from the newest forecasts (None: nothing new to judge).

    The demo's event source: allocation_plan's own entry point
    (plan_from_forecasts) on the same topology and live pins, run in this
    process on every new forecast document,
    so rebalance.yml (a whole ansible-playbook run, ~10 s of CPU on this
    2-CPU host) runs only when it would move something, as the EDA rulebook
    runs it only on a predicted hotspot.
    """
    try:
        doc = forecast_doc.load(path=state_file)
    except forecast_doc.ForecastDocError:
        return None
    if doc['generated_at'] in seen:
        return None
    seen.add(doc['generated_at'])
    if not set(names) & set(doc['vms']):
        return None
    try:
        result = plan_from_forecasts(doc, topology, running_placements(conn), time.time(), max_age, names, policy)
    except (PlannerInputError, PlannerConflictError) as exc:
        log('planner refused the forecasts: %s' % exc)
        return None
    if result.get('reason'):
        log('no plan: %s' % result['reason'])
    return result['moves']


def apply_direct(conn, moves):
    """--apply-direct: the planned vCPU moves as live libvirt pins from this process, no Ansible.

    A measurement aid, not the product path: it shows what the placement is
    worth on this host without the cost of an ansible-playbook run.
    """
    ncpu = conn.getInfo()[2]
    for move in moves:
        dom = conn.lookupByName(move['vm'])
        if move['vcpu'] is None:        # placement: pool moves a whole VM: every vCPU onto its pool
            cpumap = cpuset.to_cpumap(cpuset.parse(move['cpus']), ncpu)
            for vcpu in range(dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE)):
                dom.pinVcpuFlags(vcpu, cpumap, libvirt.VIR_DOMAIN_AFFECT_LIVE)
            continue
        cpumap = cpuset.to_cpumap(cpuset.parse(move['to']), ncpu)
        dom.pinVcpuFlags(int(move['vcpu']), cpumap, libvirt.VIR_DOMAIN_AFFECT_LIVE)


def check_guests(sampler, start, end, work, phase):
    """Fail, with the guest's console, when a guest did no work in the phase (no ratio from that)."""
    bad = demo_load.stalled(sampler.rows, start, end)
    if not bad:
        return
    tails = []
    for name in bad:
        try:
            with open(os.path.join(work, name, 'console.log'), errors='replace') as handle:
                tails.append('--- %s console.log (end)\n%s' % (name, ''.join(handle.readlines()[-15:])))
        except OSError:
            pass
    raise RuntimeError('guest(s) %s ran no load in the %s phase (not running?): no ratio can be reported\n%s'
                       % (', '.join(bad), phase, '\n'.join(tails)))


def wait_until(t_end, sampler, every=1.0, action=None):
    while time.time() < t_end:
        t_next = time.time() + every
        sampler.sample()
        if action:
            action()
        time.sleep(max(0.0, min(t_next, t_end) - time.time()))


class Loop(object):
    """The closed loop of an adaptive block: plan each new forecast here, run rebalance.yml when it would move.

    The demo plays the event source: allocation_plan's own entry point on every
    new forecast document, and after `debounce` plans in a row that move a vCPU,
    one ansible-playbook run (or, with --apply-direct, the pins from here).
    """

    def __init__(self, conn, names, state_file, work, args, preexec=None):
        self.conn, self.names, self.state_file, self.args = conn, names, state_file, args
        self.preexec = preexec   # puts each playbook run in the idle cgroup
        self.topology = parse_capabilities(conn.getCapabilities(), conn.getCPUMap()[1])   # it does not change here
        # the gate plans with exactly what rebalance.yml gets
        self.policy = {'capacity': args.capacity, 'placement': args.placement}
        self.rb_state = os.path.join(work, 'rebalance')
        self.extra = {'target_hosts': 'localhost', 'rebalance_forecasts_path': state_file,
                      'rebalance_forecast_max_age': max(30, 5 * args.predictor_step_s), 'rebalance_state_dir': self.rb_state,
                      'rebalance_reason': 'demo', 'rebalance_policy': self.policy}
        self.seen = set()
        self.checks = 0
        self.runs = []

    def margin_s(self):
        """No run starts this close to a block's end: it would spill into the next block."""
        durations = [r['duration_s'] for r in self.runs]
        return max(5.0, demo_load.median(durations)) if durations else 15.0

    def block(self, t_end, sampler):
        """Run the loop until t_end; a run that is going at t_end is waited for (the caller records the spill)."""
        streak = 0
        while time.time() < t_end:
            wait_until(min(t_end, time.time() + self.args.predictor_step_s / 2.0), sampler)
            planned = planned_moves(self.conn, self.names, self.topology, self.state_file, self.policy, self.seen,
                                    self.extra['rebalance_forecast_max_age'])
            if planned is None:
                continue
            self.checks += 1
            # like the event source's `debounce`: act on a hotspot that held for that many
            # forecasts in a row, not on one noisy step
            streak = streak + 1 if planned else 0
            if streak < self.args.debounce or t_end - time.time() < self.margin_s():
                continue
            streak = 0
            self.apply(planned, sampler)

    def apply(self, planned, sampler):
        started = time.time()
        if self.args.apply_direct:
            apply_direct(self.conn, planned)
            self.runs.append({'t': started, 'duration_s': time.time() - started, 'rc': 0, 'moves': planned,
                              'planned': len(planned)})
            log('direct apply %d: %s' % (len(self.runs), '; '.join(m.get('reason', '') for m in planned)))
            return
        cmd = playbook_cmd(os.path.join(ROOT, 'playbooks', 'rebalance.yml'), self.extra)
        proc = subprocess.Popen(IDLE + cmd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                                preexec_fn=self.preexec)
        while proc.poll() is None:
            sampler.sample()
            time.sleep(1.0)
        out = proc.stdout.read()
        moves = []
        try:
            with open(os.path.join(self.rb_state, 'last-rebalance.json')) as handle:
                moves = json.load(handle).get('moves', [])
        except (OSError, ValueError):
            pass
        self.runs.append({'t': started, 'duration_s': time.time() - started, 'rc': proc.returncode, 'moves': moves,
                          'planned': len(planned)})
        if proc.returncode != 0:
            log('rebalance.yml failed (rc %d):\n%s' % (proc.returncode, out[-3000:]))
        else:
            log('rebalance run %d (%d move(s) planned here): %.1f s, %d move(s)%s' % (
                len(self.runs), len(planned), self.runs[-1]['duration_s'], len(moves),
                ''.join('\n    ' + m.get('reason', '') for m in moves)))


def sequences(args):
    """[(sequence, condition)] per block: the loop's ABBA blocks, then (--control) as many with the loop off,
    then (--float) as many whose adaptive blocks float every vCPU over every host CPU, no loop."""
    order = demo_load.abba_order(args.blocks)
    out = [('loop', c) for c in order]
    if args.control:
        out += [('control', c) for c in order]
    if args.float:
        out += [('float', c) for c in order]
    return out


def start_daemon(args, work, cleanup, preexec=None):
    """The host predictor, at nice 19 (in the idle cgroup: preexec), state in work; returns (process, state file, log)."""
    state_file = os.path.join(work, 'forecasts.json')
    cfg = {'uri': guests.URI, 'step_s': args.predictor_step_s, 'checkpoint_interval_s': 3600,
           'vcpu_share_steps': args.vcpu_share_steps,
           'state_dir': os.path.join(work, 'predictor'), 'state_file': state_file,
           'listen': 'unix:' + os.path.join(work, 'predictor.sock'), 'gpu': False, 'log_level': 'WARNING'}
    cfg_path = os.path.join(work, 'predictor.json')
    with open(cfg_path, 'w') as handle:
        json.dump(cfg, handle)
    plog = open(os.path.join(work, 'predictor.log'), 'w')
    predictor = [sys.executable, '-m', 'ansible_collections.adaptive.intravm.services.predictor', 'run', '--config', cfg_path]
    daemon = subprocess.Popen(NICE + predictor, env=env(), stdout=plog, stderr=subprocess.STDOUT, preexec_fn=preexec)

    def stop_daemon():
        if daemon.poll() is None:
            daemon.terminate()
            try:
                daemon.wait(20)
            except subprocess.TimeoutExpired:
                daemon.kill()
        plog.close()
    cleanup.append(stop_daemon)
    log('host predictor started (pid %d, step %ss)' % (daemon.pid, args.predictor_step_s))
    return daemon, state_file, plog


def run(args, work, cleanup):
    manifest = guests.load_manifest(build_image())
    schedules = make_schedules(args.traces, args.seed, args.steps, args.dwell)
    names = ['intravm-demo-a', 'intravm-demo-b']
    conn = libvirt.open(guests.URI)
    cleanup.append(conn.close)
    idle = None
    try:
        _base, path, how = control_cgroup.make_idle()
        idle = control_cgroup.spawn_in(path)
        cleanup.append(lambda: control_cgroup.remove(path))
        log('control plane (the predictor, ansible-playbook) in an idle cgroup: %s in %s; this process, which '
            'samples, outside it' % (how, path))
    except OSError as exc:
        log('no idle cgroup (%s): the control plane competes with the guests at nice 19 / SCHED_IDLE only' % exc)
    block_s = args.steps * args.step_s
    plan = sequences(args)
    for name in names:  # a demo left behind by a killed run
        guests.destroy(conn, name, None, 'intravm-' + name)
    daemon, state_file, plog = start_daemon(args, work, cleanup, idle)

    seconds = BOOT_TIMEOUT_S + len(plan) * block_s + 120
    for name, sched in zip(names, schedules):
        duty = demo_load.encode(sched['duty'] * len(plan))  # the same load in every block
        extra = 'intravm.seconds=%d intravm.duty_t0=signal intravm.duty_step=%s intravm.duty=%s' % (
            seconds, args.step_s, duty)
        if len(extra) > MAX_CMDLINE:
            raise ValueError('%d blocks of %d steps do not fit on the guest kernel command line (%d > %d characters): '
                             'use fewer blocks or steps' % (len(plan), args.steps, len(extra), MAX_CMDLINE))
        wd = os.path.join(work, name)
        guests.define(conn, name, manifest, wd, vcpus=VCPUS, memory_mib=192, cmdline_extra=extra, agent=True)
        cleanup.append(lambda n=name, w=wd: guests.destroy(conn, n, w, 'intravm-' + n))
        log('%s replays Bitbrains VM %s from step %d (%d steps of 300 s -> %s s each, every block)' % (
            name, sched['trace_vm'], sched['offset'], args.steps, args.step_s))
    if playbook(os.path.join(ROOT, 'playbooks', 'demo.yml'), {'guests': names}):
        raise RuntimeError('playbooks/demo.yml failed')
    for name in names:
        guests.start(conn, name)
    static_pins(conn, names)
    sampler = Sampler(conn, names, state_file)
    booted = guests.wait_for_agents(conn, names, BOOT_TIMEOUT_S)
    # The load starts when every guest is up, whatever set-up and boot took: a start signal, not a guess.
    t0 = time.time() + START_MARGIN_S
    for name in names:
        guests.signal_start(conn, name, t0)
    log('guests up (%s); load starts at %s: %d blocks of %d s (%s)' % (
        ', '.join('%s in %.0f s' % item for item in sorted(booted.items())),
        time.strftime('%H:%M:%S', time.localtime(t0)), len(plan), block_s,
        ' '.join(('S' if c == 'static' else 'A') + ('' if q == 'loop' else "'") for q, c in plan)))

    loop = Loop(conn, names, state_file, work, args, idle)
    blocks = []
    for k, (seq, cond) in enumerate(plan):
        start, end = t0 + k * block_s, t0 + (k + 1) * block_s
        # every block starts from the static pins, whatever the block before left
        static_pins(conn, names)
        spill = max(0.0, time.time() - start)
        wait_until(start, sampler)
        if seq == 'float' and cond == 'adaptive':
            float_pins(conn, names)
        active = cond == 'adaptive' and seq == 'loop'
        log('block %d/%d: %s%s' % (k + 1, len(plan), cond.upper(), {
            'loop': '', 'control': ' (control: the loop stays off)',
            'float': ' (float: every vCPU on every host CPU, no loop)' if cond == 'adaptive' else ' (float pair)'}[seq]))
        checks, nruns = loop.checks, len(loop.runs)
        if active:
            loop.block(end, sampler)
        wait_until(end, sampler)
        sampler.sample()
        check_guests(sampler, start, end, work, '%s block %d' % (cond, k + 1))
        if daemon.poll() is not None:
            raise RuntimeError('the host predictor exited (%s); see %s' % (daemon.returncode, plog.name))
        if active and loop.checks == checks:
            # An adaptive block in which the loop never ran measures nothing about the loop.
            raise RuntimeError('the loop saw no new forecast in block %d: the predictor runs in the idle cgroup and '
                               'got no CPU (is other work running on this host?); no ratio is reported' % (k + 1))
        late = demo_load.sample_gap(sampler.samples, start, end)
        if late > MAX_SAMPLE_GAP_S:
            raise RuntimeError('block %d: the nearest samples are %.1f s from its start or end (the sampler fell behind '
                               'the guests\' clock); no ratio is reported' % (k + 1, late))
        delay = demo_load.phase_delay(sampler.samples, start, end)
        blocks.append({'sequence': seq, 'condition': cond, 'start': start, 'end': end, 'spill_in_s': spill,
                       'delay_s': dict((d, v / 1e9) for d, v in delay.items()),
                       'steal_s': demo_load.phase_steal(sampler.rows, start, end),
                       'runs': len(loop.runs) - nruns, 'moves': sum(len(r['moves']) for r in loop.runs[nruns:])})
        log('block %d: vCPU delay %.1f s%s' % (k + 1, sum(blocks[-1]['delay_s'].values()),
                                               ', %d run(s), %d move(s)' % (blocks[-1]['runs'], blocks[-1]['moves'])
                                               if active else ''))

    summary = demo_load.blocks_summary(blocks, random.Random(args.seed))
    if 'loop' in summary and 'float' in summary:
        summary['loop_over_float'] = demo_load.cross_ratio(summary['loop'], summary['float'], random.Random(args.seed))
    rep = {'summary': summary, 'blocks': blocks, 'placement': args.placement,
           'latency': latency(schedules, names, blocks, loop.runs, args.step_s, block_s),
           'apply_direct': args.apply_direct, 'seed': args.seed, 'steps': args.steps, 'step_s': args.step_s,
           'block_s': block_s, 'dwell_steps': list(args.dwell),
           'predictor_step_s': args.predictor_step_s, 'capacity': args.capacity, 'debounce': args.debounce,
           'rebalance_runs': len(loop.runs), 'plan_checks': loop.checks,
           'rebalance_failures': sum(1 for r in loop.runs if r['rc']),
           'rebalance_mean_s': sum(r['duration_s'] for r in loop.runs) / len(loop.runs) if loop.runs else None,
           'moves': sum(len(r['moves']) for r in loop.runs),
           'traces': [{k: s[k] for k in ('trace_vm', 'offset', 'duty')} for s in schedules]}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'report.json'), 'w') as handle:
        json.dump({'report': rep, 'rows': sampler.rows, 'forecasts': sampler.forecasts, 'runs': loop.runs}, handle)
    if args.json:
        with open(args.json, 'w') as handle:
            json.dump(rep, handle, indent=2, sort_keys=True)
    plot(os.path.join(args.out, 'demo.png'), names, sampler, blocks, loop.runs)
    print_report(rep)
    return 0


def latency(schedules, names, blocks, runs, step_s, block_s):
    """How fast the loop answers a hot vCPU that moved, against how long a vCPU stays hot.

    Latency: from a switch of a guest's hot vCPU (known from its schedule) in an
    adaptive loop block to the end of the first rebalance run that moved that
    guest. The ratio of its median to the mean hot dwell says how much of a hot
    spell the loop can still use.
    """
    switches = []
    adaptive = [b for b in blocks if b['sequence'] == 'loop' and b['condition'] == 'adaptive']
    for name, sched in zip(names, schedules):
        offsets = demo_load.hot_switch_offsets(sched['duty'])
        for b in adaptive:
            switches.extend((b['start'] + i * step_s, name) for i in offsets)
    lat, missed = demo_load.response_latencies(switches, runs, sorted(b['end'] for b in adaptive))
    spells = sum(len(demo_load.hot_switch_offsets(s['duty'])) + 1 for s in schedules)
    dwell = len(schedules) * block_s / float(spells)
    med = demo_load.median(lat)
    return {'switches': len(switches), 'answered': len(lat), 'unanswered': missed, 'median_s': med,
            'mean_hot_dwell_s': dwell, 'latency_over_dwell': med / dwell}


def _fmt_ci(s):
    return '%.3f [%.3f, %.3f]' % (s['mean_ratio'], s['ci95'][0], s['ci95'][1])


def print_report(rep):
    print('\n=== make demo: report ===')
    for t in rep['traces']:
        print('trace VM %s from step %d' % (t['trace_vm'], t['offset']))
    print('%d blocks of %d s (%d steps of %s s), ABBA order, every block from the static pins; predictor step %s s' % (
        len(rep['blocks']), rep['block_s'], rep['steps'], rep['step_s'], rep['predictor_step_s']))
    print('planner capacity %.2f per host CPU; %d forecast(s) checked; %s: %d (%d failed), '
          'mean %.1f s per run, %d vCPU move(s)' % (rep['capacity'], rep['plan_checks'],
                                                    'direct applies (--apply-direct)' if rep['apply_direct'] else 'rebalance.yml runs',
                                                    rep['rebalance_runs'], rep['rebalance_failures'],
                                                    rep['rebalance_mean_s'] or 0, rep['moves']))
    print('%-6s %-8s %-9s %10s %8s %6s %6s' % ('block', 'seq', 'condition', 'delay s', 'steal s', 'runs', 'moves'))
    for k, b in enumerate(rep['blocks']):
        steal = '-' if b['steal_s'] is None else '%.1f' % b['steal_s']
        total = sum(b['delay_s'].values())
        print('%-6d %-8s %-9s %10.2f %8s %6d %6d' % (k + 1, b['sequence'], b['condition'], total, steal, b['runs'], b['moves']))
    for seq in ('loop', 'control', 'float'):
        s = rep['summary'].get(seq)
        if s is None:
            continue
        print('%-7s adaptive/static vCPU delay per pair: %s' % (seq, ', '.join('%.3f' % r for r in s['pair_ratios'])))
        print('%-7s mean %s (95 %% bootstrap interval over %d pairs); totals static %.1f s, adaptive %.1f s%s' % (
            seq, _fmt_ci(s), len(s['pair_ratios']), s['static_delay_s'], s['adaptive_delay_s'],
            {'loop': ' (placement %s)' % rep.get('placement'), 'control': ' (the loop was off: this is the noise)',
             'float': ' (adaptive = floating over every host CPU, no loop)'}[seq]))
    cross = rep['summary'].get('loop_over_float')
    if cross:
        print('loop/float: per pair (loop adaptive/static) / (float adaptive/static): %s; mean %s'
              % (', '.join('%.3f' % r for r in cross['pair_ratios']), _fmt_ci(cross)))
    lat = rep['latency']
    print('loop latency: median %.1f s from a hot-vCPU switch to the run that moved it (%d of %d switches answered '
          'within their block); mean hot spell %.0f s; latency/hot spell = %.2f' % (
              lat['median_s'], lat['answered'], lat['switches'], lat['mean_hot_dwell_s'], lat['latency_over_dwell']))
    loop = rep['summary'].get('loop')
    if loop and len(loop['pair_ratios']) < 2:
        print('VERDICT: none: %d pair gives no interval (use --blocks 4 or more)' % len(loop['pair_ratios']))
    elif loop:
        verdict = ('lies below 1: the loop reduced vCPU delay' if loop['ci95'][1] < 1 else
                   'lies above 1: the loop added vCPU delay' if loop['ci95'][0] > 1 else
                   'includes 1: no difference shown at this length')
        print('VERDICT: the interval %s %s' % (_fmt_ci(loop), verdict))


def plot(path, names, sampler, blocks, runs):
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    rows = sampler.rows
    t0 = blocks[0]['start']
    fig, axes = plt.subplots(len(names) * 2 + 1, 1, figsize=(11, 3 * (2 * len(names) + 1)), sharex=True)
    for k, name in enumerate(names):
        ax = axes[k]
        xs, ys = [], []
        for a, b in zip(rows, rows[1:]):
            dt = b['t'] - a['t']
            if dt > 0 and name in a['time'] and name in b['time']:
                xs.append(b['t'] - t0)
                used = sum(b['time'][name].values()) - sum(a['time'][name].values())
                waited = sum(b['delay'][name].values()) - sum(a['delay'][name].values())
                ys.append((used + waited) / 1e9 / dt / VCPUS)
        ax.plot(xs, ys, lw=0.8, label='actual demand (vcpu.N.time + vcpu.N.delay)')
        fx = sorted(sampler.forecasts)
        pts = [(g + sampler.forecasts[g][name]['h_s'] - t0, sampler.forecasts[g][name]['p50'],
                sampler.forecasts[g][name]['p90']) for g in fx if name in sampler.forecasts[g]]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], lw=1, label='forecast P50 (h=1 step, at target time)')
            ax.plot([p[0] for p in pts], [p[2] for p in pts], lw=1, ls='--', label='forecast P90')
        ax.set_ylabel('%s\nCPU frac' % name)
        ax.legend(fontsize=7, loc='upper right')
        ax = axes[len(names) + k]
        for v in range(VCPUS):
            ax.step([r['t'] - t0 for r in rows if r['pins'].get(name)],
                    [r['pins'][name][v][0] + 0.05 * v if len(r['pins'][name][v]) == 1 else -1
                     for r in rows if r['pins'].get(name)], where='post', label='vCPU %d' % v)
        ax.set_ylabel('%s\nhost CPU' % name)
        ax.legend(fontsize=7, loc='upper right')
    ax = axes[-1]
    for name in names:
        xs, ys = [], []
        for a, b in zip(rows, rows[1:]):
            dt = b['t'] - a['t']
            if dt > 0 and name in a['delay'] and name in b['delay']:
                xs.append(b['t'] - t0)
                ys.append((sum(b['delay'][name].values()) - sum(a['delay'][name].values())) / 1e9 / dt)
        ax.plot(xs, ys, lw=0.8, label='%s vcpu.*.delay' % name)
    ax.set_ylabel('delay s/s')
    for axis in axes:
        for b in blocks:
            if b['condition'] == 'static':
                axis.axvspan(b['start'] - t0, b['end'] - t0, color='0.9' if b['sequence'] == 'loop' else '0.95', zorder=0)
        for r in runs:
            axis.axvline(r['t'] - t0, color='0.8', lw=0.5, zorder=0)
    ax.set_xlabel('seconds since the load started (grey: static blocks, lighter in the control; thin lines: rebalance runs)')
    ax.legend(fontsize=7, loc='upper right')
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    ap.add_argument('--traces', default=os.path.join(ROOT, 'data', 'traces'),
                    help='Bitbrains-format traces (default: the excerpt in the repository, data/traces)')
    ap.add_argument('--out', default=os.path.join(ROOT, '.build', 'demo'))
    ap.add_argument('--seed', type=int, default=7)
    ap.add_argument('--blocks', type=int, default=8, help='blocks with the loop, in ABBA order (even, >= 2)')
    ap.add_argument('--steps', type=int, default=6, help='trace steps per block (every block replays the same ones)')
    ap.add_argument('--step-s', type=float, default=8.0, help='seconds each 5-minute trace step lasts')
    ap.add_argument('--dwell', type=lambda v: tuple(int(x) for x in v.split(',')), default=(3, 6),
                    help='MIN,MAX steps a vCPU stays hot before the load moves to another (default 3,6)')
    ap.add_argument('--predictor-step-s', type=int, default=2)
    ap.add_argument('--vcpu-share-steps', type=int, default=3,
                    help="predictor steps of per-vCPU demand that split a VM's forecast over its vCPUs")
    ap.add_argument('--capacity', type=float, default=1.0,
                    help='planner capacity per host CPU (fraction); the forecasts are of demand (time run plus '
                         'time waited), so 1.0 means a host CPU is full')
    ap.add_argument('--debounce', type=int, default=2,
                    help='consecutive forecasts that must plan a move before the loop acts (as the event '
                         "source's debounce, default 2)")
    ap.add_argument('--apply-direct', action='store_true',
                    help='measurement aid: apply planned moves with libvirt from this process instead of running '
                         'rebalance.yml (what the placement is worth without the cost of the Ansible run)')
    ap.add_argument('--control', action='store_true',
                    help='after the loop blocks, as many control blocks in which the loop stays off (A/A: the noise)')
    ap.add_argument('--float', action='store_true',
                    help='after those, as many blocks whose adaptive blocks float every vCPU over every host CPU '
                         "(libvirt's default: the kernel balances them), no loop")
    ap.add_argument('--placement', choices=('vcpu', 'pool'), default='vcpu',
                    help="the planner's placement policy for the loop: each vCPU pinned to one CPU (vcpu, the default), "
                         "or each VM floating over its NUMA node's shared CPUs (pool)")
    ap.add_argument('--json', default=None, help='also write the report (no samples) to this file')
    args = ap.parse_args(argv)
    try:
        demo_load.abba_order(args.blocks)
    except ValueError as exc:
        ap.error(str(exc))
    if len(args.dwell) != 2 or not 1 <= args.dwell[0] <= args.dwell[1]:
        ap.error('--dwell takes MIN,MAX steps with 1 <= MIN <= MAX')
    work = tempfile.mkdtemp(prefix='intravm-demo-')
    os.chmod(work, 0o755)
    cleanup = []

    def on_term(_signum, _frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    started = time.time()
    try:
        return run(args, work, cleanup)
    except KeyboardInterrupt:
        log('interrupted')
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for undo in reversed(cleanup):
            try:
                undo()
            except Exception as exc:  # pylint: disable=broad-except
                log('cleanup: %r' % (exc,))
        shutil.rmtree(work, ignore_errors=True)
        log('cleaned up (domains, regions, predictor); total %.0f s' % (time.time() - started))


if __name__ == '__main__':
    sys.exit(main())
