# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""forecast_doc: the bounded reader every consumer of forecasts uses."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import io
import json
import os
import signal
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.adaptive.intravm.plugins.module_utils.channel import forecast_format
from ansible_collections.adaptive.intravm.plugins.module_utils.plan import forecast_doc
from ansible_collections.adaptive.intravm.plugins.module_utils.plan.forecast_doc import ForecastDocError

PEAK = {'windows_s': [180, 720], 'models': ['lstm', 'last_period_peak'], 'p50': [0.2, 0.3], 'p90': [0.4, 0.6],
        'vcpu': {'0': {'p50': [0.1, 0.2], 'p90': [0.3, 0.5]}, '1': {'p50': [0.0, 0], 'p90': [0.1, 1]}}}
GOOD = {'version': 2, 'generated_at': 1.0, 'host': 'h', 'step_s': 60,
        'vms': {'a': {'horizons_s': [60], 'vcpu': {'0': {'p50': [0.1], 'p90': [0.2]}}, 'cpu_peak': PEAK}}}
GOOD_V1 = {'version': 1, 'generated_at': 1.0, 'host': 'h', 'step_s': 60,
           'vms': {'a': {'horizons_s': [60], 'vcpu': {'0': {'p50': [0.1], 'p90': [0.2]}}}}}


class Response(io.BytesIO):
    def __init__(self, body, final_url):
        super(Response, self).__init__(body)
        self.final_url = final_url

    def geturl(self):
        return self.final_url


def opener_for(body, final_url=None):
    def opener(url, timeout):
        return Response(body, final_url or url)
    return opener


def test_the_predictors_document_is_read_from_each_source(tmp_path):
    path = tmp_path / 'fc.json'
    path.write_text(json.dumps(GOOD))
    assert forecast_doc.load(path=str(path)) == GOOD
    assert forecast_doc.load(url='http://127.0.0.1:9177/forecasts', opener=opener_for(json.dumps(GOOD).encode())) == GOOD
    assert forecast_doc.load(doc=GOOD) is GOOD


def test_version_1_without_cpu_peak_is_still_read():
    assert forecast_format.VERSION == 2 and forecast_format.VERSIONS == (1, 2)
    assert forecast_doc.load(doc=GOOD_V1) is GOOD_V1
    assert forecast_doc.parse(json.dumps(GOOD_V1), 'a file') == GOOD_V1
    assert forecast_doc.check(dict(GOOD, vms={'a': {'horizons_s': [60]}}), 'here')   # version 2 without cpu_peak


def test_exactly_one_source():
    with pytest.raises(ForecastDocError, match='exactly one'):
        forecast_doc.load()
    with pytest.raises(ForecastDocError, match='exactly one'):
        forecast_doc.load(path='/x', doc=GOOD)


def test_a_redirect_out_of_http_is_refused():
    with pytest.raises(ForecastDocError, match="scheme 'file'"):
        forecast_doc.load(url='http://127.0.0.1/f', opener=opener_for(b'{}', 'file:///etc/shadow'))


def test_size_limit_applies_to_endpoints_too():
    body = json.dumps(dict(GOOD, pad='x' * 2000)).encode()
    with pytest.raises(ForecastDocError, match='larger than 1000 bytes'):
        forecast_doc.load(url='https://h/f', opener=opener_for(body), max_bytes=1000)


def test_depth_of_a_value_handed_over_is_checked_without_recursion():
    deep = []
    for _n in range(100000):
        deep = [deep]
    with pytest.raises(ForecastDocError, match='nest deeper than 16'):
        forecast_doc.load(doc=dict(GOOD, extra=deep))


@pytest.mark.parametrize('bad, message', [
    ({'version': 1, 'generated_at': float('nan'), 'vms': {}}, 'generated_at'),
    ({'version': 1, 'generated_at': True, 'vms': {}}, 'generated_at'),
    ({'version': 1, 'generated_at': 1, 'vms': {'a': [1]}}, r"vms\['a'\] must be an object"),
    ({'version': '1', 'generated_at': 1, 'vms': {}}, "version '1'"),
    ({'version': 3, 'generated_at': 1, 'vms': {}}, 'version 3; this collection reads versions 1, 2'),
    ({'version': True, 'generated_at': 1, 'vms': {}}, 'version True'),
    ({'version': 2, 'generated_at': 10 ** 400, 'vms': {}}, 'generated_at'),
])
def test_shape_is_checked(bad, message):
    with pytest.raises(ForecastDocError, match=message):
        forecast_doc.check(bad, 'here')


def _peak(**changes):
    block = json.loads(json.dumps(PEAK))
    for path, value in changes.items():
        keys = path.split('__')
        target = block
        for key in keys[:-1]:
            target = target[key]
        if value is KeyError:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
    return dict(GOOD, vms={'web': {'horizons_s': [60], 'cpu_peak': block}})


