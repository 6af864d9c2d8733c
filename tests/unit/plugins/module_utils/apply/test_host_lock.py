# -*- coding: utf-8 -*-
"""The host lock's rules on a real directory, with a fake clock: take, re-take, wait, give up
naming the holder, take over a stale lock, give back only one's own, check mode writes nothing."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible_collections.adaptive.intravm.plugins.module_utils.apply.host_lock import HostLock, LockError

T0 = 1767268800.0  # 2026-01-01T12:00:00Z


class Clock(object):
    """Time that moves only when the code under test sleeps (or the test says so)."""

    def __init__(self):
        self.now = T0
        self.slept = []
        self.on_sleep = None

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def lock(tmp_path, clock):
    return HostLock(str(tmp_path / 'rebalance.lock'), clock=clock, sleep=clock.sleep, host='hv1')


def on_disk(lock):
    with open(lock.path) as handle:
        return json.load(handle)


def test_a_free_lock_is_taken_and_retaking_it_changes_nothing(lock):
    first = lock.acquire('run-a', wait=0, ttl=600, note='scheduled')
    assert first['changed'] and first['took_over'] is None and first['waited_for'] == []
    assert on_disk(lock) == {'owner': 'run-a', 'acquired_at': T0, 'since': '2026-01-01T12:00:00Z', 'ttl': 600,
                             'host': 'hv1', 'note': 'scheduled'}
    assert first['diff'] == {'before': {'owner': None, 'since': None, 'note': None},
                             'after': {'owner': 'run-a', 'since': '2026-01-01T12:00:00Z', 'note': 'scheduled'}}
    again = lock.acquire('run-a', wait=0, ttl=600)
    assert not again['changed'] and again['lock'] == on_disk(lock)


def test_another_owner_fails_after_wait_naming_the_holder_and_since_when(lock, clock):
    lock.acquire('run-a', wait=0, ttl=600, note='hotspot_predicted')
    clock.now += 42
    with pytest.raises(LockError) as err:
        lock.acquire('run-b', wait=3, ttl=600)
    text = str(err.value)
    assert "held by run 'run-a' (hotspot_predicted) on host hv1 since 2026-01-01T12:00:00Z (45 s ago, ttl 600 s)" in text
    assert 'gave up after waiting 3 s (wait=3)' in text
    assert clock.slept == [1.0, 1.0, 1.0]
    assert err.value.facts['holder']['owner'] == 'run-a' and err.value.facts['waited_for'] == ['run-a']
    assert on_disk(lock)['owner'] == 'run-a'


def test_a_waiter_gets_the_lock_when_its_holder_gives_it_back(lock, clock):
    lock.acquire('run-a', wait=0, ttl=600)
    clock.on_sleep = lambda: clock.slept == [1.0, 1.0] and lock.release('run-a')
    got = lock.acquire('run-b', wait=60, ttl=600)
    assert got['changed'] and got['waited_for'] == ['run-a'] and got['waited_s'] == 2.0
    assert on_disk(lock)['owner'] == 'run-b'


def test_a_lock_older_than_its_holders_ttl_is_taken_over(lock, clock):
    lock.acquire('run-a', wait=0, ttl=60)
    clock.now += 61
    got = lock.acquire('run-b', wait=0, ttl=3600)
    assert got['changed'] and got['took_over']['owner'] == 'run-a'
    assert 'took over a stale lock' in got['msg'] and "run 'run-a'" in got['msg'] and 'ttl 60 s' in got['msg']
    assert on_disk(lock)['owner'] == 'run-b' and on_disk(lock)['ttl'] == 3600
    assert not [n for n in os.listdir(os.path.dirname(lock.path)) if n.endswith('.tmp')]


def test_staleness_is_judged_by_the_holders_ttl_not_the_waiters(lock, clock):
    lock.acquire('run-a', wait=0, ttl=3600)
    clock.now += 120
    with pytest.raises(LockError):
        lock.acquire('run-b', wait=0, ttl=60)


def test_an_unreadable_lock_dates_from_its_file_and_goes_stale_by_our_ttl(lock, clock):
    with open(lock.path, 'w') as handle:
        handle.write('{"owner": "run-a", "acq')  # its writer died mid-write
    os.utime(lock.path, (T0, T0))
    with pytest.raises(LockError) as err:
        lock.acquire('run-b', wait=0, ttl=600)
    assert 'unreadable lock file' in str(err.value)
    clock.now += 601
    got = lock.acquire('run-b', wait=0, ttl=600)
    assert got['changed'] and got['took_over']['unreadable']
    assert not lock.release('run-a')['changed']


def test_release_gives_back_only_ones_own_lock(lock):
    assert not lock.release('run-a')['changed'], 'giving back a free lock changes nothing'
    lock.acquire('run-a', wait=0, ttl=600)
    other = lock.release('run-b')
    assert not other['changed'] and "not released" in other['msg'] and "run 'run-a'" in other['msg']
    assert on_disk(lock)['owner'] == 'run-a'
    mine = lock.release('run-a')
    assert mine['changed'] and not os.path.exists(lock.path)
    assert mine['diff']['after'] == {'owner': None, 'since': None, 'note': None}


def test_check_mode_decides_the_same_and_writes_nothing(lock, clock):
    assert lock.acquire('run-a', wait=0, ttl=600, check_mode=True)['changed']
    assert not os.path.exists(lock.path)
    lock.acquire('run-a', wait=0, ttl=60)
    assert lock.release('run-a', check_mode=True)['changed'] and os.path.exists(lock.path)
    with pytest.raises(LockError):
        lock.acquire('run-b', wait=0, ttl=600, check_mode=True)
    clock.now += 61
    assert lock.acquire('run-b', wait=0, ttl=600, check_mode=True)['took_over']['owner'] == 'run-a'
    assert on_disk(lock)['owner'] == 'run-a'


def test_a_missing_directory_is_free_in_check_mode_and_an_error_otherwise(tmp_path, clock):
    lock = HostLock(str(tmp_path / 'nowhere' / 'rebalance.lock'), clock=clock, sleep=clock.sleep)
    assert lock.acquire('run-a', wait=0, ttl=600, check_mode=True)['changed']
    assert not lock.release('run-a', check_mode=True)['changed']
    with pytest.raises(LockError) as err:
        lock.acquire('run-a', wait=0, ttl=600)
    assert 'cannot open the lock directory' in str(err.value) and 'create it first' in str(err.value)


@pytest.mark.parametrize('plant', ['dangling link', 'fifo'])
def test_something_else_at_the_lock_path_fails_at_once_and_never_spins(lock, plant):
    """A link or FIFO planted at the path: a clear LockError, not a loop at 100 % CPU or a blocked open."""
    if plant == 'dangling link':
        os.symlink(lock.path + '.nowhere', lock.path)
    else:
        os.mkfifo(lock.path)
    with pytest.raises(LockError) as err:
        lock.acquire('run-a', 0, 60)
    assert lock.path in str(err.value)
