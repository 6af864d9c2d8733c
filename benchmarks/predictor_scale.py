#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cost of one step of all VMs' models on one CPU thread: inference, one online training step, bytes.

Compares the batched stacked model against a Python loop over per-VM torch.nn.LSTM
models (the naive design) on the same sizes, in the same run.

Usage: benchmarks/predictor_scale.py --vms 1000 [--json OUT]
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
try:
    import ansible_collections.adaptive.intravm.services.predictor.model  # noqa: F401  pylint: disable=unused-import
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), '.build', 'collections'))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ansible_collections.adaptive.intravm.services.predictor import features, model as mdl, training  # noqa: E402


def best_ms(fn, repeat):
    fn()  # warm-up
    times = []
    for _rep in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return float(np.median(times)), float(min(times))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    ap.add_argument('--vms', type=int, default=1000)
    ap.add_argument('--hidden', type=int, default=training.DEFAULTS['hidden'])
    ap.add_argument('--train-window', type=int, default=1,
                    help='new steps per online training step (1: the newest sample, from the stored state)')
    ap.add_argument('--chunk-window', type=int, default=training.DEFAULTS['chunk'],
                    help='also timed: one update over a chunk of this many steps (the backtest regime)')
    ap.add_argument('--repeat', type=int, default=20)
    ap.add_argument('--loop-vms', type=int, default=50, help='VMs timed for the per-VM loop baseline (scaled up)')
    ap.add_argument('--json', dest='json_out')
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    n, i_n = args.vms, features.N_FEATURES
    horizons, windows = training.DEFAULTS['horizons'], training.DEFAULTS['windows']
    glob = mdl.StackedLSTM(1, i_n, args.hidden, horizons, windows=windows)
    n_out = glob.n_outputs
    learner = training.OnlineLearner(glob, n)
    x1 = torch.randn(n, 1, i_n)
    xw = torch.randn(n, args.train_window, i_n)
    yw = torch.rand(n, args.train_window, n_out)
    mw = torch.ones(n, args.train_window, n_out, dtype=torch.bool)
    state = learner.net.zero_state(1)

    def infer():
        learner.state = state
        learner.forecast(x1)

    def train():
        learner.update(xw, yw, mw, state)

    infer_ms, infer_min = best_ms(infer, args.repeat)
    train_ms, train_min = best_ms(train, max(3, args.repeat // 4))
    xc = torch.randn(n, args.chunk_window, i_n)
    yc = torch.rand(n, args.chunk_window, n_out)
    mc = torch.ones(n, args.chunk_window, n_out, dtype=torch.bool)
    chunk_ms = best_ms(lambda: learner.update(xc, yc, mc, state), 2)[0]

    # Baseline: the obvious design, one torch.nn.LSTM + Linear per VM, looped in Python.
    k = min(args.loop_vms, n)
    loops = [(torch.nn.LSTM(i_n, args.hidden, batch_first=True), torch.nn.Linear(args.hidden, 2 * n_out)) for _vm in range(k)]

    def loop_infer():
        with torch.no_grad():
            for j, (lstm, lin) in enumerate(loops):
                out, _state = lstm(x1[j:j + 1])
                lin(out[:, -1])

    loop_ms = best_ms(loop_infer, max(3, args.repeat // 4))[0] * n / k
    result = {'vms': n, 'infer_ms': round(infer_ms, 3), 'train_step_ms': round(train_ms, 3),
              'bytes_per_vm': learner.net.bytes_per_vm(),
              'detail': {'infer_ms_min': round(infer_min, 3), 'train_step_ms_min': round(train_min, 3),
                         'train_window_steps': args.train_window, 'chunk_update_ms': round(chunk_ms, 3),
                         'chunk_window_steps': args.chunk_window, 'hidden': args.hidden, 'horizons': list(horizons),
                         'windows': list(windows),
                         'loop_baseline_infer_ms': round(loop_ms, 3), 'threads': torch.get_num_threads(),
                         'optimizer_bytes_per_vm': 2 * learner.net.bytes_per_vm()}}
    print('%-34s %12s %12s' % ('', 'measured', 'target'))
    print('%-34s %12.2f %12s' % ('infer all %d VMs, ms' % n, infer_ms, '<= 20 (1000)'))
    print('%-34s %12.2f %12s' % ('one online train step, ms', train_ms, '<= 200 (1000)'))
    print('%-34s %12.2f %12s' % ('one update over %d steps, ms' % args.chunk_window, chunk_ms, '(info)'))
    print('%-34s %12d %12s' % ('weights per VM, bytes', result['bytes_per_vm'], '<= 65536'))
    print('%-34s %12.2f %12s' % ('per-VM nn.LSTM loop infer, ms', loop_ms, '(baseline)'))
    if args.json_out:
        with open(args.json_out, 'w') as handle:
            json.dump(result, handle, indent=2, sort_keys=True)
    return result


if __name__ == '__main__':
    main()
