# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loader for Bitbrains-format VM traces (GWA-T-12), shared by every benchmark.

Handles the quirks listed in the traces' README: `;\\t` separators, timestamps
in seconds despite the header, duplicated and sub-5-minute samples
(de-duplicated and resampled onto a 5-minute grid), gaps (left as NaN so a
caller decides), and provisioned capacity that changes during the month
(each row is normalised by its own provisioned value).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import gzip
import os
import re

import numpy as np

STEP_S = 300
COLUMNS = ('t', 'cores', 'cap_mhz', 'usage_mhz', 'usage_pct', 'mem_cap_kb', 'mem_kb',
           'disk_read_kbs', 'disk_write_kbs', 'net_rx_kbs', 'net_tx_kbs')


class VMTrace(object):
    """One VM on a regular 5-minute grid; arrays share one length, NaN marks a gap."""

    def __init__(self, vm_id, start, arrays):
        self.vm_id = vm_id
        self.start = start  # epoch seconds of index 0
        self.cpu_demand = arrays['cpu_demand']  # usage MHz / provisioned MHz (can exceed 1)
        self.cores = arrays['cores']
        self.mem_frac = arrays['mem_frac']
        self.disk_kbs = arrays['disk_kbs']
        self.net_kbs = arrays['net_kbs']

    def __len__(self):
        return len(self.cpu_demand)

    @property
    def hours(self):
        """Hour-of-day (UTC, float) of each step, for time-of-day features."""
        return ((self.start + STEP_S * np.arange(len(self))) % 86400) / 3600.0


def read_csv(path):
    """Raw rows as a float array (n, 11), sorted by time; bad lines are skipped."""
    opener = gzip.open if path.endswith('.gz') else open
    rows = []
    with opener(path, 'rt') as handle:
        next(handle, None)  # header
        for line in handle:
            parts = line.replace('\t', '').split(';')
            if len(parts) != len(COLUMNS):
                continue
            try:
                rows.append([float(p) for p in parts])
            except ValueError:
                continue
    data = np.asarray(rows, dtype=np.float64).reshape(-1, len(COLUMNS))
    return data[np.argsort(data[:, 0], kind='stable')]


def resample(data):
    """Average all samples falling in each 5-minute slot; empty slots are NaN."""
    if len(data) == 0:
        return None, {}
    t = data[:, 0]
    # Anchor the grid on the first sample and round to the nearest slot: the
    # recorder's clock drifts by a second every few samples.
    start = int(t[0])
    slot = ((t - start + STEP_S // 2) // STEP_S).astype(np.int64)
    n = int(slot[-1]) + 1
    counts = np.bincount(slot, minlength=n).astype(np.float64)

    def mean(col):
        sums = np.bincount(slot, weights=data[:, COLUMNS.index(col)], minlength=n)
        with np.errstate(invalid='ignore', divide='ignore'):
            return np.where(counts > 0, sums / counts, np.nan)

    cap = mean('cap_mhz')
    mem_cap = mean('mem_cap_kb')
    with np.errstate(invalid='ignore', divide='ignore'):
        cpu = np.where(cap > 0, mean('usage_mhz') / cap, np.nan)
        mem = np.where(mem_cap > 0, mean('mem_kb') / mem_cap, np.nan)
    arrays = {
        'cpu_demand': cpu,
        'cores': mean('cores'),
        'mem_frac': mem,
        'disk_kbs': mean('disk_read_kbs') + mean('disk_write_kbs'),
        'net_kbs': mean('net_rx_kbs') + mean('net_tx_kbs'),
    }
    return start, arrays


def load_vm(path):
    """VMTrace for one CSV(.gz) file, or None when it holds no usable rows."""
    vm_id = re.sub(r'\.csv(\.gz)?$', '', os.path.basename(path))
    start, arrays = resample(read_csv(path))
    if start is None:
        return None
    return VMTrace(vm_id, start, arrays)


def trace_files(directory, limit_vms=None):
    """Trace files in numeric order (1, 2, ..., 500), optionally the first N."""
    names = [n for n in os.listdir(directory) if re.match(r'^\d+\.csv(\.gz)?$', n)]
    names.sort(key=lambda n: int(n.split('.')[0]))
    if limit_vms:
        names = names[:limit_vms]
    return [os.path.join(directory, n) for n in names]


def find_trace_dir(path):
    """Accept either a folder of N.csv.gz files or a parent holding such folders."""
    if trace_files(path):
        return [path]
    subdirs = [os.path.join(path, d) for d in sorted(os.listdir(path))]
    found = [d for d in subdirs if os.path.isdir(d) and trace_files(d)]
    if not found:
        raise SystemExit('no Bitbrains-format traces (N.csv or N.csv.gz) under %s' % path)
    return found


def load_traces(path, limit_vms=None, min_steps=288):
    """All VMs under path with at least min_steps (default one day) of grid steps."""
    traces = []
    for directory in find_trace_dir(path):
        for f in trace_files(directory, limit_vms):
            vm = load_vm(f)
            if vm is not None and len(vm) >= min_steps:
                traces.append(vm)
            if limit_vms and len(traces) >= limit_vms:
                return traces
    return traces


def fill_gaps(series):
    """Carry the last value forward over NaN gaps (leading NaN become 0)."""
    out = np.array(series, dtype=np.float64)
    mask = np.isnan(out)
    if mask.all():
        return np.zeros_like(out)
    idx = np.where(~mask, np.arange(len(out)), 0)
    np.maximum.accumulate(idx, out=idx)
    out = out[idx]
    first = np.argmax(~mask)
    out[:first] = 0.0
    return out
