# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fault suite: each fault injected on the real libvirtd, a number of times, with its figures.

Writes {"faults": {NAME: {"runs", "survived", "vm_left_half_applied", "samples_lost", "notes"}}}.
A run survives when nothing raised a traceback, every error named its domain,
and the host ended in a placement one plan asked for. A VM is half-applied
when some of its vCPUs carry the new pins and others the old ones.
samples_lost counts what the fault's own window cost (each fault says which).

    python benchmarks/faults.py [--runs N] [--only NAME,...] [--json OUT]

`make test` runs one run of each (tests/integration/test_faults.py). Faults:
- save_restore: a real guest with the channel and the profiler is `virsh save`d
  and restored while the host reads its ring (samples lost: sequence numbers the
  reader never saw; the guest is stopped while saved, so nothing should be).
- domain_destroyed_mid_run: two domains planned, one destroyed before the apply.
- libvirtd_restart_mid_run: libvirtd killed between one domain's apply and the next's.
- concurrent_rebalance: two `rebalance.yml` runs started at the same moment against one host.
- restore_through_hook: a saved guest whose pins and nodeset name CPUs and a node this host
  lacks is restored through the placement hook (installed by the host_predictor role's tasks,
  libvirtd reloaded with SIGHUP, removed afterwards); skipped where a qemu hook exists already.
- predictor_kill9: the host predictor killed with SIGKILL under load and restarted
  (samples lost: steps it did not sample while down, its restart time).
- predictor_libvirtd_restart: libvirtd killed and started again under the predictor.
- state_disk_full: the predictor's state directory on a full 256 KiB tmpfs.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import libvirt

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, '.build', 'collections')
sys.path[:0] = [COLLECTIONS, os.path.join(REPO, 'tests')]

import libvirt_harness  # noqa: E402  pylint: disable=wrong-import-position,import-error

from ansible_collections.adaptive.intravm.plugins.module_utils.channel.shm_reader import RingReader  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.adaptive.intravm.scripts import guests  # noqa: E402  pylint: disable=wrong-import-position

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
URI = libvirt_harness.SYSTEM_URI
BIN = os.path.dirname(sys.executable)


def run_module(module, args):
    """One module run through `ansible` (the path playbooks take): (result dict, whole output)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, PYTHONPATH=COLLECTIONS, ANSIBLE_LOAD_CALLBACK_PLUGINS='1',
               ANSIBLE_STDOUT_CALLBACK='json', ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    proc = subprocess.run([os.path.join(BIN, 'ansible'), 'localhost', '-c', 'local', '-i', 'localhost,', '-m', module,
                           '-a', json.dumps(args)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                          universal_newlines=True, timeout=300, check=False)
    try:
        doc = json.loads(proc.stdout[proc.stdout.index('{'):])
        result = doc['plays'][0]['tasks'][0]['hosts']['localhost']
    except (ValueError, KeyError, IndexError):
        result = {'failed': True, 'msg': 'no result'}
    return result, proc.stdout


def live_pins(conn, name):
    dom = conn.lookupByName(name)
    return [cpuset.format(cpuset.from_cpumap(m)) for m in dom.vcpuPinInfo(libvirt.VIR_DOMAIN_AFFECT_LIVE)]


def half_applied(before, wanted, after):
    """1 when some vCPUs carry the new pins and others still the old ones (0 for all-old or all-new)."""
    moved = [a == w for a, w, b in zip(after, wanted, before) if w != b]
    return int(any(moved) and not all(moved))


def libvirtd_up(timeout=60):
    subprocess.run([os.path.join(REPO, 'scripts', 'libvirt-up.sh')], check=True, timeout=timeout + 30)


def close_quietly(conn):
    """Close a connection the fault may have broken (libvirtd killed under it)."""
    try:
        conn.close()
    except libvirt.libvirtError:
        pass


def remove_domains(names):
    """Remove a fault's domains through a fresh connection: the fault may have restarted libvirtd."""
    libvirtd_up()
    conn = libvirt.open(URI)
    for name in names:
        libvirt_harness.remove(conn, name)
    conn.close()


