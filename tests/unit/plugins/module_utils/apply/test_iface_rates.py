# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure rules for libvirt interface bandwidth."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.adaptive.intravm.plugins.module_utils.apply import iface_rates

ETH = {'mac': '52:54:00:aa:bb:01', 'type': 'ethernet'}
NET = {'mac': '52:54:00:aa:bb:02', 'type': 'network'}


def test_given_direction_is_complete_and_omitted_one_untouched():
    params = iface_rates.typed_params({'average': 100, 'peak': None}, None)
    assert params == {'inbound.average': 100, 'inbound.peak': 0, 'inbound.burst': 0, 'inbound.floor': 0}
    assert sorted(iface_rates.typed_params(None, {})) == ['outbound.average', 'outbound.burst', 'outbound.peak']
    assert iface_rates.typed_params(None, None) == {}


@pytest.mark.parametrize('inbound,outbound,nic,match', [
    ({'peak': 5}, None, ETH, 'inbound.peak=5 needs inbound.average'),
    (None, {'burst': 5}, ETH, 'outbound.burst=5 needs outbound.average'),
    ({'average': 10, 'floor': 5}, None, ETH, "inbound.floor=5: .*of type 'ethernet'"),
    ({'average': -1}, None, ETH, 'inbound.average=-1 .* out of range'),
    (None, {'average': 2 ** 32}, ETH, 'outbound.average=4294967296 .* out of range'),
])
def test_validation_errors(inbound, outbound, nic, match):
    with pytest.raises(iface_rates.IfaceRateError, match=match):
        iface_rates.validate(iface_rates.typed_params(inbound, outbound), nic, 'web01')


def test_valid_requests():
    iface_rates.validate(iface_rates.typed_params({'average': 10, 'floor': 5}, None), NET, 'web01')
    iface_rates.validate(iface_rates.typed_params({'floor': 5}, None), NET, 'web01')  # floor alone is allowed
    iface_rates.validate(iface_rates.typed_params({}, {'average': 0}), ETH, 'web01')   # removal


def test_changes_and_nested():
    current = {'inbound.average': 100, 'inbound.peak': 0, 'inbound.burst': 0, 'inbound.floor': 0,
               'outbound.average': 0, 'outbound.peak': 0, 'outbound.burst': 0}
    assert iface_rates.changes(current, iface_rates.typed_params({'average': 100}, None)) == []
    assert iface_rates.changes(current, iface_rates.typed_params({'average': 100, 'burst': 8}, {'average': 1})) == [
        'inbound.burst', 'outbound.average']
    nested = iface_rates.as_nested(current)
    assert nested['inbound'] == {'average': 100, 'peak': 0, 'burst': 0, 'floor': 0}
    assert nested['outbound'] == {'average': 0, 'peak': 0, 'burst': 0}
