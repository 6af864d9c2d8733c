# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""apply_plan's checks of the plan's shape, and its per-domain isolation, on libvirt's test:///default host."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.adaptive.intravm.plugins.module_utils.apply import plan_apply
from ansible_collections.adaptive.intravm.plugins.module_utils.host.placement import read_numatune
from ansible_collections.adaptive.intravm.plugins.module_utils.module_base import EntryView, error_text, handled_errors


@pytest.mark.parametrize('plan, says', [
    ({'vcpu_pin': 'web01'}, 'must be a list'),
    ({'vcpu_pin': [{'vcpus': {'0': '1'}}]}, 'must be a dict with a domain name'),
    ({'vcpu_pin': [{'name': '', 'vcpus': {}}]}, 'must be a dict with a domain name'),
    ({'vcpu_pin': [{'name': 'web01', 'cpus': '1'}]}, 'unknown key(s) cpus'),
    ({'vcpu_pin': [{'name': 'web01'}, {'name': 'web01'}]}, 'twice'),
])
def test_a_plan_not_of_allocation_plans_shape_is_refused_whole(plan, says):
    with pytest.raises(plan_apply.PlanError) as err:
        plan_apply.entries(plan, 'vcpu_pin', plan_apply.PIN_KEYS)
    assert says in str(err.value)


def test_allocation_plans_entries_pass_as_they_are():
    plan = {'vcpu_pin': [{'name': 'a', 'vcpus': {'0': '1'}, 'emulator': '1', 'expect': {'0': '0'}, 'iothreads': {}}],
            'numa_memory': [{'name': 'a', 'mode': 'strict', 'nodeset': '0'}]}
    assert plan_apply.entries(plan, 'vcpu_pin', plan_apply.PIN_KEYS) == plan['vcpu_pin']
    assert plan_apply.entries(plan, 'numa_memory', plan_apply.NUMA_KEYS) == plan['numa_memory']
    assert plan_apply.entries({}, 'numa_memory', plan_apply.NUMA_KEYS) == []


class Module(object):
    """What plan_apply.run uses of an IntravmModule."""

    def __init__(self, conn, params, check_mode=False):
        self.conn = conn
        self.params = params
        self.check_mode = check_mode
        self.warnings = []

    def connect(self):
        return self.conn

    def entry(self, conn, params):
        return EntryView(self, conn, params)

    def warn(self, text):
        self.warnings.append(text)

    handled_errors = staticmethod(handled_errors)
    error_text = staticmethod(error_text)


def test_one_failing_domain_leaves_the_others_applied(multi_node_conn):
    name = multi_node_conn.listAllDomains()[0].name()
    # (the test driver pins no persistent config, so the healthy domain's change here is its memory)
    plan = {'vcpu_pin': [{'name': 'no-such-domain', 'vcpus': {'0': '1'}}],
            'numa_memory': [{'name': 'no-such-domain', 'mode': 'strict', 'nodeset': '1'},
                            {'name': name, 'mode': 'strict', 'nodeset': '1'}]}
    module = Module(multi_node_conn, {'plan': plan, 'kinds': ['cpu', 'numa'], 'reserved_cpus': '',
                                      'live_unsupported': 'fail'})
    out = plan_apply.run(module)
    assert out['changed'] and out['changed_domains'] == {'cpu': [], 'numa': [name]}
    assert list(out['failures']) == ['no-such-domain'] and 'not found' in out['failures']['no-such-domain']
    assert 'numa' not in out['domains']['no-such-domain'], 'a domain whose pins failed keeps its memory where it is'
    assert out['domains'][name]['numa']['numatune']['nodeset'] == '1'
    assert out['diff']['after'][name]['numa']['live']['nodeset'] == '1'


def test_kinds_select_what_is_applied(multi_node_conn):
    name = multi_node_conn.listAllDomains()[0].name()
    plan = {'vcpu_pin': [{'name': name, 'vcpus': {'0': '2'}}]}
    out = plan_apply.run(Module(multi_node_conn, {'plan': plan, 'kinds': ['numa'], 'reserved_cpus': '',
                                                  'live_unsupported': 'fail'}))
    assert not out['changed'] and out['domains'] == {}


