# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""host_predictor: per-VM forecasts for every domain on this hypervisor.

Domains are discovered through libvirt lifecycle events (one listing at
start-up, events after that). Each step it reads all domains' counters in one
getAllDomainStats call, adds the guest's own view from its shared-memory ring
when the domain has one, runs every VM's LSTM in one batched computation,
serves the best of LSTM and baselines per VM (for the demand at each horizon
and, separately, for its peak over each window), and publishes the result as a
JSON file, an HTTP endpoint and Prometheus metrics. Models are checkpointed
every few minutes and on SIGTERM; a domain that is undefined has its
checkpoint archived. A state file or checkpoint that cannot be written (a
full disk) is logged, counted and reported by /healthz; it never stops the
daemon.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import json
import logging
import math
import os
import queue
import re
import signal
import socket
import threading
import time

import numpy as np
import torch

from ansible_collections.adaptive.intravm.plugins.module_utils.channel import forecast_format
from ansible_collections.adaptive.intravm.services.predictor import (
    baselines, checkpoint, features, http_api, memory_forecast, model as mdl, selector, sources, state as state_file,
    training)
from ansible_collections.adaptive.intravm.services.predictor.config import (  # noqa: F401  pylint: disable=unused-import
    DEFAULT_CONFIG, ConfigError, load_config, parse_listen)

try:
    import libvirt
    HAS_LIBVIRT = True
except ImportError:
    libvirt = None
    HAS_LIBVIRT = False

try:
    import prometheus_client as prom
    HAS_PROMETHEUS = True
except ImportError:
    prom = None
    HAS_PROMETHEUS = False

LOG = logging.getLogger('host_predictor')
HISTORY = 2 * features.DAY_STEPS + 2 * features.HOUR_STEPS
HIST_COLS = 7   # (t, cpu, net, disk, mem, steal, gpu)
# Memory peaks are forecast from a week of resolved peak ratios and a day's floor (memory_forecast).
MEMORY_HISTORY = 8 * features.DAY_STEPS
NET_MODEL = 'last_plus_err_p90'


class VmTrack(object):
    """Everything the daemon keeps for one domain: history, normaliser, safeguards."""

    def __init__(self, uuid, name, n_horizons, vcpu_share_steps=features.HOUR_STEPS, n_windows=0):
        self.uuid = uuid
        self.name = name
        self.vcpus = 0
        self.row = None
        self.scale = 1.0
        self.hist = collections.deque(maxlen=HISTORY)   # rows of HIST_COLS
        self.vcpu_recent = collections.deque(maxlen=vcpu_share_steps)   # per-vCPU demand, splits the forecast
        self.prev = None
        self.prev_t = None
        self.ring = None
        self.steps = 0
        self.rejected = collections.Counter()
        self.pending = collections.deque()
        self.calib = [selector.Calibrator() for _index in range(n_horizons)]
        self.select = selector.Selector(selector.CANDIDATES)
        self.served = 'lstm'
        self.peak_pending = collections.deque()
        self.peak_select = [selector.Selector(selector.PEAK_CANDIDATES) for _index in range(n_windows)]
        self.last_forecast = None
        self.mem_used = collections.deque(maxlen=MEMORY_HISTORY)   # guest working set bytes per step (NaN: none)
        self.pressure = {}                                          # the guest's memory pressure now

    def series(self, col):
        return np.array([row[col] for row in self.hist], dtype=np.float64)

    def history_tensor(self):
        return torch.tensor([list(row) for row in self.hist], dtype=torch.float64).reshape(-1, HIST_COLS)


def _finite_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _matrix(extra, key, rows, cols):
    """extra[key] as a float64 [rows, cols] tensor (rows None: any number)."""
    value = extra.get(key)
    if not checkpoint.is_float_tensor(value) or value.dim() != 2 or value.shape[1] != cols or rows not in (None, value.shape[0]):
        raise ValueError('%s is %s, expected a float tensor of shape [%s, %d]' % (
            key, tuple(value.shape) if torch.is_tensor(value) else type(value).__name__, rows or 'N', cols))
    return value.double()


def saved_windows(saved):
    """The peak windows (steps) a checkpoint was written for: [] from before window peaks (None)."""
    if saved is None:
        return []
    if not (isinstance(saved, list) and all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in saved)):
        raise ValueError('windows %r is not a list of step counts' % (saved,))
    return saved


