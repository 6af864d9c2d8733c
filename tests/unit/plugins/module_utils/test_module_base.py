# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_base: the one diff policy, the error family, connections that always close."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.adaptive.intravm.plugins.module_utils.apply.rollback import Journal, PartialApplyError
from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError
from ansible_collections.adaptive.intravm.plugins.module_utils.module_base import (
    IntravmModule, diff_policy, integer_option_errors, integer_text_ok,
)

RESULT = {'changed': True, 'pins': {'0': '2'}, 'diff': {'before': {'0': '0-3'}, 'after': {'0': '2'}, 'extra': 1}}


def test_diff_only_in_diff_mode_and_always_before_after():
    assert diff_policy(RESULT, diff_mode=False) == {'changed': True, 'pins': {'0': '2'}}
    assert diff_policy(RESULT, diff_mode=True)['diff'] == {'before': {'0': '0-3'}, 'after': {'0': '2'}}
    assert 'diff' in RESULT                                  # the caller's dict is not changed
    assert 'diff' not in diff_policy({'changed': False}, diff_mode=True)


def run(capsys, logic, args=None, diff=False, sides=False, errors=None):
    args = dict(args or {}, _ansible_diff=diff)
    with patch_module_args(args):
        module = IntravmModule(argument_spec=dict(name=dict(type='str')), sides=sides)
        with pytest.raises(SystemExit):
            module.run_and_exit(logic, errors)
    return json.loads(capsys.readouterr().out)


def test_result_goes_through_the_diff_policy(capsys):
    assert 'diff' not in run(capsys, lambda m: dict(RESULT))
    assert run(capsys, lambda m: dict(RESULT), diff=True)['diff']['before'] == {'0': '0-3'}


def test_shared_options_are_there(capsys):
    out = run(capsys, lambda m: {'changed': False, 'params': dict(m.params)}, sides=True)
    assert out['params']['uri'] == 'qemu:///system' and out['params']['live'] is True and out['params']['config'] is True


def test_errors_of_the_family_name_the_domain_and_carry_facts(capsys):
    def refuse(_module):
        raise IntravmError('vcpus[7]: no such vCPU', hint='use 0-1')
    out = run(capsys, refuse, {'name': 'web01'})
    assert out['failed'] and out['msg'] == 'web01: vcpus[7]: no such vCPU' and out['hint'] == 'use 0-1'
    assert out['changed'] is False


def test_partial_apply_reports_the_rollback(capsys):
    state = []

    def half(_module):
        journal = Journal()
        journal.run('first', lambda: state.append(1), lambda: state.remove(1))
        journal.run('second', lambda: 1 / 0, lambda: None)
    out = run(capsys, half, {'name': 'web01'})
    assert out['failed'] and out['rolled_back'] == ['first'] and out['changed'] is False and state == []
    assert 'failed at second' in out['msg']


def test_module_specific_errors_use_their_formatter(capsys):
    def broken(_module):
        raise OSError('no sysfs')
    out = run(capsys, broken, errors={OSError: lambda exc, params: ('cannot read: %s' % exc, {'where': 'sysfs'})})
    assert out['msg'] == 'cannot read: no sysfs' and out['where'] == 'sysfs'


def test_connections_close_on_success_and_failure(capsys, monkeypatch):
    closed = []

    class Conn(object):
        def close(self):
            closed.append(True)

    monkeypatch.setattr('ansible_collections.adaptive.intravm.plugins.module_utils.host.libvirt_conn.connect', lambda uri: Conn())

    def uses(module):
        module.connect()
        return {'changed': False}

    def fails(module):
        module.connect()
        raise PartialApplyError('x', 'y', [], [])
    run(capsys, uses)
    run(capsys, fails)
    assert closed == [True, True]


def test_a_failure_whose_facts_say_changed_is_reported_changed(capsys):
    """apply_plan interrupted after it changed domains (probe 26 #2): the failure keeps changed: true."""
    def interrupted(_module):
        raise IntravmError('unexpected error', changed=True, changed_domains={'cpu': ['a'], 'numa': []})
    out = run(capsys, interrupted)
    assert out['failed'] and out['changed'] is True and out['changed_domains'] == {'cpu': ['a'], 'numa': []}


MODULES = 'ansible_collections.adaptive.intravm.plugins.modules.'


@pytest.mark.parametrize('module, args, option', [
    ('vcpu_count', {'name': 'web01', 'count': '\u0663'}, 'count'),
    ('vcpu_count', {'name': 'web01', 'count': 2, 'wait': '\u00b2'}, 'wait'),
    ('host_lock', {'owner': 'run1', 'wait': '\u0663'}, 'wait'),
    ('host_lock', {'owner': 'run1', 'ttl': '\u0661\u0660'}, 'ttl'),
    ('host_lock', {'owner': 'run1', 'ttl': '1_0'}, 'ttl'),
    ('host_lock', {'owner': 'run1', 'ttl': '1e3'}, 'ttl'),
    ('host_lock', {'owner': 'run1', 'ttl': True}, 'ttl'),
    ('host_lock', {'owner': 'run1', 'ttl': 60.0}, 'ttl'),
    ('host_lock', {'owner': 'run1', 'ttl': '9' * 40000}, 'ttl'),
    ('memory_balloon', {'name': 'web01', 'memory': '1G', 'stats_period': '\u0665'}, 'stats_period'),
    ('allocation_plan', {'forecasts': {}, 'max_age': '\u0663\u0660\u0660'}, 'max_age'),
    ('vf_bandwidth', {'name': 'web01', 'max_tx_rate': '\uff11'}, 'max_tx_rate'),
])
def test_every_integer_option_takes_ascii_digits_only(capsys, module, args, option):
    """Probe 26 #8: Ansible's type='int' took "\u0663" as 3; every module's integer options go through one grammar."""
    import importlib
    main = importlib.import_module(MODULES + module).main
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            main()
    out = json.loads(capsys.readouterr().out)
    assert out['failed'] and "argument '%s' is " % option in out['msg'] and 'ASCII digits' in out['msg'], out['msg']
    assert len(out['msg']) < 300


@pytest.mark.parametrize('value, ok', [
    (3, True), ('3', True), (' 30 ', True), ('-1', True), (-5, True), ('0', True), ('999999999999', True),
    ('\u0663', False), ('\u00b2', False), ('1_0', False), ('+3', False), ('3.0', False), ('', False), ('-', False),
    (True, False), (3.0, False), (None, False), ('9999999999999', False), (10 ** 12, False), ('3\n\u2003', False),
])
def test_the_integer_grammar(value, ok):
    assert integer_text_ok(value) is ok


def test_sub_options_and_int_lists_are_walked():
    spec = {'rates': {'type': 'dict', 'options': {'max': {'type': 'int'}}},
            'vfs': {'type': 'list', 'elements': 'dict', 'options': {'vf': {'type': 'int', 'aliases': ['index']}}},
            'ids': {'type': 'list', 'elements': 'int'}}
    params = {'rates': {'max': '\u0663'}, 'vfs': [{'vf': 1}, {'index': '\u0661'}], 'ids': [1, '\u0662']}
    assert [e.split(' is ')[0] for e in integer_option_errors(spec, params)] == [
        "argument 'rates.max'", "argument 'vfs[1].index'", "argument 'ids[1]'"]
