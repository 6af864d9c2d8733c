# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""adaptive.intravm.forecasts: events from the host predictor's forecasts.

Follows the predictor's endpoint (or its state file) and emits an event only
when something meaningful changes, after it has held for `debounce` polls:

- hotspot_predicted / hotspot_cleared: the host's summed P90 CPU forecast
  at `horizon_index` crosses `hotspot_ratio` x its CPUs;
- vm_over_allocation / vm_within_allocation: a VM's P90 CPU forecast
  (in vCPUs) crosses the number of host CPUs its vCPUs are allowed on.

Arguments:
  url: http://127.0.0.1:9177/forecasts  (or `path` to the JSON state file)
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
import json
import logging
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


def read_state(url=None, path=None, timeout=5.0):
    """The predictor's current state, or None (logged) when it cannot be read right now.

    forecast_doc bounds it: http(s) URLs only, 16 MiB, 16 levels, the predictor's shape.
    """
    try:
        return forecast_doc.load(path=path, url=None if path else url, opener=urllib.request.urlopen, timeout=timeout)
    except forecast_doc.ForecastDocError as exc:
        LOG.warning('%s', exc)
        return None


async def main(queue, args):
    """EDA entry point: poll, debounce, put events on the queue."""
    url, path = args.get('url'), args.get('path')
    if not url and not path:
        raise ValueError('adaptive.intravm.forecasts needs url or path')
    if url and not path:
        forecast_doc.check_url(url)     # a file:// or other scheme stops the activation at once
    interval = float(args.get('interval', 5))
    debouncer = Debouncer(int(args.get('debounce', 2)))
    max_events = int(args.get('max_events') or 0)
    sent = 0
    loop = asyncio.get_running_loop()
    while True:
        state = await loop.run_in_executor(None, read_state, url, path)
        if state is not None:
            held = conditions(state, int(args.get('horizon_index', 0)), float(args.get('hotspot_ratio', 0.9)),
                              args.get('host_cpus'))
            for event in debouncer.update(held):
                event['generated_at'] = state.get('generated_at')
                await queue.put({'intravm': event})
                sent += 1
                if max_events and sent >= max_events:
                    return
        await asyncio.sleep(interval)


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
