# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.adaptive.intravm.plugins.module_utils.host.placement import guest_cells, parse_numatune


def test_numatune_absent():
    assert parse_numatune('<domain/>') == {'mode': None, 'nodeset': None, 'placement': None, 'memnodes': {}}


def test_numatune_with_memnodes():
    xml = """<domain><numatune><memory mode='interleave' nodeset='1,0'/>
      <memnode cellid='0' mode='strict' nodeset='1'/></numatune>
      <cpu><numa><cell id='0' cpus='0' memory='64'/><cell id='1' cpus='1' memory='64'/></numa></cpu></domain>"""
    tune = parse_numatune(xml)
    assert tune['mode'] == 'interleave' and tune['nodeset'] == '0-1'
    assert tune['memnodes'] == {'0': {'mode': 'strict', 'nodeset': '1'}}
    assert guest_cells(xml) == [0, 1]
