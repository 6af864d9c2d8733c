# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rebalance role's rollback history, read back: which entry to restore and what its runs changed.

Each run that changed something writes <state dir>/history/<run id>.json: the
placement before it, and `changed`, the domains it changed by kind. A
rollback restores one entry's placement for the domains that its run and
every later run changed, so it needs the entries in the order they were
written and must trust what they say:

- entries are ordered by their file's modification time (when the run wrote
  it), and one dated in the future (a clock set back, a copied file) is not
  used, with a warning: it would otherwise stay "the latest" for ever;
- each entry used is read with a size bound (MAX_ENTRY_BYTES), never a link
  or a FIFO, and must have the shape the role writes: one that does not (a
  `changed` that is not lists of domain names, missing pins...) is refused
  as malformed, never read as "changed nothing" and reported a success.

Pure stdlib; the clock is injected so the rules are tested without waiting.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import json
import os
import stat
import time

from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError
from ansible_collections.adaptive.intravm.plugins.module_utils.regular_file import NotRegularFile, open_regular

# A placement of a few hundred domains, its moves and plan are well under 1 MiB.
MAX_ENTRY_BYTES = 16 * 1024 * 1024
# How far ahead of this host's clock an entry's mtime may be (the same host wrote it).
FUTURE_SLACK_S = 60
# The kinds of change the role records; a rollback restores cpu (pins) and numa (memory policy).
RESTORED_KINDS = ('cpu', 'numa')
SOURCES = ('live', 'config')


class HistoryError(IntravmError):
    """The history cannot be used for this rollback; the message says which entry and why."""


def _since(epoch):
    try:
        return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(epoch))
    except (ValueError, OverflowError, OSError):
        return '%r' % epoch


def list_entries(folder, now):
    """([(mtime, id, path)] oldest first, [{'id', 'reason'}] not used), from the names alone.

    Hidden files (an editor's or a copy's temporary file) are not entries.
    """
    try:
        names = os.listdir(folder)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return [], []
        raise HistoryError('cannot list the rollback history %s: %s' % (folder, exc.strerror))
    usable, ignored = [], []
    for name in sorted(names):
        if not name.endswith('.json') or name.startswith('.'):
            continue
        entry_id, path = name[:-len('.json')], os.path.join(folder, name)
        try:
            info = os.lstat(path)
        except OSError:
            continue    # removed while we listed it
        if not stat.S_ISREG(info.st_mode):
            ignored.append({'id': entry_id, 'reason': '%s is not a regular file' % path})
        elif info.st_mtime > now + FUTURE_SLACK_S:
            ignored.append({'id': entry_id, 'reason': '%s was modified at %s, %.0f s ahead of this host\'s clock (a clock '
                                                      'set back, or a copied file): it cannot be placed among the other '
                                                      'entries; touch it or remove it'
                                                      % (path, _since(info.st_mtime), info.st_mtime - now)})
        else:
            usable.append((info.st_mtime, entry_id, path))
    usable.sort()
    return usable, ignored


def read_entry(path, entry_id):
    """The entry at path, checked (check_entry); HistoryError naming it when it cannot be used."""
    try:
        fd, info = open_regular(path)
    except NotRegularFile as exc:
        raise HistoryError('history entry %s: %s' % (entry_id, exc))
    except OSError as exc:
        raise HistoryError('history entry %s: cannot read %s: %s' % (entry_id, path, exc.strerror))
    with os.fdopen(fd, 'rb') as handle:
        if info.st_size > MAX_ENTRY_BYTES:
            raw = b''
        else:
            raw = handle.read(MAX_ENTRY_BYTES + 1)
    if info.st_size > MAX_ENTRY_BYTES or len(raw) > MAX_ENTRY_BYTES:
        raise HistoryError('history entry %s is malformed: %s is larger than %d bytes, more than any placement a run '
                           'records' % (entry_id, path, MAX_ENTRY_BYTES))
    try:
        doc = json.loads(raw.decode('utf-8'))
    except RecursionError:
        why = 'it is nested too deeply'
    except ValueError as exc:   # UnicodeDecodeError too
        why = 'it is not JSON (%s)' % (str(exc)[:120] or 'empty')
    else:
        why = check_entry(doc)
    if why:
        raise HistoryError('history entry %s is malformed: %s (%s); a rollback from it or over it cannot know what '
                           'it changed: move it away, or roll back to a later entry' % (entry_id, why, path))
    return doc


