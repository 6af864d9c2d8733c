# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt interface bandwidth (<bandwidth>, virDomainSetInterfaceParameters) as pure rules.

Units are libvirt's: average, peak and floor in KiB/s, burst in KiB. A
direction that is given is given whole - fields left out are 0 - because
libvirt replaces a direction's whole <inbound>/<outbound> element when any
of its parameters is set; average 0 (and floor 0) removes that direction.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError

UINT_MAX = 2 ** 32 - 1
FIELDS = {
    'inbound': ('average', 'peak', 'burst', 'floor'),
    'outbound': ('average', 'peak', 'burst'),
}


class IfaceRateError(IntravmError, ValueError):
    """A bandwidth request libvirt must not be given."""


def typed_params(inbound, outbound):
    """{'inbound.average': n, ...} for the directions given (None = leave alone)."""
    params = {}
    for direction, spec in (('inbound', inbound), ('outbound', outbound)):
        if spec is None:
            continue
        for field in FIELDS[direction]:
            params['%s.%s' % (direction, field)] = spec.get(field) or 0
    return params


def validate(params, nic, domain):
    """Raise IfaceRateError naming the value, or return None."""
    for key, value in sorted(params.items()):
        if value < 0 or value > UINT_MAX:
            raise IfaceRateError('%s=%d for interface %s of domain %r is out of range (0..%d)'
                                 % (key, value, nic['mac'], domain, UINT_MAX))
    for direction in ('inbound', 'outbound'):
        avg = params.get(direction + '.average', 0)
        for field in ('peak', 'burst'):
            if params.get('%s.%s' % (direction, field)) and not avg:
                raise IfaceRateError('%s.%s=%d needs %s.average (libvirt ignores peak and burst without it)'
                                     % (direction, field, params['%s.%s' % (direction, field)], direction))
    if params.get('inbound.floor') and nic['type'] != 'network':
        raise IfaceRateError("inbound.floor=%d: libvirt supports floor only on interfaces of type 'network'; "
                             "interface %s of domain %r is of type %r"
                             % (params['inbound.floor'], nic['mac'], domain, nic['type']))


def changes(current, params):
    """The keys of params whose value differs from libvirt's current ones."""
    return sorted(k for k, v in params.items() if current.get(k, 0) != v)


def as_nested(current):
    """{'inbound': {...}, 'outbound': {...}} from libvirt's flat parameter dict."""
    out = {'inbound': {}, 'outbound': {}}
    for direction, fields in FIELDS.items():
        for field in fields:
            out[direction][field] = current.get('%s.%s' % (direction, field), 0)
    return out
