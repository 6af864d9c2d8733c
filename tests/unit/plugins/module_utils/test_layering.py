# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils' stages import one way (docs/architecture.md): the planner stays pure."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ast
import os

import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..', 'plugins', 'module_utils')
PREFIX = 'ansible_collections.adaptive.intravm.plugins.module_utils.'

# stage -> what it must never import (module_utils parts or outside libraries)
FORBIDDEN = {
    'plan': ('apply', 'devices', 'channel.shm_format', 'channel.shm_reader', 'module_base', 'host.libvirt_conn', 'host.placement', 'libvirt', 'ansible.'),
    'channel': ('plan', 'apply', 'devices', 'host', 'module_base', 'libvirt', 'ansible.'),
    'host': ('plan', 'apply', 'devices', 'module_base'),
    'devices': ('plan', 'apply', 'module_base'),
    'apply': ('plan', 'module_base'),
}


def imports_of(path):
    tree = ast.parse(open(path).read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            for alias in node.names:
                yield '%s.%s' % (node.module, alias.name)


# The forecast document's one definition sits beside the ring's in channel/; of channel/ the planner reads that format only.
PLAN_READS_FROM_CHANNEL = ('forecast_format',)


def test_plan_reads_only_the_forecast_format_from_channel():
    channel = sorted(n[:-3] for n in os.listdir(os.path.join(ROOT, 'channel')) if n.endswith('.py') and n != '__init__.py')
    assert set(channel) - set(PLAN_READS_FROM_CHANNEL) == {'shm_format', 'shm_reader'}, channel


@pytest.mark.parametrize('stage', sorted(FORBIDDEN))
def test_stage_imports_go_one_way(stage):
    bad = []
    folder = os.path.join(ROOT, stage)
    for name in sorted(os.listdir(folder)):
        if not name.endswith('.py'):
            continue
        for imported in imports_of(os.path.join(folder, name)):
            local = imported[len(PREFIX):] if imported.startswith(PREFIX) else imported
            if any(local == f or local.startswith(f if f.endswith('.') else f + '.') for f in FORBIDDEN[stage]):
                bad.append('%s/%s imports %s' % (stage, name, imported))
    assert not bad


def test_no_shipped_code_loads_code_named_at_run_time():
    """Fakes are wired in from the tests tree; plugins/ and services/ never import a file they are pointed at."""
    shipped = [os.path.join(ROOT, '..'), os.path.join(ROOT, '..', '..', 'services')]
    found = []
    for top in shipped:
        for folder, _dirs, files in os.walk(top):
            for name in files:
                if name.endswith('.py'):
                    text = open(os.path.join(folder, name)).read()
                    found.extend('%s: %s' % (name, word) for word in ('spec_from_file_location', 'exec_module', 'import_module(')
                                 if word in text)
    assert not found
