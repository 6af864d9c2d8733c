# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The daemon under faults: a full disk, checkpoints that load but are wrong, kill -9 leftovers.

The Predictor is driven directly with fake bulk stats (no libvirt); a full
disk is simulated by making writes through os.fdopen put out half their bytes
and then fail with ENOSPC, as on a filesystem that fills up mid-write.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import itertools
import json
import math
import os
import tempfile
import urllib.error
import urllib.request

import pytest

torch = pytest.importorskip('torch')

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from ansible_collections.adaptive.intravm.services.predictor import checkpoint, daemon, features, http_api, model as mdl  # noqa: E402

HIDDEN = 4
HORIZONS = [1, 3]
UUID = '3f1c9a52-0000-4000-8000-000000000001'


def make_cfg(root):
    return daemon.load_config(overrides={
        'state_dir': os.path.join(str(root), 'state'), 'state_file': os.path.join(str(root), 'run', 'forecasts.json'),
        'listen': '127.0.0.1:0', 'gpu': False, 'hidden': HIDDEN, 'horizons': HORIZONS, 'chunk': 4, 'step_s': 1,
        'checkpoint_interval_s': 1})


def stats(t):
    """One domain's bulk-stats record at time t (s): one vCPU, half busy."""
    return {'vcpu.current': 1, 'vcpu.0.time': t * 0.5e9, 'vcpu.0.delay': 0}


def started(root, steps=6):
    """A Predictor on root tracking the VM UUID ('vm1'), which has seen `steps` samples."""
    pred = daemon.Predictor(make_cfg(root), clock=lambda: 1000.0)
    pred.events.put(('active', UUID, 'vm1'))
    pred.drain_events()
    for t in range(steps + 1):
        pred.step({UUID: stats(t)}, now=1000.0 + t)
    return pred


def leftovers(directory):
    return sorted(n for n in os.listdir(directory) if n.startswith('.'))


