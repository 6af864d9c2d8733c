# -*- coding: utf-8 -*-
"""The rollback history read back for a rollback: ordered by when each entry was written, one dated
in the future not used, every entry used read with a size bound and checked whole, a malformed one
refused (never read as "changed nothing"), on a real directory with a fake clock."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible_collections.adaptive.intravm.plugins.module_utils.apply import history
from ansible_collections.adaptive.intravm.plugins.module_utils.apply.history import HistoryError
from ansible_collections.adaptive.intravm.plugins.modules import rollback_history
from module_stub import ModuleStub

NOW = 1767268800.0  # 2026-01-01T12:00:00Z
PINS = {'vcpus': {'0': '2', '1': '3'}, 'emulator': '0-1', 'iothreads': {}}
NUMA = {'mode': None, 'nodeset': None, 'placement': None, 'memnodes': {}}


def domain(name, **over):
    dom = {'name': name, 'uuid': '00000000-0000-4000-8000-%012d' % len(name), 'state': 'running', 'source': 'live',
           'vcpu_count': 2, 'pins': PINS, 'numatune': NUMA}
    dom.update(over)
    return dom


def doc(run_id, cpu=(), numa=(), **over):
    entry = {'id': run_id, 'time': '2026-01-01T11:00:00Z', 'reason': 'scheduled', 'uri': 'qemu:///system',
             'domains': [domain('web01'), domain('db01')], 'moves': [], 'plan': {},
             'changed': {'cpu': list(cpu), 'numa': list(numa), 'network': [], 'gpu': [], 'memory': [], 'vcpus': []}}
    entry.update(over)
    return entry


def write(folder, run_id, content, age_s):
    path = folder / ('%s.json' % run_id)
    path.write_bytes(content if isinstance(content, bytes) else
                     (content if isinstance(content, str) else json.dumps(content)).encode('utf-8'))
    os.utime(str(path), (NOW - age_s, NOW - age_s))
    return path


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / 'history'
    path.mkdir()
    return path


def test_the_latest_entry_is_restored_and_a_chosen_one_undoes_the_later_runs_too(folder):
    write(folder, 'b-second', doc('b-second', cpu=['db01']), 100)
    write(folder, 'a-first', doc('a-first', cpu=['web01'], numa=['web01']), 200)
    write(folder, 'c-third', doc('c-third', numa=['web01']), 50)
    latest = history.load(str(folder), now=NOW)
    assert latest['entry']['id'] == 'c-third' and latest['undone'] == ['c-third'] and latest['touched'] == ['web01']
    assert latest['ids'] == ['a-first', 'b-second', 'c-third'] and latest['ignored'] == []
    chosen = history.load(str(folder), 'a-first', now=NOW)
    assert chosen['entry']['id'] == 'a-first' and chosen['undone'] == ['a-first', 'b-second', 'c-third']
    assert chosen['touched'] == ['web01', 'db01']


def test_an_entry_dated_in_the_future_is_never_the_latest(folder):
    write(folder, 'real', doc('real', cpu=['web01']), 100)
    write(folder, 'copied', doc('copied', cpu=['db01']), -86400 * 365)
    got = history.load(str(folder), now=NOW)
    assert got['entry']['id'] == 'real' and got['ids'] == ['real']
    assert [i['id'] for i in got['ignored']] == ['copied'] and 'ahead of this host' in got['ignored'][0]['reason']
    with pytest.raises(HistoryError, match='history entry copied is not used: .* ahead of this host'):
        history.load(str(folder), 'copied', now=NOW)
    module = ModuleStub({'path': str(folder), 'id': ''})
    assert rollback_history.run(module, now=NOW)['entry']['id'] == 'real'
    assert len(module.warnings) == 1 and 'history entry copied is not used' in module.warnings[0]


def test_a_few_seconds_ahead_is_still_used(folder):
    write(folder, 'now', doc('now', cpu=['web01']), -5)
    assert history.load(str(folder), now=NOW)['entry']['id'] == 'now'


MALFORMED = {
    'changed is text': (doc('x', changed='everything'), "changed 'everything' is not"),
    'changed.cpu is text': (doc('x', changed={'cpu': 'web01'}), 'changed.cpu'),
    'changed.cpu holds a number': (doc('x', changed={'cpu': [1]}), 'changed.cpu'),
    'changed missing': (dict((k, v) for k, v in doc('x').items() if k != 'changed'), 'changed None'),
    'domains is a mapping': (doc('x', cpu=['web01'], domains={'web01': {}}), 'domains'),
    'a domain without pins': (doc('x', cpu=['web01'], domains=[domain('web01', pins=None)]), 'pins None'),
    'vcpu pins as a list': (doc('x', cpu=['web01'], domains=[domain('web01', pins=dict(PINS, vcpus=['2']))]), 'pins'),
    'numatune without nodeset': (doc('x', cpu=['web01'], domains=[domain('web01', numatune={'mode': 'strict'})]),
                                 'numatune'),
    'unknown source': (doc('x', cpu=['web01'], domains=[domain('web01', source='both')]), 'source'),
    'uri missing': (doc('x', cpu=['web01'], uri=''), 'uri'),
    'a list': ([doc('x')], 'JSON list'),
    'not JSON': ('{"id": "x", "chan', 'not JSON'),
    'empty': ('', 'not JSON'),
    'deep nesting': ('[' * 100000, 'nested too deeply'),
    'not UTF-8': (b'\xff\xfe{}', 'not JSON'),
}


@pytest.mark.parametrize('case', sorted(MALFORMED))
def test_a_malformed_entry_is_refused_naming_it_never_read_as_changing_nothing(folder, case):
    content, says = MALFORMED[case]
    write(folder, 'older', doc('older', cpu=['web01']), 300)
    write(folder, 'bad', content, 200)
    with pytest.raises(HistoryError) as err:
        history.load(str(folder), now=NOW)
    assert 'history entry bad is malformed' in str(err.value) and says in str(err.value), str(err.value)
    with pytest.raises(HistoryError, match='history entry bad is malformed'):
        history.load(str(folder), 'older', now=NOW)      # rolling back over it would skip what its run changed
    write(folder, 'newer', doc('newer', cpu=['db01']), 100)
    assert history.load(str(folder), 'newer', now=NOW)['touched'] == ['db01'], 'entries before the chosen one are not read'


def test_an_entry_too_large_for_any_placement_is_refused_without_reading_it(folder):
    write(folder, 'good', doc('good', cpu=['web01']), 300)
    huge = write(folder, 'huge', b'', 200)
    os.truncate(str(huge), 100 * 1024 * 1024)           # sparse: 100 MB on paper, nothing on disk
    os.utime(str(huge), (NOW - 200, NOW - 200))
    with pytest.raises(HistoryError, match='history entry huge is malformed: .* larger than 16777216 bytes'):
        history.load(str(folder), now=NOW)


def test_the_read_is_bounded_even_when_a_file_grows_after_its_size_was_read(folder, monkeypatch):
    monkeypatch.setattr(history, 'MAX_ENTRY_BYTES', 64)
    write(folder, 'grown', json.dumps(doc('grown', cpu=['web01'])), 100)
    with pytest.raises(HistoryError, match='larger than 64 bytes'):
        history.load(str(folder), now=NOW)


@pytest.mark.parametrize('plant', ['link', 'fifo', 'directory'])
def test_what_is_not_a_regular_file_is_not_an_entry(folder, tmp_path, plant):
    write(folder, 'real', doc('real', cpu=['web01']), 100)
    target = tmp_path / 'elsewhere.json'
    target.write_text(json.dumps(doc('planted', cpu=['db01'])))
    planted = str(folder / 'planted.json')
    if plant == 'link':
        os.symlink(str(target), planted)
    elif plant == 'fifo':
        os.mkfifo(planted)
    else:
        os.mkdir(planted)
    got = history.load(str(folder), now=NOW)
    assert got['entry']['id'] == 'real' and got['ignored'][0]['id'] == 'planted'
    assert 'not a regular file' in got['ignored'][0]['reason']


def test_hidden_and_other_files_are_not_entries(folder):
    write(folder, 'real', doc('real', cpu=['web01']), 100)
    write(folder, '.ansible_tmp0a1b2creal', 'half-written', 10)
    (folder / 'notes.txt').write_text('not an entry')
    got = history.load(str(folder), now=NOW)
    assert got['ids'] == ['real'] and got['ignored'] == []


def test_no_history_or_no_such_entry_says_what_there_is(folder, tmp_path):
    with pytest.raises(HistoryError, match='no rollback history in .*: no rebalance has changed anything'):
        history.load(str(tmp_path / 'absent'), now=NOW)
    with pytest.raises(HistoryError, match='no rollback history'):
        history.load(str(folder), now=NOW)
    write(folder, 'first', doc('first', cpu=['web01']), 100)
    with pytest.raises(HistoryError, match='no history entry nope in .*; entries, oldest first: first'):
        history.load(str(folder), 'nope', now=NOW)
