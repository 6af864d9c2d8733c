# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error family modules report: pure code raises it, module_base turns it into fail_json.

Pure, no imports: the planner, the change planners and the device seams
raise subclasses of IntravmError for a request they refuse or a state they
cannot work in, and every module reports them the same way, with the domain
named and nothing changed.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class IntravmError(Exception):
    """A refusal an operator can act on; `facts` are extra keys for the failed result."""

    def __init__(self, msg='', **facts):
        super(IntravmError, self).__init__(msg)
        self.facts = facts


def reported(prefix):
    """A module_base error formatter for an error whose own text says it all: that text after prefix, no extra facts."""
    return lambda exc, _params: ('%s%s' % (prefix, exc), {})
