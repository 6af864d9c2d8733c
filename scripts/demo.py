# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make demo`: a small paused domain on the local libvirtd, playbooks/demo.yml
run against it through ansible-playbook, and the domain removed afterwards."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys

import libvirt

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests'))

import libvirt_harness  # noqa: E402  pylint: disable=wrong-import-position


def main():
    name = 'intravm-demo-%d' % os.getpid()
    conn = libvirt.open(libvirt_harness.SYSTEM_URI)
    print('demo: creating paused domain %s (2 vCPUs, %s)' % (name, libvirt_harness.virt_type()))
    libvirt_harness.create(conn, libvirt_harness.domain_xml(name, vcpus=2, iothreads=1), persistent=False)
    try:
        cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'),
               os.path.join(ROOT, 'playbooks', 'demo.yml'), '-i', 'localhost,', '-c', 'local',
               '-e', json.dumps({'domain': name, 'ansible_python_interpreter': sys.executable})]
        return subprocess.call(cmd)
    finally:
        libvirt_harness.remove(conn, name)
        conn.close()
        print('demo: removed %s' % name)


if __name__ == '__main__':
    sys.exit(main())
