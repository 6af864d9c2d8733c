# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A per-host lock that outlives one module run, so two rebalances never apply over each other.

A run (AWX, a rulebook, an operator) takes the lock before it reads the
placement it plans from and gives it back after its last change. The lock is
a JSON file {owner, acquired_at, since, ttl, host, note} created with
O_CREAT|O_EXCL. Every decision (take, wait, take over, give back) is made
while holding a flock on the lock's directory, so two runs that both find a
stale lock cannot both take it over, and nobody reads a lock half-written.
A lock older than the ttl its holder recorded is stale (its run died) and is
taken over with a warning. The clock and sleep are injected so the rules are
tested without waiting.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import errno
import fcntl
import json
import os
import socket
import time

from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError
from ansible_collections.adaptive.intravm.plugins.module_utils.regular_file import NotRegularFile, open_regular

POLL_S = 1.0


class LockError(IntravmError):
    """The lock cannot be taken or read; `holder` names who has it, when known."""


def since_text(epoch):
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(epoch))


def describe(record, now):
    """Who holds a lock and since when, for messages."""
    if record.get('unreadable'):
        return 'an unreadable lock file (written %s, %.0f s ago; its writer may have died while writing it)' % (
            since_text(record['acquired_at']), now - record['acquired_at'])
    text = 'run %r' % record.get('owner')
    if record.get('note'):
        text += ' (%s)' % record['note']
    return '%s on host %s since %s (%.0f s ago, ttl %s s)' % (
        text, record.get('host', '?'), record.get('since') or since_text(record['acquired_at']),
        now - record['acquired_at'], record.get('ttl'))


def is_stale(record, now, default_ttl):
    """Older than the ttl its holder recorded (an unreadable record: older than ours)."""
    ttl = record.get('ttl')
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
        ttl = default_ttl
    return now - record['acquired_at'] > ttl


def _view(record):
    """The diff's side: who holds the lock, None when free."""
    record = record or {}
    return {'owner': record.get('owner'), 'since': record.get('since'), 'note': record.get('note')}


