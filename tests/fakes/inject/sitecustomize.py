# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Python runs this at start when tests/fakes/inject is on PYTHONPATH (integration targets only)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import intravm_inject  # noqa: E402  pylint: disable=wrong-import-position,import-error

intravm_inject.install_from_environment()