def regrow(params, written_for, horizons, windows, what):
    """params re-laid for the configured windows when the file was written for others (model.regrow_heads).

    An upgrade from before window peaks, or a changed `windows` setting, keeps
    the learned LSTM and horizon heads instead of discarding them; a file whose
    output weights fit neither layout still fails the shape check and is set aside.
    """
    if written_for == list(windows):
        return params
    out = mdl.regrow_heads(params, horizons, written_for, windows)
    LOG.info('%s: written for peak windows %s, this daemon forecasts %s (steps): kept its LSTM and horizon heads, '
             'new window heads start from the nearest horizon head', what, written_for, list(windows))
    return out


def check_global_extra(extra):
    """The plain part of a global model (train-global writes {'config': model.config(), ...}), with the windows it has."""
    config = extra.get('config') if isinstance(extra, dict) else None
    windows = saved_windows(config.get('windows') if isinstance(config, dict) else None)
    return dict(extra, windows=windows)


def check_vm_extra(extra, hidden, n_horizons):
    """The VM track a checkpoint restores (see save_vm), checked against the configuration.

    A file whose weights are fine but whose history has the wrong width or whose
    step count is negative would crash every step, and every restart; raising
    here (ValueError) has checkpoint.load set it aside instead.
    """
    if not isinstance(extra, dict):
        raise ValueError('extra is a %s, not a dict' % type(extra).__name__)
    written_for = saved_windows(extra.get('windows'))
    scale, steps, calib = extra.get('scale'), extra.get('steps'), extra.get('calib')
    if not (_finite_number(scale) and features.MIN_SCALE <= scale <= features.CPU_CLIP):
        raise ValueError('scale %r is not in [%g, %g]' % (scale, features.MIN_SCALE, features.CPU_CLIP))
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise ValueError('steps %r is not a count' % (steps,))
    if not (isinstance(calib, (list, tuple)) and len(calib) == n_horizons and
            all(_finite_number(k) and abs(k) <= selector.CAL_LIMIT for k in calib)):
        raise ValueError('calib is not %d factors in [-%g, %g]' % (n_horizons, selector.CAL_LIMIT, selector.CAL_LIMIT))
    hist = _matrix(extra, 'history', None, HIST_COLS)
    cpu = hist[:, 1]
    if not (bool(torch.isfinite(hist[:, 0]).all()) and bool(((cpu >= 0) & (cpu <= features.CPU_CLIP)).all()) and
            not bool(torch.isinf(hist[:, 2:]).any())):
        raise ValueError('history holds a non-finite time, a CPU demand outside [0, %g] or an infinite rate' % features.CPU_CLIP)
    state = _matrix(extra, 'state', 2, hidden)
    if not bool(torch.isfinite(state).all()) or bool((state[0].abs() > 1).any()):
        raise ValueError('LSTM state is not finite or its output is outside [-1, 1]')
    return {'scale': float(scale), 'steps': steps, 'calib': [float(k) for k in calib], 'windows': written_for,
            'history': [tuple(row) for row in hist.tolist()],
            'state': (state[0].float().reshape(1, -1), state[1].float().reshape(1, -1))}