def _text(value, empty=True):
    return isinstance(value, str) and (empty or bool(value))


def _pins_map(value):
    return isinstance(value, dict) and all(_text(k, False) and _text(v, False) for k, v in value.items())


def check_domain(dom):
    """Why one recorded domain cannot be restored; None when it can."""
    if not isinstance(dom, dict):
        return 'a JSON %s, not a domain' % type(dom).__name__
    if not _text(dom.get('name'), False) or not _text(dom.get('uuid'), False):
        return 'no name and uuid'
    if dom.get('source') not in SOURCES:
        return 'source %.60r is not one of %s' % (dom.get('source'), ', '.join(SOURCES))
    pins = dom.get('pins')
    if not isinstance(pins, dict) or not _pins_map(pins.get('vcpus')) or not _pins_map(pins.get('iothreads')) \
            or not (pins.get('emulator') is None or _text(pins.get('emulator'), False)):
        return 'pins %.120r are not {vcpus: {vCPU: cpuset}, emulator: cpuset or null, iothreads: {id: cpuset}}' % (pins,)
    numa = dom.get('numatune')
    if not isinstance(numa, dict) or 'mode' not in numa or 'nodeset' not in numa \
            or not all(numa[k] is None or _text(numa[k], False) for k in ('mode', 'nodeset')):
        return 'numatune %.120r has no mode and nodeset (text or null)' % (numa,)
    return None


def check_entry(doc):
    """Why doc is not an entry as the rebalance role writes it; None when it is."""
    if not isinstance(doc, dict):
        return 'it holds a JSON %s, not an object' % type(doc).__name__
    for key in ('id', 'time', 'reason'):
        if not _text(doc.get(key)):
            return '%s %.60r is not text' % (key, doc.get(key))
    if not _text(doc.get('uri'), False):
        return 'uri %.60r is not a libvirt URI' % (doc.get('uri'),)
    changed = doc.get('changed')
    if not isinstance(changed, dict):
        return 'changed %.60r is not {kind: [domain, ...]}' % (changed,)
    for kind in sorted(changed):
        names = changed[kind]
        if not isinstance(names, list) or not all(_text(n, False) for n in names):
            return 'changed.%s %.60r is not a list of domain names' % (kind, names)
    domains = doc.get('domains')
    if not isinstance(domains, list):
        return 'domains %.60r is not a list' % (domains,)
    for i, dom in enumerate(domains):
        why = check_domain(dom)
        if why:
            return 'domains[%d] (%.60r): %s' % (i, dom.get('name') if isinstance(dom, dict) else dom, why)
    if 'moves' in doc and not isinstance(doc['moves'], list):
        return 'moves %.60r is not a list' % (doc['moves'],)
    return None


def load(folder, entry_id='', now=None):
    """What a rollback to entry_id (empty: the latest) restores, from the history in folder.

    {'entry': the chosen entry, 'undone': its id and the later ones (their
    changes are undone too), 'touched': the domains those runs changed (cpu or
    numa), 'ids': every usable id, oldest first, 'ignored': [{'id', 'reason'}]
    entries not used}. HistoryError when there is no such entry or one of those
    read is malformed.
    """
    now = time.time() if now is None else now
    usable, ignored = list_entries(folder, now)
    ids = [e[1] for e in usable]
    if entry_id:
        if entry_id not in ids:
            why = [i['reason'] for i in ignored if i['id'] == entry_id]
            if why:
                raise HistoryError('history entry %s is not used: %s' % (entry_id, why[0]))
            raise HistoryError('no history entry %s in %s; entries, oldest first: %s'
                               % (entry_id, folder, ', '.join(ids) or 'none'))
        start = ids.index(entry_id)
    elif not usable:
        raise HistoryError('no rollback history in %s: no rebalance has changed anything on this host yet%s'
                           % (folder, '' if not ignored else ' (not used: %s)' % '; '.join(i['reason'] for i in ignored)))
    else:
        start = len(usable) - 1
    entries = [read_entry(path, eid) for _mtime, eid, path in usable[start:]]
    touched = []
    for entry in entries:
        for kind in RESTORED_KINDS:
            for name in entry['changed'].get(kind, []):
                if name not in touched:
                    touched.append(name)
    return {'entry': entries[0], 'undone': ids[start:], 'touched': touched, 'ids': ids, 'ignored': ignored}
