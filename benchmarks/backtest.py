#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Walk-forward backtest of the per-VM LSTM against honest baselines on Bitbrains traces.

Each VM's series is split in half. The global model is trained on the first
halves only (the past for every scored step). Per-VM copies then run through
the whole series; over the second half they forecast a chunk of steps with the
weights they have, then take one online step on that chunk's now-known targets
(all VMs batched). Every model is scored on the second half: MAE of its P50
(or point) forecast, pinball loss and coverage of its P90 forecast. The same
run scores the forecasts of the peak over the next W steps (--windows) against
causal window baselines.

Usage: benchmarks/backtest.py --traces ../shared/data/traces [--limit-vms N] [--horizon H] [--windows 3,12] [--json OUT]
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
try:
    import ansible_collections.adaptive.intravm.services.predictor.model  # noqa: F401  pylint: disable=unused-import
except ImportError:  # run from a bare checkout: stage the collection path ourselves
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), '.build', 'collections'))

import torch  # noqa: E402

from ansible_collections.adaptive.intravm.services.predictor import traces as trace_loader  # noqa: E402
from ansible_collections.adaptive.intravm.services.predictor import baselines, features, selector, training  # noqa: E402

BASELINE_NAMES = [name for name, _fn in baselines.BASELINES]
WINDOW_BASELINE_NAMES = [name for name, _fn in baselines.WINDOW_BASELINES]
SPLITS = (('odd_ids_tuning', 1), ('even_ids_held_out', 0))


def log(msg, t0=[time.time()]):  # pylint: disable=dangerous-default-value
    print('[%7.1fs] %s' % (time.time() - t0[0], msg), flush=True)


