# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs each integration target through the real ansible-playbook.

A target is tests/integration/targets/<name>/tasks/main.yml, played as a role
against localhost with this venv's Python. Targets named setup_* are helpers
that others depend on, not tests.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS_DIR = os.path.join(HERE, 'targets')
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
TARGETS = sorted(
    name for name in os.listdir(TARGETS_DIR)
    if not name.startswith('setup_') and os.path.isfile(os.path.join(TARGETS_DIR, name, 'tasks', 'main.yml'))
)


@pytest.mark.parametrize('target', TARGETS)
def test_target(target, libvirtd, tmp_path):  # pylint: disable=unused-argument
    playbook = tmp_path / 'play.yml'
    playbook.write_text('- hosts: localhost\n  gather_facts: false\n  roles:\n    - %s\n' % target)
    env = dict(os.environ)
    env.update({
        'ANSIBLE_ROLES_PATH': TARGETS_DIR,
        'ANSIBLE_COLLECTIONS_PATH': os.path.join(REPO_ROOT, '.build', 'collections'),
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_LOCALHOST_WARNING': '0',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': '0',
    })
    cmd = [
        os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), str(playbook),
        '-i', 'localhost,', '-c', 'local',
        '-e', json.dumps({
            'ansible_python_interpreter': sys.executable,
            'intravm_repo_root': REPO_ROOT,
            'intravm_harness': '%s %s' % (sys.executable, os.path.join(REPO_ROOT, 'tests', 'libvirt_harness.py')),
        }),
    ]
    proc = subprocess.run(cmd, env=env, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=900)
    assert proc.returncode == 0, 'target %s failed:\n%s' % (target, proc.stdout[-6000:])
