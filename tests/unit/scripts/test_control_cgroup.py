# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The demo's idle cgroup, on fake cgroupfs trees laid out as the kernel's v1 and v2 are."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.adaptive.intravm.scripts import control_cgroup


def v1_tree(tmp_path):
    cpu = tmp_path / 'cpu'
    cpu.mkdir()
    for name in ('cpu.shares', 'cgroup.procs'):
        (cpu / name).write_text('')
    return cpu


def test_v1_sets_cpu_idle_a_spawned_child_joins_and_remove_cleans_up(tmp_path, monkeypatch):
    cpu = v1_tree(tmp_path)
    group = cpu / 'ctl'
    group.mkdir()                       # the kernel creates the knobs with the directory
    (group / 'cpu.idle').write_text('0')
    base, path, how = control_cgroup.make_idle('ctl', root=str(tmp_path))
    assert (base, path) == (str(cpu), str(group))
    assert (group / 'cpu.idle').read_text() == '1'
    assert how == 'cpu.idle=1'
    monkeypatch.setattr(control_cgroup.os, 'getpid', lambda: 4242)   # what the child sees in preexec_fn
    control_cgroup.spawn_in(path)()
    assert (group / 'cgroup.procs').read_text() == '4242'
    control_cgroup.remove(path)          # still holds files here, as a busy cgroup: left alone
    assert group.exists()
    for name in ('cpu.idle', 'cgroup.procs'):
        (group / name).unlink()
    control_cgroup.remove(path)
    assert not group.exists()


def test_v1_without_cpu_idle_falls_back_to_the_lowest_shares(tmp_path):
    cpu = v1_tree(tmp_path)
    _base, _path, how = control_cgroup.make_idle('ctl', root=str(tmp_path))
    assert (cpu / 'ctl' / 'cpu.shares').read_text() == '2' and how == 'cpu.shares=2'


def test_v2_enables_the_cpu_controller_and_sets_idle(tmp_path):
    (tmp_path / 'cgroup.controllers').write_text('cpu memory')
    (tmp_path / 'cgroup.subtree_control').write_text('')
    (tmp_path / 'ctl').mkdir()
    (tmp_path / 'ctl' / 'cpu.idle').write_text('0')
    _base, _path, how = control_cgroup.make_idle('ctl', root=str(tmp_path))
    assert (tmp_path / 'cgroup.subtree_control').read_text() == '+cpu'
    assert (tmp_path / 'ctl' / 'cpu.idle').read_text() == '1' and how.startswith('cpu.idle=1')


def test_no_cpu_hierarchy_is_a_clear_error(tmp_path):
    assert control_cgroup.cpu_hierarchy(str(tmp_path)) == (None, None)
    with pytest.raises(OSError, match='cpu controller'):
        control_cgroup.make_idle('ctl', root=str(tmp_path))