@pytest.mark.parametrize('bad, message', [
    (dict(GOOD, vms={'web': {'cpu_peak': [0.1]}}), r"vms\['web'\]\.cpu_peak must be an object"),
    (_peak(windows_s=KeyError), 'windows_s must be a list of 1 to 16 windows'),
    (_peak(windows_s=[]), 'windows_s must be a list'),
    (_peak(windows_s=[60] * 17, p50=[0.1] * 17, p90=[0.2] * 17), 'windows_s must be a list of 1 to 16'),
    (_peak(windows_s=[180, 0]), r'windows_s\[1\] is 0'),
    (_peak(windows_s=[180, float('inf')]), r'windows_s\[1\] is inf'),
    (_peak(windows_s=[True, 720]), r'windows_s\[0\] is True'),
    (_peak(models=['lstm']), 'models must be one model name per window'),
    (_peak(models=['lstm', 'x' * 65]), 'models must be one model name per window'),
    (_peak(p50=KeyError), r'cpu_peak\.p50 must be a list with one value per window \(2\)'),
    (_peak(p90=[0.4]), r'cpu_peak\.p90 must be a list with one value per window'),
    (_peak(p50=[0.2, float('nan')]), r'cpu_peak\.p50\[1\] is nan: a finite number >= 0'),
    (_peak(p90=[0.4, float('inf')]), r'p90\[1\] is inf'),
    (_peak(p50=[-0.1, 0.3]), r'p50\[0\] is -0\.1'),
    (_peak(p50=['0.2', 0.3]), r"p50\[0\] is '0\.2'"),
    (_peak(p90=[0.4, 10 ** 400]), r'p90\[1\] is 1000'),
    (_peak(p50=[0.5, 0.3]), r'p50\[0\] 0\.5 is above p90\[0\] 0\.4'),
    (_peak(vcpu=[PEAK]), 'vcpu must be an object of at most 4096 vCPUs'),
    (_peak(vcpu=dict((str(i), {'p50': [0, 0], 'p90': [0, 0]}) for i in range(4097))), 'at most 4096 vCPUs'),
    (_peak(vcpu={'x': {'p50': [0, 0], 'p90': [0, 0]}}), "vcpu: 'x' is not a vCPU index"),
    (_peak(vcpu={'\u0661': {'p50': [0, 0], 'p90': [0, 0]}}), 'is not a vCPU index'),
    (_peak(vcpu__0=[0.1, 0.2]), r'cpu_peak\.vcpu\[0\] must be an object of quantiles'),
    (_peak(vcpu__0__p90=[0.3]), r'cpu_peak\.vcpu\[0\]\.p90 must be a list with one value per window'),
    (_peak(vcpu__1__p50=[0.2, 0.0]), r'vcpu\[1\]: p50\[0\] 0\.2 is above p90\[0\] 0\.1'),
    (_peak(vcpu__1__p90=[0.1, float('nan')]), r'vcpu\[1\]\.p90\[1\] is nan'),
])
def test_cpu_peak_is_checked_value_by_value(bad, message):
    with pytest.raises(ForecastDocError, match=message):
        forecast_doc.check(bad, 'here')


def test_cpu_peak_in_a_version_1_document_is_checked_too():
    with pytest.raises(ForecastDocError, match='above p90'):
        forecast_doc.check(dict(_peak(p50=[0.5, 0.3]), version=1), 'here')


def test_a_fifo_path_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / 'fc.json'
    os.mkfifo(str(fifo))

    def hung(_signum, _frame):
        raise AssertionError('reading forecasts blocked on a FIFO')

    signal.signal(signal.SIGALRM, hung)
    signal.alarm(10)
    try:
        with pytest.raises(ForecastDocError, match='not a regular file'):
            forecast_doc.load(path=str(fifo))
    finally:
        signal.alarm(0)


def test_invalid_utf8_is_a_clear_error(tmp_path):
    path = tmp_path / 'fc.json'
    path.write_bytes(b'{"version": 1, "x": "\xff"}')
    with pytest.raises(ForecastDocError, match='not valid JSON'):
        forecast_doc.load(path=str(path))


_json = st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
                     max_leaves=40)


@given(st.one_of(st.binary(max_size=200), _json.map(lambda v: json.dumps(v).encode()),
                 st.integers(1, 3000).map(lambda n: b'{"version": 1, "vms": ' + b'[' * n + b']' * n + b'}')))
@settings(max_examples=600, deadline=None)
def test_fuzz_loader_returns_a_document_or_forecast_doc_error(body):
    """Whatever an endpoint sends, the loader gives the predictor's shape or ForecastDocError, nothing else."""
    try:
        doc = forecast_doc.load(url='http://127.0.0.1/f', opener=opener_for(body))
    except ForecastDocError:
        return
    assert doc['version'] in (1, 2) and isinstance(doc['vms'], dict)