@contextlib.contextmanager
def planned_pair(label):
    """(conn, names, pins before, plan): two paused domains and a plan that moves every vCPU of both."""
    conn = libvirt.open(URI)
    names = [libvirt_harness.unique_name('%s%d' % (label, i)) for i in (0, 1)]
    try:
        for name in names:
            libvirt_harness.create(conn, libvirt_harness.domain_xml(name, vcpus=2))
        ncpu = conn.getInfo()[2]
        plan = dict((name, [str((i + 1) % ncpu) for _v in range(2)]) for i, name in enumerate(names))
        yield conn, names, dict((n, live_pins(conn, n)) for n in names), plan
    finally:
        close_quietly(conn)
        remove_domains(names)


def apply_pins(name, pins):
    return run_module('adaptive.intravm.vcpu_pin', {'name': name, 'vcpus': dict((str(v), p) for v, p in enumerate(pins))})


# ------------------------------------------------------------------ faults inside a run

def domain_destroyed_mid_run(_args):
    """Planned for two domains; one is destroyed before the apply: it fails by name, the other is applied whole."""
    with planned_pair('fault-destroy') as (conn, names, before, plan):
        conn.lookupByName(names[1]).destroy()
        kept, kept_out = apply_pins(names[0], plan[names[0]])
        gone, gone_out = apply_pins(names[1], plan[names[1]])
        after = live_pins(conn, names[0])
        survived = (not kept.get('failed') and after == plan[names[0]] and gone.get('failed')
                    and names[1] in gone.get('msg', '') and 'Traceback' not in kept_out + gone_out)
        return {'survived': bool(survived), 'half': half_applied(before[names[0]], plan[names[0]], after),
                'lost': 0, 'note': 'the destroyed one: %s' % gone.get('msg')}


def libvirtd_restart_mid_run(_args):
    """libvirtd killed after the first domain's apply: the second fails cleanly, each VM is all-old or all-new."""
    with planned_pair('fault-lvd') as (_conn, names, before, plan):
        first, first_out = apply_pins(names[0], plan[names[0]])
        subprocess.run(['pkill', '-KILL', '-x', 'libvirtd'], check=False)
        time.sleep(0.5)
        second, second_out = apply_pins(names[1], plan[names[1]])
        libvirtd_up()
        fresh = libvirt.open(URI)
        after = dict((n, live_pins(fresh, n)) for n in names)
        fresh.close()
        half = sum(half_applied(before[n], plan[n], after[n]) for n in names)
        survived = (not first.get('failed') and second.get('failed') and 'Traceback' not in first_out + second_out
                    and after[names[0]] == plan[names[0]] and after[names[1]] == before[names[1]])
        return {'survived': bool(survived), 'half': half, 'lost': 0,
                'note': 'while libvirtd was down: %s' % second.get('msg')}


