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
from ansible_collections.adaptive.intravm.plugins.module_utils.module_base import IntravmModule, diff_policy

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

