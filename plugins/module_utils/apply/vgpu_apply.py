# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run of the vgpu module: read, validate, then apply all-or-nothing.

Kept out of the module file and free of AnsibleModule, like every other
module's logic: it takes the parameters, a libvirt connection, an open
nvml.Nvml and a VgpuSysfs, so it can be driven by fakes. Changes go through
the collection's one rollback engine (apply/rollback.Journal); a failure is
reported as VgpuFailure naming the step that failed and what was undone.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import functools
import time
import uuid

from ansible_collections.adaptive.intravm.plugins.module_utils.apply import vgpu_changes
from ansible_collections.adaptive.intravm.plugins.module_utils.apply.rollback import Journal, PartialApplyError, Step
from ansible_collections.adaptive.intravm.plugins.module_utils.devices import gpu_model
from ansible_collections.adaptive.intravm.plugins.module_utils.devices.gpu_inventory import domain_refs, owners, vm_domain
from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError
from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset
from ansible_collections.adaptive.intravm.plugins.module_utils.host import libvirt_conn

START_PAUSED = 1
PAUSED = 3


class VgpuFailure(IntravmError):
    """A refusal or failure with an operator-facing message; nothing left half-done."""


def check_request(params):
    """Refuse what the argument spec cannot express, before any device is opened."""
    if params['name'] is not None and params['state'] == 'present' and params['type'] is None:
        raise VgpuFailure('name %r given without type: say which vGPU type the domain should have, '
                          'or state: absent' % params['name'])
    if params['state'] == 'present' and params['type'] is None and params['scheduler'] is None:
        raise VgpuFailure('nothing to declare: give type (with name) for a vGPU, or scheduler for the GPU')
    if params['shutdown_timeout'] < 0:
        raise VgpuFailure('shutdown_timeout must be 0 or more seconds, got %d' % params['shutdown_timeout'])


def resolve_type(types, wanted):
    """Type id for a name (case-insensitive) or a numeric id; error lists the known names."""
    text = str(wanted).strip()
    for entry in types:
        if entry['name'].lower() == text.lower() or (cpuset.is_number(text) and entry['id'] == int(text)):
            return entry['id']
    raise VgpuFailure('unknown vGPU type %r for this GPU; supported types: %s'
                      % (wanted, ', '.join(t['name'] for t in types) or 'none'))


class Host(object):
    """The GPU's sysfs model plus this domain's slots on it."""

    def __init__(self, sysfs, model, pci, types):
        self.sysfs = sysfs
        self.model = model
        self.pci = pci
        self.names = dict((t['id'], t['name']) for t in types)

    def slots(self, ref):
        refs = set(ref['config']['mdev'] + ref['live']['mdev'])
        slots = []
        if self.model == 'mdev':
            here = dict((m['uuid'], m['type_id']) for m in self.sysfs.mdevs(self.pci))
            for ident in sorted(refs):
                if ident in here or not self.sysfs.mdev_exists(ident):
                    slots.append(vgpu_changes.slot(ident, 'mdev', here.get(ident, 0), ident in ref['config']['mdev'],
                                                   ident in ref['live']['mdev'], on_gpu=ident in here))
        else:
            here = dict((vf['vf'], vf['current_type']) for vf in self.sysfs.vfs(self.pci))
            for ident in sorted(set(ref['config']['pci'] + ref['live']['pci'])):
                if ident in here:
                    slots.append(vgpu_changes.slot(ident, 'vf', here[ident], ident in ref['config']['pci'],
                                                   ident in ref['live']['pci']))
        return slots

    def capacity(self, type_id, refs):
        """A free place for a new vGPU of type_id: 'mdev', a free VF address, or None."""
        if self.model == 'mdev':
            for entry in self.sysfs.mdev_types(self.pci):
                if entry['id'] == type_id and entry['available'] > 0:
                    return 'mdev'
            return None
        for vf in self.sysfs.vfs(self.pci):
            if vf['current_type'] == 0 and not owners(refs, 'pci', vf['vf']) and type_id in [t[0] for t in vf['creatable']]:
                return vf['vf']
        return None

    def creatable(self):
        if self.model == 'mdev':
            return [t['name'] for t in self.sysfs.mdev_types(self.pci) if t['available'] > 0]
        names = set()
        for vf in self.sysfs.vfs(self.pci):
            names.update(name for _id, name in vf['creatable'])
        return sorted(names)

    def create(self, ident, type_id):
        if self.model == 'mdev':
            self.sysfs.create_mdev(self.pci, type_id, ident)
        else:
            self.sysfs.set_vf_type(ident, type_id)

    def remove(self, ident):
        if self.model == 'mdev':
            self.sysfs.remove_mdev(ident)
        else:
            self.sysfs.set_vf_type(ident, 0)

    def hostdev(self, ident):
        return gpu_model.mdev_hostdev_xml(ident) if self.model == 'mdev' else gpu_model.pci_hostdev_xml(ident)


