# -*- coding: utf-8 -*-
"""The collection builds into a Galaxy tarball and every module's docs render."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess
import sys
import tarfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
MODULES = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, 'plugins', 'modules')) if f.endswith('.py'))


def test_galaxy_build_produces_a_clean_tarball(tmp_path):
    subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', str(tmp_path), ROOT],
                   check=True, stdout=subprocess.PIPE)
    tarball = tmp_path / 'adaptive-intravm-0.1.0.tar.gz'
    with tarfile.open(str(tarball)) as tar:
        names = tar.getnames()
    assert 'MANIFEST.json' in names and 'FILES.json' in names
    for module in MODULES:
        assert 'plugins/modules/%s.py' % module in names
    assert not [n for n in names if n.startswith(('.venv', '.build', '.cache', 'tests', 'benchmarks', 'scripts'))]


@pytest.mark.parametrize('module', MODULES)
def test_ansible_doc_renders(module):
    proc = subprocess.run([os.path.join(BIN, 'ansible-doc'), '--json', 'adaptive.intravm.%s' % module],
                          check=False, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert proc.returncode == 0, proc.stderr
    assert '"adaptive.intravm.%s"' % module in proc.stdout
    assert '"short_description"' in proc.stdout and '"return"' in proc.stdout


def test_reference_docs_are_current(tmp_path):
    """docs/reference is rendered from the plugins' own docs; `make docs` refreshes it."""
    subprocess.run([os.path.join(ROOT, 'scripts', 'render-docs.sh'), str(tmp_path / 'ref')], check=True,
                   env=dict(os.environ, PATH=BIN + os.pathsep + os.environ.get('PATH', '')))
    fresh = sorted(os.listdir(str(tmp_path / 'ref')))
    committed_dir = os.path.join(ROOT, 'docs', 'reference')
    assert fresh == sorted(os.listdir(committed_dir)), 'run `make docs`'
    for name in fresh:
        with open(os.path.join(committed_dir, name)) as committed:
            assert (tmp_path / 'ref' / name).read_text() == committed.read(), '%s is stale: run `make docs`' % name


@pytest.mark.parametrize('playbook', sorted(f for f in os.listdir(os.path.join(ROOT, 'playbooks')) if f.endswith('.yml')))
def test_playbooks_parse(playbook):
    """Every playbook resolves its roles and modules (deploy.yml needs real hosts to run)."""
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), '--syntax-check', '-i', 'localhost,',
                           os.path.join(ROOT, 'playbooks', playbook)],
                          check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert proc.returncode == 0, proc.stdout
