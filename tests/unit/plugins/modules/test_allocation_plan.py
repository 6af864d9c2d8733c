# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""allocation_plan: forecast sources, staleness, and planning against libvirt's 2-node test host."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import time

import libvirt
import pytest

from ansible_collections.adaptive.intravm.plugins.modules import allocation_plan as mod
from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError
from ansible_collections.adaptive.intravm.plugins.module_utils.plan.forecast_doc import ForecastDocError, check
from ansible_collections.adaptive.intravm.plugins.module_utils.plan.planner import PlannerInputError

TEST_URI = 'test:///default'  # a 2-NUMA-node, 16-CPU host with a running domain "test" (2 vCPUs)


class FakeModule(object):
    def __init__(self, **params):
        self.params = dict(uri=TEST_URI, forecasts_path=None, forecasts_url=None, forecasts=None, max_age=300,
                           names=None, reserved_cpus='', max_moves=None, policy={}, resize={}, sizing_policy={}, timeout=5)
        self.params.update(params)
        self.check_mode = False

    def connect(self):
        return libvirt.open(self.params['uri'])


def doc(vms, age=0.0):
    return {'version': 2, 'generated_at': time.time() - age, 'host': 'h', 'step_s': 60, 'vms': vms}


def cpu_fc(p90, vcpus=2):
    return {'uuid': 'u', 'vcpus': vcpus, 'model': 'baseline', 'horizons_s': [60], 'cpu': {'p50': [p90 / 2], 'p90': [p90]}}


def test_plan_against_the_test_driver_pins_and_binds_memory_on_one_node():
    result = mod.run(FakeModule(forecasts=doc({'test': cpu_fc(0.6), 'gone': cpu_fc(0.1)})))
    assert result['changed'] is False
    assert result['ignored'] == ['gone']
    entry = result['plan']['vcpu_pin'][0]
    assert entry['name'] == 'test' and sorted(entry['vcpus']) == ['0', '1']
    numa = result['plan']['numa_memory']
    assert numa == [{'name': 'test', 'mode': 'strict', 'nodeset': result['allocations']['test']['nodes']}]
    assert 'reason' not in result


def test_forecasts_from_a_file(tmp_path):
    path = tmp_path / 'fc.json'
    path.write_text(json.dumps(doc({'test': cpu_fc(0.3)})))
    result = mod.run(FakeModule(forecasts_path=str(path), reserved_cpus='0-3'))
    used = set(result['allocations']['test']['vcpus'].values())
    assert not used & {'0', '1', '2', '3'}


def test_stale_forecasts_give_an_empty_plan_with_the_reason():
    result = mod.run(FakeModule(forecasts=doc({'test': cpu_fc(0.9)}, age=1000), max_age=300))
    assert result['plan'] == {'vcpu_pin': [], 'numa_memory': [], 'vf_bandwidth': [], 'vgpu': [], 'memory_balloon': [], 'vcpu_count': []}
    assert 'older than max_age 300' in result['reason']
    assert result['forecast_age_s'] >= 1000


@pytest.mark.parametrize('bad, message', [
    ([], 'must be a JSON object'),
    ({'version': 3, 'generated_at': 1, 'vms': {}}, 'version 3'),
    ({'version': 2, 'vms': {}}, 'generated_at'),
    ({'version': 2, 'generated_at': 1}, '"vms"'),
])
def test_malformed_documents_are_named(bad, message):
    with pytest.raises(ForecastDocError, match=message):
        check(bad, 'here')


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(ForecastDocError, match='cannot read forecasts file'):
        mod.load_forecasts(FakeModule(forecasts_path=str(tmp_path / 'missing.json')).params)
    bad = tmp_path / 'bad.json'
    bad.write_text('{not json')
    with pytest.raises(ForecastDocError, match='not valid JSON'):
        mod.load_forecasts(FakeModule(forecasts_path=str(bad)).params)