def stop_domain(dom, timeout):
    """Graceful shutdown within timeout seconds, then power off."""
    if timeout > 0:
        try:
            dom.shutdown()
        except libvirt_conn.libvirt.libvirtError:
            pass
        deadline = time.time() + timeout
        while dom.isActive() and time.time() < deadline:
            time.sleep(0.5)
    if dom.isActive():
        dom.destroy()


def start_domain(dom, paused):
    dom.createWithFlags(START_PAUSED if paused else 0)


def start_again(dom, paused):
    """Start after the change; a half-started domain is stopped, as it must not hold the vGPUs the rollback puts back."""
    try:
        start_domain(dom, paused)
    except Exception:
        if dom.isActive():
            stop_domain(dom, 0)
        raise


def vgpu_steps(host, dom, plan, want, new):
    """The steps, each with its undo, that give the domain the planned vGPUs (new: the slot to create, or None)."""
    config = libvirt_conn.AFFECT_CONFIG
    steps = []
    for s in plan['remove']:
        if s['in_config']:
            xml = host.hostdev(s['id'])
            steps.append(Step('detaching %s from the config of %s' % (s['id'], dom.name()),
                              functools.partial(dom.detachDeviceFlags, xml, config),
                              functools.partial(dom.attachDeviceFlags, xml, config)))
        if s['type_id']:
            steps.append(Step('removing vGPU %s' % s['id'], functools.partial(host.remove, s['id']),
                              functools.partial(host.create, s['id'], s['type_id'])))
    target = plan['retype'] or plan['reuse']
    if target is not None:
        if target['type_id'] and target['on_gpu']:
            steps.append(Step('removing vGPU %s' % target['id'], functools.partial(host.remove, target['id']),
                              functools.partial(host.create, target['id'], target['type_id'])))
        steps.append(Step('creating vGPU %s (%s)' % (target['id'], host.names[want]),
                          functools.partial(host.create, target['id'], want), functools.partial(host.remove, target['id'])))
    if new is not None:
        xml = host.hostdev(new['id'])
        steps.append(Step('creating vGPU %s (%s)' % (new['id'], host.names[want]),
                          functools.partial(host.create, new['id'], want), functools.partial(host.remove, new['id'])))
        steps.append(Step('attaching %s to the config of %s' % (new['id'], dom.name()),
                          functools.partial(dom.attachDeviceFlags, xml, config),
                          functools.partial(dom.detachDeviceFlags, xml, config)))
    return steps


def vgpu_messages(host, dom, plan, want, new):
    """What the vGPU steps did, in words."""
    msgs = ['removed vGPU %s' % s['id'] for s in plan['remove']]
    target = plan['retype'] or plan['reuse']
    if target is not None:
        msgs.append('vGPU %s is now %s' % (target['id'], host.names[want]))
    if new is not None:
        msgs.append('created vGPU %s (%s) and added it to the config of %s' % (new['id'], host.names[want], dom.name()))
    return msgs


def rollback_failure(exc):
    """VgpuFailure for a PartialApplyError: the step that failed, then whether everything before it was undone."""
    if exc.rollback_errors:
        tail = 'rollback also failed: ' + '; '.join('undo of %s failed: %s' % e for e in exc.rollback_errors)
    else:
        tail = 'everything done before it was undone'
    return VgpuFailure('%s failed: %s; %s' % (exc.failed, exc.cause, tail), rolled_back=exc.rolled_back)


def public(s, names):
    """A slot as the module reports it, its type named (names: type id -> name)."""
    return {'id': s['id'], 'kind': s['kind'], 'type_id': s['type_id'], 'type': names.get(s['type_id']),
            'in_config': s['in_config'], 'in_live': s['in_live']}