def concurrent_rebalance(_args):
    """Two rebalance.yml runs at once: one applies its plan, the other waits for the lock and changes nothing."""
    conn = libvirt.open(URI)
    name = libvirt_harness.unique_name('fault-race')
    root = tempfile.mkdtemp(prefix='intravm-faults-')
    try:
        libvirt_harness.create(conn, libvirt_harness.domain_xml(name, vcpus=2))
        before = live_pins(conn, name)
        one = {'p50': [0.9], 'p90': [0.9]}
        doc = {'version': 2, 'generated_at': time.time(), 'host': 'localhost', 'step_s': 300,
               'vms': {name: {'vcpus': 2, 'model': 'recorded', 'horizons_s': [300], 'cpu': one, 'vcpu': {'0': one, '1': one}}}}
        forecasts, state_dir = os.path.join(root, 'forecasts.json'), os.path.join(root, 'state')
        with open(forecasts, 'w') as handle:
            json.dump(doc, handle)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, PYTHONPATH=COLLECTIONS, ANSIBLE_NOCOLOR='1')
        procs = []
        for run_id in ('race-a', 'race-b'):
            extra = {'target_hosts': 'localhost', 'ansible_python_interpreter': sys.executable, 'rebalance_run_id': run_id,
                     'rebalance_forecasts_path': forecasts, 'rebalance_state_dir': state_dir,
                     'rebalance_policy': {'vms': {name: {'min_cpus': 1}}}}
            procs.append(subprocess.Popen([os.path.join(BIN, 'ansible-playbook'), os.path.join(REPO, 'playbooks', 'rebalance.yml'),
                                           '-i', 'localhost,', '-c', 'local', '-e', json.dumps(extra)],
                                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True))
        outputs = [p.communicate(timeout=600)[0] for p in procs]
        history = sorted(os.listdir(os.path.join(state_dir, 'history'))) if os.path.isdir(os.path.join(state_dir, 'history')) else []
        after = live_pins(conn, name)
        plans = []                      # the placement each run that changed something planned
        for entry in history:
            with open(os.path.join(state_dir, 'history', entry)) as handle:
                plans.extend([e['vcpus'][str(v)] for v in range(2)] for e in json.load(handle)['plan']['vcpu_pin'] if e['name'] == name)
        survived = (all(p.returncode == 0 for p in procs) and not any('Traceback' in o for o in outputs)
                    and len(history) >= 1 and after in plans)
        return {'survived': survived, 'half': min(half_applied(before, p, after) for p in plans) if plans else 0, 'lost': 0,
                'note': 'runs that changed something: %s; final pins %s' % ([h[:-len('.json')] for h in history], after)}
    finally:
        libvirt_harness.remove(conn, name)
        conn.close()
        shutil.rmtree(root, ignore_errors=True)


def restore_through_hook(_args):
    """A guest saved with pins to CPUs and a node this host lacks comes back through the hook, with the pins it can honour."""
    import pathlib  # pylint: disable=import-outside-toplevel
    import xml.etree.ElementTree as ET  # pylint: disable=import-outside-toplevel
    sys.path.insert(0, os.path.join(REPO, 'tests', 'integration'))
    import test_qemu_hook as hook  # pylint: disable=import-error,import-outside-toplevel
    existing = [p for p in (os.path.join(hook.HOOKS, 'qemu'), os.path.dirname(hook.ENTRY)) if os.path.exists(p) and
                (os.path.isfile(p) or os.listdir(p))]
    if existing or os.geteuid() != 0:
        return {'survived': True, 'half': 0, 'lost': 0, 'note': 'skipped: qemu hooks exist here already or not root'}
    conn = libvirt.open(URI)
    name = libvirt_harness.unique_name('fault-hook')
    root = tempfile.mkdtemp(prefix='intravm-faults-')
    had_dir = os.path.isdir(os.path.dirname(hook.ENTRY))
    try:
        cpus, nodes = hook.online('cpu'), hook.online('node')
        here = min(cpus)
        dom = libvirt_harness.create(conn, libvirt_harness.domain_xml(name, vcpus=2), persistent=False)
        image = os.path.join(root, 'guest.save')
        dom.save(image)
        saved = conn.saveImageGetXMLDesc(image, libvirt.VIR_DOMAIN_SAVE_IMAGE_XML_SECURE)
        pins = ("<cputune><vcpupin vcpu='0' cpuset='%d'/><vcpupin vcpu='1' cpuset='%d'/></cputune>"
                "<numatune><memory mode='strict' nodeset='%d'/></numatune>" % (max(cpus) + 1, here, max(nodes) + 1))
        conn.saveImageDefineXML(image, saved.replace('</vcpu>', '</vcpu>' + pins, 1), 0)
        hook.install_hook(pathlib.Path(root))
        hook.reload_libvirtd()
        started = time.monotonic()
        hook.restore_until_it_works(conn, image)
        live = ET.fromstring(conn.lookupByName(name).XMLDesc(0))
        kept = [(p.get('vcpu'), p.get('cpuset')) for p in live.findall('cputune/vcpupin')]
        survived = kept == [('1', str(here))] and live.find('numatune') is None
        return {'survived': survived, 'half': 0, 'lost': 0,
                'note': 'restored in %.1f s keeping %s' % (time.monotonic() - started, kept)}
    finally:
        if os.path.lexists(hook.ENTRY):
            os.remove(hook.ENTRY)
        if not had_dir and os.path.isdir(os.path.dirname(hook.ENTRY)) and not os.listdir(os.path.dirname(hook.ENTRY)):
            os.rmdir(os.path.dirname(hook.ENTRY))
        hook.reload_libvirtd()
        libvirt_harness.remove(conn, name)
        conn.close()
        shutil.rmtree(root, ignore_errors=True)


