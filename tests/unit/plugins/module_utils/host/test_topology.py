# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.adaptive.intravm.plugins.module_utils.host.topology import parse_capabilities

# Trimmed from a real 2-node, SMT host's `virsh capabilities`.
CAPS = """<capabilities><host>
  <cpu><arch>x86_64</arch><model>EPYC</model>
    <topology sockets='1' dies='1' cores='2' threads='2'/></cpu>
  <topology><cells num='2'>
    <cell id='0'><memory unit='KiB'>1048576</memory>
      <distances><sibling id='0' value='10'/><sibling id='1' value='21'/></distances>
      <cpus num='2'>
        <cpu id='0' socket_id='0' die_id='0' core_id='0' siblings='0,2'/>
        <cpu id='2' socket_id='0' die_id='0' core_id='0' siblings='0,2'/>
      </cpus></cell>
    <cell id='1'><memory unit='KiB'>2097152</memory>
      <distances><sibling id='0' value='21'/><sibling id='1' value='10'/></distances>
      <cpus num='2'>
        <cpu id='1' socket_id='1' die_id='0' core_id='0' siblings='1,3'/>
        <cpu id='3' socket_id='1' die_id='0' core_id='0' siblings='1,3'/>
      </cpus></cell>
  </cells></topology>
  <cache><bank id='0' level='3' type='both' size='16' unit='MiB' cpus='0,2'/></cache>
</host></capabilities>"""


def test_nodes_cpus_and_distances():
    topo = parse_capabilities(CAPS)
    assert [n['cpus'] for n in topo['nodes']] == ['0,2', '1,3']
    assert topo['nodes'][0]['memory_bytes'] == 1024 ** 3
    assert topo['nodes'][1]['distances'] == {0: 21, 1: 10}
    assert topo['cpus_online'] == '0-3'
    assert [c['siblings'] for c in topo['cpus']] == ['0,2', '1,3', '0,2', '1,3']
    assert dict((c['id'], c['node']) for c in topo['cpus']) == {0: 0, 1: 1, 2: 0, 3: 1}
    assert topo['threads_per_core'] == 2


def test_caches():
    cache = parse_capabilities(CAPS)['caches'][0]
    assert cache == {'id': 0, 'level': 3, 'type': 'both', 'size_bytes': 16 * 1024 ** 2, 'cpus': '0,2'}


def test_online_map_applies_only_when_it_covers_all_cpus():
    assert parse_capabilities(CAPS, (True, True, False, True))['cpus_online'] == '0-1,3'
    # A map shorter than the CPU list (libvirt's test driver) is ignored.
    assert parse_capabilities(CAPS, (True, False))['cpus_online'] == '0-3'
