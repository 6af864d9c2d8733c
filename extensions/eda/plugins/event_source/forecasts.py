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
  debounce: consecutive polls a change must hold (default 2)
  horizon_index: which forecast horizon to judge (default 0)
  hotspot_ratio: fraction of host CPUs that counts as a hotspot (default 0.9)
  host_cpus: host CPU count when the state does not carry it
  max_events: stop after this many events (tests); default unlimited

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
import ssl
import urllib.request

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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: urllib would hand the token to wherever it points."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def make_opener(token=None, ca_path=None, client_cert=None, client_key=None):
    """opener(url, timeout=...) for forecast_doc.fetch: TLS with ca_path / a client certificate, a bearer token."""
    ctx = ssl.create_default_context(cafile=ca_path)
    if client_cert:
        ctx.load_cert_chain(client_cert, client_key)
    handlers = [urllib.request.HTTPSHandler(context=ctx)] + ([_NoRedirect()] if token else [])
    opener = urllib.request.build_opener(*handlers)
    headers = {'Authorization': 'Bearer %s' % token} if token else {}

    def open_url(url, timeout):
        return opener.open(urllib.request.Request(url, headers=headers), timeout=timeout)
    return open_url


def read_state(url=None, path=None, timeout=5.0, opener=None):
    """The predictor's current state, or None (logged) when it cannot be read right now.

    forecast_doc bounds it: http(s) URLs only, 16 MiB, 16 levels, the predictor's shape.
    """
    try:
        return forecast_doc.load(path=path, url=None if path else url, opener=opener or urllib.request.urlopen,
                                 timeout=timeout)
    except forecast_doc.ForecastDocError as exc:
        LOG.warning('%s', exc)
        return None


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


async def main(queue, args):
    """EDA entry point: poll every endpoint, debounce each, put events on the queue."""
    endpoints = endpoints_of(args)
    opener = make_opener(*(args.get(key) or None for key in ('token', 'ca_path', 'client_cert', 'client_key')))
    interval = float(args.get('interval', 5))
    debouncers = [Debouncer(int(args.get('debounce', 2))) for _endpoint in endpoints]
    max_events = int(args.get('max_events') or 0)
    sent = 0
    loop = asyncio.get_running_loop()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(int(args.get('concurrency', 16)), len(endpoints))))
    try:
        while True:
            states = await asyncio.gather(*[loop.run_in_executor(pool, read_state, url, path, 5.0, opener)
                                            for _host, url, path in endpoints])
            for (host, _url, _path), debouncer, state in zip(endpoints, debouncers, states):
                if state is None:
                    continue
                if host:
                    state = dict(state, host=host)
                held = conditions(state, int(args.get('horizon_index', 0)), float(args.get('hotspot_ratio', 0.9)),
                                  args.get('host_cpus'))
                for event in debouncer.update(held):
                    event['generated_at'] = state.get('generated_at')
                    await queue.put({'intravm': event})
                    sent += 1
                    if max_events and sent >= max_events:
                        return
            await asyncio.sleep(interval)
    finally:
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
