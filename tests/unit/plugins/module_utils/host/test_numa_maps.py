# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.adaptive.intravm.plugins.module_utils.host.numa_maps import bytes_per_node, domain_memory_by_node

SAMPLE = """\
55d0a0000000 default file=/usr/bin/qemu-system-x86_64 mapped=100 N0=60 N1=40 kernelpagesize_kB=4
7f0000000000 bind:1 anon=512 dirty=512 N1=512 kernelpagesize_kB=2048
7f1000000000 default
"""


def test_bytes_per_node_uses_page_size():
    assert bytes_per_node(SAMPLE) == {'0': 60 * 4096, '1': 40 * 4096 + 512 * 2048 * 1024}


def test_domain_memory_by_node_reads_pid_file_and_proc(tmp_path):
    run = tmp_path / 'run'
    run.mkdir()
    (run / 'vm1.pid').write_text('4242\n')
    proc = tmp_path / 'proc' / '4242'
    proc.mkdir(parents=True)
    (proc / 'numa_maps').write_text(SAMPLE)
    assert domain_memory_by_node('vm1', str(tmp_path / 'proc'), str(run))['0'] == 60 * 4096
    assert domain_memory_by_node('absent', str(tmp_path / 'proc'), str(run)) is None