def test_a_big_hosts_document_fits_the_size_limit():
    """1,000 VMs of 32 vCPUs with 6 horizons and 2 peak windows fit the size limit (what a big host publishes)."""
    series = {'p50': [0.123456] * 6, 'p90': [0.234567] * 6}
    peaks = {'p50': [0.123456] * 2, 'p90': [0.234567] * 2}
    vm = {'uuid': 'u' * 36, 'vcpus': 32, 'model': 'lstm', 'horizons_s': [60] * 6, 'cpu': series,
          'vcpu': dict((str(i), series) for i in range(32)),
          'cpu_peak': dict(peaks, windows_s=[900, 3600], models=['last_plus_peak_err_p90'] * 2,
                           vcpu=dict((str(i), peaks) for i in range(32)))}
    body = json.dumps({'version': 2, 'generated_at': time.time(), 'vms': dict(('vm%04d' % i, vm) for i in range(1000))})
    assert len(body) < forecast_doc.MAX_BYTES * 0.75
    assert len(forecast_doc.load(url='http://h/f', opener=opener_for(body.encode()))['vms']) == 1000


def test_an_endpoint_that_drips_is_cut_off_at_the_timeout():
    """The timeout bounds the whole body, not each read: one byte per read never ends otherwise."""
    now = [0.0]

    class Drip(Response):
        def read1(self, _size=-1):
            now[0] += 1.0                       # each byte takes a second to come
            return self.read(1)

    def opener(url, timeout):
        return Drip(b'{"version": 1, "generated_at": 1, "vms": {}}' * 100, url)

    with pytest.raises(ForecastDocError, match='still arriving after the timeout'):
        forecast_doc.fetch('http://127.0.0.1/f', opener, timeout=10, clock=lambda: now[0])


# ------------------------------------------------------------------ real sockets on loopback
class _Server(object):
    """A TCP server on 127.0.0.1 that answers each connection with handler(conn); counts connections."""

    def __init__(self, handler):
        import socket
        import threading
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = threading.Event()
        self.handler = handler
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        import threading
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        try:
            conn.recv(65536)
            self.handler(conn, self)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stop.set()
        self.sock.close()


def _drip(text, every):
    def handler(conn, server):
        for byte in text.encode():
            if server.stop.is_set():
                return
            conn.sendall(bytes([byte]))
            time.sleep(every)
    return handler


@pytest.mark.parametrize('answer', [
    'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nX-Pad: ' + 'a' * 200 + '\r\n\r\n{}',   # headers drip
    'HTTP/1.0 200 OK\r\n\r\n' + json.dumps(GOOD) * 10,                                          # the body drips
])
def test_the_timeout_bounds_the_status_line_and_headers_too(answer):
    """Issue 26, defect 3: a byte every 50 ms never trips a per-read timeout; the deadline covers the whole answer."""
    server = _Server(_drip(answer, 0.05))
    try:
        started = time.monotonic()
        with pytest.raises(ForecastDocError, match='cannot fetch|still arriving'):
            forecast_doc.load(url='http://127.0.0.1:%d/forecasts' % server.port, opener=forecast_doc.opener(), timeout=0.5)
        assert time.monotonic() - started < 2.0
    finally:
        server.close()


def test_a_prompt_endpoint_is_read_through_the_opener():
    body = json.dumps(GOOD)
    server = _Server(lambda conn, _s: conn.sendall(('HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s'
                                                    % (len(body), body)).encode()))
    try:
        assert forecast_doc.load(url='http://127.0.0.1:%d/f' % server.port, opener=forecast_doc.opener(), timeout=5) == GOOD
    finally:
        server.close()


@pytest.mark.parametrize('token', [None, 'secret'])
def test_a_redirect_is_checked_before_it_is_followed(token):
    """Issue 26, defect 14: a 302 to ftp:// (or anywhere, with a token) is refused without connecting there."""
    target = _Server(lambda conn, _s: conn.sendall(b'220 ftp\r\n'))
    where = 'ftp://127.0.0.1:%d/pub' % target.port if token is None else 'http://127.0.0.1:%d/f' % target.port
    redirect = _Server(lambda conn, _s: conn.sendall(('HTTP/1.0 302 Found\r\nLocation: %s\r\n\r\n' % where).encode()))
    try:
        with pytest.raises(ForecastDocError, match='only http and https URLs|must not go where a redirect points'):
            forecast_doc.load(url='http://127.0.0.1:%d/f' % redirect.port, opener=forecast_doc.opener(token), timeout=2)
        time.sleep(0.2)
        assert target.accepted == 0
    finally:
        redirect.close()
        target.close()


def test_an_http_redirect_without_a_token_is_followed_within_the_first_deadline():
    body = json.dumps(GOOD)
    final = _Server(lambda conn, _s: conn.sendall(('HTTP/1.0 200 OK\r\n\r\n%s' % body).encode()))
    redirect = _Server(lambda conn, _s: conn.sendall(('HTTP/1.0 302 Found\r\nLocation: http://127.0.0.1:%d/f\r\n\r\n'
                                                      % final.port).encode()))
    try:
        assert forecast_doc.load(url='http://127.0.0.1:%d/f' % redirect.port, opener=forecast_doc.opener(), timeout=5) == GOOD
    finally:
        redirect.close()
        final.close()


def test_tls_files_that_cannot_be_read_are_a_clear_error(tmp_path):
    with pytest.raises(ForecastDocError, match='cannot load the TLS files'):
        forecast_doc.opener(ca_path=str(tmp_path / 'missing.pem'))