BAD_VALUES = [
    ('vcpu_pin', {'vcpus': ['0']}, 'vcpus must be a mapping of index to cpuset'),
    ('vcpu_pin', {'vcpus': {'0': ['1']}}, 'vcpus[0]: cpuset must be a string'),
    ('vcpu_pin', {'vcpus': {'\u0661': '1'}}, "vcpus: key '\u0661' is not a non-negative integer of ASCII digits"),
    ('vcpu_pin', {'vcpus': {'0': ''}}, 'vcpus[0]: empty cpuset'),
    ('vcpu_pin', {'expect': 'forged'}, 'expect must be a mapping'),
    ('vcpu_pin', {'expect': {'0': 7.5}}, 'expect[0]: cpuset must be a string'),
    ('vcpu_pin', {'iothreads': 'x'}, 'iothreads must be a mapping'),
    ('vcpu_pin', {'emulator': {'0': '1'}}, 'emulator: cpuset must be a string'),
    ('vcpu_pin', {'emulator': 'x'}, "emulator: 'x' in cpuset"),
    ('numa_memory', {'memnodes': [1]}, 'memnodes must be a mapping of guest cell to nodeset'),
    ('numa_memory', {'memnodes': {'0': 1.5}}, 'memnodes[0]: nodeset must be a string'),
    ('numa_memory', {'mode': ['strict']}, "mode ['strict'] is not one of"),
    ('numa_memory', {'nodeset': {'0': '1'}}, 'nodeset: nodeset must be a string'),
    ('numa_memory', {}, 'give at least one of mode, nodeset or memnodes'),
]


@pytest.mark.parametrize('key, values, says', BAD_VALUES)
def test_every_value_is_checked_before_the_first_domain_changes(multi_node_conn, make_test_domain, key, values, says):
    """Probe 26 #2: a good first entry was applied, then a later entry's value crashed the run, reported unchanged."""
    good, bad = make_test_domain(), make_test_domain()
    before = read_numatune(good, 'live')
    # (the test driver pins no persistent config, so the good domain's change here is its memory)
    plan = {'vcpu_pin': [], 'numa_memory': [{'name': good.name(), 'mode': 'strict', 'nodeset': '1'}]}
    plan[key].append(dict({'name': bad.name()}, **values))
    with pytest.raises(plan_apply.PlanError) as err:
        plan_apply.run(Module(multi_node_conn, {'plan': plan, 'kinds': ['cpu', 'numa'], 'reserved_cpus': '',
                                                'live_unsupported': 'fail'}))
    assert says in str(err.value) and 'plan.%s[%d] (%s)' % (key, len(plan[key]) - 1, bad.name()) in str(err.value)
    assert read_numatune(good, 'live') == before and before['nodeset'] != '1', 'nothing is applied from a plan with a bad entry'


def test_an_unexpected_error_after_a_change_reports_what_changed(multi_node_conn, make_test_domain, monkeypatch):
    """Probe 26 #2: what was applied before an unexpected error is reported (changed, changed_domains), not lost."""
    first, second, third = make_test_domain(), make_test_domain(), make_test_domain()
    real = plan_apply.numa_apply.run

    def breaks_on_the_second(view):
        if view.params['name'] == second.name():
            raise TypeError('a bug')
        return real(view)
    monkeypatch.setattr(plan_apply.numa_apply, 'run', breaks_on_the_second)
    plan = {'numa_memory': [{'name': d.name(), 'mode': 'strict', 'nodeset': '1'} for d in (first, second, third)]}
    with pytest.raises(plan_apply.ApplyInterrupted) as err:
        plan_apply.run(Module(multi_node_conn, {'plan': plan, 'kinds': ['cpu', 'numa'], 'reserved_cpus': '',
                                                'live_unsupported': 'fail'}))
    facts = err.value.facts
    assert facts['changed'] is True and facts['changed_domains'] == {'cpu': [], 'numa': [first.name()]}
    assert 'TypeError: a bug' in facts['failures'][second.name()] and third.name() not in facts['domains']
    assert 'applied before it: %s' % first.name() in str(err.value) and 'Traceback' in facts['exception']
    assert read_numatune(first, 'live')['nodeset'] == '1' and read_numatune(third, 'live')['nodeset'] != '1'