class ModelBank(object):
    """Rows of one OnlineLearner, handed to VMs; grows by doubling; chunked online updates."""

    def __init__(self, global_model, chunk, lr, capacity=8):
        self.global_model = global_model
        self.chunk = int(chunk)
        self.lr = lr
        self.learner = training.OnlineLearner(global_model, capacity, lr=lr)
        self.free = list(range(capacity))
        self._reset_chunk()

    @property
    def capacity(self):
        return self.learner.net.n_vms

    def _reset_chunk(self):
        self.buf_x, self.buf_y = [], []
        self.start_state = (self.learner.state[0].clone(), self.learner.state[1].clone())

    def allocate(self, params=None, lstm_state=None):
        if not self.free:
            self._grow()
        row = self.free.pop(0)
        self.learner.reset([row], 'new VM', count=False)
        if params is not None:
            self.learner.net.assign([row], params)
        if lstm_state is not None:
            with torch.no_grad():
                self.learner.state[0][row] = lstm_state[0]
                self.learner.state[1][row] = lstm_state[1]
        return row

    def release(self, row):
        self.learner.reset([row], 'VM gone', count=False)
        self.free.append(row)
        self.free.sort()

    def _grow(self):
        old = self.learner
        cap = old.net.n_vms
        new = training.OnlineLearner(self.global_model, cap * 2, lr=self.lr)
        new.net.assign(list(range(cap)), old.net.select(list(range(cap))))
        with torch.no_grad():
            new.state[0][:cap] = old.state[0]
            new.state[1][:cap] = old.state[1]
        new.resets = old.resets
        self.learner = new
        self.free.extend(range(cap, cap * 2))
        self._reset_chunk()   # Adam moments and the partial chunk are dropped on growth
        LOG.info('model bank grown to %d rows', cap * 2)

    def step(self, x, y_now):
        """x [cap, I] inputs of this step, y_now [cap] scaled demand just observed (NaN: no sample).

        Returns quantiles [cap, K + W, 2] (scaled) and runs an online update once a
        chunk's targets are known. Rows without a sample keep their LSTM state.
        """
        self.buf_y.append(y_now)        # targets of input k: buf_y[k + h] at horizon h, max(buf_y[k+1..k+W]) for window W
        self.buf_x.append(x)
        idle = torch.from_numpy(~np.isfinite(y_now))
        before = (self.learner.state[0].clone(), self.learner.state[1].clone())
        pred = self.learner.forecast(x[:, None, :])[:, 0]
        with torch.no_grad():
            self.learner.state[0][idle] = before[0][idle]
            self.learner.state[1][idle] = before[1][idle]
        if len(self.buf_x) >= self.chunk + max(self.learner.leads):
            self._update()
        return pred

    def _targets(self, ys_all):
        """Targets [cap, C, K + W] and mask of the chunk's inputs from the scaled demand seen since, ys_all [cap, C + max lead]."""
        c = self.chunk
        net = self.learner.net
        y = np.zeros((self.capacity, c, net.n_outputs), dtype=np.float32)
        m = np.zeros_like(y, dtype=bool)
        for j, h in enumerate(net.horizons):
            fut = ys_all[:, h:h + c]
            m[:, :, j] = np.isfinite(fut)
            y[:, :, j] = np.nan_to_num(fut)
        for j, w in enumerate(net.windows, len(net.horizons)):
            peak, ok = features.window_peaks(ys_all, w)
            y[:, :, j], m[:, :, j] = peak[:, :c], ok[:, :c]
        return y, m

    def _update(self):
        c = self.chunk
        xs = np.stack(self.buf_x[:c], axis=1)                 # [cap, C, I]
        y, m = self._targets(np.stack(self.buf_y, axis=1))
        losses = self.learner.update(xs, y, m, self.start_state)
        # advance the stored start state over the chunk with the (new) weights
        with torch.no_grad():
            _pred, st = self.learner.net.run(torch.as_tensor(xs).unsqueeze(1), self.start_state)
        self.start_state = (st[0].clone(), st[1].clone())
        self.buf_x = self.buf_x[c:]
        self.buf_y = self.buf_y[c:]
        return losses


class Metrics(object):
    """Prometheus series: forecast vs actual per VM, model error, rejected samples, vCPU delay, failed writes, freshness."""

    def __init__(self):
        self.registry = prom.CollectorRegistry() if HAS_PROMETHEUS else None
        if not self.registry:
            return
        self.forecast = prom.Gauge('intravm_forecast_cpu', 'Forecast CPU demand (1.0 = all vCPUs busy)',
                                   ['domain', 'quantile', 'horizon_s'], registry=self.registry)
        self.actual = prom.Gauge('intravm_actual_cpu', 'Observed CPU demand', ['domain'], registry=self.registry)
        self.error = prom.Gauge('intravm_model_error', 'Rolling pinball loss of the served forecast (1 step)',
                                ['domain', 'model'], registry=self.registry)
        self.rejected = prom.Counter('intravm_rejected_samples', 'Samples dropped before reaching a model',
                                     ['domain', 'reason'], registry=self.registry)
        self.resets = prom.Gauge('intravm_model_resets', 'VM models reset to the global model', registry=self.registry)
        self.vms = prom.Gauge('intravm_tracked_vms', 'Domains with a model', registry=self.registry)
        self.write_failures = prom.Counter('intravm_predictor_write_failures',
                                           'State file and checkpoint writes that failed (the daemon keeps running)',
                                           ['what'], registry=self.registry)
        for what in ('state', 'checkpoint'):
            self.write_failures.labels(what)
        self.vcpu_delay = prom.Counter('intravm_vcpu_delay_seconds',
                                       'Time the domain\'s vCPUs waited for a host CPU (libvirt vcpu.N.delay, all vCPUs)',
                                       ['domain'], registry=self.registry)
        self.generated = prom.Gauge('intravm_forecast_generated_timestamp_seconds',
                                    'generated_at of the forecast document served now (Unix time)', registry=self.registry)
        self.step_s = prom.Gauge('intravm_predictor_step_seconds', 'Configured sampling step', registry=self.registry)
        self.degraded = prom.Gauge('intravm_predictor_degraded', '1 while /healthz reports degraded (a failed write)',
                                   registry=self.registry)

    def count_delay(self, name, prev, cur):
        """Add the vCPU delay (ns counters of sources.counters) accrued since prev; a counter that went back adds 0."""
        if not self.registry:
            return
        grown = sum(d - prev['vcpu_delay'][i] for i, d in cur['vcpu_delay'].items()
                    if i in prev['vcpu_delay'] and d >= prev['vcpu_delay'][i]) if prev else 0.0
        self.vcpu_delay.labels(name).inc(grown / 1e9)

    def exposition(self):
        if not self.registry:
            return b'# prometheus_client is not installed\n'
        return prom.generate_latest(self.registry)

    def forget(self, name):
        if not self.registry:
            return
        for gauge in (self.forecast, self.actual, self.error, self.rejected, self.vcpu_delay):
            for labels in list(gauge._metrics):  # pylint: disable=protected-access
                if labels and labels[0] == name:
                    gauge.remove(*labels)


