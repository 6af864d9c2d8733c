# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bounded source of the predictor's forecast document: a file, an endpoint or a value handed over.

allocation_plan (as root), the event source and the demo read forecasts from a
file, an endpoint or a value handed over by an event. Whatever the source, the
bytes are few (MAX_BYTES), the nesting shallow (MAX_DEPTH), the URL http(s)
only (a `file:///etc/shadow` must not be read by a root module), before and
after any redirect, and the whole answer (connect, status line, headers,
body) arrives within the timeout; then channel.forecast_format checks every
value. Anything else is a ForecastDocError that names the source, never a
RecursionError, a MemoryError or a traceback.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import functools
import heapq
import json
import os
import socket
import ssl
import threading
import time
import urllib.request
import weakref
from http import client as http_client
from urllib.parse import urlsplit

from ansible_collections.adaptive.intravm.plugins.module_utils.addresses import is_loopback
from ansible_collections.adaptive.intravm.plugins.module_utils.channel import forecast_format
from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError
from ansible_collections.adaptive.intravm.plugins.module_utils.regular_file import NotRegularFile, open_regular

MAX_BYTES = 16 << 20      # 1,000 VMs of 32 vCPUs, per-vCPU forecasts of 6 horizons and 2 peak windows: about 7 MiB
MAX_DEPTH = 16            # the predictor's document nests 7 deep (doc, vms, vm, cpu_peak, vcpu, index, p90 list)
MAX_NODES = 4000000       # values in a document handed over already parsed
SCHEMES = ('http', 'https')


class ForecastDocError(IntravmError, ValueError):
    """Forecasts that cannot be read, are too big or deep, or are not in the predictor's format."""


def check_url(url):
    """url when its scheme is http or https; ForecastDocError otherwise."""
    scheme = urlsplit(str(url)).scheme.lower()
    if scheme not in SCHEMES:
        raise ForecastDocError('forecasts_url %r: only %s URLs are read (got scheme %r)'
                               % (url, ' and '.join(SCHEMES), scheme or 'none'))
    return url


def check_token_url(url):
    """url when a bearer token may be sent to it: https, or http to a loopback address only."""
    parts = urlsplit(str(url))
    host = parts.hostname or ''
    if parts.scheme.lower() == 'https' or is_loopback(host):
        return url
    raise ForecastDocError('forecasts_url %r: a token is sent over https only (or to a loopback address)' % url)


def read_file(path, max_bytes=MAX_BYTES):
    """Text of a regular file of at most max_bytes; the open never blocks on a FIFO (a link is followed)."""
    try:
        fd, _info = open_regular(path, follow_links=True)
        with os.fdopen(fd, 'rb') as handle:
            data = handle.read(max_bytes + 1)
    except NotRegularFile:
        raise ForecastDocError('forecasts file %s is not a regular file' % path)
    except OSError as exc:
        raise ForecastDocError('cannot read forecasts file %s: %s' % (path, exc))
    return _bounded(data, path, max_bytes)


def fetch(url, opener, timeout, max_bytes=MAX_BYTES, clock=time.monotonic):
    """Body of an http(s) URL through opener(url, timeout=...) (opener() here; tests hand in their own).

    timeout bounds the whole answer, not each socket read: opener() ends the
    connect, status line and headers at the deadline, and the body is cut here
    too, so an endpoint that drips a byte at a time cannot hold a root module
    or the event source's round.
    """
    check_url(url)
    deadline = clock() + timeout
    try:
        response = opener(url, timeout=timeout)
        try:
            final = response.geturl() if hasattr(response, 'geturl') else url
            if final != url:
                check_url(final)    # a redirect must not lead out of http(s) either
            data = _read_within(response, url, max_bytes, deadline, clock)
        finally:
            response.close()
    except ForecastDocError:
        raise
    except Exception as exc:  # pylint: disable=broad-except  # urllib and open_url raise several kinds
        raise ForecastDocError('cannot fetch forecasts from %s: %s' % (url, exc))
    return _bounded(data, url, max_bytes)


class _Reaper(object):
    """One thread that shuts down each socket whose deadline has passed, so a blocked read returns.

    A socket's timeout bounds each read; a peer that drips a byte a second
    never lets it fire. Shutting the socket down from here ends the read
    wherever it is: connect, status line, headers or body. Sockets are held
    by weak reference: one closed and collected is simply gone.
    """

    def __init__(self):
        self.cond = threading.Condition()
        self.heap = []
        self.thread = None
        self.count = 0

    def watch(self, sock, deadline):
        with self.cond:
            self.count += 1
            heapq.heappush(self.heap, (deadline, self.count, weakref.ref(sock)))
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name='forecast-fetch-deadline', daemon=True)
                self.thread.start()
            self.cond.notify()

    def _run(self):
        with self.cond:
            while True:
                now = time.monotonic()
                while self.heap and self.heap[0][0] <= now:
                    sock = heapq.heappop(self.heap)[2]()
                    if sock is not None:
                        try:
                            sock.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass        # closed already
                self.cond.wait(self.heap[0][0] - now if self.heap else None)


_REAPER = _Reaper()


