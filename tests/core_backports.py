# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only stand-ins for what ansible-core added after the oldest release we claim.

Loaded as a pytest plugin by scripts/oldest-core.sh (``-p core_backports``) when the unit
tests run on ansible-core 2.16; on a core that has the real thing it does nothing.
Only the tests need these: plugins/ itself must not use anything newer than 2.16.

- ``ansible.module_utils.testing.patch_module_args`` (2.19): how the tests hand a module
  its arguments. Before it, tests set ``basic._ANSIBLE_ARGS`` themselves.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import json
import sys
import types
from unittest import mock

try:
    import ansible.module_utils.testing  # noqa: F401  pylint: disable=unused-import
except ImportError:
    from ansible.module_utils import basic as _basic

    @contextlib.contextmanager
    def patch_module_args(args=None):
        """Expose ``args`` to ``AnsibleModule`` instances created within this context."""
        if not isinstance(args, (dict, type(None))):
            raise TypeError("The `args` arg must be a dict or None.")
        data = json.dumps({'ANSIBLE_MODULE_ARGS': args or {}}).encode()
        with mock.patch.object(_basic, '_ANSIBLE_ARGS', data):
            yield

    _testing = types.ModuleType('ansible.module_utils.testing')
    _testing.__doc__ = 'Backport of ansible-core 2.19 patch_module_args (tests only).'
    _testing.patch_module_args = patch_module_args
    sys.modules['ansible.module_utils.testing'] = _testing
    import ansible.module_utils  # pylint: disable=ungrouped-imports
    ansible.module_utils.testing = _testing