def make_global(cfg):
    """The global model from cfg['global_model'] (a checkpoint) or an untrained one (starts as last value)."""
    fresh = mdl.StackedLSTM(1, features.N_FEATURES, cfg['hidden'], cfg['horizons'], windows=cfg['windows'])
    path = cfg.get('global_model')
    if path:
        shapes = dict((k, tuple(v.shape)) for k, v in fresh.params.items())
        loaded = checkpoint.load(path, shapes, check_global_extra,
                                 lambda params, extra: regrow(params, extra['windows'], cfg['horizons'], cfg['windows'],
                                                              'global model %s' % path))
        if loaded is not None:
            LOG.info('global model loaded from %s', path)
            return mdl.StackedLSTM(1, features.N_FEATURES, cfg['hidden'], cfg['horizons'], params=loaded[0], windows=cfg['windows'])
        LOG.warning('global model %s missing or unusable: starting from an untrained model', path)
    else:
        LOG.warning('no global_model configured: VMs start from an untrained model (last-value behaviour)')
    return fresh


class Predictor(object):
    """The daemon's state and one step of work; I/O adapters are attributes so tests can run it."""

    def __init__(self, cfg, clock=time.time):
        self.cfg = cfg
        self.clock = clock
        self.horizons = tuple(cfg['horizons'])
        self.windows = tuple(cfg['windows'])
        self.global_model = make_global(cfg)
        self.bank = ModelBank(self.global_model, cfg['chunk'], cfg['online_lr'])
        self.vms = {}                   # uuid -> VmTrack
        self.events = queue.Queue()
        self.metrics = Metrics()
        self.doc = forecast_format.document(socket.gethostname(), clock(), cfg['step_s'], {})
        self.doc_bytes = json.dumps(self.doc).encode()
        if self.metrics.registry:
            self.metrics.generated.set(self.doc['generated_at'])
            self.metrics.step_s.set(cfg['step_s'])
            self.metrics.degraded.set_function(lambda: 1.0 if self.write_errors else 0.0)
        self.lock = threading.Lock()
        self.conn = None
        self.stop = threading.Event()
        self.step_no = 0
        self.last_checkpoint = clock()
        self.ckpt_dir = os.path.join(cfg['state_dir'], 'models')
        self.archive_dir = os.path.join(cfg['state_dir'], 'archive')
        self.write_errors = {}          # path -> why its last write failed; /healthz is degraded while any
        state_dir = os.path.dirname(os.path.abspath(cfg['state_file']))
        for d in (self.ckpt_dir, self.archive_dir, state_dir):
            os.makedirs(d, exist_ok=True)
        # temporaries of writes that a kill -9 interrupted: only our own names
        checkpoint.remove_stale_temps(self.ckpt_dir, r'[A-Za-z0-9_.-]+\.pt')
        checkpoint.remove_stale_temps(state_dir, re.escape(os.path.basename(cfg['state_file'])))

    # -- libvirt -----------------------------------------------------------
    def connect(self):
        if not HAS_LIBVIRT:
            raise RuntimeError('libvirt-python is not installed')
        self.conn = libvirt.open(self.cfg['uri'])
        self.conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_lifecycle, None)
        for dom in self.conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
            self.events.put(('active', dom.UUIDString(), dom.name()))

    def _on_lifecycle(self, _conn, dom, event, _detail, _opaque):
        kinds = {libvirt.VIR_DOMAIN_EVENT_STARTED: 'active', libvirt.VIR_DOMAIN_EVENT_RESUMED: 'active',
                 libvirt.VIR_DOMAIN_EVENT_STOPPED: 'stopped', libvirt.VIR_DOMAIN_EVENT_UNDEFINED: 'undefined'}
        kind = kinds.get(event)
        if kind:
            self.events.put((kind, dom.UUIDString(), dom.name()))

    def drain_events(self):
        while True:
            try:
                kind, uuid, name = self.events.get_nowait()
            except queue.Empty:
                return
            if kind == 'active' and uuid not in self.vms:
                self.add_vm(uuid, name)
            elif kind in ('stopped', 'undefined'):
                self.remove_vm(uuid, archive=(kind == 'undefined'))
                if kind == 'undefined':
                    archived = self._write('checkpoint', self._ckpt_path(uuid), checkpoint.archive, self.archive_dir)
                    if archived:
                        LOG.info('domain %s (%s) undefined: model archived as %s', name, uuid, archived)

    def _ckpt_path(self, uuid):
        return os.path.join(self.ckpt_dir, checkpoint.safe_name(uuid) + '.pt')

    def add_vm(self, uuid, name):
        track = VmTrack(uuid, name, len(self.horizons), self.cfg['vcpu_share_steps'], len(self.windows))
        one = self.global_model.select([0])
        shapes = dict((k, tuple(v.shape)) for k, v in one.items())
        loaded = checkpoint.load(self._ckpt_path(uuid), shapes,
                                 lambda extra: check_vm_extra(extra, self.global_model.hidden, len(self.horizons)),
                                 lambda params, extra: regrow(params, extra['windows'], self.horizons, self.windows,
                                                              'checkpoint of domain %s' % name))
        params = lstm_state = None
        if loaded is not None:
            params, saved = loaded
            track.scale, track.steps, lstm_state = saved['scale'], saved['steps'], saved['state']
            track.hist.extend(saved['history'])
            for cal, logk in zip(track.calib, saved['calib']):
                cal.logk = logk
            LOG.info('domain %s: restored model from checkpoint (%d samples seen)', name, track.steps)
        else:
            LOG.info('domain %s: new model from the global model', name)
        track.row = self.bank.allocate(params, lstm_state)
        self.vms[uuid] = track
        self._attach_ring(track)
        if self.metrics.registry:   # present at 0, so increase() sees the first rejection
            self.metrics.rejected.labels(name, 'bad_rate')

    def _attach_ring(self, track):
        if self.conn is None:
            return
        try:
            xml = self.conn.lookupByUUIDString(track.uuid).XMLDesc(0)
        except libvirt.libvirtError:
            return
        path = sources.ring_path(xml, self.cfg['shm_dir'], self.cfg['ring_prefix'])
        if path and sources.HAS_RING:
            track.ring = sources.RingSource(path)
        track.xml = xml

    def remove_vm(self, uuid, archive=False):
        track = self.vms.pop(uuid, None)
        if track is None:
            return
        self.save_vm(track)
        if track.ring:
            track.ring.close()
        self.bank.release(track.row)
        self.metrics.forget(track.name)
        LOG.info('domain %s gone (%s): checkpoint saved', track.name, 'undefined' if archive else 'stopped')

    # -- state file and checkpoints ------------------------------------------
    def _write(self, what, path, write, *args):
        """write(path, *args), or None when it fails: a failed write (a full disk) is never fatal.

        It is logged, counted (intravm_predictor_write_failures_total) and reported
        by /healthz until path is written again.
        """
        try:
            result = write(path, *args)
        except OSError as exc:
            LOG.error('%s write to %s failed: %s', what, path, exc)
            with self.lock:
                self.write_errors[path] = '%s %s: %s' % (what, path, exc)
            if self.metrics.registry:
                self.metrics.write_failures.labels(what).inc()
            return None
        with self.lock:
            self.write_errors.pop(path, None)
        return result

    def health(self):
        """'ok', or 'degraded: <why>' while the last write of the state file or of a VM's checkpoint failed."""
        with self.lock:
            why = sorted(self.write_errors.values())
        return 'degraded: %s' % '; '.join(why) if why else 'ok'

    def save_vm(self, track):
        st = self.bank.learner.state
        extra = {'uuid': track.uuid, 'name': track.name, 'scale': track.scale, 'steps': track.steps,
                 'history': track.history_tensor(),
                 'state': torch.stack((st[0][track.row, 0].detach().clone(), st[1][track.row, 0].detach().clone())),
                 'calib': [c.logk for c in track.calib], 'windows': list(self.windows), 'saved_at': self.clock()}
        self._write('checkpoint', self._ckpt_path(track.uuid), checkpoint.save, self.bank.learner.net.select([track.row]), extra)

    def checkpoint_all(self):
        for track in list(self.vms.values()):
            self.save_vm(track)
        keep = set(self._ckpt_path(uuid) for uuid in self.vms) | {self.cfg['state_file']}
        with self.lock:
            for path in set(self.write_errors) - keep:
                del self.write_errors[path]     # a gone VM's failed last write is not retried
        self.last_checkpoint = self.clock()

    # -- one step ------------------------------------------------------------
    def read_stats(self):
        """{uuid: stats dict} for all active domains in one call."""
        flags = (libvirt.VIR_DOMAIN_STATS_VCPU | libvirt.VIR_DOMAIN_STATS_INTERFACE |
                 libvirt.VIR_DOMAIN_STATS_BLOCK | libvirt.VIR_DOMAIN_STATS_BALLOON)
        records = self.conn.getAllDomainStats(flags, libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE)
        return dict((dom.UUIDString(), stats) for dom, stats in records)

    def read_gpu(self):
        if not self.cfg.get('gpu'):
            return {}
        return sources.gpu_utilisation(dict((u, getattr(t, 'xml', '')) for u, t in self.vms.items()))

    def step(self, stats, gpu=None, now=None):
        """One sampling step from bulk stats {uuid: record}; returns the published document."""
        now = self.clock() if now is None else now
        gpu = gpu or {}
        self.step_no += 1
        cap = self.bank.capacity
        x = np.zeros((cap, features.N_FEATURES), dtype=np.float32)
        y_now = np.full(cap, np.nan, dtype=np.float32)
        fresh = []
        for uuid, track in self.vms.items():
            rec = stats.get(uuid)
            if rec is None:
                continue
            cur = sources.counters(rec)
            rates = sources.rates_from_stats(track.prev, cur, now - track.prev_t) if track.prev_t else None
            self.metrics.count_delay(track.name, track.prev, cur)
            track.prev, track.prev_t, track.vcpus = cur, now, cur['vcpus'] or track.vcpus
            guest = {}
            if track.ring is not None:
                before = sum(track.ring.rejected().values())
                guest = sources.ring_values(track.ring.poll())
                after = track.ring.rejected()
                if sum(after.values()) > before:
                    for reason, n in after.items():
                        delta = n - track.rejected.get('ring_' + reason, 0)
                        if delta > 0:
                            track.rejected['ring_' + reason] = n
                            if self.metrics.registry:
                                self.metrics.rejected.labels(track.name, reason).inc(delta)
                if rates is not None:
                    rates.update(guest)
            if rates is None:
                continue
            if not (math.isfinite(rates['cpu']) and 0.0 <= rates['cpu'] <= features.CPU_CLIP):
                track.rejected['bad_rate'] += 1
                if self.metrics.registry:
                    self.metrics.rejected.labels(track.name, 'bad_rate').inc()
                continue
            g = gpu.get(uuid)
            track.hist.append((now, rates['cpu'], _nan(rates.get('net')), _nan(rates.get('disk')),
                               _nan(rates.get('mem')), _nan(rates.get('steal')), _nan(g)))
            track.vcpu_recent.append(rates['vcpu'])
            track.mem_used.append(guest.get('mem_used_bytes', np.nan))
            track.pressure = dict((k, guest[k]) for k in ('psi_mem_some', 'swap_in') if k in guest)
            track.steps += 1
            if track.steps % self.bank.chunk == 1 or track.steps <= features.DAY_STEPS:
                track.scale = features.cpu_scale(track.series(1)[-features.DAY_STEPS:])
            hours = (track.series(0) % 86400) / 3600.0
            fm = features.feature_matrix(track.series(1), hours, mem=track.series(4), net=track.series(2),
                                         disk=track.series(3) / 1.0, steal=track.series(5), scale=track.scale)
            x[track.row] = fm[-1]
            y_now[track.row] = rates['cpu'] / track.scale
            fresh.append(track)
        pred = self.bank.step(x, y_now) if fresh else None
        vms = publishable(dict((track.name, self._publish_vm(track, pred[track.row] * track.scale)) for track in fresh))
        for track in fresh:
            if track.name not in vms:
                track.last_forecast = None     # never republished later as the VM's last good forecast
        for track in self.vms.values():
            if track not in fresh and track.last_forecast is not None:
                vms[track.name] = track.last_forecast       # checked when it was made
        doc = forecast_format.document(socket.gethostname(), now, self.cfg['step_s'], vms)
        body = json.dumps(doc, sort_keys=True).encode()
        self._write('state', self.cfg['state_file'], state_file.write_atomic, doc)
        with self.lock:
            self.doc, self.doc_bytes = doc, body
        if self.metrics.registry:
            self.metrics.generated.set(now)
            self.metrics.resets.set(self.bank.learner.resets)
            self.metrics.vms.set(len(self.vms))
        return doc

    def _publish_vm(self, track, lstm):
        """Resolve past forecasts, pick the served model, and build the VM's document entry.

        lstm [K + W, 2]: the LSTM's quantiles per horizon, then per peak window, in demand units.
        """
        cpu = track.series(1)
        actual = cpu[-1]
        hz = self.horizons
        lstm, lstm_peak = lstm[:len(hz)], lstm[len(hz):]
        # forecasts made h steps ago for this step
        for made_at, cands in list(track.pending):
            age = track.steps - made_at
            for j, h in enumerate(hz):
                if age == h:
                    served90 = cands['lstm'][1][j]
                    track.calib[j].observe(actual, served90)
                    if j == 0:
                        for name, (p50, p90) in cands.items():
                            track.select.observe(name, float(selector.pinball_pair(actual, p50[j], p90[j])))
        while track.pending and track.steps - track.pending[0][0] >= max(hz):
            track.pending.popleft()
        p50 = np.maximum(lstm[:, 0], 0.0)
        p90 = np.array([track.calib[j].apply(p50[j], max(lstm[j, 1], 0.0)) for j in range(len(hz))])
        cands = {'lstm': (p50, p90)}
        for name in selector.CANDIDATES[1:]:
            pairs = [baselines.latest(name, cpu, h) for h in hz]
            cands[name] = (np.array([a for a, _b in pairs]), np.array([b for _a, b in pairs]))
        track.pending.append((track.steps, cands))
        track.served = track.select.best()
        s50, s90 = cands[track.served]
        net = self._aux_forecast(track.series(2))
        gpu = self._aux_forecast(track.series(6))
        step_s = self.cfg['step_s']
        models, peak50, peak90 = self._peak_forecast(track, cpu, lstm_peak)
        cpu_peak = forecast_format.peak_block([w * step_s for w in self.windows], models, (peak50, peak90),
                                              vcpu=_vcpu_split(track, peak50, peak90))
        entry = forecast_format.vm_entry(track.uuid, track.vcpus, track.served, [h * step_s for h in hz], (s50, s90),
                                         vcpu=_vcpu_split(track, s50, s90), net=net, gpu=gpu, actual_cpu=actual,
                                         samples=track.steps, memory=self._memory_forecast(track), cpu_peak=cpu_peak)
        track.last_forecast = entry
        if self.metrics.registry:
            self.metrics.actual.labels(track.name).set(actual)
            for j, h in enumerate(hz):
                self.metrics.forecast.labels(track.name, 'p50', str(h * step_s)).set(float(s50[j]))
                self.metrics.forecast.labels(track.name, 'p90', str(h * step_s)).set(float(s90[j]))
            losses = track.select.losses[track.served]
            if losses:
                self.metrics.error.labels(track.name, track.served).set(sum(losses) / len(losses))
        return entry

    def _peak_forecast(self, track, cpu, lstm):
        """(served model per window, P50, P90) of the peak demand over each window, from the LSTM's quantiles lstm [W, 2].

        As for the horizons, a selector per window serves the LSTM or a window
        baseline, whichever had the lower pinball loss on the peaks of the last
        day; a forecast made W steps ago resolves now against max(cpu[-W:]).
        """
        ws = self.windows
        for made_at, cands in track.peak_pending:
            age = track.steps - made_at
            for j, w in enumerate(ws):
                if age == w:
                    peak = float(np.max(cpu[-w:]))
                    for name, (p50, p90) in cands.items():
                        track.peak_select[j].observe(name, float(selector.pinball_pair(peak, p50[j], p90[j])))
        while track.peak_pending and track.steps - track.peak_pending[0][0] >= max(ws):
            track.peak_pending.popleft()
        p50 = np.maximum(lstm[:, 0], 0.0)
        cands = {'lstm': (p50, np.maximum(lstm[:, 1], p50))}
        for name in selector.PEAK_CANDIDATES[1:]:
            pairs = [baselines.latest(name, cpu, w, baselines.WINDOW_BASELINES) for w in ws]
            cands[name] = (np.array([a for a, _b in pairs]), np.array([b for _a, b in pairs]))
        track.peak_pending.append((track.steps, cands))
        models = [sel.best() for sel in track.peak_select]
        return (models, np.array([cands[m][0][j] for j, m in enumerate(models)]),
                np.array([cands[m][1][j] for j, m in enumerate(models)]))

    def _memory_forecast(self, track):
        """Quantiles of the guest's working-set peak over each horizon, with its pressure now; None without data."""
        used = np.array(track.mem_used, dtype=np.float64)
        if not len(used) or not np.isfinite(used[-1]):
            return None
        peaks = dict((memory_forecast.key(q), []) for q in memory_forecast.QUANTILES)
        floor = None
        for h in self.horizons:
            fc = memory_forecast.latest(used, horizon=h)
            if any(fc[k] is None for k in peaks):
                return None     # too few samples yet to know this VM's peaks
            for k in peaks:
                peaks[k].append(round(fc[k]))
            floor = fc['floor']
        return forecast_format.memory_block(float(used[-1]), peaks, floor, track.pressure)

    def _aux_forecast(self, series):
        """Network / GPU forecasts by the last-value-plus-error baseline; None without data."""
        ok = np.isfinite(series)
        if not ok.any():
            return None
        filled = features.carry_forward(series)[0]
        pairs = [baselines.latest(NET_MODEL, filled, h) for h in self.horizons]
        return [max(a, 0.0) for a, _b in pairs], [max(b, 0.0) for _a, b in pairs]

    # -- main loop ---------------------------------------------------------
    def run(self):
        server = http_api.serve(self, self.cfg)
        LOG.info('serving forecasts on %s, state file %s', self.cfg['listen'], self.cfg['state_file'])
        next_step = self.clock()
        try:
            while not self.stop.is_set():
                self.drain_events()
                try:
                    if self.conn is None:
                        self.connect()
                        self.drain_events()
                    self.step(self.read_stats(), self.read_gpu())
                except libvirt.libvirtError as exc:
                    LOG.error('libvirt: %s; reconnecting next step', exc)
                    self.conn = None
                if self.clock() - self.last_checkpoint >= self.cfg['checkpoint_interval_s']:
                    self.checkpoint_all()
                next_step += self.cfg['step_s']
                self.stop.wait(max(0.0, next_step - self.clock()))
        finally:
            LOG.info('stopping: checkpointing %d VM model(s)', len(self.vms))
            self.checkpoint_all()
            server.shutdown()


