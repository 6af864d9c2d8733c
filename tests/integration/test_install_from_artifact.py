# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a user gets: the Galaxy tarball installed into an empty collections path, a fresh
venv made from requirements.txt alone, and deploy.yml and rebalance.yml run from that
install (by their FQCN, outside the source tree, nothing of the checkout on any path)
against the real libvirtd."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import warnings

import pytest

from ansible_collections.adaptive.intravm.plugins.module_utils.host.placement import read_pins

import libvirt_harness

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARBALL = 'adaptive-intravm-%s.tar.gz'


def _load(name):
    """A sibling test module's helpers (not its tests), without copying them."""
    spec = importlib.util.spec_from_file_location('_intravm_%s' % name, os.path.join(os.path.dirname(__file__), name + '.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REBALANCE = _load('test_rebalance_playbooks')


def galaxy_version():
    with open(os.path.join(ROOT, 'galaxy.yml')) as handle:
        return re.search(r'^version:\s*(\S+)', handle.read(), re.M).group(1)


def clean_env(collections, venv=None):
    """The environment of a user's shell: no PYTHONPATH, no ANSIBLE_* of the test run, only our collections path."""
    env = dict((k, v) for k, v in os.environ.items()
               if not k.startswith(('ANSIBLE_', 'PYTHON', 'VIRTUAL_ENV')))
    env.update(ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='False',
               ANSIBLE_NOCOLOR='1', ANSIBLE_HOST_KEY_CHECKING='False', PYTHONUNBUFFERED='1',
               PYTHONDONTWRITEBYTECODE='1')
    if venv:
        env['PATH'] = os.path.join(str(venv), 'bin') + os.pathsep + env.get('PATH', '')
    return env


def run(cmd, cwd, env, timeout=600):
    proc = subprocess.run([str(c) for c in cmd], cwd=str(cwd), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=timeout, check=False)
    assert proc.returncode == 0, '%s\n%s' % (cmd, proc.stdout[-5000:])
    return proc.stdout


def build(output_dir, ansible_galaxy):
    """`ansible-galaxy collection build` of the checkout into output_dir; the tarball's path."""
    run([ansible_galaxy, 'collection', 'build', '--output-path', output_dir, ROOT], output_dir, clean_env(output_dir))
    tarball = os.path.join(str(output_dir), TARBALL % galaxy_version())
    assert os.path.isfile(tarball)
    return tarball


def install(tarball, collections, ansible_galaxy):
    """`ansible-galaxy collection install` into collections (empty before); the installed collection's root."""
    assert not os.path.exists(str(collections)) or not os.listdir(str(collections))
    run([ansible_galaxy, 'collection', 'install', '-p', collections, tarball], os.path.dirname(tarball),
        clean_env(collections))
    root = os.path.join(str(collections), 'ansible_collections', 'adaptive', 'intravm')
    assert os.path.isfile(os.path.join(root, 'MANIFEST.json'))
    return root


@pytest.fixture(scope='module')
def user(tmp_path_factory):
    """A fresh venv from requirements.txt only, the tarball it builds, installed into an empty path."""
    base = tmp_path_factory.mktemp('user')
    venv = base / 'venv'
    python = os.path.join(sys.base_prefix, 'bin', 'python3')
    started = time.time()
    run([python, '-m', 'venv', venv], base, clean_env(base))
    run([venv / 'bin' / 'pip', 'install', '-q', '-r', os.path.join(ROOT, 'requirements.txt')], base, clean_env(base),
        timeout=1200)
    took = time.time() - started
    warnings.warn('fresh venv from requirements.txt: %.0f s' % took)
    try:
        (base / 'artifact').mkdir()
        tarball = build(base / 'artifact', venv / 'bin' / 'ansible-galaxy')
        collections = base / 'collections'
        collections.mkdir()
        root = install(tarball, collections, venv / 'bin' / 'ansible-galaxy')
        yield {'venv': venv, 'python': str(venv / 'bin' / 'python'), 'tarball': tarball, 'collections': collections,
               'root': root, 'cwd': base, 'venv_s': took}
    finally:
        shutil.rmtree(str(venv), ignore_errors=True)  # ~1 GB with torch: not kept in pytest's last three tmp dirs


def test_the_tarball_leaves_out_what_only_the_checkout_needs(user):
    with tarfile.open(user['tarball']) as tar:
        names = tar.getnames()
    for tree in ('tests', 'benchmarks', 'scripts', '.ci', '.build', '.venv', '.cache', '.hypothesis', '.git'):
        assert not [n for n in names if n == tree or n.startswith(tree + '/')], tree
    assert not [n for n in names if n.endswith('.tar.gz')]
    # what the installed roles copy onto hypervisors must be there
    for needed in ('services/predictor/__main__.py', 'services/hooks/intravm_qemu_hook.py', 'requirements.txt',
                   'bindep.txt', 'playbooks/deploy.yml', 'playbooks/rebalance.yml', 'playbooks/rollback.yml',
                   'extensions/eda/rulebooks/rebalance.yml', 'extensions/eda/plugins/event_source/forecasts.py'):
        assert needed in names, needed


def test_the_tarball_leaves_out_the_demo(user):
    with tarfile.open(user['tarball']) as tar:
        names = tar.getnames()
    assert not [n for n in names if os.path.basename(n).startswith('demo') and not n.startswith('docs/')], names


def recap(out, host='localhost'):
    match = re.search(r'^%s\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)' % re.escape(host), out, re.M)
    assert match, out[-3000:]
    return dict(zip(('ok', 'changed', 'unreachable', 'failed'), (int(g) for g in match.groups())))


def test_deploy_and_rebalance_from_the_installed_artifact(user, libvirtd, make_domain, tmp_path):
    dom = make_domain('artifact', vcpus=2)
    libvirt_harness.pin_vcpus(dom, {0})
    start = read_pins(dom, 'live')
    state_dir, extra = REBALANCE.setup(tmp_path, [dom.name()])[1:]
    extra.pop('target_hosts')  # the playbooks' default: the hypervisors group
    extra['ansible_python_interpreter'] = user['python']
    scratch = tmp_path / 'predictor'
    inventory = tmp_path / 'inventory.json'
    inventory.write_text(json.dumps({
        'hypervisors': {'hosts': {'localhost': {
            'ansible_connection': 'local', 'ansible_python_interpreter': user['python'],
            'deploy_domains': [dom.name()],
            # into a scratch prefix: no systemd here, and the packages come with the venv
            'host_predictor_prefix': str(scratch / 'opt'), 'host_predictor_python': user['python'],
            'host_predictor_pip_packages': [], 'host_predictor_config_dir': str(scratch / 'etc'),
            'host_predictor_unit_dir': str(scratch / 'units'), 'host_predictor_state_dir': str(scratch / 'state'),
            'host_predictor_state_file': str(scratch / 'run' / 'forecasts.json'),
            'host_predictor_manage_service': False, 'host_predictor_qemu_hook_dir': str(scratch / 'hooks'),
            'host_predictor_qemu_hook_log': str(scratch / 'hook.log')}}},
        'guests': {'hosts': {}}}))
    env = clean_env(user['collections'], user['venv'])
    playbook = [user['venv'] / 'bin' / 'ansible-playbook', '-i', inventory]
    cwd = user['cwd']  # outside the checkout
    shm = '/dev/shm/intravm-%s' % dom.name()
    try:
        out = run(playbook + ['adaptive.intravm.deploy'], cwd, env)
        assert recap(out)['changed'] > 0 and 'Traceback' not in out
        installed = scratch / 'opt' / 'lib' / 'ansible_collections' / 'adaptive' / 'intravm'
        assert (installed / 'services' / 'predictor' / '__main__.py').is_file()
        assert (scratch / 'etc' / 'config.json').is_file() and (scratch / 'units' / 'host-predictor.service').is_file()
        assert 'ivshmem-plain' in dom.XMLDesc(2), 'the channel device is in the persistent definition'
        run([scratch / 'opt' / 'bin' / 'host_predictor', 'check-config', '--config', scratch / 'etc' / 'config.json'],
            cwd, env)
        assert recap(run(playbook + ['adaptive.intravm.deploy'], cwd, env))['changed'] == 0
    finally:
        if os.path.exists(shm):
            os.unlink(shm)

    out = run(playbook + ['adaptive.intravm.rebalance', '-e', json.dumps(dict(extra, rebalance_run_id='first'))], cwd, env)
    assert recap(out)['changed'] > 0 and recap(out)['failed'] == 0
    after = read_pins(dom, 'live')
    report = json.loads((state_dir / 'last-rebalance.json').read_text())
    assert report['changed']['cpu'] == [dom.name()] and report['history_id'] == 'first'
    planned = REBALANCE.entry(state_dir, 'first')['plan']['vcpu_pin'][0]
    assert after != start and all(after[k] == planned[k] for k in ('vcpus', 'emulator') if k in planned), (after, planned)

    out = run(playbook + ['adaptive.intravm.rebalance', '-e', json.dumps(dict(extra, rebalance_run_id='second'))], cwd, env)
    assert recap(out)['failed'] == 0
    report = json.loads((state_dir / 'last-rebalance.json').read_text())
    assert report['changed']['cpu'] == [] and report['moves'] == [] and report['history_id'] is None
    assert read_pins(dom, 'live') == after
