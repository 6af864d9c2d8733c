# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where samples come from: libvirt bulk stats, the guest ring, NVML; turned into rates.

rates_from_stats is pure (two getAllDomainStats records and the time between
them in, per-VM rates out) so the arithmetic is tested without a daemon.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import logging
import math
import xml.etree.ElementTree as ET

LOG = logging.getLogger('host_predictor')

try:
    from ansible_collections.adaptive.intravm.plugins.module_utils.channel import shm_reader
    HAS_RING = True
except ImportError:  # the guest-profiler channel is not installed: host counters alone
    shm_reader = None
    HAS_RING = False

try:
    from ansible_collections.adaptive.intravm.plugins.module_utils.devices import gpu_model
    from ansible_collections.adaptive.intravm.plugins.module_utils.devices import nvml
    HAS_NVML_SEAM = True
except ImportError:
    gpu_model = nvml = None
    HAS_NVML_SEAM = False


def _num(stats, key):
    value = stats.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def counters(stats):
    """The cumulative counters the predictor uses from one domain's getAllDomainStats record."""
    vcpus = int(_num(stats, 'vcpu.current') or _num(stats, 'vcpu.maximum') or 0)
    out = {'vcpus': vcpus, 'vcpu_time': {}, 'vcpu_delay': {}}
    for i in range(vcpus):
        t = _num(stats, 'vcpu.%d.time' % i)
        if t is not None:
            out['vcpu_time'][i] = t
        d = _num(stats, 'vcpu.%d.delay' % i)
        if d is not None:
            out['vcpu_delay'][i] = d
    for prefix, keys, name in (('net', ('rx.bytes', 'tx.bytes'), 'net_bytes'), ('block', ('rd.bytes', 'wr.bytes'), 'block_bytes')):
        count = int(_num(stats, '%s.count' % prefix) or 0)
        total, seen = 0.0, False
        for i in range(count):
            for key in keys:
                v = _num(stats, '%s.%d.%s' % (prefix, i, key))
                if v is not None:
                    total += v
                    seen = True
        out[name] = total if seen else None
    avail = _num(stats, 'balloon.available')
    usable = _num(stats, 'balloon.usable')
    out['mem_frac'] = (1.0 - usable / avail) if avail and usable is not None and avail > 0 else None
    return out


def rates_from_stats(prev, cur, dt_s):
    """Per-VM rates between two counters() records dt_s seconds apart.

    Demand is what a vCPU ran plus what it waited to run: usage alone hides the
    demand that contention left unserved, the very thing the planner must see.
    cpu: (vcpu.N.time + vcpu.N.delay) / (dt x vCPUs), 1.0 = all vCPUs wanting
    to run all the time; steal: the waiting part alone, on the same scale; vcpu:
    per-vCPU demand fractions; net: bytes/s; disk: KB/s (like the traces). A
    counter that went back (domain restarted) or a non-positive dt gives None,
    never a negative rate.
    """
    if prev is None or dt_s <= 0:
        return None
    vcpus = cur['vcpus']
    if vcpus <= 0:
        return None
    waited = dict((i, (d - prev['vcpu_delay'][i]) / (dt_s * 1e9)) for i, d in cur['vcpu_delay'].items()
                  if i in prev['vcpu_delay'] and d >= prev['vcpu_delay'][i])
    per_vcpu = {}
    for i, t in cur['vcpu_time'].items():
        p = prev['vcpu_time'].get(i)
        if p is not None and t >= p:
            per_vcpu[i] = min(max((t - p) / (dt_s * 1e9) + waited.get(i, 0.0), 0.0), 1.0)
    if not per_vcpu:
        return None
    steal = list(waited.values())

    def rate(key, scale=1.0):
        if cur.get(key) is None or prev.get(key) is None or cur[key] < prev[key]:
            return None
        return (cur[key] - prev[key]) / dt_s / scale

    return {
        'cpu': sum(per_vcpu.values()) / vcpus,
        'vcpu': per_vcpu,
        'steal': min(max(sum(steal) / vcpus, 0.0), 1.0) if steal else None,
        'net': rate('net_bytes'),
        'disk': rate('block_bytes', 1024.0),
        'mem': cur.get('mem_frac'),
    }


def ring_path(domain_xml, shm_dir='/dev/shm', prefix='intravm'):
    """/dev/shm/NAME of the domain's ivshmem region named PREFIX*, or None."""
    try:
        root = ET.fromstring(domain_xml)
    except ET.ParseError:
        return None
    for shmem in root.findall('./devices/shmem'):
        name = shmem.get('name') or ''
        if name.startswith(prefix) and '/' not in name:
            return '%s/%s' % (shm_dir.rstrip('/'), name)
    return None


class RingSource(object):
    """The latest validated guest sample of one VM, with rejection counters."""

    def __init__(self, path):
        self.path = path
        self.reader = shm_reader.RingReader(path) if HAS_RING else None
        self.latest = None

    def poll(self):
        if self.reader is None:
            return None
        samples = self.reader.poll()
        if samples:
            self.latest = samples[-1].metrics
        return self.latest

    def rejected(self):
        """{reason: count} of everything the reader refused."""
        if self.reader is None:
            return {}
        return dict((r, n) for r, n in self.reader.stats.items() if r in shm_reader.REASONS and n)

    def close(self):
        if self.reader is not None:
            self.reader.close()


def ring_values(metrics):
    """What the forecasts use of a guest sample; finite values only (the reader already checked ranges).

    mem (used fraction) and steal feed the CPU model; mem_used_bytes (total less
    available: the working set the guest cannot give back without swapping),
    psi_mem_some and swap_in (pressure now) feed the memory forecast and sizing.
    """
    if not metrics:
        return {}

    def value(key):
        v = metrics.get(key)
        return v if isinstance(v, (int, float)) and math.isfinite(v) else None
    out = {}
    avail, total = value('mem.available_frac'), value('mem.total_bytes')
    if avail is not None:
        out['mem'] = 1.0 - avail
    if total is not None and value('mem.available_bytes') is not None:
        out['mem_used_bytes'] = max(0.0, total - value('mem.available_bytes'))
    for key, name in (('cpu.steal', 'steal'), ('psi.memory.some_avg10', 'psi_mem_some'), ('mem.swap_in_per_s', 'swap_in')):
        if value(key) is not None:
            out[name] = value(key)
    return out


def gpu_utilisation(domains):
    """{domain uuid: SM utilisation fraction} from NVML per-vGPU samples; {} without GPUs or NVML."""
    if not HAS_NVML_SEAM or not nvml.HAS_PYNVML:
        return {}
    out = {}
    try:
        with nvml.Nvml() as nv:
            for _index, handle in nv.handles():
                vgpus = nv.active_vgpus(handle)
                util = dict((s['instance'], s['sm']) for s in nv.vgpu_utilization(handle))
                for vg in vgpus:
                    owner = None
                    if vg['vm_id_type'] == 'uuid' and vg['vm_id'] in domains:
                        owner = vg['vm_id']
                    else:
                        for uuid, xml in domains.items():
                            if vg['mdev_uuid'] and vg['mdev_uuid'] in gpu_model.domain_hostdevs(xml)['mdev']:
                                owner = uuid
                    if owner and vg['instance'] in util:
                        out[owner] = max(out.get(owner, 0.0), min(float(util[vg['instance']]) / 100.0, 1.0))
    except nvml.NvmlError as exc:
        LOG.debug('no NVML utilisation: %s', exc)
    return out
