#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The closed loop on real guests, counterbalanced: ABBA blocks with the loop, then ABBA blocks without it.

    python benchmarks/loop_on_guests.py --json OUT [--blocks 8] [--steps 10] [--step-s 15]
                                        [--dwell 4,8] [--traces DIR] [--seed 7]

The long form of `make demo` (scripts/demo.py, same code): two real QEMU guests
replay the same trace window in every block; static blocks keep the static pins,
adaptive blocks run the product's loop (predictor -> planner -> rebalance.yml).
The control blocks that follow are the same design with the loop off in the
"adaptive" blocks: their interval is what the noise alone gives. The float
blocks after them are the same design again with every vCPU floating over
every host CPU in the "adaptive" blocks (libvirt's default, the kernel
balancing), so loop/float sets the loop against what operators get by doing
nothing (reported per pair, each over its own static block). Prints, and
writes to --json, per-pair adaptive/static ratios of total vCPU delay, their
mean and a 95 % bootstrap interval for both, and the loop's latency against
how long a vCPU stays hot. Defaults: 8 + 8 + 8 blocks of 150 s (about 62 minutes
with boot); one trace step lasts 15 s and a vCPU stays hot 4-8 steps (60-120 s),
so a loop that answers in ~20 s still has most of a hot spell to act on.
Needs root, libvirtd (scripts/libvirt-up.sh) and an otherwise idle host.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'scripts'))

import demo  # noqa: E402  pylint: disable=wrong-import-position

DEFAULTS = ['--blocks', '8', '--steps', '10', '--step-s', '15', '--dwell', '4,8', '--control', '--float',
            '--out', os.path.join(ROOT, '.build', 'loop_on_guests')]


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if '-h' in argv or '--help' in argv:
        print(__doc__)
        print('Its defaults, before the options given: %s\n' % ' '.join(DEFAULTS))
        return demo.main(['--help'])       # scripts/demo.py's options; argparse exits 0
    if '--json' not in argv:
        raise SystemExit('usage: benchmarks/loop_on_guests.py --json OUT [scripts/demo.py options]')
    # the caller's options come last and so win over the defaults
    return demo.main(DEFAULTS + argv)


if __name__ == '__main__':
    sys.exit(main())
