# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared pytest fixtures: a real libvirtd, throwaway domains, a 2-node test host."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess
import sys

import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(TESTS_DIR)
sys.path.insert(0, TESTS_DIR)

import libvirt_harness  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope='session')
def libvirtd():
    """A connection to the real qemu:///system daemon, started if needed."""
    subprocess.run([os.path.join(REPO_ROOT, 'scripts', 'libvirt-up.sh')], check=True)
    conn = libvirt_harness.Reconnecting(libvirt_harness.SYSTEM_URI)
    libvirt_harness.sweep(conn)
    yield conn
    libvirt_harness.sweep(conn)
    conn.close()


@pytest.fixture
def make_domain(libvirtd):  # pylint: disable=redefined-outer-name
    """Factory for paused throwaway QEMU domains; all are removed after the test."""
    names = []

    def factory(label='dom', persistent=True, start=True, **xml_args):
        name = libvirt_harness.unique_name(label)
        names.append(name)
        return libvirt_harness.create(libvirtd, libvirt_harness.domain_xml(name, **xml_args),
                                      persistent=persistent, start=start)

    yield factory
    for name in names:
        libvirt_harness.remove(libvirtd, name)


@pytest.fixture
def multi_node_conn():
    """libvirt's test driver: a fresh 2-NUMA-node, 16-CPU host per test."""
    import libvirt  # pylint: disable=import-outside-toplevel
    conn = libvirt.open(libvirt_harness.MULTI_NODE_URI)
    yield conn
    conn.close()


@pytest.fixture
def make_test_domain(multi_node_conn):  # pylint: disable=redefined-outer-name
    """Factory for running domains on the 2-node test driver host."""
    def factory(vcpus=2, iothreads=0, cells=0):
        name = libvirt_harness.unique_name('t')
        return libvirt_harness.create(multi_node_conn, libvirt_harness.test_driver_xml(name, vcpus, iothreads, cells))
    return factory
