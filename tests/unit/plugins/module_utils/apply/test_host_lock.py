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


def test_a_lock_cut_short_by_its_dead_writer_is_taken_over_at_once(lock, clock):
    """Every writer writes its record whole under the flock: a half-written one means its writer died."""
    with open(lock.path, 'w') as handle:
        handle.write('{"owner": "run-a", "acq')  # its writer died mid-write
    os.utime(lock.path, (T0, T0))
    got = lock.acquire('run-b', wait=600, ttl=600)
    assert got['changed'] and got['took_over']['unreadable'] and got['took_over']['acquired_at'] == T0
    assert 'unreadable lock file (it is not JSON' in got['msg'] and 'written 2026-01-01T12:00:00Z' in got['msg']
    assert clock.slept == [] and on_disk(lock)['owner'] == 'run-b'


def test_an_unreadable_lock_is_never_released_as_anyones(lock):
    with open(lock.path, 'w') as handle:
        handle.write('{"owner": "run-a", "acq')
    assert not lock.release('run-a')['changed'] and os.path.exists(lock.path)


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


CORRUPT = {
    'NaN acquired_at': '{"owner": "run-a", "acquired_at": NaN, "ttl": 60}',
    'Infinity acquired_at': '{"owner": "run-a", "acquired_at": Infinity, "ttl": 60}',
    '1e300 acquired_at': '{"owner": "run-a", "acquired_at": 1e300, "ttl": 60}',
    '-1e300 acquired_at': '{"owner": "run-a", "acquired_at": -1e300, "ttl": 60}',
    'huge int acquired_at': '{"owner": "run-a", "acquired_at": %s, "ttl": 60}' % ('9' * 400),
    'text acquired_at': '{"owner": "run-a", "acquired_at": "yesterday", "ttl": 60}',
    'NaN ttl': '{"owner": "run-a", "acquired_at": %r, "ttl": NaN}' % T0,
    'Infinity ttl': '{"owner": "run-a", "acquired_at": %r, "ttl": Infinity}' % T0,
    'owner not a string': '{"owner": ["run-a"], "acquired_at": %r, "ttl": 60}' % T0,
    'since not a string': '{"owner": "run-a", "acquired_at": %r, "since": {}, "ttl": 60}' % T0,
    'a list': '[1, 2]',
    'deep nesting': '[' * 70000,
    'not UTF-8': b'\xff\xfe{"owner": 1}',
    'empty': '',
    'truncated': '{"owner": "run-a", "acq',
}


@pytest.mark.parametrize('content', sorted(CORRUPT), ids=sorted(CORRUPT))
def test_a_record_that_cannot_be_read_is_stale_and_taken_over_with_a_warning(lock, clock, content):
    """Whatever is in the file (NaN, out-of-range times, deep nesting...), the next run takes it over at once."""
    raw = CORRUPT[content]
    with open(lock.path, 'wb') as handle:
        handle.write(raw if isinstance(raw, bytes) else raw.encode('utf-8'))
    got = lock.acquire('run-b', wait=30, ttl=600)
    assert got['changed'] and got['took_over']['unreadable'] and clock.slept == []
    assert 'took over a stale lock' in got['msg'] and 'unreadable lock file' in got['msg'], got['msg']
    assert got['took_over']['reason'] in got['msg']
    json.dumps(got, allow_nan=False)        # what the module returns is plain JSON
    assert on_disk(lock)['owner'] == 'run-b'
    assert not lock.release('run-a')['changed'] and lock.release('run-b')['changed']


def test_a_lock_dated_further_ahead_than_its_ttl_is_stale(lock, clock):
    """A clock that jumped back (or a planted date) cannot make a lock last for ever."""
    with open(lock.path, 'w') as handle:
        json.dump({'owner': 'run-a', 'acquired_at': T0 + 86400, 'since': '2026-01-02T12:00:00Z', 'ttl': 600}, handle)
    got = lock.acquire('run-b', wait=0, ttl=600)
    assert got['changed'] and got['took_over']['owner'] == 'run-a' and 'ahead' in got['msg']


def test_a_lock_a_little_ahead_is_still_held(lock, clock):
    with open(lock.path, 'w') as handle:
        json.dump({'owner': 'run-a', 'acquired_at': T0 + 30, 'since': '2026-01-01T12:00:30Z', 'ttl': 600}, handle)
    with pytest.raises(LockError, match="run 'run-a'"):
        lock.acquire('run-b', wait=0, ttl=600)


@pytest.mark.parametrize('plant', ['link to a victim', 'dangling link', 'fifo'])
def test_taking_over_never_follows_or_installs_something_planted_beside_the_lock(lock, clock, tmp_path, plant):
    """The take-over writes a fresh file of its own: a link (or FIFO) at the old temporary name is left alone."""
    victim = tmp_path / 'victim'
    victim.write_text('precious\n')
    lock.acquire('run-a', wait=0, ttl=60)
    clock.now += 61
    planted = '%s.%d.tmp' % (lock.path, os.getpid())
    reader = None
    if plant == 'link to a victim':
        os.symlink(str(victim), planted)
    elif plant == 'dangling link':
        os.symlink(str(tmp_path / 'created-by-root'), planted)
    else:
        os.mkfifo(planted)
        reader = os.open(planted, os.O_RDONLY | os.O_NONBLOCK)     # so a writer that opens it does not hang the test
    try:
        got = lock.acquire('run-b', wait=0, ttl=600)
    finally:
        if reader is not None:
            os.close(reader)
    assert got['changed'] and got['took_over']['owner'] == 'run-a'
    assert victim.read_text() == 'precious\n' and not (tmp_path / 'created-by-root').exists()
    assert not os.path.islink(lock.path) and os.path.isfile(lock.path) and on_disk(lock)['owner'] == 'run-b'
    assert oct(os.stat(lock.path).st_mode & 0o777) == oct(0o640)
    leftovers = [n for n in os.listdir(os.path.dirname(lock.path)) if n.endswith('.tmp')]
    assert leftovers == [os.path.basename(planted)], 'only what was planted is left'
