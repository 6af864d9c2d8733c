# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning for the vgpu module: what to do to one domain's vGPUs on one GPU.

A "slot" is one vGPU reference of the domain: an mdev UUID or a VF address,
with the type it holds now (0 for an empty VF), whether it is in the
persistent config and in the live XML. Planning never looks at other
domains' slots, so other VMs' vGPUs are never touched.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


def slot(ident, kind, type_id, in_config, in_live, on_gpu=True):
    """A slot dict; on_gpu is False for an mdev the config names but no GPU has (after a host reboot)."""
    return {'id': ident, 'kind': kind, 'type_id': type_id, 'in_config': in_config,
            'in_live': in_live, 'on_gpu': on_gpu}


def plan(slots, state, want_type=None):
    """{'keep', 'retype', 'reuse', 'create', 'remove'} for state present (want_type) or absent.

    present: keep a slot of the wanted type; else retype the first slot on the GPU
    (same UUID/VF, so the domain config stays as it is); else recreate a dangling
    mdev of the config under its UUID; else create a new slot. Extra slots on the
    GPU are removed. absent: remove the slots on the GPU (of want_type if given).
    """
    on_gpu = [s for s in slots if s['on_gpu']]
    dangling = [s for s in slots if not s['on_gpu'] and s['kind'] == 'mdev' and s['in_config']]
    result = {'keep': None, 'retype': None, 'reuse': None, 'create': False, 'remove': []}
    if state == 'absent':
        result['remove'] = [s for s in on_gpu if want_type is None or s['type_id'] == want_type]
        return result
    matching = [s for s in on_gpu if s['type_id'] == want_type]
    if matching:
        result['keep'] = matching[0]
    elif on_gpu:
        result['retype'] = on_gpu[0]
    elif dangling:
        result['reuse'] = dangling[0]
    else:
        result['create'] = True
    chosen = result['keep'] or result['retype']
    result['remove'] = [s for s in on_gpu if s is not chosen]
    return result


def changes(result):
    return bool(result['retype'] or result['reuse'] or result['create'] or result['remove'])


def in_use(result):
    """Slots the plan must take away from a running guest (need the domain shut off)."""
    touched = list(result['remove'])
    if result['retype'] is not None:
        touched.append(result['retype'])
    return [s for s in touched if s['in_live']]