def test_unreachable_endpoint_is_named():
    with pytest.raises(ForecastDocError, match='127.0.0.1:9'):
        mod.load_forecasts(FakeModule(forecasts_url='http://127.0.0.1:9/forecasts', timeout=1).params)


@pytest.mark.parametrize('url', ['file:///etc/shadow', 'FILE:///etc/passwd', 'ftp://127.0.0.1/x', '/etc/shadow', 'data:,{}'])
def test_only_http_and_https_urls_are_read(url):
    with pytest.raises(ForecastDocError, match='only http and https URLs are read'):
        mod.load_forecasts(FakeModule(forecasts_url=url).params)


def test_deeply_nested_and_oversized_files_are_refused_by_name(tmp_path):
    deep = tmp_path / 'deep.json'
    deep.write_text('[' * 100000 + ']' * 100000)
    with pytest.raises(ForecastDocError, match='deep.json nest deeper than'):
        mod.load_forecasts(FakeModule(forecasts_path=str(deep)).params)
    big = tmp_path / 'big.json'
    with open(str(big), 'w') as handle:
        handle.write('{"version": 2, "generated_at": 1, "vms": {}, "pad": "')
        handle.write('x' * (17 << 20))
        handle.write('"}')
    with pytest.raises(ForecastDocError, match='larger than 16777216 bytes'):
        mod.load_forecasts(FakeModule(forecasts_path=str(big)).params)


def test_nan_forecast_fails_before_planning():
    """The document's one check refuses it as it is read, before libvirt is asked anything."""
    with pytest.raises(ForecastDocError, match="'test'.*nan"):
        mod.run(FakeModule(forecasts=doc({'test': cpu_fc(float('nan'))})))


def test_names_must_be_running_domains():
    with pytest.raises(PlannerInputError, match='no-such-dom'):
        mod.run(FakeModule(forecasts=doc({'test': cpu_fc(0.2)}), names=['no-such-dom']))


@pytest.mark.parametrize('bounds, says', [
    ({'min_vcpus': '\u0661', 'max_vcpus': 2}, "resize[test].min_vcpus '\u0661' is not a non-negative integer of ASCII digits"),
    ({'min_vcpus': 1, 'max_vcpus': '\u00b2'}, "resize[test].max_vcpus '\u00b2' is not a non-negative integer of ASCII digits"),
    ({'min_vcpus': True, 'max_vcpus': 2}, 'resize[test].min_vcpus True is not'),
    ({'min_vcpus': '1_0', 'max_vcpus': 20}, "resize[test].min_vcpus '1_0' is not"),
    ({'min_vcpus': 1.5, 'max_vcpus': 2}, 'resize[test].min_vcpus 1.5 is not'),
    ({'min_memory': '9' * 40000, 'max_memory': '2G'}, 'resize[test].min_memory: \'999'),
    ({'min_memory': '1G', 'max_memory': '9' * 40 + 'G'}, 'is above 8 EiB'),
    ({'min_memory': '\u0661G', 'max_memory': '2G'}, 'resize[test].min_memory: \'\u0661G\' is not a size'),
])
def test_resize_bounds_take_one_integer_grammar_and_one_size_parser(bounds, says):
    """Probe 26 #8 and #9: "\u0661" was taken as 1, "\u00b2" raised int()'s own error, 40,000 digits a float overflow."""
    with pytest.raises(IntravmError) as err:
        mod.resize_bounds({'test': bounds})
    assert says in str(err.value) and len(str(err.value)) < 240, str(err.value)


def test_resize_bounds_in_ascii_digits_pass():
    assert mod.resize_bounds({'test': {'min_vcpus': ' 1 ', 'max_vcpus': 4, 'min_memory': '1.5G', 'max_memory': 4096}}) == {
        'test': {'min_vcpus': 1, 'max_vcpus': 4, 'min_memory': 1536 << 20, 'max_memory': 4096 << 20}}
