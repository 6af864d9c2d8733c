# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host_predictor role copies exactly the module_utils files the daemon and the hook import.

The role's lists are written by hand (a task's loop cannot follow imports);
this walks the import closure of what it ships and compares, so a new import
that the role does not copy fails here instead of on a hypervisor.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import os
import re

from ansible_collections.adaptive.intravm.tests.unit.plugins.module_utils.test_layering import imports_of

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
PREFIX = 'ansible_collections.adaptive.intravm.'
ROLE = os.path.join(REPO, 'roles', 'host_predictor', 'tasks')


def _module_file(dotted):
    """The repository path of a collection module named `a.b.c`, or None when it is not one."""
    if not dotted.startswith(PREFIX):
        return None
    rel = dotted[len(PREFIX):].replace('.', '/')
    for candidate in (rel + '.py', rel + '/__init__.py'):
        if os.path.isfile(os.path.join(REPO, candidate)):
            return candidate
    return None


def closure(start):
    """Every collection file reachable by import from the files in start, with the packages' __init__.py they need."""
    seen, todo = set(), list(start)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        folder = os.path.dirname(path)
        while folder and folder not in ('plugins', 'services'):
            init = folder + '/__init__.py'
            if os.path.isfile(os.path.join(REPO, init)):
                todo.append(init)
            folder = os.path.dirname(folder)
        for dotted in imports_of(os.path.join(REPO, path)):
            found = _module_file(dotted)
            if found:
                todo.append(found)
    return seen


def _listed(task_file):
    return set(re.findall(r"plugins/module_utils/[\w/]+\.py", open(os.path.join(ROLE, task_file)).read()))


def test_the_daemon_gets_every_module_utils_file_it_imports_and_no_other():
    daemon = sorted(os.path.relpath(p, REPO) for p in glob.glob(os.path.join(REPO, 'services', 'predictor', '*.py')))
    needed = set(p for p in closure(daemon) if p.startswith('plugins/module_utils/'))
    needed.discard('plugins/module_utils/__init__.py')     # the role lays out no such package file
    assert _listed('main.yml') == needed


def test_the_hook_gets_every_module_utils_file_it_imports_and_no_other():
    needed = set(p for p in closure(['services/hooks/intravm_qemu_hook.py']) if p.startswith('plugins/module_utils/')
                 and not p.endswith('__init__.py'))    # the hook imports its helpers flat, from beside it
    assert _listed('qemu_hook.yml') == needed
