# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""python -m ...services.predictor run --config FILE | train-global --traces DIR --out FILE."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import sys


def main(argv=None):
    ap = argparse.ArgumentParser(prog='host_predictor')
    sub = ap.add_subparsers(dest='command')
    run = sub.add_parser('run', help='run the daemon')
    run.add_argument('--config', default='/etc/host_predictor/config.json')
    chk = sub.add_parser('check-config', help='validate a configuration file and exit')
    chk.add_argument('--config', required=True)
    tg = sub.add_parser('train-global', help='train the global model offline on Bitbrains-format traces')
    tg.add_argument('--traces', required=True)
    tg.add_argument('--out', required=True)
    tg.add_argument('--limit-vms', type=int, default=None)
    tg.add_argument('--max-train-vms', type=int, default=128)
    tg.add_argument('--epochs', type=int, default=None)
    args = ap.parse_args(argv)
    if args.command == 'train-global':
        from ansible_collections.adaptive.intravm.services.predictor import offline  # pylint: disable=import-outside-toplevel
        return offline.train_to_file(args.traces, args.out, args.limit_vms, args.max_train_vms, args.epochs)
    from ansible_collections.adaptive.intravm.services.predictor import config  # pylint: disable=import-outside-toplevel
    from ansible_collections.adaptive.intravm.services.predictor import http_api  # pylint: disable=import-outside-toplevel
    try:
        cfg = config.load_config(getattr(args, 'config', '/etc/host_predictor/config.json'))
        http_api.check_files(cfg)
    except (OSError, config.ConfigError) as exc:
        sys.stderr.write('host_predictor: %s\n' % exc)
        return 2
    if args.command == 'check-config':
        print('configuration ok')
        return 0
    from ansible_collections.adaptive.intravm.services.predictor import daemon  # pylint: disable=import-outside-toplevel
    try:
        return daemon.main_run(cfg)
    except config.ConfigError as exc:     # found only when it starts serving (a socket still served at listen)
        sys.stderr.write('host_predictor: %s\n' % exc)
        return 2


if __name__ == '__main__':
    sys.exit(main())
