# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.adaptive.intravm.plugins.module_utils.apply.rollback import PartialApplyError, Step, apply_all


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
