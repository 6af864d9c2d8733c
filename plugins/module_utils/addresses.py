# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which addresses stay on this host: the predictor serves plain HTTP, and a client sends a token in clear, only there."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress


def is_loopback(host):
    """True for 'localhost' and loopback IP literals (127.0.0.0/8, ::1); any other name or address is not."""
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
