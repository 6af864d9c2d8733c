# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one reader of the predictor's forecast document, within bounds.

allocation_plan (as root), the event source and the demo read forecasts from a
file, an endpoint or a value handed over by an event. Whatever the source, the
bytes are few (MAX_BYTES), the nesting shallow (MAX_DEPTH), the URL http(s)
only (a `file:///etc/shadow` must not be read by a root module) and the
document of the predictor's shape; anything else is a ForecastDocError that
names the source, never a RecursionError, a MemoryError or a traceback.

Versions 1 and 2 are read; version 2 adds each VM's optional `cpu_peak`
(forecasts of the peak demand over windows), checked here value by value.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import math
import os
import re
import time
from urllib.parse import urlsplit

from ansible_collections.adaptive.intravm.plugins.module_utils.addresses import is_loopback
from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError
from ansible_collections.adaptive.intravm.plugins.module_utils.regular_file import NotRegularFile, open_regular

VERSION = 2
VERSIONS = (1, 2)         # version 1 is version 2 without cpu_peak
MAX_BYTES = 16 << 20      # 1,000 VMs of 32 vCPUs, per-vCPU forecasts of 6 horizons and 2 peak windows: about 7 MiB
MAX_DEPTH = 16            # the predictor's document nests 7 deep (doc, vms, vm, cpu_peak, vcpu, index, p90 list)
MAX_WINDOWS = 16          # peak windows per VM (the predictor publishes 2 by default)
MAX_VCPUS = 4096          # per-vCPU peaks per VM: more than any KVM guest has
MAX_NAME = 64             # a served model's name
MAX_NODES = 4000000       # values in a document handed over already parsed
SCHEMES = ('http', 'https')
_VCPU_INDEX = re.compile(r'[0-9]{1,4}\Z')


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
    """Body of an http(s) URL through opener(url, timeout=...) (ansible's open_url, or urllib's in the event source).

    timeout bounds the whole body, not each socket read: an endpoint that
    drips a byte at a time cannot hold a root module for hours.
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
    """doc when it is the predictor's document (version, generated_at, vms of objects) within bounds."""
    _check_bounds(doc, where)
    if not isinstance(doc, dict):
        raise ForecastDocError('forecasts from %s must be a JSON object, got %r' % (where, type(doc).__name__))
    version = doc.get('version')
    if isinstance(version, bool) or version not in VERSIONS:
        raise ForecastDocError('forecasts from %s have version %r; this collection reads versions %s'
                               % (where, version, ', '.join(str(v) for v in VERSIONS)))
    generated = doc.get('generated_at')
    if not _finite(generated):
        raise ForecastDocError('forecasts from %s have no numeric generated_at (epoch seconds): %r' % (where, generated))
    vms = doc.get('vms')
    if not isinstance(vms, dict):
        raise ForecastDocError('forecasts from %s have no "vms" object' % where)
    for name, entry in vms.items():
        if not isinstance(name, str) or not isinstance(entry, dict):
            raise ForecastDocError('forecasts from %s: vms[%r] must be an object named by a string' % (where, name))
        if 'cpu_peak' in entry:
            _check_peak(entry['cpu_peak'], '%s: vms[%r].cpu_peak' % (where, name))
    return doc


def _check_peak(block, where):
    """A cpu_peak block: windows_s, then P50 <= P90 per window, VM-wide and per vCPU, all finite and >= 0."""
    if not isinstance(block, dict):
        raise ForecastDocError('forecasts from %s must be an object' % where)
    windows = block.get('windows_s')
    if not isinstance(windows, list) or not 0 < len(windows) <= MAX_WINDOWS:
        raise ForecastDocError('forecasts from %s.windows_s must be a list of 1 to %d windows' % (where, MAX_WINDOWS))
    for i, w in enumerate(windows):
        if not _finite(w) or w <= 0:
            raise ForecastDocError('forecasts from %s.windows_s[%d] is %r: a positive number of seconds is required' % (where, i, w))
    models = block.get('models')
    if models is not None and not (isinstance(models, list) and len(models) == len(windows) and
                                   all(isinstance(m, str) and len(m) <= MAX_NAME for m in models)):
        raise ForecastDocError('forecasts from %s.models must be one model name per window' % where)
    _check_quantiles(block, len(windows), where)
    per = block.get('vcpu')
    if per is None:
        return
    if not isinstance(per, dict) or len(per) > MAX_VCPUS:
        raise ForecastDocError('forecasts from %s.vcpu must be an object of at most %d vCPUs' % (where, MAX_VCPUS))
    for index, quantiles in per.items():
        if not (isinstance(index, str) and _VCPU_INDEX.match(index)):
            raise ForecastDocError('forecasts from %s.vcpu: %r is not a vCPU index' % (where, index))
        _check_quantiles(quantiles, len(windows), '%s.vcpu[%s]' % (where, index))


def _check_quantiles(block, n, where):
    """block['p50'] and block['p90']: n finite numbers >= 0 each, P50 <= P90 window by window."""
    if not isinstance(block, dict):
        raise ForecastDocError('forecasts from %s must be an object of quantiles' % where)
    for key in ('p50', 'p90'):
        values = block.get(key)
        if not isinstance(values, list) or len(values) != n:
            raise ForecastDocError('forecasts from %s.%s must be a list with one value per window (%d)' % (where, key, n))
        for i, v in enumerate(values):
            if not _finite(v) or v < 0:
                raise ForecastDocError('forecasts from %s.%s[%d] is %r: a finite number >= 0 is required' % (where, key, i, v))
    for i, (low, high) in enumerate(zip(block['p50'], block['p90'])):
        if low > high:
            raise ForecastDocError('forecasts from %s: p50[%d] %r is above p90[%d] %r' % (where, i, low, i, high))


def _finite(value):
    """A JSON number that is finite as a float: not a bool, NaN, infinity or an integer too big for a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


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
