# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""All-or-nothing application of a list of steps.

Each step knows how to undo itself. If one fails, the steps already done are
undone in reverse order, and the error names the failed step, its cause and
any undo that failed too, so a domain never ends up half-applied silently.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from collections import namedtuple

Step = namedtuple('Step', 'description do undo')


class PartialApplyError(Exception):
    """A step failed; carries what was rolled back and what could not be."""

    def __init__(self, failed, cause, rolled_back, rollback_errors, cause_exc=None):
        self.failed = failed
        self.cause = cause
        self.cause_exc = cause_exc
        self.rolled_back = rolled_back
        self.rollback_errors = rollback_errors
        msg = 'failed at %s: %s' % (failed, cause)
        if rollback_errors:
            msg += '; ROLLBACK INCOMPLETE: %s' % '; '.join('%s: %s' % e for e in rollback_errors)
        elif rolled_back:
            msg += '; rolled back %d earlier change(s): %s' % (len(rolled_back), ', '.join(rolled_back))
        else:
            msg += '; nothing had been changed'
        super(PartialApplyError, self).__init__(msg)


def apply_all(steps, describe_error=str):
    """Run every step's do(); on the first failure undo the done ones and raise."""
    done = []
    for step in steps:
        try:
            step.do()
        except Exception as exc:  # pylint: disable=broad-except
            rolled_back, errors = [], []
            for prev in reversed(done):
                try:
                    prev.undo()
                    rolled_back.append(prev.description)
                except Exception as undo_exc:  # pylint: disable=broad-except
                    errors.append((prev.description, describe_error(undo_exc)))
            raise PartialApplyError(step.description, describe_error(exc), rolled_back, errors, exc)
        done.append(step)
    return [s.description for s in done]