def prepare(vms, horizons, windows):
    """Padded arrays over VMs: raw cpu (NaN gaps), filled cpu, features, targets and masks (horizons, then windows), split points."""
    n_t = max(len(vm) for vm in vms)
    n_v = len(vms)
    raw = np.full((n_v, n_t), np.nan)
    filled = np.zeros((n_v, n_t))
    xs = np.zeros((n_v, n_t, features.N_FEATURES), dtype=np.float32)
    ys = np.zeros((n_v, n_t, len(horizons) + len(windows)), dtype=np.float32)
    ms = np.zeros(ys.shape, dtype=bool)
    lengths = np.zeros(n_v, dtype=int)
    scales = np.ones(n_v)
    for i, vm in enumerate(vms):
        n = len(vm)
        lengths[i] = n
        cpu = np.where(np.isfinite(vm.cpu_demand), np.clip(vm.cpu_demand, 0, features.CPU_CLIP), np.nan)
        raw[i, :n] = cpu
        filled[i, :n] = np.clip(features.carry_forward(cpu)[0], 0, features.CPU_CLIP)
        scales[i] = features.cpu_scale(cpu[:n // 2])   # the past only
        xs[i, :n] = features.feature_matrix(cpu, vm.hours, mem=vm.mem_frac, net=vm.net_kbs, disk=vm.disk_kbs, scale=scales[i])
        ys[i, :n], ms[i, :n] = features.model_targets(cpu, horizons, windows, scale=scales[i])
    return raw, filled, xs, ys, ms, lengths, lengths // 2, scales


def vm_parity(vms):
    """1 for odd-numbered VM files (the tuning split), 0 for even (held out); -1 when not numeric."""
    out = []
    for vm in vms:
        try:
            out.append(int(vm.vm_id) % 2)
        except ValueError:
            out.append(-1)
    return np.array(out)


def run_lstm(xs, ys, ms, splits, args, horizons, windows, parity):
    """Walk-forward LSTM forecasts [V, T, K + W, 2]; per-VM online updates over the scored half."""
    n_v, n_t = xs.shape[0], xs.shape[1]
    first = int(splits.min())
    leads = tuple(horizons) + tuple(windows)    # a column's target is known `lead` steps after its forecast
    hist = np.zeros_like(ms)
    for i, s in enumerate(splits):
        hist[i, :s] = ms[i, :s]
        # a training target at t+h (or in t+1..t+W) must lie in the first half too
        for j, lead in enumerate(leads):
            hist[i, max(0, s - lead):s, j] = False
    train_rows = np.arange(n_v)
    if args.train_vms == 'odd':
        train_rows = train_rows[parity == 1]
    if len(train_rows) > args.max_train_vms:
        train_rows = np.sort(np.random.RandomState(args.seed).choice(train_rows, args.max_train_vms, replace=False))
    log('training the global model on the first half of %d VMs (%d steps each at most)' % (len(train_rows), int(splits.max())))
    glob = training.train_global(xs[train_rows, :int(splits.max())], ys[train_rows, :int(splits.max())],
                                 hist[train_rows, :int(splits.max())], hidden=args.hidden, horizons=horizons, windows=windows,
                                 epochs=args.epochs, chunk=args.chunk, batch=args.max_train_vms, lr=args.lr, seed=args.seed, progress=log)
    learner = training.OnlineLearner(glob, n_v, lr=args.online_lr)
    preds = np.zeros((n_v, n_t, len(leads), 2), dtype=np.float32)
    chunk = args.chunk
    t = 0
    n_chunks = (n_t + chunk - 1) // chunk
    t_start = time.time()
    for c in range(n_chunks):
        t0, t1 = t, min(t + chunk, n_t)
        start_state = (learner.state[0].clone(), learner.state[1].clone())
        preds[:, t0:t1] = learner.forecast(xs[:, t0:t1])
        if t1 > first and args.online_lr > 0:
            # targets of forecasts made in [t0, t1) that are known by t1: t + lead < t1
            known = ms[:, t0:t1].copy()
            for j, lead in enumerate(leads):
                known[:, max(0, t1 - t0 - lead):, j] = False
            learner.update(xs[:, t0:t1], ys[:, t0:t1], known, start_state)
        t = t1
        if (c + 1) % max(1, n_chunks // 10) == 0:
            log('per-VM walk-forward: %d/%d chunks (%.1fs)' % (c + 1, n_chunks, time.time() - t_start))
    if learner.resets:
        log('%d VM model reset(s) to the global model' % learner.resets)
    return np.maximum(preds, 0.0), glob, learner


def parse_windows(text):
    """'3,12' -> (3, 12): distinct peak windows in steps, each at least 1."""
    try:
        ws = tuple(sorted(set(int(part) for part in text.split(','))))
    except ValueError:
        raise argparse.ArgumentTypeError('windows are step counts separated by commas, got %r' % text)
    if not ws or ws[0] < 1:
        raise argparse.ArgumentTypeError('windows must be at least 1 step, got %r' % text)
    return ws


def baseline_forecasts(table, filled, lengths, h):
    """{name: (p50, p90) [V, T]} of each baseline of table at horizon (or window) h, each VM from its own past only."""
    n_v, n_t = filled.shape
    out = {}
    for name, fn in table:
        p50 = np.zeros((n_v, n_t))
        p90 = np.zeros((n_v, n_t))
        for i in range(n_v):
            n = lengths[i]
            p50[i, :n], p90[i, :n] = fn(filled[i, :n], h)
        out[name] = (np.maximum(p50, 0), np.maximum(p90, 0))
    return out


def served(forecasts, cands, y, mask, lead, window):
    """What the daemon serves: per VM and step, the candidate with the lowest pinball on forecasts resolved in the last window."""
    choice, p50, p90 = selector.serve_series([forecasts[c] for c in cands], y, mask, lead, window)
    return choice, (p50, p90)


def score(p50, p90, y, mask):
    d90 = y - p90
    return {
        'mae': float(np.abs(y - p50)[mask].mean()),
        'pinball_p90': float(np.maximum(0.9 * d90, -0.1 * d90)[mask].mean()),
        'coverage_p90': float((y <= p90)[mask].mean()),
    }


def ratio(num, den):
    """num / den, or None where den is 0 (a few VMs can give a baseline that never errs)."""
    return num / den if den else None


def show(value):
    """A ratio as printed: three decimals, or n/a."""
    return 'n/a' if value is None else '%.3f' % value


def summarise(forecasts, order, y, mask, base_names):
    """Scores of each model on mask, the best baseline by pinball and the LSTM's pinball relative to it."""
    models = dict((name, score(forecasts[name][0], forecasts[name][1], y, mask)) for name in order)
    best = min(base_names, key=lambda n: models[n]['pinball_p90'])
    best_pin = models[best]['pinball_p90']
    return {'models': models, 'best_baseline': best, 'scored_samples': int(mask.sum()),
            'lstm_pinball_ratio': ratio(models['lstm']['pinball_p90'], best_pin)}


def score_windows(ys, ms, preds, scales, scored_rows, parity, n_horizons, windows, filled, lengths, select_window):
    """Peak-over-the-next-W forecasts: the LSTM's window heads, the window baselines and the served choice, per W.

    Each W is scored on all scored VMs and on the odd (tuning) and even (held-out) ids.
    """
    order = ['lstm'] + WINDOW_BASELINE_NAMES + ['selected']
    result = {}
    for j, w in enumerate(windows):
        col = n_horizons + j
        y = ys[:, :, col].astype(np.float64) * scales[:, None]
        mask = ms[:, :, col]
        forecasts = baseline_forecasts(baselines.WINDOW_BASELINES, filled, lengths, w)
        forecasts['lstm'] = (preds[:, :, col, 0].astype(np.float64), preds[:, :, col, 1].astype(np.float64))
        choice, forecasts['selected'] = served(forecasts, list(selector.PEAK_CANDIDATES), y, mask, w, select_window)
        scored = mask & scored_rows
        block = summarise(forecasts, order, y, scored, WINDOW_BASELINE_NAMES)
        block.update(window_steps=w, selected_lstm_share=float((choice == 0)[scored].mean()), by_split={})
        for split_name, want in SPLITS:
            part = scored & (parity == want)[:, None]
            if part.any():
                block['by_split'][split_name] = summarise(forecasts, order, y, part, WINDOW_BASELINE_NAMES)
        result[str(w)] = block
    return result


def print_windows(result):
    print('\nPeak over the next W steps (forecast made at t of max demand in t+1..t+W):')
    print('%4s %-18s %-24s %10s %12s %12s' % ('W', 'split', 'model', 'mae', 'pinball_p90', 'coverage_p90'))
    for w, block in sorted(result.items(), key=lambda item: int(item[0])):
        for split_name, part in [('all', block)] + sorted(block['by_split'].items()):
            for name, m in part['models'].items():
                print('%4s %-18s %-24s %10.5f %12.5f %12.4f' % (w, split_name, name, m['mae'], m['pinball_p90'], m['coverage_p90']))
    for w, block in sorted(result.items(), key=lambda item: int(item[0])):
        for split_name, part in [('all', block)] + sorted(block['by_split'].items()):
            print('W=%s %s: LSTM pinball_p90 / best window baseline (%s) %s (target <= 0.85), LSTM coverage_p90 %.4f '
                  '(target 0.87..0.93)' % (w, split_name, part['best_baseline'], show(part['lstm_pinball_ratio']),
                                           part['models']['lstm']['coverage_p90']))
        print('W=%s: selector served the LSTM on %.1f%% of scored steps' % (w, 100 * block['selected_lstm_share']))


def plot(path, names, y, series, mask, horizon):
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    rows = len(names)
    fig, axes = plt.subplots(rows, 1, figsize=(12, 2.6 * rows), squeeze=False)
    for ax, (i, name) in zip(axes[:, 0], names):
        idx = np.nonzero(mask[i])[0]
        if len(idx) == 0:
            continue
        sl = slice(idx[0], min(idx[0] + 2 * 288, idx[-1] + 1))   # two days of the scored half
        t = np.arange(sl.start, sl.stop) * 5.0 / 60.0
        ax.plot(t, y[i, sl], color='black', lw=0.8, label='actual')
        for label, (p50, p90), colour in series:
            ax.plot(t, p50[i, sl], lw=0.8, color=colour, label='%s P50' % label)
            ax.plot(t, p90[i, sl], lw=0.8, ls='--', color=colour, label='%s P90' % label)
        ax.set_title('VM %s, horizon %d step(s)' % (name, horizon))
        ax.set_ylabel('CPU demand')
    axes[-1, 0].set_xlabel('hours since trace start')
    axes[0, 0].legend(loc='upper right', fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    ap.add_argument('--traces', default=os.path.join(HERE, '..', '..', 'shared', 'data', 'traces'))
    ap.add_argument('--limit-vms', type=int, default=None)
    ap.add_argument('--horizon', type=int, default=1, help='forecast horizon in 5-minute steps')
    ap.add_argument('--windows', type=parse_windows, default=','.join(str(w) for w in training.DEFAULTS['windows']),
                    help='windows (5-minute steps, comma-separated) whose peak demand the LSTM forecasts and is scored on')
    ap.add_argument('--json', dest='json_out', default=None)
    ap.add_argument('--png', default=None, help='forecast-vs-actual plot (default: next to --json, or backtest.png)')
    ap.add_argument('--hidden', type=int, default=training.DEFAULTS['hidden'])
    ap.add_argument('--epochs', type=int, default=training.DEFAULTS['epochs'])
    ap.add_argument('--chunk', type=int, default=training.DEFAULTS['chunk'])
    ap.add_argument('--lr', type=float, default=training.DEFAULTS['lr'])
    ap.add_argument('--online-lr', type=float, default=training.DEFAULTS['online_lr'])
    ap.add_argument('--select-window', type=int, default=288)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--cal-gamma', type=float, default=selector.CAL_GAMMA,
                    help='gain of the per-VM P90 coverage correction (0: off, the default)')
    ap.add_argument('--vm-subset', choices=('all', 'odd', 'even'), default='all',
                    help='score only odd/even positions (odd ids = tuning split, even ids = held out)')
    ap.add_argument('--train-vms', choices=('all', 'odd'), default='all',
                    help='VMs whose first half trains the global model')
    ap.add_argument('--max-train-vms', type=int, default=128,
                    help='the global model trains on at most this many VMs (a seeded sample), one batch')
    ap.add_argument('--threads', type=int, default=1)
    args = ap.parse_args(argv)
    if args.horizon < 1:
        ap.error('--horizon must be >= 1, got %d' % args.horizon)
    torch.set_num_threads(args.threads)

    horizons = tuple(sorted(set(training.DEFAULTS['horizons']) | {args.horizon}))
    hk = horizons.index(args.horizon)
    log('loading traces from %s' % args.traces)
    vms = trace_loader.load_traces(args.traces, limit_vms=args.limit_vms)
    if not vms:
        raise SystemExit('no VM with at least one day of samples under %s' % args.traces)
    log('%d VMs loaded (%d to %d steps)' % (len(vms), min(len(v) for v in vms), max(len(v) for v in vms)))
    raw, filled, xs, ys, ms, lengths, splits, scales = prepare(vms, horizons, args.windows)
    n_v, n_t = raw.shape
    h = args.horizon
    parity = vm_parity(vms)

    preds, _glob, _learner = run_lstm(xs, ys, ms, splits, args, horizons, args.windows, parity)
    preds = preds * scales[:, None, None, None]

    # Scored region: forecasts made at t >= split (of the chosen VMs) whose target was observed.
    subset = np.ones(n_v, dtype=bool)
    if args.vm_subset != 'all':
        subset = parity == (1 if args.vm_subset == 'odd' else 0)
    scored_rows = (np.arange(n_t)[None, :] >= splits[:, None]) & subset[:, None]
    y = ys[:, :, hk].astype(np.float64) * scales[:, None]
    scored = ms[:, :, hk] & scored_rows

    log('baselines')
    forecasts = baseline_forecasts(baselines.BASELINES, filled, lengths, h)
    lstm50 = preds[:, :, hk, 0].astype(np.float64)
    lstm90_raw = preds[:, :, hk, 1].astype(np.float64)
    forecasts['lstm'] = (lstm50, selector.calibrate_series(lstm50, lstm90_raw, y, ms[:, :, hk], h, args.cal_gamma))
    # for information: the adaptive-conformal P90 correction that was tried (see selector.py)
    forecasts['lstm_aci'] = (lstm50, selector.calibrate_series(lstm50, lstm90_raw, y, ms[:, :, hk], h, selector.CAL_GAMMA_TRIED))

    # Served forecast: per VM, the candidate with the lowest recent pinball loss.
    choice, forecasts['selected'] = served(forecasts, list(selector.CANDIDATES), y, ms[:, :, hk], h, args.select_window)

    order = ['lstm'] + BASELINE_NAMES + ['lstm_aci', 'selected']
    result = {'vms': int(subset.sum()), 'horizon_steps': h, 'models': {}}
    for name in order:
        result['models'][name] = score(forecasts[name][0], forecasts[name][1], y, scored)
    result['by_split'] = {}
    for split_name, want in SPLITS:
        part = scored & (parity == want)[:, None]
        if part.any():
            result['by_split'][split_name] = dict((name, score(forecasts[name][0], forecasts[name][1], y, part))
                                                  for name in order)
    lstm_share = float((choice == 0)[scored].mean())
    best_pin = min(result['models'][n]['pinball_p90'] for n in BASELINE_NAMES)
    best_name = min(BASELINE_NAMES, key=lambda n: result['models'][n]['pinball_p90'])
    lstm = result['models']['lstm']
    result['summary'] = {
        'best_baseline_pinball': best_name,
        'lstm_pinball_ratio': ratio(lstm['pinball_p90'], best_pin),
        'lstm_mae_ratio_last_value': ratio(lstm['mae'], result['models']['last_value']['mae']),
        'selected_lstm_share': lstm_share,
        'scored_samples': int(scored.sum()),
        'horizons_trained': list(horizons),
        'hyperparameters': {'hidden': args.hidden, 'epochs': args.epochs, 'chunk': args.chunk, 'lr': args.lr,
                            'online_lr': args.online_lr, 'seed': args.seed, 'cal_gamma': args.cal_gamma, 'train_vms': args.train_vms,
                            'vm_subset': args.vm_subset, 'windows': list(args.windows)},
    }
    print('\n%-20s %10s %12s %12s' % ('model', 'mae', 'pinball_p90', 'coverage_p90'))
    for name in order:
        m = result['models'][name]
        print('%-20s %10.5f %12.5f %12.4f' % (name, m['mae'], m['pinball_p90'], m['coverage_p90']))
    s = result['summary']
    print('\nLSTM pinball_p90 / best baseline (%s): %s   (target <= 0.85)' % (best_name, show(s['lstm_pinball_ratio'])))
    print('LSTM mae / last_value: %s   (target <= 0.95 at H=6)' % show(s['lstm_mae_ratio_last_value']))
    print('LSTM coverage_p90: %.4f   (target 0.87..0.93)' % lstm['coverage_p90'])
    print('selector served the LSTM on %.1f%% of scored steps' % (100 * lstm_share))
    for split_name, models in sorted(result['by_split'].items()):
        base = min(models[n]['pinball_p90'] for n in BASELINE_NAMES)
        print('%s: LSTM pinball/best baseline %s, mae/last_value %s, coverage %.4f' % (
            split_name, show(ratio(models['lstm']['pinball_p90'], base)),
            show(ratio(models['lstm']['mae'], models['last_value']['mae'])),
            models['lstm']['coverage_p90']))
    log('window peaks')
    result['windows'] = score_windows(ys, ms, preds, scales, scored_rows, parity, len(horizons), args.windows, filled, lengths,
                                      args.select_window)
    print_windows(result['windows'])

    png = args.png or (os.path.splitext(args.json_out)[0] + '.png' if args.json_out else 'backtest.png')
    busiest = np.argsort(-(np.where(scored, y, 0.0).sum(axis=1) / np.maximum(scored.sum(axis=1), 1)))
    picks = [i for i in busiest if subset[i]][:3]
    plot(png, [(i, vms[i].vm_id) for i in picks], np.where(scored, y, np.nan),
         [('lstm', forecasts['lstm'], 'tab:red'), ('last_plus_err_p90', forecasts['last_plus_err_p90'], 'tab:blue')],
         scored, h)
    log('plot written to %s' % png)
    if args.json_out:
        with open(args.json_out, 'w') as handle:
            json.dump(result, handle, indent=2, sort_keys=True)
        log('json written to %s' % args.json_out)
    return result


if __name__ == '__main__':
    main()
