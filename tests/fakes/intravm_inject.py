# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wires the fakes into the product's seams from the outside.

The product ships no code that loads code named by an environment variable:
its seams are plain module attributes (pynvml's nvmlLib, sriov.IPRoute,
VgpuSysfs.write). Tests replace them here, in process (unit tests call the
install_* functions) or, for modules run by ansible-playbook, at interpreter
start: tests/fakes/inject/sitecustomize.py calls install_from_environment()
when that folder is on PYTHONPATH, which only the test tree does.

INTRAVM_TEST_FAKES lists the seams to fake ("nvml", "netlink"); each fake
finds its state through its own variable (ADAPTIVE_INTRAVM_FAKE_GPU_STATE,
ADAPTIVE_INTRAVM_FAKE_SRIOV_WORLD).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.abc
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

FAKES_ENV = 'INTRAVM_TEST_FAKES'
DEVICES = 'ansible_collections.adaptive.intravm.plugins.module_utils.devices.'


def use_nvml_lib(pynvml, lib):
    """pynvml's own code now runs against the fake driver library."""
    pynvml._nvmlGetFunctionPointer_cache.clear()  # pylint: disable=protected-access
    pynvml.nvmlLib = lib


def route_sysfs_writes(vgpu_sysfs, lib):
    """VgpuSysfs writes reach the fake host, which applies the driver's rules to its tree."""
    def write(_self, path, value):
        text = str(value)
        try:
            lib.sysfs_write(path, text)
        except OSError as exc:
            raise vgpu_sysfs.SysfsError(path, text, exc)
    vgpu_sysfs.VgpuSysfs.write = write


def use_iproute(sriov, iproute):
    sriov.IPRoute = iproute
    sriov.HAS_PYROUTE2 = True


def install_nvml(monkeypatch, lib):
    """In process (unit tests): the fake NVML library and sysfs writes, undone by monkeypatch."""
    import pynvml  # pylint: disable=import-outside-toplevel
    from ansible_collections.adaptive.intravm.plugins.module_utils.devices import vgpu_sysfs  # pylint: disable=import-outside-toplevel
    monkeypatch.setattr(pynvml, 'nvmlLib', pynvml.nvmlLib)
    monkeypatch.setattr(pynvml, '_nvmlGetFunctionPointer_cache', {})
    monkeypatch.setattr(vgpu_sysfs.VgpuSysfs, 'write', vgpu_sysfs.VgpuSysfs.write)
    use_nvml_lib(pynvml, lib)
    route_sysfs_writes(vgpu_sysfs, lib)


def install_iproute(monkeypatch, iproute):
    """In process (unit tests): the fake netlink, undone by monkeypatch."""
    from ansible_collections.adaptive.intravm.plugins.module_utils.devices import sriov  # pylint: disable=import-outside-toplevel
    monkeypatch.setattr(sriov, 'IPRoute', sriov.IPRoute)
    monkeypatch.setattr(sriov, 'HAS_PYROUTE2', sriov.HAS_PYROUTE2)
    use_iproute(sriov, iproute)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs a patch on a module right after it is first imported (the module runs inside AnsiballZ)."""

    def __init__(self, patches):
        self.patches = patches

    def find_spec(self, fullname, path, target=None):
        if fullname not in self.patches:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            spec = finder.find_spec(fullname, path, target) if hasattr(finder, 'find_spec') else None
            if spec is not None and spec.loader is not None:
                spec.loader = _PatchingLoader(spec.loader, self.patches[fullname])
                return spec
        return None


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader, patch):
        self.loader = loader
        self.patch = patch

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        self.patch(module)

    def __getattr__(self, name):
        return getattr(self.loader, name)


def _once(factory):
    """factory() on first use: the fake's state may not exist yet when the interpreter starts."""
    made = []

    def get():
        if not made:
            made.append(factory())
        return made[0]
    return get


def install_from_environment():
    """At interpreter start: patch the seams INTRAVM_TEST_FAKES names as their modules are imported."""
    wanted = set(filter(None, os.environ.get(FAKES_ENV, '').split(',')))
    patches = {}
    if 'nvml' in wanted:
        import fake_nvml  # pylint: disable=import-error,import-outside-toplevel
        lib = _once(fake_nvml.make_nvml_lib)
        patches['pynvml'] = lambda module: use_nvml_lib(module, lib())
        patches[DEVICES + 'vgpu_sysfs'] = lambda module: route_sysfs_writes(module, _Deferred(lib))
    if 'netlink' in wanted:
        import fake_iproute  # pylint: disable=import-error,import-outside-toplevel
        iproute = _once(fake_iproute.factory)
        patches[DEVICES + 'sriov'] = lambda module: use_iproute(module, iproute())
    if patches:
        sys.meta_path.insert(0, _AfterImport(patches))


class _Deferred(object):
    """The fake library, made when the first sysfs write reaches it."""

    def __init__(self, get):
        self._get = get

    def sysfs_write(self, path, text):
        self._get().sysfs_write(path, text)
