# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""adaptive.intravm.forecasts: events from the host predictors' forecasts.

Follows one predictor's endpoint (or its state file), or a whole fleet's
(`endpoints`, polled concurrently, each debounced on its own), and emits an
event only when something meaningful changes, after it has held for
`debounce` polls:

- hotspot_predicted / hotspot_cleared: the host's summed P90 CPU forecast
  at `horizon_index` crosses `hotspot_ratio` x its CPUs;
- vm_over_allocation / vm_within_allocation: a VM's P90 CPU forecast
  (in vCPUs) crosses the number of host CPUs its vCPUs are allowed on.

Arguments:
  url: http://127.0.0.1:9177/forecasts  (or `path` to the JSON state file)
  endpoints: a fleet instead of url: a list of URLs, or of {host, url} where
    host is the inventory name the event should carry
  token, ca_path, client_cert, client_key: for predictors served beyond
    loopback (TLS with a bearer token or client certificates)
  interval: seconds between polls (default 5)
  timeout: seconds one endpoint's whole answer may take (default 5)
  debounce: consecutive polls a change must hold (default 2)
  horizon_index: which forecast horizon to judge (default 0)
  hotspot_ratio: fraction of host CPUs that counts as a hotspot (default 0.9)
  host_cpus: host CPU count when the state does not carry it
  max_events: stop after this many events (tests); default unlimited

Each endpoint is followed on its own: a slow one never holds another's
poll, and one that cannot be read or serves a document that is not the
predictor's (channel.forecast_format checks every value) is logged, counted
and asked again after a backoff that doubles up to `max_backoff`; it never
ends the activation.

Example rulebook source:
  - adaptive.intravm.forecasts:
      url: http://127.0.0.1:9177/forecasts
      debounce: 3
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import asyncio
import concurrent.futures
import json
import logging
import math

from ansible_collections.adaptive.intravm.plugins.module_utils.plan import forecast_doc

LOG = logging.getLogger('adaptive.intravm.forecasts')

DOCUMENTATION = r'''
---
short_description: Events from adaptive.intravm host predictor forecasts
description:
  - Polls the host predictor's forecast endpoint or state file and emits debounced events
    when a predicted CPU hotspot appears or clears, or a VM's forecast crosses its allocation.
options:
  url:
    description: URL of the predictor's forecasts endpoint (http or https only).
    type: str
  path:
    description: Path of the predictor's JSON state file (instead of url).
    type: str
  endpoints:
    description:
      - A fleet of predictors, instead of url. Each item is a URL, or a dict with C(url) and
        C(host) (the inventory name the events carry; default, the host the predictor names).
      - All are polled every interval, concurrently, and debounced each on its own.
    type: list
    elements: raw
  token:
    description: Bearer token the predictors ask for; sent over https only (or to loopback).
    type: str
  ca_path:
    description: PEM file of the CA that signed the predictors' TLS certificates.
    type: str
  client_cert:
    description: PEM client certificate, for predictors that ask for one.
    type: str
  client_key:
    description: PEM private key of client_cert.
    type: str
  concurrency:
    description: Most endpoints fetched at once.
    type: int
    default: 16
  interval:
    description: Seconds between polls.
    type: float
    default: 5
  timeout:
    description:
      - Seconds one endpoint's whole answer may take (connect, status line, headers and body), however slowly it is sent.
    type: float
    default: 5
  max_backoff:
    description:
      - Most seconds between tries of an endpoint that keeps failing (the wait doubles from twice O(interval)).
    type: float
    default: 300
  debounce:
    description: Consecutive polls a change must hold before it is emitted.
    type: int
    default: 2
  horizon_index:
    description: Index of the forecast horizon to judge.
    type: int
    default: 0
  hotspot_ratio:
    description: Fraction of the host's CPUs whose predicted use counts as a hotspot.
    type: float
    default: 0.9
  host_cpus:
    description: Host CPU count, when the state does not carry C(host_cpus).
    type: int
  max_events:
    description: Stop after this many events (0, the default, never stops).
    type: int
    default: 0
'''


