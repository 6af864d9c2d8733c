#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: rollback_history
short_description: Read the rebalance role's rollback history - the entry to restore and what the runs since changed
version_added: 0.1.0
description:
  - Reads C(<state dir>/history/), where each rebalance run that changed something recorded the
    placement before it, for a rollback to one entry (the latest, or O(id)). Returns that entry
    and the domains whose vCPU pins or memory policy its run and every later run changed (their
    changes are undone too).
  - Entries are ordered by when their file was written (its modification time). An entry dated
    in the future (a clock set back, a copied file) cannot be placed among the others and is not
    used, with a warning; naming it in O(id) fails, saying why.
  - Each entry used is read with a size bound (16 MiB), never through a link or from a FIFO,
    and must have the shape the role writes (V(changed) a mapping of lists of domain names, each
    domain with its pins and memory policy). One that does not is refused as malformed, naming
    the entry and what is wrong; a rollback over an entry it cannot read would not know what that
    run changed.
  - Read-only; never changes anything.
author:
  - adaptive.intravm contributors (@adaptive-intravm)
options:
  path:
    description:
      - The history directory.
    type: path
    default: /var/lib/adaptive-intravm/history
  id:
    description:
      - The entry to restore (its file name without C(.json)); empty for the latest.
    type: str
    default: ''
extends_documentation_fragment:
  - adaptive.intravm.attributes.INFO
notes:
  - The rebalance role's C(rollback.yml) reads the history with this module, holding the host's lock.
seealso:
  - module: adaptive.intravm.host_lock
  - module: adaptive.intravm.vcpu_pin
  - module: adaptive.intravm.numa_memory
'''

EXAMPLES = r'''
- name: What a rollback to the latest entry would restore
  adaptive.intravm.rollback_history:
    path: /var/lib/adaptive-intravm/history
  register: history

- name: Name the domains it would put back
  ansible.builtin.debug:
    msg: "{{ history.entry.id }} ({{ history.entry.reason }}): {{ history.touched | join(', ') }}"
'''

RETURN = r'''
entry:
  description: The chosen entry as the rebalance role recorded it.
  returned: success
  type: dict
  contains:
    id:
      description: The run that recorded it.
      type: str
    time:
      description: When that run took the lock.
      type: str
    reason:
      description: Why that run happened.
      type: str
    uri:
      description: The libvirt URI it ran against.
      type: str
    domains:
      description: The placement before that run, as M(adaptive.intravm.topology_info) reports it.
      type: list
      elements: dict
    changed:
      description: The domains (or GPUs) that run changed, by kind.
      type: dict
touched:
  description: The domains whose vCPU pins or memory policy the chosen entry's run and every later run changed.
  returned: success
  type: list
  elements: str
  sample: [web01, db01]
undone:
  description: The entries whose runs' changes the rollback undoes, the chosen one first.
  returned: success
  type: list
  elements: str
ids:
  description: Every usable entry, oldest first.
  returned: success
  type: list
  elements: str
ignored:
  description: Entries not used, with why (also given as warnings).
  returned: success
  type: list
  elements: dict
  sample: [{"id": "copied", "reason": "... was modified at 2099-01-01T00:00:00Z, ahead of this host's clock ..."}]
'''

from ansible_collections.adaptive.intravm.plugins.module_utils.apply import history
from ansible_collections.adaptive.intravm.plugins.module_utils.module_base import IntravmModule


def run(module, now=None):
    result = history.load(module.params['path'], (module.params['id'] or '').strip(), now)
    for item in result['ignored']:
        module.warn('history entry %s is not used: %s' % (item['id'], item['reason']))
    result['changed'] = False
    return result


def main():
    module = IntravmModule(
        argument_spec=dict(
            path=dict(type='path', default='/var/lib/adaptive-intravm/history'),
            id=dict(type='str', default=''),
        ),
        libvirt=False,
    )
    module.run_and_exit(run)


if __name__ == '__main__':
    main()
