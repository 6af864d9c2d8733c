# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-in for pip's get-pip.py, which ansible-test --venv downloads from a host
our machines cannot reach. Same contract: bootstrap pip into this interpreter, then
install the packages named on the command line. ensurepip ships with CPython."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ensurepip
import os
import subprocess
import sys

if __name__ == '__main__':
    # ensurepip empties PIP_* and points PIP_CONFIG_FILE at /dev/null in
    # os.environ; the install below must see the machine's pip configuration.
    env = dict(os.environ)
    ensurepip.bootstrap(upgrade=True)
    # get-pip.py's own switches; plain pip does not know them.
    args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
    sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install'] + args, env=env))