def conditions(state, horizon_index=0, hotspot_ratio=0.9, host_cpus=None):
    """{condition key: details} of what holds in one forecast state (pure)."""
    vms = state.get('vms') or {}
    host = state.get('host', 'localhost')
    cpus = state.get('host_cpus') or host_cpus
    held = {}
    total = 0.0
    for name in sorted(vms):
        vm = vms[name]
        p90 = _at((vm.get('cpu') or {}).get('p90'), horizon_index)
        if p90 is None:
            continue
        demand = p90 * float(vm.get('vcpus') or 1)
        total += demand
        allocated = vm.get('allocated_cpus')
        if allocated and demand > float(allocated):
            held['vm_over_allocation:%s' % name] = {
                'host': host, 'vm': name, 'forecast_vcpus': round(demand, 3), 'allocated_cpus': allocated}
    if cpus and total > hotspot_ratio * float(cpus):
        held['hotspot:%s' % host] = {'host': host, 'forecast_cpus': round(total, 3), 'host_cpus': cpus}
    return held


CLEARED = {'hotspot': 'hotspot_cleared', 'vm_over_allocation': 'vm_within_allocation'}
RAISED = {'hotspot': 'hotspot_predicted', 'vm_over_allocation': 'vm_over_allocation'}


class Debouncer(object):
    """Turns successive condition sets into events once a change held for `polls` polls."""

    def __init__(self, polls=2):
        self.polls = max(1, int(polls))
        self.active = {}    # key -> details of conditions reported as holding
        self.pending = {}   # key -> (wanted on/off, consecutive polls seen)

    def update(self, held):
        events = []
        for key in sorted(set(held) | set(self.active) | set(self.pending)):
            wanted = key in held
            if wanted == (key in self.active):
                self.pending.pop(key, None)
                if wanted:
                    self.active[key] = held[key]
                continue
            seen = self.pending.get(key, (wanted, 0))
            count = seen[1] + 1 if seen[0] == wanted else 1
            if count < self.polls:
                self.pending[key] = (wanted, count)
                continue
            self.pending.pop(key, None)
            kind = key.split(':', 1)[0]
            if wanted:
                self.active[key] = held[key]
                events.append(dict(held[key], type=RAISED[kind]))
            else:
                events.append(dict(self.active.pop(key), type=CLEARED[kind]))
        return events


def make_opener(token=None, ca_path=None, client_cert=None, client_key=None):
    """opener(url, timeout=...) for forecast_doc.fetch (forecast_doc.opener: the timeout bounds the whole answer)."""
    return forecast_doc.opener(token, ca_path, client_cert, client_key)


def read_state(url=None, path=None, timeout=5.0, opener=None):
    """The predictor's current state, or None (logged) when it cannot be read right now.

    forecast_doc bounds it: http(s) URLs only, 16 MiB, 16 levels, the whole
    answer within timeout, every value of the predictor's format.
    """
    try:
        return forecast_doc.load(path=path, url=None if path else url, opener=opener or make_opener(),
                                 timeout=timeout)
    except forecast_doc.ForecastDocError as exc:
        LOG.warning('%s', exc)
        return None


class Endpoint(object):
    """One predictor followed: where it is, its debouncer, its failures, and how long to wait before the next try."""

    def __init__(self, host, url, path, debounce):
        self.host, self.url, self.path = host, url, path
        self.debouncer = Debouncer(debounce)
        self.failures = 0       # in a row
        self.failed = 0         # since the activation started

    @property
    def name(self):
        return self.url or self.path

    def failure(self, interval, max_backoff):
        """Seconds to wait before the next try, after one more failure."""
        self.failures += 1
        self.failed += 1
        return min(interval * 2 ** min(self.failures, 16), max(interval, max_backoff))


def endpoints_of(args):
    """[(inventory host or None, url or None, path or None)] from url / path / endpoints, checked up front.

    A file:// or other scheme, or a token bound for plain http beyond loopback,
    stops the activation at once.
    """
    if args.get('endpoints'):
        out = []
        for item in args['endpoints']:
            host, url = (item.get('host'), item.get('url')) if isinstance(item, dict) else (None, item)
            if not isinstance(url, str) or not url:
                raise ValueError('adaptive.intravm.forecasts: endpoint %r has no url' % (item,))
            out.append((host, url, None))
    elif args.get('path'):
        out = [(None, None, args['path'])]
    elif args.get('url'):
        out = [(None, args['url'], None)]
    else:
        raise ValueError('adaptive.intravm.forecasts needs url, path or endpoints')
    for _host, url, _path in out:
        if url:
            forecast_doc.check_url(url)
            if args.get('token'):
                forecast_doc.check_token_url(url)
    return out


