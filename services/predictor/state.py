# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The published forecast document (format version 2) and its atomic file form.

Consumers (allocation_plan) read exactly this shape; see docs/predictor.md.
Version 2 adds each VM's `cpu_peak` (peak demand over windows); a version 1
document is a version 2 one without it, and readers take both.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import tempfile

VERSION = 2


def _series(values):
    return [round(float(v), 6) for v in values]


def _per_vcpu(vcpu):
    return dict((str(i), {'p50': _series(p[0]), 'p90': _series(p[1])}) for i, p in sorted(vcpu.items()))


def _seconds(values):
    """Whole seconds as ints (what a 300 s step gives), others as floats: a window of 0.5 s must not read as 0."""
    return [int(v) if float(v).is_integer() else float(v) for v in values]


def peak_block(windows_s, models, pair, vcpu=None):
    """A VM's `cpu_peak`: per window (seconds) the served model and P50/P90 of the peak CPU demand; vcpu as in vm_entry."""
    block = {'windows_s': _seconds(windows_s), 'models': list(models), 'p50': _series(pair[0]), 'p90': _series(pair[1])}
    if vcpu:
        block['vcpu'] = _per_vcpu(vcpu)
    return block


def vm_entry(uuid, vcpus, model, horizons_s, cpu, vcpu=None, net=None, gpu=None, actual_cpu=None, samples=None,
             memory=None, cpu_peak=None):
    """One VM's record. cpu/net/gpu: (p50 list, p90 list) per horizon or None; vcpu: {index: (p50, p90)}.

    memory: {'used_bytes', 'peak_bytes': {quantile: list per horizon}, 'pressure': {...}} or None.
    cpu_peak: a peak_block() or None.
    """
    entry = {'uuid': uuid, 'vcpus': int(vcpus), 'model': model, 'horizons_s': [int(h) for h in horizons_s]}
    for key, pair in (('cpu', cpu), ('net', net), ('gpu', gpu)):
        if pair is not None:
            entry[key] = {'p50': _series(pair[0]), 'p90': _series(pair[1])}
    if vcpu:
        entry['vcpu'] = _per_vcpu(vcpu)
    if actual_cpu is not None:
        entry['actual'] = {'cpu': round(float(actual_cpu), 6)}
    if samples is not None:
        entry['samples'] = int(samples)
    if memory is not None:
        entry['memory'] = memory
    if cpu_peak is not None:
        entry['cpu_peak'] = cpu_peak
    return entry


def document(host, generated_at, step_s, vms):
    return {'version': VERSION, 'generated_at': float(generated_at), 'host': host, 'step_s': int(step_s), 'vms': vms}


def write_atomic(path, doc):
    """Replace path with doc in one rename; readers see the old or the new file, never a mix."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, 'w') as handle:
            json.dump(doc, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
