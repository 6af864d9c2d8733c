# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engines AWX / Automation Controller use: rebalance.yml through ansible-runner (a
private data directory as AWX writes it, the collection installed from its tarball) against
the real libvirtd, its job events and artifacts; and the execution environment's build
context from ansible-builder."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys

import ansible_runner
import pytest
import yaml

from ansible_collections.adaptive.intravm.plugins.module_utils.host.placement import read_pins

import libvirt_harness


def _load(name):
    """A sibling test module's helpers (not its tests), without copying them."""
    spec = importlib.util.spec_from_file_location('_intravm_%s' % name, os.path.join(os.path.dirname(__file__), name + '.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


artifact = _load('test_install_from_artifact')  # pylint: disable=invalid-name
ROOT = artifact.ROOT
BIN = os.path.dirname(sys.executable)
REBALANCE = artifact.REBALANCE


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """The collection built into a tarball and installed into an empty collections path."""
    base = tmp_path_factory.mktemp('runner')
    (base / 'artifact').mkdir()
    tarball = artifact.build(base / 'artifact', os.path.join(BIN, 'ansible-galaxy'))
    collections = base / 'collections'
    collections.mkdir()
    artifact.install(tarball, collections, os.path.join(BIN, 'ansible-galaxy'))
    return {'tarball': tarball, 'collections': collections}


def private_data_dir(path, installed, extra):  # pylint: disable=redefined-outer-name
    """project/, inventory/hosts, env/extravars and env/envvars, as AWX lays them out for a job."""
    (path / 'project').mkdir(parents=True)
    shutil.copy(os.path.join(ROOT, 'playbooks', 'rebalance.yml'), str(path / 'project' / 'rebalance.yml'))
    (path / 'inventory').mkdir()
    (path / 'inventory' / 'hosts').write_text(
        '[hypervisors]\nlocalhost ansible_connection=local ansible_python_interpreter=%s\n' % sys.executable)
    (path / 'env').mkdir()
    (path / 'env' / 'extravars').write_text(yaml.safe_dump(extra))
    (path / 'env' / 'envvars').write_text(yaml.safe_dump({
        'ANSIBLE_COLLECTIONS_PATH': str(installed['collections']), 'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'False',
        'ANSIBLE_NOCOLOR': '1'}))
    return path


def events_of(job, name):
    return [e for e in job.events if e.get('event') == name]


def ok_actions(job):
    """The modules of the tasks that ended ok, by their FQCN (resolved_action)."""
    return set(e['event_data'].get('resolved_action') for e in events_of(job, 'runner_on_ok'))


APPLY = ('adaptive.intravm.vcpu_pin', 'adaptive.intravm.apply_plan')


def applied(job):
    """The changed results of the modules that apply a plan's pins."""
    return [e for e in job.events if e.get('event') in ('runner_on_ok', 'runner_item_on_ok')
            and e['event_data'].get('resolved_action') in APPLY and e['event_data']['res'].get('changed')]


def test_rebalance_through_ansible_runner(installed, libvirtd, make_domain, tmp_path, monkeypatch):  # pylint: disable=redefined-outer-name
    dom = make_domain('runner', vcpus=2)
    libvirt_harness.pin_vcpus(dom, {0})
    start = read_pins(dom, 'live')
    state_dir, extra = REBALANCE.setup(tmp_path, [dom.name()])[1:]
    extra.pop('target_hosts')
    extra.pop('ansible_python_interpreter')  # the inventory's
    pdd = private_data_dir(tmp_path / 'job', installed, extra)
    # Only what the job's env/ says: nothing of the checkout on the job's paths.
    for var in [v for v in os.environ if v.startswith('ANSIBLE_') or v == 'PYTHONPATH']:
        monkeypatch.delenv(var)
    monkeypatch.setenv('PATH', BIN + os.pathsep + os.environ.get('PATH', ''))  # ansible-playbook of this venv

    jobs, reports, placed = {}, {}, {}
    for ident in ('first', 'second'):
        job = ansible_runner.run(private_data_dir=str(pdd), playbook='rebalance.yml', ident=ident, quiet=True,
                                 extravars={'rebalance_run_id': ident}, timeout=600)
        stdout = job.stdout.read()
        assert (job.status, job.rc) == ('successful', 0), stdout[-5000:]
        jobs[ident] = job
        reports[ident] = json.loads((state_dir / 'last-rebalance.json').read_text())
        placed[ident] = read_pins(dom, 'live')

        arts = pdd / 'artifacts' / ident
        assert (arts / 'rc').read_text().strip() == '0' and (arts / 'status').read_text().strip() == 'successful'
        assert 'PLAY RECAP' in (arts / 'stdout').read_text()
        on_disk = [json.load(open(p)) for p in sorted(glob.glob(str(arts / 'job_events' / '*.json')))]
        assert sorted(e['uuid'] for e in on_disk) == sorted(e['uuid'] for e in job.events)
        assert {'playbook_on_start', 'playbook_on_play_start', 'playbook_on_task_start', 'runner_on_ok',
                'playbook_on_stats'} <= set(e['event'] for e in on_disk)

    first, second = jobs['first'], jobs['second']
    assert {'adaptive.intravm.host_lock', 'adaptive.intravm.topology_info', 'adaptive.intravm.allocation_plan'} <= ok_actions(first)
    plan = [e['event_data']['res'] for e in events_of(first, 'runner_on_ok')
            if e['event_data']['resolved_action'] == 'adaptive.intravm.allocation_plan'][0]
    assert [p['name'] for p in plan['plan']['vcpu_pin']] == [dom.name()]
    assert applied(first), 'the plan was applied (vcpu_pin or apply_plan, changed)'
    stats = events_of(first, 'playbook_on_stats')[0]['event_data']
    assert stats['changed'].get('localhost', 0) > 0 and not stats['failures'] and not stats['dark']

    after = placed['first']
    planned = plan['plan']['vcpu_pin'][0]
    assert after != start and all(after[k] == planned[k] for k in ('vcpus', 'emulator') if k in planned), (after, planned)
    assert reports['first']['history_id'] == 'first' and reports['first']['changed']['cpu'] == [dom.name()]

    assert not applied(second), ('nothing left to pin', planned, after,
                                 [e['event_data']['res'].get('plan') for e in events_of(second, 'runner_on_ok')
                                  if e['event_data']['resolved_action'] == 'adaptive.intravm.allocation_plan'])
    stats = events_of(second, 'playbook_on_stats')[0]['event_data']
    assert not stats['failures'] and not stats['dark']
    report = reports['second']
    assert report['changed']['cpu'] == [] and report['moves'] == [] and report['history_id'] is None
    assert placed['second'] == after


def lines(path):
    with open(str(path)) as handle:
        return [line.rstrip("\n") for line in handle if line.strip()]


def pins(path):
    return dict(line.split("==", 1) for line in lines(path) if "==" in line and not line.startswith("#"))


@pytest.fixture(scope='module')
def ee_context(installed, tmp_path_factory):  # pylint: disable=redefined-outer-name
    """`ansible-builder create` for meta/execution-environment.yml, beside a built tarball as the
    file's header says (a copy of the files it names, so nothing is written into the checkout)."""
    base = tmp_path_factory.mktemp('ee')
    src = base / 'src'
    (src / 'meta').mkdir(parents=True)
    for name in ('meta/execution-environment.yml', 'requirements.txt', 'bindep.txt'):
        shutil.copy(os.path.join(ROOT, name), str(src / name))
    shutil.copy(installed['tarball'], str(src))
    proc = subprocess.run([os.path.join(BIN, 'ansible-builder'), 'create', '-f', str(src / 'meta' / 'execution-environment.yml'),
                           '--context', str(base / 'context')], cwd=str(base), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=120, check=False)
    assert proc.returncode == 0 and 'No matches' not in proc.stdout, proc.stdout
    with open(os.path.join(ROOT, 'meta', 'execution-environment.yml')) as handle:
        definition = yaml.safe_load(handle)
    return {'dir': base / 'context', 'definition': definition}


def test_execution_environment_context_carries_our_requirements(ee_context):  # pylint: disable=redefined-outer-name
    build = ee_context['dir'] / '_build'
    definition = ee_context['definition']
    assert definition['version'] == 3
    assert lines(build / 'requirements.txt') == lines(os.path.join(ROOT, 'requirements.txt'))
    assert lines(build / 'bindep.txt') == lines(os.path.join(ROOT, 'bindep.txt'))
    containerfile = (ee_context['dir'] / 'Dockerfile').read_text()
    assert 'COPY _build/requirements.txt' in containerfile and 'COPY _build/bindep.txt' in containerfile

    # a supported base (issue 27: not fedora:40), and libvirt-devel's CRB repository enabled in
    # the base stage, before the builder stage (which installs the [compile] packages) starts from it
    base_image = definition['images']['base_image']['name']
    assert base_image == 'quay.io/centos/centos:stream10'
    assert 'ARG EE_BASE_IMAGE="%s"' % base_image in containerfile
    base_stage = containerfile.split('FROM $EE_BASE_IMAGE AS base', 1)[1].split('\nFROM ', 1)[0]
    assert 'config-manager --set-enabled crb' in base_stage
    assert 'FROM base AS builder' in containerfile and 'FROM base AS final' in containerfile

    # ansible-core and ansible-runner in the image: the versions we pin and test with
    ours = dict(pins(os.path.join(ROOT, 'requirements.txt')), **pins(os.path.join(ROOT, 'requirements-dev.txt')))
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="([^"]*)"', containerfile, re.M).group(1).split()
    assert sorted(refs) == sorted(['ansible-core==%s' % ours['ansible-core'], 'ansible-runner==%s' % ours['ansible-runner']])

    if definition['dependencies'].get('galaxy'):
        with open(str(build / 'requirements.yml')) as handle:
            galaxy = yaml.safe_load(handle)
        tarball = 'collections/' + artifact.TARBALL % artifact.galaxy_version()
        assert [c['name'] for c in galaxy['collections']] == [tarball], 'the tarball of galaxy.yml\'s version'
        assert (build / tarball).is_file(), 'additional_build_files copied the tarball into the context'


def test_the_image_build_can_read_the_installed_collections_requirements(installed, ee_context, tmp_path):  # pylint: disable=redefined-outer-name
    """The builder stage of the image runs _build/scripts/introspect.py over the installed collections
    (this one from its tarball) and our requirement files; it must find them all."""
    scripts = ee_context['dir'] / '_build' / 'scripts'
    proc = subprocess.run([sys.executable, str(scripts / 'introspect.py'), 'introspect', str(installed['collections']),
                           '--user-pip', os.path.join(ROOT, 'requirements.txt'),
                           '--user-bindep', os.path.join(ROOT, 'bindep.txt'),
                           '--write-pip', str(tmp_path / 'pip.txt'), '--write-bindep', str(tmp_path / 'bindep.txt')],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    pip_lines = (tmp_path / 'pip.txt').read_text()
    for name in ('libvirt-python', 'torch', 'pyroute2'):
        assert name in pip_lines
    assert 'libvirt-devel' in (tmp_path / 'bindep.txt').read_text()