class HostLock(object):
    """The lock file at path; clock() gives epoch seconds, sleep(s) waits."""

    def __init__(self, path, clock=time.time, sleep=time.sleep, host=None):
        self.path = path
        self.clock = clock
        self.sleep = sleep
        self.host = host or socket.gethostname()

    @contextlib.contextmanager
    def _guard(self, check_mode):
        """Serialise decisions of every run on this directory (released by the kernel if we die).

        In check mode a directory that does not exist yet holds no lock: there is nothing to guard.
        """
        folder = os.path.dirname(os.path.abspath(self.path))
        fd = None
        try:
            fd = os.open(folder, os.O_RDONLY)
        except OSError as exc:
            if not (check_mode and exc.errno == errno.ENOENT):
                raise LockError('cannot open the lock directory %s: %s; create it first' % (folder, exc.strerror))
        if fd is None:
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def read(self):
        """The holder's record, None when free; one that cannot be parsed (its writer died mid-write) dates from its mtime."""
        try:
            fd, info = open_regular(self.path)   # never follows a link or waits on a FIFO planted there
        except NotRegularFile as exc:
            raise LockError('the lock %s; remove it' % exc)
        except (IOError, OSError) as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise LockError('cannot read the lock %s: %s' % (self.path, exc.strerror))
        with os.fdopen(fd, 'rb') as handle:
            raw = handle.read(65536)
            mtime = info.st_mtime
        try:
            record = json.loads(raw.decode('utf-8'))
        except ValueError:
            record = None
        if (not isinstance(record, dict) or not isinstance(record.get('acquired_at'), (int, float))
                or isinstance(record.get('acquired_at'), bool)):
            return {'unreadable': True, 'acquired_at': mtime}
        return record

    def record(self, owner, ttl, note):
        now = self.clock()
        return {'owner': owner, 'acquired_at': round(now, 3), 'since': since_text(now), 'ttl': ttl,
                'host': self.host, 'note': note}

    def _write_new(self, record):
        """Create the lock file; False when one appeared meanwhile (a run that bypassed the guard)."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                return False
            raise LockError('cannot create the lock %s: %s' % (self.path, exc.strerror))
        self._fill(fd, self.path, record)
        return True

    def _replace(self, record):
        """Swap a stale lock for ours in one rename, so no reader sees it missing or half-written."""
        tmp = '%s.%d.tmp' % (self.path, os.getpid())
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        except OSError as exc:
            raise LockError('cannot write %s: %s' % (tmp, exc.strerror))
        self._fill(fd, tmp, record)
        try:
            os.rename(tmp, self.path)
        except OSError as exc:
            raise LockError('cannot replace the stale lock %s: %s' % (self.path, exc.strerror))

    @staticmethod
    def _fill(fd, path, record):
        try:
            os.write(fd, json.dumps(record, sort_keys=True).encode('utf-8') + b'\n')
            os.fsync(fd)
        except OSError as exc:
            raise LockError('cannot write the lock %s: %s' % (path, exc.strerror))
        finally:
            os.close(fd)

    def acquire(self, owner, wait, ttl, note='', check_mode=False):
        """Take the lock for owner, waiting up to `wait` s for another holder; a result dict.

        Re-taking a lock owner already holds changes nothing. A holder still
        there after `wait` raises LockError naming it. In check mode the same
        decisions are made and nothing is written.
        """
        started = self.clock()
        deadline = started + wait
        waited_for = []
        while True:
            with self._guard(check_mode):
                current = self.read()
                now = self.clock()
                result = self._decide(current, owner, ttl, note, now, check_mode)
            if result is not None:
                result.update(waited_s=round(now - started, 3), waited_for=waited_for)
                return result
            if current is None:  # created meanwhile by a writer that skipped the guard: look again, within wait
                if now >= deadline:
                    raise LockError('%s appeared and vanished while we took it; gave up after %.0f s (wait=%s)'
                                    % (self.path, now - started, wait), waited_for=waited_for)
                self.sleep(min(POLL_S, max(0.0, deadline - now)) or POLL_S / 10.0)
                continue
            label = current.get('owner') or 'unreadable lock'
            if label not in waited_for:
                waited_for.append(label)
            if now >= deadline:
                raise LockError('%s is held by %s; gave up after waiting %.0f s (wait=%s). Another rebalance or '
                                'rollback is running on this host; retry later, raise wait, or remove the file if '
                                'that run is known to be dead' % (self.path, describe(current, now), now - started, wait),
                                holder=current, waited_for=waited_for)
            self.sleep(min(POLL_S, deadline - now))

    def _decide(self, current, owner, ttl, note, now, check_mode):
        """What to do with the lock as it is now; None means wait for its holder."""
        if current is not None and not current.get('unreadable') and current.get('owner') == owner:
            return {'changed': False, 'lock': current, 'took_over': None,
                    'msg': 'already held by this run since %s' % current.get('since'),
                    'diff': {'before': _view(current), 'after': _view(current)}}
        if current is not None and not is_stale(current, now, ttl):
            return None
        mine = self.record(owner, ttl, note)
        if current is None:
            if not check_mode and not self._write_new(mine):
                return None
            msg = 'acquired %s' % self.path
        else:
            if not check_mode:
                self._replace(mine)
            msg = 'took over a stale lock: %s is older than its ttl; its run probably died' % describe(current, now)
        return {'changed': True, 'lock': mine, 'took_over': current, 'msg': msg,
                'diff': {'before': _view(current), 'after': _view(mine)}}

    def release(self, owner, check_mode=False):
        """Give the lock back if owner holds it; never removes another owner's lock."""
        with self._guard(check_mode):
            current = self.read()
            now = self.clock()
            if current is None:
                return {'changed': False, 'lock': None, 'msg': '%s is not held' % self.path,
                        'diff': {'before': _view(None), 'after': _view(None)}}
            if current.get('unreadable') or current.get('owner') != owner:
                return {'changed': False, 'lock': current,
                        'msg': 'not released: %s is held by %s, not by run %r' % (self.path, describe(current, now), owner),
                        'diff': {'before': _view(current), 'after': _view(current)}}
            if not check_mode:
                try:
                    os.unlink(self.path)
                except OSError as exc:
                    raise LockError('cannot remove the lock %s: %s' % (self.path, exc.strerror))
        return {'changed': True, 'lock': None, 'msg': 'released %s (held since %s)' % (self.path, current.get('since')),
                'diff': {'before': _view(current), 'after': _view(None)}}