class VgpuRun(object):
    """One module run: read, validate, then apply under a journal."""

    def __init__(self, params, nv, conn, sysfs, check_mode):
        self.params = params
        self.nv = nv
        self.conn = conn
        self.sysfs = sysfs
        self.check_mode = check_mode
        self.msgs = []

    # ---- scheduler -----------------------------------------------------------
    def scheduler_plan(self, handle, pci, host, refs):
        p = self.params
        caps = self.nv.scheduler_caps(handle)
        if p['scheduler'] not in caps['supported_policies']:
            raise VgpuFailure('scheduler %r is not supported by GPU %s; supported: %s'
                              % (p['scheduler'], pci, ', '.join(caps['supported_policies'])))
        if p['timeslice'] is not None:
            if p['scheduler'] == 'best_effort':
                raise VgpuFailure('timeslice %d applies to equal_share and fixed_share only, not best_effort' % p['timeslice'])
            if not caps['min_timeslice_ns'] <= p['timeslice'] <= caps['max_timeslice_ns']:
                raise VgpuFailure('timeslice %d ns is outside the range of GPU %s (%d..%d ns)'
                                  % (p['timeslice'], pci, caps['min_timeslice_ns'], caps['max_timeslice_ns']))
        before = self.nv.scheduler(handle)
        needed = before['policy'] != p['scheduler'] or (p['timeslice'] is not None and before['timeslice_ns'] != p['timeslice'])
        if needed:
            existing = self.existing_vgpus(handle, host, refs)
            if existing:
                raise VgpuFailure(
                    'NVML refuses to change the vGPU scheduler of GPU %s while vGPUs exist on it (it would return '
                    'NVMLError_NotSupported); vGPUs now: %s. Shut those domains down and remove their vGPUs '
                    '(adaptive.intravm.vgpu state=absent), set the scheduler, then create the vGPUs again. '
                    'This module never destroys vGPUs on its own.' % (pci, '; '.join(existing)))
        after = {'policy': p['scheduler'], 'timeslice_ns': p['timeslice'] if p['timeslice'] is not None else before['timeslice_ns']}
        return needed, {'policy': before['policy'], 'timeslice_ns': before['timeslice_ns']}, after

    def existing_vgpus(self, handle, host, refs):
        """Every vGPU on the GPU (NVML's list and sysfs), described with its domain."""
        seen = []
        for vgpu in self.nv.active_vgpus(handle):
            where = vgpu['mdev_uuid'] or 'instance %d' % vgpu['instance']
            seen.append('%s (%s, domain %s)' % (where, vgpu['type_name'], vm_domain(refs, vgpu) or 'none'))
        listed = ' '.join(seen)
        if host.model == 'mdev':
            extra = [(m['uuid'], owners(refs, 'mdev', m['uuid'])) for m in host.sysfs.mdevs(host.pci) if m['uuid'] not in listed]
        else:
            extra = [(vf['vf'], owners(refs, 'pci', vf['vf'])) for vf in host.sysfs.vfs(host.pci)
                     if vf['current_type'] and vf['vf'] not in listed]
        seen.extend('%s (domain %s)' % (ident, ', '.join(names) or 'none') for ident, names in extra)
        return seen

    def scheduler_step(self, handle, pci, before):
        """Setting the scheduler, undone by putting back the policy (and its timeslice) read before."""
        p = self.params
        return Step('setting the scheduler of GPU %s' % pci,
                    lambda: self.nv.set_scheduler(handle, p['scheduler'], p['timeslice']),
                    lambda: self.nv.set_scheduler(handle, before['policy'],
                                                  before['timeslice_ns'] if before['policy'] != 'best_effort' else None))

    # ---- vGPU -------------------------------------------------------------
    def vgpu_plan(self, host, refs, types):
        p = self.params
        dom = libvirt_conn.lookup_domain(self.conn, p['name'])
        if not dom.isPersistent():
            raise VgpuFailure('domain %r is transient; a vGPU is cold-plugged into the persistent config, '
                              'so define the domain first' % p['name'])
        ref = [r for r in refs if r['name'] == p['name']][0]
        want = resolve_type(types, p['type']) if p['type'] is not None else None
        slots = host.slots(ref)
        plan = vgpu_changes.plan(slots, p['state'], want)
        active = bool(dom.isActive())
        busy = vgpu_changes.in_use(plan) if active else []
        if busy and not p['restart']:
            raise VgpuFailure('domain %r is running and uses vGPU %s; changing or removing it needs the domain shut off, '
                              'or restart: true. Nothing was changed.'
                              % (p['name'], ', '.join('%s (%s)' % (s['id'], host.names.get(s['type_id'], s['type_id'])) for s in busy)))
        place = None
        if plan['create']:
            place = host.capacity(want, refs)
            if place is None:
                raise VgpuFailure('no capacity left for %s on GPU %s; creatable now: %s'
                                  % (host.names[want], host.pci, ', '.join(host.creatable()) or 'none'))
        return dom, slots, plan, want, place, active

    @staticmethod
    def predicted(slots, plan, want, place):
        """The domain's slots after the plan, as reported."""
        gone = [s['id'] for s in plan['remove']]
        after = []
        for s in slots:
            if s['id'] in gone or not (s['on_gpu'] or s is plan['reuse']):
                continue
            type_id = want if s is plan['retype'] or s is plan['reuse'] else s['type_id']
            after.append(dict(s, type_id=type_id, on_gpu=True))
        if plan['create']:
            ident = str(uuid.uuid4()) if place == 'mdev' else place
            after.append(vgpu_changes.slot(ident, 'mdev' if place == 'mdev' else 'vf', want, True, False))
        return after

    # ---- the run -------------------------------------------------------------
    def run(self):
        p = self.params
        index, handle, pci = self.nv.handle(p['gpu'])
        mode = gpu_model.VIRTUALIZATION_MODES.get(self.nv.call('nvmlDeviceGetVirtualizationMode', handle))
        if mode != 'host_vgpu':
            raise VgpuFailure('GPU %s (index %d) is in virtualization mode %r, not host_vgpu: vGPUs need the NVIDIA '
                              'vGPU manager driver on this host' % (pci, index, mode))
        model = self.sysfs.model(pci)
        if model is None:
            raise VgpuFailure('GPU %s is in vGPU mode but %s shows no vGPU interface for it (no mdev_supported_types, '
                              'no VFs with nvidia/current_vgpu_type); are its VFs enabled?' % (pci, p['sysfs_root']))
        types = self.nv.vgpu_types(handle)
        host = Host(self.sysfs, model, pci, types)
        refs = domain_refs(self.conn)
        result = {'changed': False, 'gpu': pci, 'driver_model': model}
        diff = {'before': {}, 'after': {}}

        sched = None
        if p['scheduler'] is not None:
            sched = self.scheduler_plan(handle, pci, host, refs)
            diff['before']['scheduler'], diff['after']['scheduler'] = sched[1], sched[2]
            result['scheduler'] = sched[2]
        vg = None
        do_restart = False
        if p['name'] is not None:
            vg = self.vgpu_plan(host, refs, types)
            dom, slots, plan, want, place, active = vg
            after = self.predicted(slots, plan, want, place)
            diff['before']['vgpus'] = [public(s, host.names) for s in slots if s['on_gpu']]
            diff['after']['vgpus'] = [public(s, host.names) for s in after]
            result['vgpus'] = diff['after']['vgpus']
            needs_boot = active and any(not s['in_live'] for s in after) or (
                active and (plan['retype'] is not None or plan['reuse'] is not None))
            do_restart = active and p['restart'] and (needs_boot or bool(vgpu_changes.in_use(plan)))
            result['restarted'] = bool(do_restart) and not self.check_mode
            result['pending_restart'] = bool(needs_boot) and not do_restart
        result['changed'] = bool(sched and sched[0]) or bool(vg and vgpu_changes.changes(vg[2])) or bool(result.get('restarted'))
        result['diff'] = diff
        if self.check_mode or not result['changed']:
            result['msg'] = self.summary(result, planned=self.check_mode)
            return result

        journal = Journal(describe_error=libvirt_conn.error_text)
        try:
            if sched and sched[0]:
                api = journal.run(*self.scheduler_step(handle, pci, sched[1]))
                self.msgs.append('scheduler set to %s through the %s API' % (p['scheduler'], api))
            if vg is not None:
                self.apply_vgpu(journal, host, vg, after, do_restart)
        except PartialApplyError as exc:
            raise rollback_failure(exc)
        if vg is not None:
            result['vgpus'] = [public(s, host.names) for s in self.refreshed(host, dom)]
            diff['after']['vgpus'] = result['vgpus']
        result['msg'] = self.summary(result)
        return result

    def apply_vgpu(self, journal, host, vg, after, do_restart):
        """The vGPU steps, inside a shutdown and start of the domain when it must restart."""
        dom, _slots, plan, want, _place, _active = vg
        new = after[-1] if plan['create'] else None
        name = dom.name()
        paused = do_restart and dom.state()[0] == PAUSED
        if do_restart:
            journal.run('shutting %s down' % name, lambda: stop_domain(dom, self.params['shutdown_timeout']),
                        lambda: start_domain(dom, paused))
        for step in vgpu_steps(host, dom, plan, want, new):
            journal.run(*step)
        self.msgs.extend(vgpu_messages(host, dom, plan, want, new))
        if do_restart:
            journal.run('starting %s again after the change' % name, lambda: start_again(dom, paused), lambda: stop_domain(dom, 0))
            self.msgs.append('restarted %s' % name)

    def refreshed(self, host, dom):
        refs = [r for r in domain_refs(self.conn) if r['name'] == dom.name()]
        return [s for s in host.slots(refs[0]) if s['on_gpu']]

    def summary(self, result, planned=False):
        words = list(self.msgs) if not planned else []
        if planned and result['changed']:
            words.append('changes are needed (check mode: nothing was changed)')
        if not result['changed']:
            words.append('nothing to change')
        if result.get('pending_restart'):
            words.append('domain %s is running: the vGPU change takes effect at its next boot '
                         '(or run again with restart: true)' % self.params['name'])
        return '; '.join(words)