# ------------------------------------------------------------------ the channel across save and restore

def guest_manifest():
    proc = subprocess.run([os.path.join(REPO, 'scripts', 'build-guest-image.sh'), '--profiler'], stdout=subprocess.PIPE,
                          universal_newlines=True, check=True, timeout=1800)
    return guests.load_manifest(proc.stdout.strip().splitlines()[-1])


def save_restore(args):
    """A real guest with the channel and the profiler, saved and restored while the host reads its ring
    and the predictor forecasts for it: the ring goes on, and so do the forecasts."""
    from ansible_collections.adaptive.intravm.plugins.modules import shm_channel  # pylint: disable=import-outside-toplevel
    conn = libvirt.open(URI)
    name = libvirt_harness.unique_name('fault-save')
    workdir = tempfile.mkdtemp(prefix=name)
    shm = 'intravm-' + name
    pred = Predictor(workdir)
    try:
        guests.define(conn, name, args.manifest, workdir, vcpus=1, cmdline_extra='intravm.seconds=120')
        dom = conn.lookupByName(name)
        xml, _dev = shm_channel.desired_xml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), shm, 4, True)
        dom = conn.defineXML(xml)
        dom.create()
        reader = RingReader('/dev/shm/' + shm)
        before = guests.poll_until(reader, 3, 120)
        pred.start()
        forecasting = pred.wait(lambda: pred.samples(name) >= 2)
        seen = pred.samples(name)
        image = os.path.join(workdir, 'saved')
        started = time.monotonic()
        dom.save(image)
        conn.restore(image)
        window = time.monotonic() - started
        after = guests.poll_until(reader, 3, 60)
        forecasts_on = pred.wait(lambda: pred.samples(name) > seen, timeout=60)
        seqs = [s.seq for s in before + after]
        lost = (seqs[-1] - seqs[0] + 1 - len(seqs)) if seqs else 0
        refused = dict((k, v) for k, v in reader.stats.items()
                       if v and k not in ('accepted', 'overruns', 'reboots', 'polls', 'empty', 'region_missing'))
        survived = (len(before) >= 3 and len(after) >= 3 and reader.stats['reboots'] == 0 and not refused
                    and forecasting and forecasts_on)
        went_on = (before[-1].seq if before else None, after[0].seq if after else None)
        return {'survived': survived, 'half': 0, 'lost': lost,
                'note': 'save+restore %.1f s; the guest went on from seq %s to %s; forecasts went on after the restore: %s'
                        % ((window,) + went_on + (forecasts_on,))}
    finally:
        pred.stop()
        guests.destroy(conn, name, workdir, shm)
        conn.close()


# ------------------------------------------------------------------ the predictor