def _nan(value):
    return float('nan') if value is None else float(value)


def publishable(vms):
    """vms without the entries the readers' one check (forecast_format.check_vm) would refuse, each logged.

    Readers refuse a whole document for one bad value, so a VM whose forecast
    went wrong (a value not finite, say) must cost only its own entry, never
    the host's document.
    """
    out = {}
    for name, entry in vms.items():
        try:
            out[name] = forecast_format.check_vm(entry, 'vms[%r]' % name)
        except forecast_format.ForecastFormatError as exc:
            LOG.warning('forecast of %s not published: %s', name, exc)
    return out


def _vcpu_split(track, p50, p90):
    """{vCPU index: (p50, p90)}: a VM-wide CPU forecast split by each vCPU's share of its recent demand, capped at 1.0.

    None before the VM's vCPUs are known. A derived model (no per-vCPU LSTM): the
    horizons' forecast and the windows' peaks are split the same way.
    """
    if not (track.vcpu_recent and track.vcpus):
        return None
    totals = collections.Counter()
    for sample in track.vcpu_recent:
        totals.update(sample)
    whole = sum(totals.values())
    vcpu = {}
    for i in range(track.vcpus):
        share = totals.get(i, 0.0) / whole if whole > 0 else 1.0 / track.vcpus
        vcpu[i] = (np.minimum(p50 * track.vcpus * share, 1.0), np.minimum(p90 * track.vcpus * share, 1.0))
    return vcpu


def start_event_loop():
    """libvirt's default event loop in a thread; must run before the connection opens."""
    libvirt.virEventRegisterDefaultImpl()

    def loop():
        while True:
            libvirt.virEventRunDefaultImpl()

    threading.Thread(target=loop, name='libvirt-events', daemon=True).start()


def main_run(cfg):
    logging.basicConfig(level=getattr(logging, str(cfg['log_level']).upper(), logging.INFO),
                        format='%(asctime)s %(levelname)s %(message)s')
    if not HAS_LIBVIRT:
        raise SystemExit('host_predictor needs libvirt-python')
    torch.set_num_threads(1)
    start_event_loop()
    predictor = Predictor(cfg)

    def on_term(_signum, _frame):
        predictor.stop.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    if not sources.HAS_RING:
        LOG.warning('guest ring reader not available: forecasting from host counters alone')
    predictor.run()
    return 0
