#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: vgpu
short_description: Give one VM a vGPU of a given type, and set a GPU's vGPU scheduler
version_added: 0.1.0
description:
  - Declares the NVIDIA vGPU of one domain on one GPU - its type, or that it has none - and
    changes only that domain's vGPUs; other VMs' vGPUs on the same GPU are never touched
    (unlike whole-GPU tools such as vgpu-device-manager).
  - On mdev drivers it creates the mdev (a UUID written to C(create)) and adds
    C(<hostdev type='mdev'>) to the domain; on vendor-VFIO drivers (vGPU 17+) it picks a
    free VF, writes the type id to C(current_vgpu_type) and adds the VF as a PCI hostdev.
    A type change keeps the same mdev UUID or VF, so the domain config does not change.
  - Attachment is cold-plug. The persistent config is changed; a running domain sees the
    vGPU at its next boot (RV(pending_restart)) unless O(restart=true) lets the module
    shut it down and start it again. Removing or changing a vGPU a running domain uses
    needs O(restart=true); otherwise the module fails and changes nothing.
  - Sets the GPU's vGPU scheduler (policy and timeslice) through NVML. NVML refuses while
    any vGPU exists on the GPU; the module then says which vGPUs and domains are in the
    way and what to do, and never destroys vGPUs on its own.
  - Everything is validated before anything is changed; on a failure mid-way, what was
    done is undone and both errors are reported.
author:
  - adaptive.intravm contributors (@adaptive-intravm)
requirements:
  - nvidia-ml-py
  - libvirt-python
options:
  gpu:
    description:
      - The physical GPU, by NVML index (C(0)) or PCI address (C(0000:3b:00.0)).
    type: str
    required: true
  name:
    description:
      - The domain whose vGPU is declared. Required with O(type) and with O(state=absent).
    type: str
  type:
    description:
      - vGPU type name as NVIDIA names it (C(NVIDIA A100-4C)), or its numeric type id on this GPU.
      - With O(state=absent), only vGPUs of this type are removed.
    type: str
  state:
    description:
      - C(present) gives the domain exactly one vGPU of O(type) on O(gpu);
        C(absent) removes the domain's vGPUs on O(gpu).
    type: str
    choices: [present, absent]
    default: present
  restart:
    description:
      - Allow shutting a running domain down and starting it again (in the same
        running/paused state) so that the change takes effect now.
    type: bool
    default: false
  shutdown_timeout:
    description:
      - Seconds to wait for a graceful shutdown when O(restart=true) before powering the
        domain off. C(0) powers it off at once.
    type: int
    default: 120
  scheduler:
    description:
      - vGPU scheduler policy of the GPU. Can only change while no vGPU exists on the GPU.
    type: str
    choices: [best_effort, equal_share, fixed_share]
  timeslice:
    description:
      - Scheduler timeslice in nanoseconds (NVML's unit), for C(equal_share) and
        C(fixed_share). Must lie in the GPU's range (see M(adaptive.intravm.gpu_info)
        C(scheduler_capabilities)). When omitted the driver default is used.
    type: int
  uri:
    description:
      - libvirt connection URI.
    type: str
    default: qemu:///system
  sysfs_root:
    description:
      - Where sysfs is mounted. Only tests point this elsewhere.
    type: path
    default: /sys
extends_documentation_fragment:
  - adaptive.intravm.attributes.ACTION
notes:
  - Domains must be persistent (defined); a transient domain has no config to change.
  - mdevs do not survive a host reboot. If the domain's config names an mdev that no longer
    exists, O(state=present) creates it again under the same UUID.
seealso:
  - module: adaptive.intravm.gpu_info
'''

EXAMPLES = r'''
- name: Set the scheduler before any vGPU exists on the GPU
  adaptive.intravm.vgpu:
    gpu: "0000:3b:00.0"
    scheduler: equal_share
    timeslice: 2000000

- name: Give web01 a 4 GB compute vGPU (takes effect at its next boot)
  adaptive.intravm.vgpu:
    name: web01
    gpu: "0000:3b:00.0"
    type: NVIDIA A100-4C

