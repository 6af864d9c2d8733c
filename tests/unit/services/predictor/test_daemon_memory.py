# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The daemon's memory forecasts: the guest's working set in, peak quantiles and pressure out."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

torch = pytest.importorskip('torch')

from ansible_collections.adaptive.intravm.services.predictor import daemon, sources  # noqa: E402

from unit.services.predictor.test_daemon_faults import UUID, make_cfg, stats  # noqa: E402

MIB = 2 ** 20


class FakeRing(object):
    """A RingSource stand-in: poll() returns the guest sample the test set."""

    def __init__(self):
        self.metrics = None

    def poll(self):
        return self.metrics

    def rejected(self):
        return {}


def guest(used_mib, psi=0.0, swap_in=0.0):
    total = 1024 * MIB
    return {'mem.total_bytes': float(total), 'mem.available_bytes': float(total - used_mib * MIB),
            'mem.available_frac': 1.0 - used_mib * MIB / float(total), 'psi.memory.some_avg10': psi,
            'mem.swap_in_per_s': swap_in}


def test_ring_values_give_the_working_set_and_the_pressure():
    out = sources.ring_values(guest(300, psi=12.5, swap_in=40.0))
    assert out['mem_used_bytes'] == 300 * MIB
    assert out['psi_mem_some'] == 12.5 and out['swap_in'] == 40.0
    assert 'mem_used_bytes' not in sources.ring_values({'mem.available_frac': 0.5})


def test_memory_peaks_are_published_once_enough_history_and_bound_the_working_set(tmp_path):
    pred = daemon.Predictor(make_cfg(tmp_path), clock=lambda: 1000.0)
    pred.events.put(('active', UUID, 'vm1'))
    pred.drain_events()
    ring = FakeRing()
    pred.vms[UUID].ring = ring
    docs = []
    for t in range(60):
        # a working set that swings between 200 and 400 MiB with a period of 10 steps
        ring.metrics = guest(200 + 20 * (t % 10), psi=3.0 if t == 59 else 0.0)
        docs.append(pred.step({UUID: stats(t)}, now=1000.0 + t))
    assert 'memory' not in docs[5]['vms']['vm1']     # too few samples to know the peaks
    mem = docs[-1]['vms']['vm1']['memory']
    assert mem['used_bytes'] == (200 + 20 * 9) * MIB
    assert set(mem['peak_bytes']) == {'p50', 'p90', 'p99'}
    for q in ('p50', 'p90', 'p99'):
        assert len(mem['peak_bytes'][q]) == len(docs[-1]['vms']['vm1']['horizons_s'])
    # over 3 steps from the top of a swing the peak stays near 380 MiB; over 1 step it is 200 MiB or more
    assert all(p >= 190 * MIB for p in mem['peak_bytes']['p90'])
    assert mem['peak_bytes']['p99'][-1] >= mem['peak_bytes']['p50'][-1]
    assert mem['floor_bytes'] == 380 * MIB          # the highest use of the last day
    assert mem['pressure'] == {'psi_mem_some': 3.0, 'swap_in': 0.0}
