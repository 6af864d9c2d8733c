# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import asyncio
import importlib.util
import json
import os

import pytest

PLUGIN = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'extensions', 'eda', 'plugins',
                      'event_source', 'forecasts.py')
spec = importlib.util.spec_from_file_location('intravm_forecasts_source', PLUGIN)
source = importlib.util.module_from_spec(spec)
spec.loader.exec_module(source)


def state(cpu_p90, allocated=None, host_cpus=4, generated_at=1.0):
    """Forecast state in the predictor's shape; cpu_p90: {vm: p90 fraction of its 2 vCPUs}."""
    vms = {}
    for name, p90 in cpu_p90.items():
        vms[name] = {'vcpus': 2, 'cpu': {'p50': [p90 / 2], 'p90': [p90]}}
        if allocated:
            vms[name]['allocated_cpus'] = allocated[name]
    return {'version': 2, 'generated_at': generated_at, 'host': 'hv1', 'host_cpus': host_cpus, 'vms': vms}


def test_conditions_hotspot_and_vm_over_allocation():
    held = source.conditions(state({'a': 1.0, 'b': 0.9}, allocated={'a': 1, 'b': 2}), hotspot_ratio=0.9)
    assert set(held) == {'hotspot:hv1', 'vm_over_allocation:a'}
    assert held['hotspot:hv1']['forecast_cpus'] == 3.8
    assert held['vm_over_allocation:a'] == {'host': 'hv1', 'vm': 'a', 'forecast_vcpus': 2.0, 'allocated_cpus': 1}


def test_conditions_quiet_host():
    assert source.conditions(state({'a': 0.2, 'b': 0.3}, allocated={'a': 2, 'b': 2})) == {}


def test_conditions_tolerate_missing_fields():
    assert source.conditions({'vms': {'x': {'vcpus': 2}}, 'host_cpus': 2}) == {}
    assert source.conditions({}) == {}


def test_debounce_needs_consecutive_polls_and_emits_once():
    deb = source.Debouncer(polls=2)
    hot = {'hotspot:hv1': {'host': 'hv1'}}
    assert deb.update(hot) == []                      # first sight: pending
    assert deb.update({}) == []                       # flapped back: nothing
    assert deb.update(hot) == []
    assert deb.update(hot) == [{'host': 'hv1', 'type': 'hotspot_predicted'}]
    assert deb.update(hot) == []                      # still hot: no repeat
    assert deb.update({}) == []
    assert deb.update({}) == [{'host': 'hv1', 'type': 'hotspot_cleared'}]
    assert deb.update({}) == []


def test_main_reads_a_state_file_and_puts_debounced_events(tmp_path):
    path = tmp_path / 'state.json'
    path.write_text(json.dumps(state({'a': 2.0, 'b': 2.0})))
    queue = asyncio.Queue()
    asyncio.run(asyncio.wait_for(source.main(queue, {'path': str(path), 'interval': 0.01, 'debounce': 2,
                                                     'max_events': 1}), 10))
    event = queue.get_nowait()['intravm']
    assert event['type'] == 'hotspot_predicted' and event['host'] == 'hv1' and event['forecast_cpus'] == 8.0


def test_main_requires_a_source():
    with pytest.raises(ValueError, match='url, path or endpoints'):
        asyncio.run(source.main(asyncio.Queue(), {}))


def test_main_refuses_urls_other_than_http():
    with pytest.raises(ValueError, match='only http and https URLs are read'):
        asyncio.run(source.main(asyncio.Queue(), {'url': 'file:///etc/shadow'}))


def test_read_state_gives_none_for_hostile_documents(tmp_path):
    deep = tmp_path / 'deep.json'
    deep.write_text('[' * 100000 + ']' * 100000)
    assert source.read_state(path=str(deep)) is None
    fifo = tmp_path / 'fifo'
    os.mkfifo(str(fifo))
    assert source.read_state(path=str(fifo)) is None
    assert source.read_state(url='file://' + str(deep)) is None