class Predictor(object):
    """The host predictor daemon as a process, with its endpoint."""

    def __init__(self, root, state_dir=None):
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            self.port = sock.getsockname()[1]
        self.cfg = {'step_s': 1, 'checkpoint_interval_s': 1, 'state_dir': state_dir or os.path.join(root, 'state'),
                    'state_file': os.path.join(root, 'run', 'forecasts.json'), 'listen': '127.0.0.1:%d' % self.port,
                    'chunk': 4, 'horizons': [1, 3], 'gpu': False}
        self.config = os.path.join(root, 'config.json')
        with open(self.config, 'w') as handle:
            json.dump(self.cfg, handle)
        self.log = os.path.join(root, 'daemon.log')
        self.proc = None

    def start(self):
        with open(self.log, 'a') as log:
            self.proc = subprocess.Popen([sys.executable, '-m', 'ansible_collections.adaptive.intravm.services.predictor', 'run',
                                          '--config', self.config], stdout=log, stderr=subprocess.STDOUT,
                                         env=dict(os.environ, PYTHONPATH=COLLECTIONS))

    def get(self, path):
        try:
            with urllib.request.urlopen('http://127.0.0.1:%d%s' % (self.port, path), timeout=5) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def samples(self, name):
        try:
            _code, body = self.get('/forecasts')
            return json.loads(body)['vms'].get(name, {}).get('samples', 0)
        except (OSError, ValueError):
            return 0

    def wait(self, test, timeout=240):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            if test():
                return True
            time.sleep(0.5)
        return False

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@contextlib.contextmanager
def predicting(label, small_state_dir=False):
    """(domain name, Predictor): a paused domain and the daemon forecasting for it; both gone afterwards.

    small_state_dir: the daemon's state directory on a 256 KiB tmpfs, to fill.
    """
    conn = libvirt.open(URI)
    name = libvirt_harness.unique_name(label)
    root = tempfile.mkdtemp(prefix='intravm-faults-')
    state_dir = None
    if small_state_dir:
        state_dir = os.path.join(root, 'small')
        os.makedirs(state_dir)
        subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', state_dir], check=True)
    pred = Predictor(root, state_dir)
    try:
        libvirt_harness.create(conn, libvirt_harness.domain_xml(name, vcpus=2))
        pred.start()
        yield name, pred
    finally:
        pred.stop()
        if small_state_dir:
            subprocess.run(['umount', state_dir], check=False)
        close_quietly(conn)
        remove_domains([name])
        shutil.rmtree(root, ignore_errors=True)


def predictor_kill9(_args):
    """SIGKILL under load, then a restart: the VM's model comes back from its checkpoint, forecasts go on."""
    with predicting('fault-kill') as (name, pred):
        up = pred.wait(lambda: pred.samples(name) >= 4)
        time.sleep(1.5)                      # one more checkpoint interval
        seen = pred.samples(name)
        pred.proc.send_signal(signal.SIGKILL)
        pred.proc.wait()
        down_at = time.time()
        pred.start()
        back = pred.wait(lambda: pred.samples(name) > 0)
        lost = int(time.time() - down_at) // pred.cfg['step_s']
        restored = 'restored model from checkpoint' in open(pred.log).read()
        return {'survived': bool(up and back and restored), 'half': 0, 'lost': lost,
                'note': '%d samples before the kill; back %s, model restored from its checkpoint: %s'
                        % (seen, 'yes' if back else 'no', restored)}


def predictor_libvirtd_restart(_args):
    """libvirtd restarted under the predictor: it reconnects at its next step and keeps the VM's model."""
    with predicting('fault-pred-lvd') as (name, pred):
        up = pred.wait(lambda: pred.samples(name) >= 3)
        seen = pred.samples(name)
        subprocess.run(['pkill', '-KILL', '-x', 'libvirtd'], check=False)
        down_at = time.time()
        time.sleep(2)
        libvirtd_up()
        back = pred.wait(lambda: pred.samples(name) > seen, timeout=120)
        lost = int(time.time() - down_at) // pred.cfg['step_s']
        kept = pred.samples(name) > seen and pred.proc.poll() is None
        return {'survived': bool(up and back and kept), 'half': 0, 'lost': lost,
                'note': '%d samples before; sampling again %s, model kept (samples went on from %d) %s'
                        % (seen, back, seen, kept)}


