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
taken over with a warning. So is a lock file that cannot be read as such a
record, whatever is in it (cut short by a writer that died, NaN or
out-of-range times, deep nesting, a list...): every writer writes its record
whole under the flock, so no live run can be behind one, and it must not
block every later run on the host. A take-over writes a fresh file of its own
(mkstemp: O_EXCL, never a link followed) and renames it over the lock. The
clock and sleep are injected so the rules are tested without waiting.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import errno
import fcntl
import json
import math
import os
import socket
import tempfile
import time

from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError
from ansible_collections.adaptive.intravm.plugins.module_utils.regular_file import NotRegularFile, open_regular

POLL_S = 1.0
MAX_RECORD_BYTES = 65536


class LockError(IntravmError):
    """The lock cannot be taken or read; `holder` names who has it, when known."""


def since_text(epoch):
    """UTC ISO 8601 of epoch seconds; '?' for a time gmtime cannot show (NaN, out of range)."""
    try:
        return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(epoch))
    except (ValueError, OverflowError, OSError, TypeError):
        return '?'


def describe(record, now):
    """Who holds a lock and since when, for messages."""
    if record.get('unreadable'):
        return 'an unreadable lock file (%s; written %s)' % (record.get('reason'), since_text(record['acquired_at']))
    text = 'run %r' % record.get('owner')
    if record.get('note'):
        text += ' (%s)' % record['note']
    age = now - record['acquired_at']
    when = '%.0f s ago' % age if age >= 0 else '%.0f s ahead of this host\'s clock' % -age
    return '%s on host %s since %s (%s, ttl %s s)' % (
        text, record.get('host', '?'), record.get('since') or since_text(record['acquired_at']), when, record.get('ttl'))


def is_stale(record, now, default_ttl):
    """Older than the ttl its holder recorded, or dated more than that ahead; an unreadable record always is."""
    if record.get('unreadable'):
        return True
    ttl = record.get('ttl')
    if ttl is None:
        ttl = default_ttl
    return abs(now - record['acquired_at']) > ttl


def _finite_number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:     # an int beyond float range
        return False


def check_record(record):
    """Why record is not a lock record as HostLock writes it; None when it is."""
    if not isinstance(record, dict):
        return 'it holds a JSON %s, not an object' % type(record).__name__
    owner = record.get('owner')
    if not isinstance(owner, str) or not owner:
        return 'owner %.80r is not a run id' % (owner,)
    acquired = record.get('acquired_at')
    if not _finite_number(acquired) or acquired < 0 or since_text(acquired) == '?':
        return 'acquired_at %.80r is not a time' % (acquired,)
    ttl = record.get('ttl')
    if ttl is not None and not (_finite_number(ttl) and ttl > 0):
        return 'ttl %.80r is not a positive number of seconds' % (ttl,)
    for key in ('since', 'host', 'note'):
        if record.get(key) is not None and not isinstance(record[key], str):
            return '%s %.80r is not text' % (key, record[key])
    return None


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
        """The holder's record, None when free.

        A file that cannot be read as a lock record (see check_record) comes back
        as {'unreadable': True, 'reason': why, 'acquired_at': its mtime}: stale.
        """
        try:
            fd, info = open_regular(self.path)   # never follows a link or waits on a FIFO planted there
        except NotRegularFile as exc:
            raise LockError('the lock %s; remove it' % exc)
        except (IOError, OSError) as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise LockError('cannot read the lock %s: %s' % (self.path, exc.strerror))
        with os.fdopen(fd, 'rb') as handle:
            raw = handle.read(MAX_RECORD_BYTES + 1)
        if len(raw) > MAX_RECORD_BYTES:
            reason = 'it is larger than %d bytes' % MAX_RECORD_BYTES
        else:
            try:
                record = json.loads(raw.decode('utf-8'))
            except RecursionError:
                reason = 'it is nested too deeply'
                record = None
            except ValueError as exc:   # UnicodeDecodeError too
                reason = 'it is not JSON (%s)' % (str(exc)[:120] or 'empty')
                record = None
            else:
                reason = check_record(record)
        if reason is not None:
            return {'unreadable': True, 'reason': reason, 'acquired_at': info.st_mtime}
        return dict((k, record[k]) for k in ('owner', 'acquired_at', 'since', 'ttl', 'host', 'note') if k in record)

    def record(self, owner, ttl, note):
        now = self.clock()
        return {'owner': owner, 'acquired_at': round(now, 3), 'since': since_text(now), 'ttl': ttl,
                'host': self.host, 'note': note}

    def _write_new(self, record):
        """Create the lock file; False when one appeared meanwhile (a run that bypassed the guard)."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_CLOEXEC', 0)
        try:
            fd = os.open(self.path, flags, 0o640)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                return False
            raise LockError('cannot create the lock %s: %s' % (self.path, exc.strerror))
        self._fill(fd, self.path, record)
        return True

    def _replace(self, record):
        """Swap a stale lock for ours in one rename, so no reader sees it missing or half-written.

        The new record goes to a file mkstemp creates under a fresh random name
        (O_EXCL: nothing planted there is opened, no link is followed), so the
        rename installs only a regular file this run wrote.
        """
        folder = os.path.dirname(os.path.abspath(self.path))
        try:
            fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(self.path), suffix='.tmp', dir=folder)
        except OSError as exc:
            raise LockError('cannot write a new lock in %s: %s' % (folder, exc.strerror))
        try:
            try:
                os.fchmod(fd, 0o640)
            except OSError as exc:
                os.close(fd)
                raise LockError('cannot write %s: %s' % (tmp, exc.strerror))
            self._fill(fd, tmp, record)
            try:
                os.rename(tmp, self.path)
            except OSError as exc:
                raise LockError('cannot replace the stale lock %s: %s' % (self.path, exc.strerror))
        except LockError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

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
            if current.get('unreadable'):
                why = 'no run can hold a lock its file does not name; it was probably cut short or damaged'
            elif now < current['acquired_at']:
                why = 'it is dated further ahead than its ttl (a clock set back, or a damaged file)'
            else:
                why = 'it is older than its ttl; its run probably died'
            msg = 'took over a stale lock: %s; %s' % (describe(current, now), why)
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
