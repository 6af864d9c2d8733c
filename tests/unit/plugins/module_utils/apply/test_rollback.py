# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.adaptive.intravm.plugins.module_utils.apply.rollback import Journal, PartialApplyError, Step, apply_all


def _steps(state, fail_at=None, undo_fails=()):
    def step(i):
        def do():
            if i == fail_at:
                raise RuntimeError('boom %d' % i)
            state.append(i)

        def undo():
            if i in undo_fails:
                raise RuntimeError('stuck %d' % i)
            state.remove(i)
        return Step('step %d' % i, do, undo)
    return [step(i) for i in range(4)]


def test_all_steps_apply():
    state = []
    assert apply_all(_steps(state)) == ['step 0', 'step 1', 'step 2', 'step 3']
    assert state == [0, 1, 2, 3]


def test_failure_undoes_done_steps_in_reverse():
    state = []
    with pytest.raises(PartialApplyError) as err:
        apply_all(_steps(state, fail_at=2))
    assert state == []
    assert err.value.rolled_back == ['step 1', 'step 0']
    assert 'failed at step 2: boom 2' in str(err.value) and 'rolled back 2' in str(err.value)


def test_failed_undo_is_reported():
    state = []
    with pytest.raises(PartialApplyError) as err:
        apply_all(_steps(state, fail_at=2, undo_fails=(0,)))
    assert state == [0]
    assert 'ROLLBACK INCOMPLETE: step 0: stuck 0' in str(err.value)


def test_first_step_failure_changed_nothing():
    with pytest.raises(PartialApplyError, match='nothing had been changed'):
        apply_all(_steps([], fail_at=0))


def test_journal_runs_steps_as_they_are_decided_and_rolls_back_on_failure():
    state = []
    journal = Journal()
    assert journal.run('add 1', lambda: state.append(1) or 'one', lambda: state.remove(1)) == 'one'
    journal.run('add 2', lambda: state.append(2), lambda: state.remove(2))
    with pytest.raises(PartialApplyError) as err:
        journal.run('add 3', lambda: 1 / 0, lambda: None)
    assert state == []
    assert err.value.rolled_back == ['add 2', 'add 1'] and err.value.failed == 'add 3'
    assert journal.descriptions() == []


def test_journal_fail_for_a_check_between_steps():
    state = []
    journal = Journal(describe_error=lambda exc: 'described: %s' % exc)
    journal.run('add 1', lambda: state.append(1), lambda: state.remove(1))
    with pytest.raises(PartialApplyError, match='failed at verify: described: mismatch; rolled back 1'):
        journal.fail('verify', ValueError('mismatch'))
    assert state == []