def state_disk_full(_args):
    """State directory on a full tmpfs: forecasts go on, /healthz says degraded, no truncated checkpoint, then recovery."""
    import torch  # pylint: disable=import-outside-toplevel
    with predicting('fault-full', small_state_dir=True) as (name, pred):
        small = pred.cfg['state_dir']
        up = pred.wait(lambda: pred.samples(name) >= 2)
        filler = os.path.join(small, 'filler')
        with open(filler, 'wb', buffering=0) as handle:
            try:
                while True:
                    handle.write(b'\0' * 4096)
            except OSError:
                pass
        at = pred.samples(name)
        degraded = pred.wait(lambda: pred.get('/healthz')[0] == 503, timeout=30)
        serving = pred.wait(lambda: pred.samples(name) > at + 2, timeout=30)
        models = os.path.join(small, 'models')
        checkpoints = os.listdir(models) if os.path.isdir(models) else []
        loadable = all(torch.load(os.path.join(models, f), weights_only=True) is not None for f in checkpoints if f.endswith('.pt'))
        temps = [f for f in checkpoints if f.startswith('.')]
        os.unlink(filler)
        healthy = pred.wait(lambda: pred.get('/healthz')[0] == 200, timeout=30)
        survived = up and degraded and serving and loadable and not temps and healthy and pred.proc.poll() is None
        return {'survived': bool(survived), 'half': 0, 'lost': 0,
                'note': 'degraded %s, forecasts kept coming %s, checkpoints loadable %s, temporaries left %d, healthy again %s'
                        % (degraded, serving, loadable, len(temps), healthy)}


FAULTS = {
    'save_restore': save_restore,
    'domain_destroyed_mid_run': domain_destroyed_mid_run,
    'libvirtd_restart_mid_run': libvirtd_restart_mid_run,
    'concurrent_rebalance': concurrent_rebalance,
    'restore_through_hook': restore_through_hook,
    'predictor_kill9': predictor_kill9,
    'predictor_libvirtd_restart': predictor_libvirtd_restart,
    'state_disk_full': state_disk_full,
}
WINDOWS = {
    'save_restore': 'records the reader never saw (none expected: the guest is stopped while saved)',
    'predictor_kill9': 'steps not sampled while the daemon was down (its restart time, torch import included)',
    'predictor_libvirtd_restart': 'steps not sampled between the kill and the first sample after libvirtd was back',
}


def run_faults(names, runs, args):
    """{name: {runs, survived, vm_left_half_applied, samples_lost, notes}} for each fault."""
    out = {}
    for name in names:
        figures = {'runs': 0, 'survived': 0, 'vm_left_half_applied': 0, 'samples_lost': 0, 'notes': []}
        for _run in range(runs):
            started = time.time()
            try:
                got = FAULTS[name](args)
            except Exception as exc:  # pylint: disable=broad-except  # a fault that breaks the suite did not survive
                got = {'survived': False, 'half': 0, 'lost': 0, 'note': 'suite error: %r' % exc}
            figures['runs'] += 1
            figures['survived'] += int(bool(got['survived']))
            figures['vm_left_half_applied'] += got['half']
            figures['samples_lost'] += got['lost']
            figures['notes'].append('%s (%.0f s)' % (got['note'], time.time() - started))
        if name in WINDOWS:
            figures['samples_lost_window'] = WINDOWS[name]
        out[name] = figures
        print('%-26s %d/%d survived, %d half-applied, %d samples lost; %s' % (
            name, figures['survived'], figures['runs'], figures['vm_left_half_applied'], figures['samples_lost'],
            figures['notes'][-1]), flush=True)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--only', help='comma-separated fault names (default: all)')
    parser.add_argument('--json', help='write the results here')
    args = parser.parse_args(argv)
    names = args.only.split(',') if args.only else list(FAULTS)
    unknown = sorted(set(names) - set(FAULTS))
    if unknown:
        parser.error('unknown fault(s) %s; known: %s' % (', '.join(unknown), ', '.join(FAULTS)))
    libvirtd_up()
    args.manifest = guest_manifest() if 'save_restore' in names else None
    result = {'faults': run_faults(names, args.runs, args)}
    if args.json:
        with open(args.json, 'w') as handle:
            json.dump(result, handle, indent=1, sort_keys=True)
    failed = [n for n, f in result['faults'].items() if f['survived'] < f['runs'] or f['vm_left_half_applied']]
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
