# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host-side GPU sensing for the predictor: per-vGPU utilisation through NVML.

``read_vgpu_utilization(last_seen_us)`` is the one call the host predictor
makes each interval; it returns plain dicts (shape in docs/gpu.md) and
raises nvml.NvmlError when there is no usable NVIDIA driver, which the
daemon treats as "GPU source absent".
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.adaptive.intravm.plugins.module_utils.devices import nvml


def nvml_available():
    """(True, driver version) where nvmlInit succeeds, else (False, the reason)."""
    if not nvml.HAS_PYNVML:
        return False, 'nvidia-ml-py (pynvml) is not installed'
    try:
        with nvml.Nvml() as nv:
            return True, nv.driver_version()
    except nvml.NvmlError as exc:
        return False, str(exc)


def read_vgpu_utilization(last_seen_us=0, session=None):
    """Utilisation samples of every vGPU on this host newer than last_seen_us.

    Returns {'timestamp_us': newest sample time (pass it back next call),
    'vgpus': [{'gpu', 'instance', 'type', 'mdev_uuid', 'vm_id', 'vm_id_type',
    'timestamp_us', 'sm', 'memory', 'encoder', 'decoder', 'processes'}]}, with
    percentages as NVML reports them. GPUs not in vGPU host mode are skipped.
    """
    if session is None:
        with nvml.Nvml() as nv:
            return read_vgpu_utilization(last_seen_us, nv)
    newest = last_seen_us
    rows = []
    for _index, handle in session.handles():
        if session.call('nvmlDeviceGetVirtualizationMode', handle) != nvml.HOST_VGPU:
            continue
        pci = session.pci(handle)
        active = dict((v['instance'], v) for v in session.active_vgpus(handle))
        processes = session.vgpu_process_utilization(handle, last_seen_us)
        for sample in session.vgpu_utilization(handle, last_seen_us):
            vgpu = active.get(sample['instance'], {})
            row = dict(sample)
            row.update({
                'gpu': pci,
                'type': vgpu.get('type_name'),
                'mdev_uuid': vgpu.get('mdev_uuid'),
                'vm_id': vgpu.get('vm_id'),
                'vm_id_type': vgpu.get('vm_id_type'),
                'processes': [dict((k, p[k]) for k in ('pid', 'name', 'sm', 'memory', 'encoder', 'decoder'))
                              for p in processes if p['instance'] == sample['instance']],
            })
            rows.append(row)
            newest = max(newest, sample['timestamp_us'])
    return {'timestamp_us': newest, 'vgpus': rows}
