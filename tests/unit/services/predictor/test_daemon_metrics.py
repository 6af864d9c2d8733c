# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Prometheus series observability/ builds on: vCPU delay, forecast freshness, degraded.

The Predictor is driven directly with fake bulk stats (no libvirt), as in test_daemon_faults.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

pytest.importorskip('torch')
pytest.importorskip('prometheus_client')

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from ansible_collections.adaptive.intravm.services.predictor import daemon  # noqa: E402

UUID = '3f1c9a52-0000-4000-8000-000000000002'


def exposed(pred):
    out = {}
    for family in text_string_to_metric_families(pred.metrics.exposition().decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def record(t, delay_s):
    """Two vCPUs, each waited delay_s[i] seconds in all so far."""
    rec = {'vcpu.current': 2}
    for i, d in enumerate(delay_s):
        rec['vcpu.%d.time' % i] = t * 0.25e9
        rec['vcpu.%d.delay' % i] = d * 1e9
    return rec


def test_vcpu_delay_freshness_and_degraded(tmp_path):
    cfg = daemon.load_config(overrides={
        'state_dir': str(tmp_path / 'state'), 'state_file': str(tmp_path / 'run' / 'forecasts.json'),
        'listen': '127.0.0.1:0', 'gpu': False, 'hidden': 4, 'horizons': [1, 3], 'chunk': 4, 'step_s': 7})
    pred = daemon.Predictor(cfg, clock=lambda: 1000.0)
    metrics = exposed(pred)
    assert metrics[('intravm_forecast_generated_timestamp_seconds', ())] == 1000.0
    assert metrics[('intravm_predictor_step_seconds', ())] == 7
    assert metrics[('intravm_predictor_degraded', ())] == 0

    pred.events.put(('active', UUID, 'vm1'))
    pred.drain_events()
    metrics = exposed(pred)
    assert metrics[('intravm_rejected_samples_total', (('domain', 'vm1'), ('reason', 'bad_rate')))] == 0

    delay = ('intravm_vcpu_delay_seconds_total', (('domain', 'vm1'),))
    pred.step({UUID: record(0, (5.0, 1.0))}, now=1001.0)
    assert exposed(pred)[delay] == 0, 'the first sample only sets where counting starts'
    pred.step({UUID: record(1, (5.5, 1.25))}, now=1002.0)
    assert exposed(pred)[delay] == pytest.approx(0.75)
    pred.step({UUID: record(2, (0.0, 0.0))}, now=1003.0)           # the domain restarted: counters went back
    assert exposed(pred)[delay] == pytest.approx(0.75)
    pred.step({UUID: record(3, (0.5, 0.0))}, now=1004.0)
    metrics = exposed(pred)
    assert metrics[delay] == pytest.approx(1.25)
    assert metrics[('intravm_forecast_generated_timestamp_seconds', ())] == 1004.0

    os.unlink(cfg['state_file'])
    os.mkdir(cfg['state_file'])             # a directory in the way: the state file cannot be written
    pred.step({UUID: record(4, (0.5, 0.0))}, now=1005.0)
    assert pred.health().startswith('degraded')
    assert exposed(pred)[('intravm_predictor_degraded', ())] == 1

    pred.remove_vm(UUID)
    assert not [key for key in exposed(pred) if dict(key[1]).get('domain') == 'vm1'], 'a gone domain leaves no series'
