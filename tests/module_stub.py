# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Just enough of IntravmModule to call a module's run(module) in-process.

Used where a test must share one libvirt connection across calls (the
test:/// driver keeps its state per process) or wrap that connection to
inject failures; argument parsing is covered by the ansible-playbook targets.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.adaptive.intravm.plugins.module_utils.module_base import EntryView


class ModuleStub(EntryView):
    """apply_plan's per-entry view of a module, standing for the module itself; warnings are kept."""

    def __init__(self, params, check_mode=False, conn=None):
        self.check_mode = check_mode
        self.warnings = []
        self.conn = conn
        super(ModuleStub, self).__init__(self, conn, params)

    def warn(self, text):
        self.warnings.append(text)
