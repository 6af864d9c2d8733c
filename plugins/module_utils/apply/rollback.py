# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one rollback engine: all-or-nothing application of steps that know how to undo themselves.

A Journal applies steps one at a time, as a module decides them (run()),
and keeps the undo of each. If one fails, the steps already done are undone
in reverse order, and PartialApplyError names the failed step, its cause and
any undo that failed too, so a domain never ends up half-applied silently.
apply_all() is the same for a list of steps known up front.
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


class Journal(object):
    """Steps applied one by one, each with its undo, rolled back in reverse when one fails.

    describe_error turns an exception into the text the error reports (for
    libvirt errors: libvirt's own message).
    """

    def __init__(self, describe_error=str):
        self.describe_error = describe_error
        self.done = []

    def run(self, description, do, undo):
        """do(), remembering undo; on failure roll back everything done and raise PartialApplyError."""
        try:
            value = do()
        except Exception as exc:  # pylint: disable=broad-except  # any failure must roll back
            self.fail(description, exc)
        self.done.append(Step(description, do, undo))
        return value

    def fail(self, description, exc):
        """Roll back what was done and raise PartialApplyError for the step `description` that failed with exc."""
        rolled_back, errors = self.rollback()
        raise PartialApplyError(description, self.describe_error(exc), rolled_back, errors, exc)

    def rollback(self):
        """Undo every done step, newest first: (descriptions undone, [(description, error)] that could not be)."""
        rolled_back, errors = [], []
        while self.done:
            step = self.done.pop()
            try:
                step.undo()
                rolled_back.append(step.description)
            except Exception as exc:  # pylint: disable=broad-except
                errors.append((step.description, self.describe_error(exc)))
        return rolled_back, errors

    def descriptions(self):
        return [s.description for s in self.done]


def apply_all(steps, describe_error=str):
    """Run every step's do(); on the first failure undo the done ones and raise PartialApplyError."""
    journal = Journal(describe_error)
    for step in steps:
        journal.run(step.description, step.do, step.undo)
    return journal.descriptions()
