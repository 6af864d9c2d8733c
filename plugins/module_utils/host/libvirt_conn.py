# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place that opens libvirt connections and looks up domains.

Errors come back as IntravmLibvirtError with a message that names the URI or
domain, so every module reports a failure the same way.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import traceback

from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError

try:
    import libvirt
    HAS_LIBVIRT = True
    LIBVIRT_IMPORT_ERROR = None
    # libvirt prints every error to stderr by default; we report them ourselves.
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
except ImportError:
    libvirt = None
    HAS_LIBVIRT = False
    LIBVIRT_IMPORT_ERROR = traceback.format_exc()

DEFAULT_URI = 'qemu:///system'

STATE_NAMES = {
    0: 'nostate', 1: 'running', 2: 'blocked', 3: 'paused',
    4: 'shutdown', 5: 'shutoff', 6: 'crashed', 7: 'pmsuspended',
}

# Flag values as libvirt defines them; named here so pure code can use them
# without importing libvirt.
AFFECT_CURRENT = 0
AFFECT_LIVE = 1
AFFECT_CONFIG = 2
VCPU_MAXIMUM = 4      # vcpusFlags(): the maximum, not the current count
XML_SECURE = 1    # VIR_DOMAIN_XML_SECURE: keep passwords when redefining
XML_INACTIVE = 2  # VIR_DOMAIN_XML_INACTIVE: the persistent config


class IntravmLibvirtError(IntravmError):
    """A libvirt failure described for an operator."""


def connect(uri):
    """Open a read-write connection to uri or raise IntravmLibvirtError."""
    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError as exc:
        raise IntravmLibvirtError('cannot connect to libvirt at uri %r: %s' % (uri, exc))
    if conn is None:  # old bindings returned None instead of raising
        raise IntravmLibvirtError('cannot connect to libvirt at uri %r' % uri)
    return conn


def lookup_domain(conn, name):
    """The domain called name, or an error that lists the domains that exist."""
    try:
        return conn.lookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
            raise IntravmLibvirtError('cannot look up domain %r: %s' % (name, exc))
    known = sorted(d.name() for d in conn.listAllDomains())
    raise IntravmLibvirtError('domain %r not found at uri %r; known domains: %s'
                              % (name, conn.getURI(), ', '.join(known) or 'none'))


def each_domain(conn, read):
    """[read(dom)] for every domain of conn, leaving out one that disappears while it is read (others' throwaway domains)."""
    found = []
    for dom in conn.listAllDomains():
        try:
            found.append(read(dom))
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                raise
    return found


def state_name(dom):
    """Human name of the domain's state ("running", "paused", "shutoff", ...)."""
    return STATE_NAMES.get(dom.state()[0], 'unknown')


def effective_flags(dom, live, config):
    """libvirt flags for a change, or for a read of one side.

    Where AFFECT_CURRENT means the same thing (live on an active domain,
    config on an inactive one) we use it: some drivers (the test driver)
    accept only that form.
    """
    active = bool(dom.isActive())
    if live and not config and active:
        return AFFECT_CURRENT
    if config and not live and not active:
        return AFFECT_CURRENT
    return (AFFECT_LIVE if live else 0) | (AFFECT_CONFIG if config else 0)


def error_text(exc):
    """libvirt's own message without the Python wrapper noise."""
    if libvirt is not None and isinstance(exc, libvirt.libvirtError):
        return exc.get_error_message() or str(exc)
    return str(exc)