class _Filling(object):
    """A file that takes half of what is written, then fails with ENOSPC."""

    def __init__(self, handle):
        self._handle = handle

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self._handle.close()

    def write(self, data):
        self._handle.write(data[:len(data) // 2])
        self._handle.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture
def full_disk(monkeypatch):
    """Set .full = True and every file opened through os.fdopen (the atomic writers' temporaries) fills up."""
    real = os.fdopen

    class Disk(object):
        full = False

    def fdopen(fd, *args, **kwargs):
        handle = real(fd, *args, **kwargs)
        return _Filling(handle) if Disk.full else handle

    monkeypatch.setattr(os, 'fdopen', fdopen)
    return Disk


def failures(pred, what):
    text = pred.metrics.exposition().decode()
    line = 'intravm_predictor_write_failures_total{what="%s"} ' % what
    return float(text.split(line, 1)[1].split('\n', 1)[0])


# -- a full disk -------------------------------------------------------------------

def test_full_disk_degrades_the_daemon_and_never_stops_it(tmp_path, full_disk, caplog):
    pred = started(tmp_path)
    pred.checkpoint_all()
    state_file, ckpt = pred.cfg['state_file'], pred._ckpt_path(UUID)
    old_doc, old_ckpt = open(state_file).read(), open(ckpt, 'rb').read()

    full_disk.full = True
    with caplog.at_level('ERROR', logger='host_predictor'):
        doc = pred.step({UUID: stats(7)}, now=1007.0)          # raised OSError before
        pred.checkpoint_all()
    assert doc['vms']['vm1']['samples'] == 7 and pred.doc is doc   # still forecasting, still served
    assert 'No space left on device' in caplog.text
    assert open(state_file).read() == old_doc and open(ckpt, 'rb').read() == old_ckpt   # old files intact
    assert leftovers(os.path.dirname(state_file)) == [] and leftovers(pred.ckpt_dir) == []   # nothing truncated left
    health = pred.health()
    assert health.startswith('degraded: ') and 'state %s' % state_file in health and 'checkpoint %s' % ckpt in health
    assert failures(pred, 'state') == 1 and failures(pred, 'checkpoint') == 1

    full_disk.full = False
    pred.step({UUID: stats(8)}, now=1008.0)
    assert json.load(open(state_file))['vms']['vm1']['samples'] == 8
    assert pred.health().startswith('degraded: checkpoint ')   # until the checkpoints are written again
    pred.checkpoint_all()
    assert pred.health() == 'ok'
    assert torch.load(ckpt, weights_only=True)['extra']['steps'] == 8


def test_full_disk_when_a_domain_stops_or_is_undefined(tmp_path, full_disk, monkeypatch):
    pred = started(tmp_path)
    full_disk.full = True
    pred.events.put(('stopped', UUID, 'vm1'))
    pred.drain_events()                                     # its last checkpoint fails: raised OSError before
    assert UUID not in pred.vms and pred.health().startswith('degraded: checkpoint ')
    full_disk.full = False

    def no_room(_path, _archive_dir):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoint, 'archive', no_room)
    pred.events.put(('undefined', UUID, 'vm1'))
    pred.drain_events()
    assert failures(pred, 'checkpoint') == 2
    pred.checkpoint_all()                                   # a gone VM's failed write is not retried
    assert pred.health() == 'ok'


def test_run_loop_survives_a_full_disk(tmp_path, full_disk):
    """The main loop (as main_run drives it) keeps stepping while every write fails, and stops cleanly."""
    clock = itertools.count(1000.0, 1.0)
    pred = daemon.Predictor(make_cfg(tmp_path), clock=lambda: next(clock))
    pred.events.put(('active', UUID, 'vm1'))
    pred.drain_events()
    pred.conn = object()                                    # never connects to libvirt
    reads = []

    def read_stats():
        reads.append(len(reads))
        if len(reads) == 5:
            pred.stop.set()
        return {UUID: stats(len(reads))}

    pred.read_stats = read_stats
    full_disk.full = True
    pred.run()
    assert len(reads) == 5 and pred.vms[UUID].steps == 4
    assert failures(pred, 'state') == 5 and failures(pred, 'checkpoint') >= 2
    assert not os.path.exists(pred.cfg['state_file']) and os.listdir(pred.ckpt_dir) == []


def get(url):
    """(status, body) of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_healthz_answers_503_while_degraded(tmp_path, full_disk):
    pred = started(tmp_path)
    server = http_api.serve(pred, dict(pred.cfg, listen='127.0.0.1:0'))
    url = 'http://127.0.0.1:%d/healthz' % server.server_address[1]
    try:
        assert get(url) == (200, 'ok\n')
        full_disk.full = True
        pred.checkpoint_all()                               # every checkpoint fails: answered 200 ok before
        status, body = get(url)
        assert status == 503 and body.startswith('degraded: checkpoint %s: ' % pred._ckpt_path(UUID))
        pred.step({UUID: stats(7)}, now=1007.0)
        status, body = get(url)
        assert status == 503 and 'state %s: ' % pred.cfg['state_file'] in body
        full_disk.full = False
        pred.step({UUID: stats(8)}, now=1008.0)
        pred.checkpoint_all()
        assert get(url) == (200, 'ok\n')
    finally:
        server.shutdown()
        server.server_close()


# -- kill -9 leftovers -------------------------------------------------------------

def test_stale_temporaries_are_removed_at_start(tmp_path):
    pred = started(tmp_path)
    pred.checkpoint_all()
    ckpt_dir, run_dir = pred.ckpt_dir, os.path.dirname(pred.cfg['state_file'])
    # what a writer killed between mkstemp and rename leaves: the writers' own names
    ours = [tempfile.mkstemp(prefix='.%s.pt.' % UUID, dir=ckpt_dir), tempfile.mkstemp(prefix='.forecasts.json.', dir=run_dir)]
    for fd, _path in ours:
        os.write(fd, b'half a file')
        os.close(fd)
    others = [os.path.join(ckpt_dir, n) for n in ('notes.txt', '.keep', '.%s.pt.short' % UUID, '%s.pt.corrupt-1' % UUID)]
    others += [os.path.join(run_dir, n) for n in ('.other.json.abcdefgh', '.forecasts.json.toolong12', 'forecasts.json.bak')]
    for path in others:
        open(path, 'w').close()
    os.mkdir(os.path.join(ckpt_dir, '.%s.pt.abcdefgh' % UUID))     # not a file: left alone

    daemon.Predictor(make_cfg(tmp_path))
    for _fd, path in ours:
        assert not os.path.exists(path)
    for path in others + [pred._ckpt_path(UUID), pred.cfg['state_file'], os.path.join(ckpt_dir, '.%s.pt.abcdefgh' % UUID)]:
        assert os.path.exists(path), path


# -- checkpoints that load but are wrong --------------------------------------------

def _extra(**values):
    return lambda extra: extra.update(values)


def _poke(key, index, value):
    return lambda extra: extra[key].__setitem__(index, value)


def _convert(key, fn):
    return lambda extra: extra.update({key: fn(extra[key])})


DAMAGE = {   # what a file that loads can still get wrong in the VM-track part
    'history 5x3, steps -4': _extra(history=torch.rand(5, 3, dtype=torch.float64), steps=-4),
    'history 5x3': _extra(history=torch.rand(5, 3, dtype=torch.float64)),
    'history 1-d': _extra(history=torch.rand(14, dtype=torch.float64)),
    'history of ints': _convert('history', lambda h: h.long()),
    'history a list': _convert('history', lambda h: h.tolist()),
    'history cpu NaN': _poke('history', (0, 1), float('nan')),
    'history cpu 50': _poke('history', (0, 1), 50.0),
    'history time inf': _poke('history', (2, 0), float('inf')),
    'steps -4': _extra(steps=-4),
    'steps a float': _extra(steps=2.5),
    'scale 0': _extra(scale=0.0),
    'scale NaN': _extra(scale=float('nan')),
    'state 3 x hidden': _extra(state=torch.zeros(3, HIDDEN)),
    'state too wide': _extra(state=torch.zeros(2, HIDDEN + 1)),
    'state inf': _poke('state', (1, 0), float('inf')),
    'calib short': _extra(calib=[0.0]),
    'calib NaN': _extra(calib=[0.0, float('nan')]),
    'calib strings': _extra(calib=['a', 'b']),
    'no history': lambda extra: extra.pop('history'),
    'windows other': _extra(windows=[3]),
    'windows a tensor': _extra(windows=torch.tensor([3, 12])),
    'no windows': lambda extra: extra.pop('windows'),
}


@pytest.mark.parametrize('damage', sorted(DAMAGE) + ['extra a list'])
def test_checkpoint_that_loads_but_is_wrong_is_set_aside(tmp_path, damage, caplog):
    started(tmp_path).checkpoint_all()
    path = os.path.join(str(tmp_path), 'state', 'models', UUID + '.pt')
    blob = torch.load(path, weights_only=True)
    if damage == 'extra a list':
        blob['extra'] = [1, 2]
    else:
        DAMAGE[damage](blob['extra'])
    torch.save(blob, path)
    with caplog.at_level('WARNING', logger='host_predictor'):
        pred = started(tmp_path, steps=3)                   # crashed here before, at every start
    assert pred.vms[UUID].steps == 3                       # started over from the global model
    assert 'set aside' in caplog.text
    assert len([n for n in os.listdir(os.path.dirname(path)) if n.startswith(UUID + '.pt.corrupt-')]) == 1
    pred.checkpoint_all()
    assert started(tmp_path, steps=3).vms[UUID].steps == 6   # and the next start restores what it learned since


def test_good_checkpoint_restores_the_vm_track(tmp_path):
    first = started(tmp_path, steps=8)
    first.vms[UUID].calib[1].logk = 0.5
    first.checkpoint_all()
    saved = first.vms[UUID]
    pred = daemon.Predictor(make_cfg(tmp_path), clock=lambda: 2000.0)
    pred.events.put(('active', UUID, 'vm1'))
    pred.drain_events()
    track = pred.vms[UUID]
    assert (track.steps, track.scale) == (saved.steps, saved.scale)
    assert torch.allclose(track.history_tensor(), saved.history_tensor(), rtol=0, atol=0, equal_nan=True)
    assert [c.logk for c in track.calib] == [0.0, 0.5]
    assert torch.equal(pred.bank.learner.state[0][track.row], first.bank.learner.state[0][saved.row])
    assert not [n for n in os.listdir(pred.ckpt_dir) if '.corrupt-' in n]


# -- fuzzing the checkpoint loader ---------------------------------------------------

def _valid_params():
    net = mdl.StackedLSTM(1, features.N_FEATURES, HIDDEN, HORIZONS, seed=3)
    return net.state_dict()


def _valid_extra():
    hist = torch.tensor([[1000.0 + t, 0.3, 10.0, float('nan'), 0.5, 0.0, float('nan')] for t in range(5)], dtype=torch.float64)
    return {'uuid': UUID, 'name': 'vm1', 'scale': 0.3, 'steps': 5, 'history': hist,
            'state': torch.zeros(2, HIDDEN), 'calib': [0.0] * len(HORIZONS), 'windows': [3, 12], 'saved_at': 1.0}


FILLS = st.sampled_from([0.0, 0.3, 1.0, -1.0, 2.5, 1e300, -1e-300, float('nan'), float('inf'), float('-inf')])
DTYPES = st.sampled_from([torch.float32, torch.float64, torch.float16, torch.int64, torch.int8, torch.bool, torch.complex64])


@st.composite
def tensors(draw, shape=None):
    """A tensor of a drawn shape (near `shape` when given), dtype and fill, with one drawn value poked in."""
    if shape is None:
        shape = draw(st.lists(st.integers(0, 8), max_size=4))
    else:
        shape = draw(st.tuples(*[st.one_of(st.just(d), st.integers(0, 8)) for d in shape]))
    value = torch.full(shape, draw(FILLS), dtype=torch.float64)
    if value.numel():
        value.view(-1)[draw(st.integers(0, value.numel() - 1))] = draw(FILLS)
    dtype = draw(DTYPES)
    return value.to(dtype) if dtype.is_floating_point or dtype.is_complex else torch.nan_to_num(value).clamp(-100, 100).to(dtype)


JUNK = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats() | st.text(max_size=4) | tensors(),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6)


def _near(valid):
    """A drawn variant of a valid value: re-shaped, re-filled, re-typed, or junk."""
    if torch.is_tensor(valid):
        return st.one_of(tensors(valid.shape), tensors(), JUNK)
    if isinstance(valid, list):
        return st.one_of(st.lists(st.floats() | st.integers(-5, 5), max_size=4), JUNK)
    return st.one_of(st.floats(), st.integers(-10, 10 ** 20), JUNK)


@st.composite
def checkpoints(draw):
    """A valid checkpoint with a few drawn changes (a value varied, a key dropped or added, a part replaced), or junk."""
    if draw(st.integers(0, 19)) == 0:
        return draw(JUNK)
    blob = {'format': checkpoint.FORMAT, 'params': _valid_params(), 'extra': _valid_extra()}
    for _change in range(draw(st.integers(0, 3))):
        part = draw(st.sampled_from(['format', 'params', 'extra', 'extra', 'extra']))
        if part == 'format' or not isinstance(blob[part], dict) or draw(st.integers(0, 9)) == 0:
            blob[part] = draw(JUNK)
            continue
        key = draw(st.sampled_from(sorted(blob[part]) + ['junk']))
        if draw(st.booleans()) and key in blob[part]:
            del blob[part][key]
        else:
            blob[part][key] = draw(_near(blob[part].get(key)))
    return blob


def fuzz_checkpoint(pred, uuid, blob):
    """Write blob as uuid's checkpoint, attach the VM and run a step and a checkpoint with it.

    Returns 'restored' or 'set aside'; raises if loading hurt the daemon (an exception,
    a file neither used nor set aside, or a track the daemon cannot work with).
    """
    path = pred._ckpt_path(uuid)
    torch.save(blob, path)
    before = set(os.listdir(pred.ckpt_dir))
    pred.events.put(('active', uuid, uuid))
    pred.drain_events()
    track = pred.vms[uuid]
    outcome = 'restored' if os.path.exists(path) else 'set aside'
    if outcome == 'set aside':
        assert [n for n in set(os.listdir(pred.ckpt_dir)) - before if n.startswith(os.path.basename(path) + '.corrupt-')]
        assert track.steps == 0 and not track.hist
    else:
        assert all(len(row) == 7 for row in track.hist) and track.steps >= 0   # (t, cpu, net, disk, mem, steal, gpu)
        assert features.MIN_SCALE <= track.scale <= features.CPU_CLIP
    for t in range(2):
        pred.step({uuid: stats(t)}, now=5000.0 + t)
    entry = pred.doc['vms'][uuid]
    assert all(math.isfinite(v) for v in entry['cpu']['p50'] + entry['cpu']['p90'])
    pred.save_vm(track)                                     # what it restored can be checkpointed again
    assert torch.load(path, weights_only=True)['extra']['steps'] == track.steps
    pred.events.put(('undefined', uuid, uuid))
    pred.drain_events()
    return outcome


@pytest.fixture(scope='module')
def fuzz_predictor(tmp_path_factory):
    return daemon.Predictor(make_cfg(tmp_path_factory.mktemp('fuzz')), clock=lambda: 5000.0)


_SERIAL = itertools.count()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blob=checkpoints())
def test_fuzzed_checkpoints_never_hurt_the_daemon(fuzz_predictor, blob):
    fuzz_checkpoint(fuzz_predictor, 'vm-%d' % next(_SERIAL), blob)


def test_fuzz_helper_sees_both_outcomes(tmp_path):
    pred = daemon.Predictor(make_cfg(tmp_path), clock=lambda: 5000.0)
    good = {'format': checkpoint.FORMAT, 'params': _valid_params(), 'extra': _valid_extra()}
    assert fuzz_checkpoint(pred, 'good', good) == 'restored'
    bad = dict(good, extra=dict(_valid_extra(), history=torch.zeros(5, 3, dtype=torch.float64), steps=-4))
    assert fuzz_checkpoint(pred, 'bad', bad) == 'set aside'


def test_a_vm_whose_forecast_went_wrong_costs_only_its_own_entry(caplog):
    """Readers refuse a whole document for one bad value: the daemon publishes the others without it."""
    good = {'horizons_s': [300], 'vcpus': 1, 'cpu': {'p50': [0.1], 'p90': [0.2]}}
    bad = {'horizons_s': [300], 'vcpus': 1, 'cpu': {'p50': [float('nan')], 'p90': [0.2]}}
    out = daemon.publishable({'a': good, 'b': bad})
    assert out == {'a': good}
    assert any("forecast of b not published" in r.getMessage() and 'nan' in r.getMessage() for r in caplog.records)