- name: Resize it now, restarting the VM
  adaptive.intravm.vgpu:
    name: web01
    gpu: "0000:3b:00.0"
    type: NVIDIA A100-8C
    restart: true

- name: Take it away
  adaptive.intravm.vgpu:
    name: web01
    gpu: 0
    state: absent
'''

RETURN = r'''
gpu:
  description: PCI address of the GPU.
  returned: always
  type: str
  sample: "0000:3b:00.0"
driver_model:
  description: C(mdev) or C(vfio).
  returned: always
  type: str
  sample: mdev
vgpus:
  description: The domain's vGPUs on this GPU after the run (predicted in check mode).
  returned: when O(name) is given
  type: list
  elements: dict
  sample: [{"id": "00a3da69-798b-4ac0-b06f-bf4525c70827", "kind": "mdev", "type_id": 471, "type": "NVIDIA A100-4C",
            "in_config": true, "in_live": false}]
pending_restart:
  description: True when the domain runs without the declared vGPUs; they take effect at its next boot.
  returned: when O(name) is given
  type: bool
restarted:
  description: True when the module shut the domain down and started it again.
  returned: when O(name) is given
  type: bool
scheduler:
  description: The GPU's scheduler after the run.
  returned: when O(scheduler) is given
  type: dict
  sample: {"policy": "equal_share", "timeslice_ns": 2000000}
msg:
  description: What was done, or would be, in words.
  returned: always
  type: str
