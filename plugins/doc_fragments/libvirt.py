# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """The options module_base adds: the libvirt URI, and for changes the live/config sides."""

    DOCUMENTATION = r'''
requirements:
  - libvirt-python
options:
  uri:
    description:
      - libvirt connection URI, for example C(qemu:///system) or C(qemu+ssh://root@hv1/system).
    type: str
    default: qemu:///system
'''

    DOMAIN = r'''
options:
  name:
    description:
      - Name of the domain.
    type: str
    required: true
'''

    SIDES = r'''
options:
  live:
    description:
      - Change the running domain.
      - Fails on a domain that is not running; set O(live=false) to change only the persistent configuration.
    type: bool
    default: true
  config:
    description:
      - Change the persistent configuration, so the change survives a restart.
      - Fails on a transient domain.
    type: bool
    default: true
'''