class _DeadlineConnection(object):
    """Mixin for http.client connections: the connect and every later read end at the request's deadline."""

    def __init__(self, *args, **kwargs):
        self._deadline = kwargs.pop('deadline')
        super(_DeadlineConnection, self).__init__(*args, **kwargs)
        self._create_connection = self._connect_within

    def _connect_within(self, address, timeout=None, source_address=None):
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout('timed out before connecting')
        sock = socket.create_connection(address, min(timeout or left, left), source_address)
        _REAPER.watch(sock, self._deadline)
        return sock


class _HTTPConnection(_DeadlineConnection, http_client.HTTPConnection):
    pass


class _HTTPSConnection(_DeadlineConnection, http_client.HTTPSConnection):
    pass


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(functools.partial(_HTTPConnection, deadline=req.deadline), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(functools.partial(_HTTPSConnection, deadline=req.deadline), req, context=self._context)


class _CheckedRedirect(urllib.request.HTTPRedirectHandler):
    """Each redirect is checked before it is followed: http(s) only, never with a token, within the first deadline."""

    def __init__(self, token):
        self.token = token

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if self.token:
            raise ForecastDocError('%s redirects to %s: not followed, a bearer token must not go where a redirect points'
                                   % (req.full_url, newurl))
        check_url(newurl)
        new = urllib.request.HTTPRedirectHandler.redirect_request(self, req, fp, code, msg, headers, newurl)
        if new is not None:
            new.deadline = req.deadline
        return new


def opener(token=None, ca_path=None, client_cert=None, client_key=None):
    """opener(url, timeout) for fetch: its timeout is a deadline for the whole answer, not for each read.

    TLS checks the peer against ca_path (or the system's CAs) and presents
    client_cert; a bearer token goes only to https or loopback URLs
    (check_token_url) and never through a redirect; a redirect elsewhere than
    http(s) is refused before it is followed.
    """
    try:
        context = ssl.create_default_context(cafile=ca_path)
        if client_cert:
            context.load_cert_chain(client_cert, client_key)
    except (OSError, ssl.SSLError) as exc:   # a missing or unreadable CA, certificate or key
        raise ForecastDocError('cannot load the TLS files for forecasts (%s): %s'
                               % (', '.join(p for p in (ca_path, client_cert, client_key) if p), exc))
    handlers = [_HTTPHandler(), _HTTPSHandler(context=context), _CheckedRedirect(token)]
    built = urllib.request.OpenerDirector()
    for handler in handlers + [urllib.request.HTTPDefaultErrorHandler(), urllib.request.HTTPErrorProcessor(),
                               urllib.request.UnknownHandler()]:
        built.add_handler(handler)
    headers = {'Authorization': 'Bearer %s' % token} if token else {}

    def open_url(url, timeout):
        if token:
            check_token_url(url)
        request = urllib.request.Request(check_url(url), headers=headers)
        request.deadline = time.monotonic() + timeout
        return built.open(request, timeout=timeout)
    return open_url


def _read_within(response, where, max_bytes, deadline, clock):
    """Up to max_bytes + 1 bytes, in the pieces the peer sends, until EOF or the deadline."""
    read = getattr(response, 'read1', None) or response.read
    chunks, total = [], 0
    while total <= max_bytes:
        chunk = read(min(1 << 16, max_bytes + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if clock() > deadline:
            raise ForecastDocError('forecasts from %s still arriving after the timeout; refused' % where)
    return b''.join(chunks)


def _bounded(data, where, max_bytes):
    if len(data) > max_bytes:
        raise ForecastDocError('forecasts from %s are larger than %d bytes; refused' % (where, max_bytes))
    return data


def parse(data, where):
    """The checked document from JSON bytes or text."""
    try:
        if isinstance(data, bytes):
            data = data.decode('utf-8')
        doc = json.loads(data)
    except RecursionError:
        raise ForecastDocError('forecasts from %s nest deeper than %d levels; refused' % (where, MAX_DEPTH))
    except ValueError as exc:   # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ForecastDocError('forecasts from %s are not valid JSON: %s' % (where, exc))
    return check(doc, where)


def check(doc, where):
    """doc when it is within bounds and of the predictor's format (channel.forecast_format.check), every value."""
    _check_bounds(doc, where)
    try:
        return forecast_format.check(doc, where)
    except forecast_format.ForecastFormatError as exc:
        raise ForecastDocError(str(exc))


def _check_bounds(doc, where):
    """Depth and size of an already parsed value, walked without recursion."""
    stack = [(doc, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise ForecastDocError('forecasts from %s hold more than %d values; refused' % (where, MAX_NODES))
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, (list, tuple)):
            children = value
        else:
            continue
        if depth >= MAX_DEPTH and children:
            raise ForecastDocError('forecasts from %s nest deeper than %d levels; refused' % (where, MAX_DEPTH))
        stack.extend((child, depth + 1) for child in children)


def load(path=None, url=None, doc=None, opener=None, timeout=10, max_bytes=MAX_BYTES):
    """The checked document from exactly one of a file path, an http(s) URL (read with opener) or a value."""
    if sum(source is not None for source in (path, url, doc)) != 1:
        raise ForecastDocError('forecasts need exactly one of a path, a URL or a document')
    if doc is not None:
        return check(doc, 'the forecasts value')
    if path is not None:
        return parse(read_file(path, max_bytes), path)
    return parse(fetch(url, opener, timeout, max_bytes), url)