'''

import time
import uuid

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset
from ansible_collections.adaptive.intravm.plugins.module_utils.devices import gpu_model
from ansible_collections.adaptive.intravm.plugins.module_utils.host import libvirt_conn
from ansible_collections.adaptive.intravm.plugins.module_utils.devices import nvml
from ansible_collections.adaptive.intravm.plugins.module_utils.apply import vgpu_changes
from ansible_collections.adaptive.intravm.plugins.module_utils.devices.gpu_inventory import domain_refs, owners
from ansible_collections.adaptive.intravm.plugins.module_utils.devices.vgpu_sysfs import SysfsError, VgpuSysfs

START_PAUSED = 1


class VgpuFailure(Exception):
    """A refusal or failure with an operator-facing message; nothing left half-done."""


class Journal(object):
    """Undo steps of what was applied, run in reverse on a failure."""

    def __init__(self):
        self.undo = []

    def done(self, description, undo):
        self.undo.append((description, undo))

    def rollback(self):
        errors = []
        for description, undo in reversed(self.undo):
            try:
                undo()
            except Exception as exc:  # pylint: disable=broad-except
                errors.append('undo of %s failed: %s' % (description, exc))
        return errors


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


class VgpuRun(object):
    """One module run: read, validate, then apply with a journal."""

    def __init__(self, module, nv, conn):
        self.module = module
        self.params = module.params
        self.nv = nv
        self.conn = conn
        self.journal = Journal()
        self.msgs = []
        self.step = 'applying'

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
            seen.append('%s (%s, domain %s)' % (where, vgpu['type_name'], _domain_of(refs, vgpu) or 'none'))
        listed = ' '.join(seen)
        if host.model == 'mdev':
            extra = [(m['uuid'], owners(refs, 'mdev', m['uuid'])) for m in host.sysfs.mdevs(host.pci) if m['uuid'] not in listed]
        else:
            extra = [(vf['vf'], owners(refs, 'pci', vf['vf'])) for vf in host.sysfs.vfs(host.pci)
                     if vf['current_type'] and vf['vf'] not in listed]
        seen.extend('%s (domain %s)' % (ident, ', '.join(names) or 'none') for ident, names in extra)
        return seen

    def set_scheduler(self, handle, before):
        api = self.nv.set_scheduler(handle, self.params['scheduler'], self.params['timeslice'])
        self.msgs.append('scheduler set to %s through the %s API' % (self.params['scheduler'], api))
        self.journal.done('scheduler change', lambda: self.nv.set_scheduler(
            handle, before['policy'], before['timeslice_ns'] if before['policy'] != 'best_effort' else None))

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
        return dom, ref, slots, plan, want, place, active

    def predicted(self, host, slots, plan, want, place):
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
        for s in after:
            s['type'] = host.names.get(s['type_id'])
        return after

    def apply_vgpu(self, host, dom, plan, want, after):
        for s in plan['remove']:
            if s['in_config']:
                xml = host.hostdev(s['id'])
                dom.detachDeviceFlags(xml, libvirt_conn.AFFECT_CONFIG)
                self.journal.done('detach of %s' % s['id'], lambda xml=xml: dom.attachDeviceFlags(xml, libvirt_conn.AFFECT_CONFIG))
            if s['type_id']:
                host.remove(s['id'])
                self.journal.done('removal of %s' % s['id'], lambda s=s: host.create(s['id'], s['type_id']))
            self.msgs.append('removed vGPU %s' % s['id'])
        target = plan['retype'] or plan['reuse']
        if target is not None:
            if target['type_id'] and target['on_gpu']:
                host.remove(target['id'])
                self.journal.done('removal of %s' % target['id'], lambda: host.create(target['id'], target['type_id']))
            host.create(target['id'], want)
            self.journal.done('creation of %s' % target['id'], lambda: host.remove(target['id']))
            self.msgs.append('vGPU %s is now %s' % (target['id'], host.names[want]))
        if plan['create']:
            new = after[-1]
            host.create(new['id'], want)
            self.journal.done('creation of %s' % new['id'], lambda: host.remove(new['id']))
            xml = host.hostdev(new['id'])
            dom.attachDeviceFlags(xml, libvirt_conn.AFFECT_CONFIG)
            self.journal.done('attach of %s' % new['id'], lambda: dom.detachDeviceFlags(xml, libvirt_conn.AFFECT_CONFIG))
            self.msgs.append('created vGPU %s (%s) and added it to the config of %s' % (new['id'], host.names[want], dom.name()))

    # ---- the run -------------------------------------------------------------
    def run(self):
        p = self.params
        index, handle, pci = self.nv.handle(p['gpu'])
        mode = gpu_model.VIRTUALIZATION_MODES.get(self.nv.call('nvmlDeviceGetVirtualizationMode', handle))
        if mode != 'host_vgpu':
            raise VgpuFailure('GPU %s (index %d) is in virtualization mode %r, not host_vgpu: vGPUs need the NVIDIA '
                              'vGPU manager driver on this host' % (pci, index, mode))
        sysfs = VgpuSysfs(p['sysfs_root'])
        model = sysfs.model(pci)
        if model is None:
            raise VgpuFailure('GPU %s is in vGPU mode but %s shows no vGPU interface for it (no mdev_supported_types, '
                              'no VFs with nvidia/current_vgpu_type); are its VFs enabled?' % (pci, p['sysfs_root']))
        types = self.nv.vgpu_types(handle)
        host = Host(sysfs, model, pci, types)
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
            dom, ref, slots, plan, want, place, active = vg
            after = self.predicted(host, slots, plan, want, place)
            before = [dict(s, type=host.names.get(s['type_id'])) for s in slots if s['on_gpu']]
            diff['before']['vgpus'] = [_public(s) for s in before]
            diff['after']['vgpus'] = [_public(s) for s in after]
            result['vgpus'] = diff['after']['vgpus']
            needs_boot = active and any(not s['in_live'] for s in after) or (
                active and (plan['retype'] is not None or plan['reuse'] is not None))
            do_restart = active and p['restart'] and (needs_boot or bool(vgpu_changes.in_use(plan)))
            result['restarted'] = bool(do_restart) and not self.module.check_mode
            result['pending_restart'] = bool(needs_boot) and not do_restart
        result['changed'] = bool(sched and sched[0]) or bool(vg and vgpu_changes.changes(vg[3])) or bool(result.get('restarted'))
        if self.module.check_mode or not result['changed']:
            result['diff'] = diff
            result['msg'] = self.summary(result, planned=self.module.check_mode)
            return result

        try:
            if sched and sched[0]:
                self.step = 'setting the scheduler of GPU %s' % pci
                self.set_scheduler(handle, sched[1])
            if vg is not None:
                stopped = False
                if do_restart:
                    self.step = 'shutting %s down' % dom.name()
                    paused = dom.state()[0] == 3
                    stop_domain(dom, p['shutdown_timeout'])
                    stopped = True
                    self.journal.done('shutdown of %s' % dom.name(), lambda: start_domain(dom, paused))
                self.step = 'changing the vGPUs of %s' % dom.name()
                self.apply_vgpu(host, dom, plan, want, after)
                if stopped:
                    self.step = 'starting %s again after the change' % dom.name()
                    start_domain(dom, paused)
                    self.msgs.append('restarted %s' % dom.name())
        except (nvml.NvmlError, SysfsError, libvirt_conn.libvirt.libvirtError) as exc:
            first = '%s failed: %s' % (self.step, libvirt_conn.error_text(exc))
            if self.journal.undo and vg is not None and do_restart and dom.isActive():
                stop_domain(dom, 0)  # a half-started domain must not hold the vGPUs we restore
            errors = self.journal.rollback()
            raise VgpuFailure('%s; %s' % (first, 'rollback also failed: ' + '; '.join(errors) if errors
                                          else 'everything done before it was undone'))
        if vg is not None:
            result['vgpus'] = [_public(s) for s in self.refreshed(host, dom)]
            diff['after']['vgpus'] = result['vgpus']
        result['diff'] = diff
        result['msg'] = self.summary(result)
        return result

    def refreshed(self, host, dom):
        refs = [r for r in domain_refs(self.conn) if r['name'] == dom.name()]
        return [dict(s, type=host.names.get(s['type_id'])) for s in host.slots(refs[0]) if s['on_gpu']]

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


def _domain_of(refs, vgpu):
    from ansible_collections.adaptive.intravm.plugins.module_utils.devices.gpu_inventory import vm_domain  # pylint: disable=import-outside-toplevel
    return vm_domain(refs, vgpu)


def _public(s):
    return {'id': s['id'], 'kind': s['kind'], 'type_id': s['type_id'], 'type': s.get('type'),
            'in_config': s['in_config'], 'in_live': s['in_live']}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            gpu=dict(type='str', required=True),
            name=dict(type='str'),
            type=dict(type='str'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            restart=dict(type='bool', default=False),
            shutdown_timeout=dict(type='int', default=120),
            scheduler=dict(type='str', choices=['best_effort', 'equal_share', 'fixed_share']),
            timeslice=dict(type='int'),
            uri=dict(type='str', default=libvirt_conn.DEFAULT_URI),
            sysfs_root=dict(type='path', default='/sys'),
        ),
        required_if=[('state', 'absent', ['name'])],
        required_by={'type': 'name', 'timeslice': 'scheduler'},
        supports_check_mode=True,
    )
    p = module.params
    if p['name'] is not None and p['state'] == 'present' and p['type'] is None:
        module.fail_json(msg='name %r given without type: say which vGPU type the domain should have, '
                             'or state: absent' % p['name'])
    if p['state'] == 'present' and p['type'] is None and p['scheduler'] is None:
        module.fail_json(msg='nothing to declare: give type (with name) for a vGPU, or scheduler for the GPU')
    if p['shutdown_timeout'] < 0:
        module.fail_json(msg='shutdown_timeout must be 0 or more seconds, got %d' % p['shutdown_timeout'])
    if not nvml.HAS_PYNVML:
        module.fail_json(msg=missing_required_lib('nvidia-ml-py'), exception=nvml.PYNVML_IMPORT_ERROR)
    if not libvirt_conn.HAS_LIBVIRT:
        module.fail_json(msg=missing_required_lib('libvirt-python'), exception=libvirt_conn.LIBVIRT_IMPORT_ERROR)
    try:
        conn = libvirt_conn.connect(p['uri'])
        try:
            with nvml.Nvml() as nv:
                result = VgpuRun(module, nv, conn).run()
        finally:
            conn.close()
    except (VgpuFailure, gpu_model.GpuInputError, libvirt_conn.IntravmLibvirtError) as exc:
        module.fail_json(msg=str(exc))
    except nvml.NvmlError as exc:
        module.fail_json(msg='NVML error: %s' % exc, nvml_error=exc.name)
    except SysfsError as exc:
        module.fail_json(msg=str(exc))
    except libvirt_conn.libvirt.libvirtError as exc:
        module.fail_json(msg='libvirt error: %s' % libvirt_conn.error_text(exc))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
