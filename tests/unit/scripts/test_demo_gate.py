# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The demo's event source: plan each new forecast once; moves only for a predicted hotspot."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import time

import pytest

libvirt = pytest.importorskip('libvirt')

from ansible_collections.adaptive.intravm.plugins.module_utils.host.topology import parse_capabilities  # noqa: E402
from ansible_collections.adaptive.intravm.scripts import demo  # noqa: E402


def write_forecasts(path, generated_at, name, per_vcpu_p90):
    vcpu = dict((str(i), {'p50': [v], 'p90': [v]}) for i, v in enumerate(per_vcpu_p90))
    total = sum(per_vcpu_p90) / len(per_vcpu_p90)
    entry = {'vcpus': len(per_vcpu_p90), 'horizons_s': [2], 'model': 'lstm', 'cpu': {'p50': [total], 'p90': [total]}, 'vcpu': vcpu}
    doc = {'version': 1, 'generated_at': generated_at, 'vms': {name: entry}}
    path.write_text(json.dumps(doc))


def test_plans_each_forecast_once_and_moves_only_on_a_hotspot(multi_node_conn, make_test_domain, tmp_path):
    dom = make_test_domain(vcpus=2)
    dom.pinVcpuFlags(0, tuple(c == 0 for c in range(16)))
    dom.pinVcpuFlags(1, tuple(c == 0 for c in range(16)))
    topology = parse_capabilities(multi_node_conn.getCapabilities(), multi_node_conn.getCPUMap()[1])
    state = tmp_path / 'forecasts.json'
    seen = set()
    policy = {'capacity': 1.0}
    assert demo.planned_moves(multi_node_conn, [dom.name()], topology, str(state), policy, seen) is None  # no file yet

    now = time.time()
    write_forecasts(state, now, dom.name(), [0.1, 0.1])            # both on CPU 0, no hotspot
    assert demo.planned_moves(multi_node_conn, [dom.name()], topology, str(state), policy, seen) == []
    assert demo.planned_moves(multi_node_conn, [dom.name()], topology, str(state), policy, seen) is None  # same document

    write_forecasts(state, now + 2, dom.name(), [0.9, 0.9])        # CPU 0 forecast at 1.8
    moves = demo.planned_moves(multi_node_conn, [dom.name()], topology, str(state), policy, seen)
    assert len(moves) >= 1 and moves[0]['vm'] == dom.name() and moves[0]['from'] == '0'


def test_apply_direct_pins_the_planned_vcpu_live(libvirtd, make_domain):
    dom = make_domain(vcpus=2)
    ncpu = libvirtd.getInfo()[2]
    demo.apply_direct(libvirtd, [{'vm': dom.name(), 'vcpu': 1, 'from': '0-%d' % (ncpu - 1), 'to': str(ncpu - 1)}])
    pins = dom.vcpuPinInfo(libvirt.VIR_DOMAIN_AFFECT_LIVE)
    assert [c for c, ok in enumerate(pins[1]) if ok] == [ncpu - 1]
    assert all(pins[0])                                   # the other vCPU untouched


def test_float_blocks_follow_the_loop_and_control_blocks():
    import argparse
    args = argparse.Namespace(blocks=4, control=True, float=True)
    plan = demo.sequences(args)
    assert [q for q, _c in plan] == ['loop'] * 4 + ['control'] * 4 + ['float'] * 4
    assert [c for q, c in plan if q == 'float'] == ['static', 'adaptive', 'adaptive', 'static']
    assert [q for q, _c in demo.sequences(argparse.Namespace(blocks=2, control=False, float=False))] == ['loop', 'loop']
