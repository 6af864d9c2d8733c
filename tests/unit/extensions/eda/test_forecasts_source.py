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
        vms[name] = {'vcpus': 2, 'horizons_s': [60], 'cpu': {'p50': [p90 / 2], 'p90': [p90]}}
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


# ------------------------------------------------------------------ a fleet on loopback
ODD = [('vcpus', 'abc'), ('vcpus', [2]), ('cpu', [1.0]), ('cpu', 'hot'), ('allocated_cpus', 'x'),
       ('cpu', {'p50': [0.1], 'p90': [10 ** 400]})]


class _Fleet(object):
    """Predictors on 127.0.0.1: /good alternates hot and quiet, /odd<i> serve the probe's odd documents, /drip drips."""

    def __init__(self):
        import http.server
        import threading
        import time
        fleet = self
        self.polls = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path == '/drip':
                    for byte in b'HTTP/1.0 200 OK\r\nX-Slow: ' + b'a' * 1000:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(0.05)
                    return
                if self.path == '/good':
                    fleet.polls += 1
                    doc = state({'a': 2.0 if fleet.polls % 2 else 0.1})
                else:
                    key, value = ODD[int(self.path[len('/odd'):])]
                    doc = state({'a': 2.0})
                    doc['vms']['a'][key] = value
                    if key == 'host_cpus':
                        doc[key] = value
                body = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.server.daemon_threads = True
        self.url = 'http://127.0.0.1:%d' % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_odd_documents_and_a_dripping_endpoint_never_stop_the_fleet(caplog):
    """Issue 26, defects 1 and 3: each endpoint's failure stays its own; the good one's events keep coming."""
    import time
    fleet = _Fleet()
    try:
        endpoints = ([{'host': 'good', 'url': fleet.url + '/good'}, fleet.url + '/drip'] +
                     ['%s/odd%d' % (fleet.url, i) for i in range(len(ODD))])
        queue = asyncio.Queue()
        started = time.monotonic()
        asyncio.run(asyncio.wait_for(source.main(queue, {
            'endpoints': endpoints, 'interval': 0.05, 'debounce': 1, 'max_events': 4, 'timeout': 3,
            'max_backoff': 0.2}), 20))
        elapsed = time.monotonic() - started
    finally:
        fleet.close()
    events = [queue.get_nowait()['intravm'] for _n in range(4)]
    assert [e['type'] for e in events] == ['hotspot_predicted', 'hotspot_cleared'] * 2
    assert all(e['host'] == 'good' for e in events)
    assert elapsed < 2.5, elapsed           # the dripping endpoint (3 s) held no one's poll
    odd = [r.getMessage() for r in caplog.records if '/odd' in r.getMessage() and 'in a row' in r.getMessage()]
    assert any('failure 2 in a row' in m for m in odd), odd      # asked again, after a backoff


def test_bad_arguments_stop_the_activation_at_once_by_name():
    for args, name in (({'path': '/x', 'interval': 'often'}, 'interval'), ({'path': '/x', 'debounce': 0}, 'debounce'),
                       ({'path': '/x', 'host_cpus': 'two'}, 'host_cpus'), ({'path': '/x', 'timeout': float('nan')}, 'timeout')):
        with pytest.raises(ValueError, match=name):
            asyncio.run(source.main(asyncio.Queue(), args))


def test_an_endpoint_backs_off_up_to_max_backoff():
    endpoint = source.Endpoint(None, 'http://127.0.0.1:1/f', None, 1)
    assert [endpoint.failure(5, 60) for _n in range(5)] == [10, 20, 40, 60, 60]
    assert (endpoint.failures, endpoint.failed) == (5, 5)
