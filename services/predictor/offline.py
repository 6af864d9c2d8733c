# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline training of the global model on Bitbrains-format traces, written as a checkpoint.

Reads the traces with services/predictor/traces.py.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


import numpy as np

from ansible_collections.adaptive.intravm.services.predictor import checkpoint, features, traces, training


def arrays(vms, horizons, windows):
    """Features, targets (horizons, then window peaks) and masks [V, T, ...] padded to the longest VM, each VM scaled by its own P95."""
    n_t = max(len(vm) for vm in vms)
    xs = np.zeros((len(vms), n_t, features.N_FEATURES), dtype=np.float32)
    ys = np.zeros((len(vms), n_t, len(horizons) + len(windows)), dtype=np.float32)
    ms = np.zeros(ys.shape, dtype=bool)
    for i, vm in enumerate(vms):
        n = len(vm)
        scale = features.cpu_scale(vm.cpu_demand)
        xs[i, :n] = features.feature_matrix(vm.cpu_demand, vm.hours, mem=vm.mem_frac, net=vm.net_kbs, disk=vm.disk_kbs, scale=scale)
        ys[i, :n], ms[i, :n] = features.model_targets(vm.cpu_demand, horizons, windows, scale=scale)
    return xs, ys, ms


def train_to_file(trace_dir, out, limit_vms=None, max_train_vms=128, epochs=None):
    vms = traces.load_traces(trace_dir, limit_vms=limit_vms)
    if not vms:
        raise SystemExit('no traces under %s' % trace_dir)
    rng = np.random.RandomState(0)
    if len(vms) > max_train_vms:
        vms = [vms[i] for i in sorted(rng.choice(len(vms), max_train_vms, replace=False))]
    horizons, windows = training.DEFAULTS['horizons'], training.DEFAULTS['windows']
    xs, ys, ms = arrays(vms, horizons, windows)
    net = training.train_global(xs, ys, ms, hidden=training.DEFAULTS['hidden'], horizons=horizons, windows=windows,
                                epochs=epochs or training.DEFAULTS['epochs'], batch=len(vms), progress=print)
    checkpoint.save(out, net.params, {'config': net.config(), 'vms': len(vms)})
    print('global model written to %s' % out)
    return 0
