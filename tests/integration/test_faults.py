# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The short form of benchmarks/faults.py: every fault once, on the real libvirtd."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse

import pytest

pytest.importorskip('torch')

from ansible_collections.adaptive.intravm.benchmarks import faults  # noqa: E402


@pytest.mark.parametrize('name', sorted(faults.FAULTS))
def test_fault_is_survived_and_leaves_no_vm_half_placed(libvirtd, name):
    args = argparse.Namespace(manifest=faults.guest_manifest() if name == 'save_restore' else None)
    try:
        got = faults.run_faults([name], 1, args)[name]
    finally:
        libvirtd.reconnect()            # some faults restart the daemon
    assert got['survived'] == 1, got['notes']
    assert got['vm_left_half_applied'] == 0, got['notes']
    if name == 'save_restore':
        assert got['samples_lost'] == 0, got['notes']