def options(args):
    """The checked arguments: a value that is not of its kind stops the activation at once, naming it."""
    def number(key, default, least, kind=float):
        value = args.get(key, default)
        if value is None:
            return None
        try:
            value = kind(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError, OverflowError):
            value = None
        if value is None or math.isnan(value) or value < least or math.isinf(value):
            raise ValueError('adaptive.intravm.forecasts: %s is %r: a %s >= %s is required'
                             % (key, args.get(key), 'whole number' if kind is int else 'number', least))
        return value
    return {'interval': number('interval', 5, 0), 'timeout': number('timeout', 5, 0.001),
            'max_backoff': number('max_backoff', 300, 0), 'debounce': number('debounce', 2, 1, int),
            'horizon_index': number('horizon_index', 0, 0, int), 'hotspot_ratio': number('hotspot_ratio', 0.9, 0),
            'host_cpus': number('host_cpus', None, 1, int), 'max_events': number('max_events', 0, 0, int) or 0,
            'concurrency': number('concurrency', 16, 1, int)}


async def follow(endpoint, opts, fetch, emit):
    """Poll one endpoint for ever: its events go to emit; its failures stay its own (logged, counted, backed off)."""
    while True:
        try:
            state = await fetch(endpoint)
            if state is None:
                raise ValueError('no forecasts read (see the warning above)')
            if endpoint.host:
                state = dict(state, host=endpoint.host)
            held = conditions(state, opts['horizon_index'], opts['hotspot_ratio'], opts['host_cpus'])
        except Exception as exc:  # pylint: disable=broad-except  # one endpoint's fault must not end the activation
            wait = endpoint.failure(opts['interval'], opts['max_backoff'])
            LOG.warning('forecasts from %s: %s (failure %d in a row, %d in all); next try in %.3g s',
                        endpoint.name, exc, endpoint.failures, endpoint.failed, wait)
            await asyncio.sleep(wait)
            continue
        if endpoint.failures:
            LOG.info('forecasts from %s read again after %d failures', endpoint.name, endpoint.failures)
        endpoint.failures = 0
        for event in endpoint.debouncer.update(held):
            event['generated_at'] = state['generated_at']
            await emit(event)
        await asyncio.sleep(opts['interval'])


async def main(queue, args):
    """EDA entry point: follow every endpoint on its own, put their debounced events on the queue."""
    opts = options(args)
    endpoints = [Endpoint(host, url, path, opts['debounce']) for host, url, path in endpoints_of(args)]
    opener = make_opener(*(args.get(key) or None for key in ('token', 'ca_path', 'client_cert', 'client_key')))
    loop = asyncio.get_running_loop()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(opts['concurrency'], len(endpoints))))
    done = asyncio.Event()
    sent = [0]

    async def fetch(endpoint):
        return await loop.run_in_executor(pool, read_state, endpoint.url, endpoint.path, opts['timeout'], opener)

    async def emit(event):
        if done.is_set():
            return
        await queue.put({'intravm': event})
        sent[0] += 1
        if opts['max_events'] and sent[0] >= opts['max_events']:
            done.set()

    tasks = [asyncio.ensure_future(follow(endpoint, opts, fetch, emit)) for endpoint in endpoints]
    try:
        await done.wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        pool.shutdown(wait=False)


def _at(values, index):
    if not isinstance(values, list) or not values:
        return None
    value = values[min(index, len(values) - 1)]
    return float(value) if isinstance(value, (int, float)) else None


if __name__ == '__main__':
    import sys

    class _Print(object):
        async def put(self, event):
            print(json.dumps(event))

    asyncio.run(main(_Print(), {'path': sys.argv[1], 'interval': 1, 'debounce': 1}))
