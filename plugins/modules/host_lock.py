#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: host_lock
short_description: Take or give back a hypervisor's rebalance lock, so runs never apply over each other
version_added: 0.1.0
description:
  - One rebalance (or rollback) at a time per host. A run takes the lock before it reads the
    placement it plans from and gives it back after its last change, so a second run plans
    from what the first one left instead of applying over it.
  - The lock is a JSON file (owner, acquired_at, since, ttl, host, note) created atomically
    (C(O_CREAT|O_EXCL)). Every decision is made under a C(flock) on its directory, so two runs
    never both take a free or stale lock.
  - A lock held by another run is waited for up to O(wait) seconds; then the module fails,
    naming the holder, its note and since when.
  - A lock older than the O(ttl) its holder recorded is stale (its run died) and is taken over
    with a warning.
  - Giving back only removes a lock O(owner) holds; giving back a lock one does not hold
    changes nothing.
author:
  - adaptive.intravm contributors (@adaptive-intravm)
options:
  state:
    description:
      - V(acquired) takes the lock (waiting up to O(wait)); V(released) gives it back.
    type: str
    choices: [acquired, released]
    default: acquired
  path:
    description:
      - The lock file. Its directory must exist.
    type: path
    default: /var/lib/adaptive-intravm/rebalance.lock
  owner:
    description:
      - Who takes or gives back the lock, an id unique to the run (the rebalance role uses a
        timestamp, a random part and the AWX job id when there is one).
      - Taking a lock this owner already holds changes nothing.
    type: str
    required: true
  wait:
    description:
      - Seconds to wait for another run's lock before failing. V(0) fails at once.
    type: int
    default: 0
  ttl:
    description:
      - Seconds after which the lock taken here counts as stale, so that a run that died while
        holding it blocks others at most this long. Recorded in the lock; others judge staleness
        by the ttl the holder recorded.
      - Set it above the longest run you expect.
    type: int
    default: 3600
  note:
    description:
      - Free text recorded in the lock and shown to runs that wait for it (for example why the
        run happens).
    type: str
    default: ''
extends_documentation_fragment:
  - adaptive.intravm.attributes.ACTION
notes:
  - The lock is per host, where the module runs; it never connects to libvirt.
  - In check mode the module decides as it would (and waits as it would), but writes nothing.
seealso:
  - module: adaptive.intravm.vcpu_pin
  - module: adaptive.intravm.allocation_plan
'''

EXAMPLES = r'''
- name: Take the lock, waiting up to 5 minutes for a run in progress
  adaptive.intravm.host_lock:
    path: /var/lib/adaptive-intravm/rebalance.lock
    owner: "{{ run_id }}"
    wait: 300
    ttl: 1800
    note: scheduled
  register: lock

- name: Give it back (changes nothing when another run holds it)
  adaptive.intravm.host_lock:
    path: /var/lib/adaptive-intravm/rebalance.lock
    owner: "{{ run_id }}"
    state: released
'''

RETURN = r'''
lock:
  description: The lock as it is after the run (for O(state=released), null once given back).
  returned: success
  type: dict
  contains:
    owner:
      description: The run that holds it.
      type: str
      sample: 20260101T120000Z-awx42-3fa2c1
    acquired_at:
      description: When it was taken, seconds since the epoch (the host's clock).
      type: float
      sample: 1767268800.123
    since:
      description: The same time, UTC, ISO 8601.
      type: str
      sample: "2026-01-01T12:00:00Z"
    ttl:
      description: Seconds after which others may take it over.
      type: int
      sample: 3600
    host:
      description: Host name of the machine where it was taken.
      type: str
      sample: hv1
    note:
      description: The holder's O(note).
      type: str
      sample: hotspot_predicted
took_over:
  description: The stale lock that was taken over, null when none was.
  returned: when O(state=acquired)
  type: dict
  sample: {"owner": "20260101T110000Z-9c1e0a", "since": "2026-01-01T11:00:00Z", "ttl": 600}
waited_s:
  description: Seconds spent waiting for other runs.
  returned: when O(state=acquired)
  type: float
  sample: 12.0
waited_for:
  description: Owners of the lock seen while waiting, in order (the runs that went first).
  returned: when O(state=acquired)
  type: list
  elements: str
  sample: ["20260101T115958Z-awx41-0b7d2e"]
holder:
  description: The lock that was in the way, when the module failed after O(wait).
  returned: failure
  type: dict
msg:
  description: What was done, or who holds the lock.
  returned: always
  type: str
  sample: acquired /var/lib/adaptive-intravm/rebalance.lock
'''

from ansible_collections.adaptive.intravm.plugins.module_utils.apply.host_lock import HostLock
from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError
from ansible_collections.adaptive.intravm.plugins.module_utils.module_base import IntravmModule


def run(module, lock=None):
    params = module.params
    if not params['owner'].strip():
        raise IntravmError('owner is empty: give an id unique to the run')
    if params['wait'] < 0 or params['ttl'] <= 0:
        raise IntravmError('wait must be 0 or more and ttl more than 0 seconds (got wait=%d, ttl=%d)'
                           % (params['wait'], params['ttl']))
    lock = lock or HostLock(params['path'])
    if params['state'] == 'released':
        return lock.release(params['owner'], module.check_mode)
    result = lock.acquire(params['owner'], params['wait'], params['ttl'], params['note'], module.check_mode)
    if result['took_over']:
        module.warn(result['msg'])
    return result


def main():
    module = IntravmModule(
        argument_spec=dict(
            state=dict(type='str', choices=['acquired', 'released'], default='acquired'),
            path=dict(type='path', default='/var/lib/adaptive-intravm/rebalance.lock'),
            owner=dict(type='str', required=True),
            wait=dict(type='int', default=0),
            ttl=dict(type='int', default=3600),
            note=dict(type='str', default=''),
        ),
        libvirt=False,
    )
    module.run_and_exit(run)


if __name__ == '__main__':
    main()
