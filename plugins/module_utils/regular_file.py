# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Opening a file that someone else may have planted: regular files only, and the open never blocks.

/dev/shm and the state directories are places where another process can put
a FIFO (an open() for reading would wait for a writer forever) or a link to
somewhere else. The ring reader, the forecast loader, shm_channel and the
host lock all open through here, and the QEMU hook appends to its log
through open_regular_append (a FIFO there would hold libvirt's migration on
the hook). Pure stdlib, Python 3.8: the host predictor and the hook carry it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import stat


class NotRegularFile(OSError):
    """A FIFO, device, directory or socket where a regular file was expected."""


def open_regular(path, follow_links=False):
    """(read-only descriptor, its fstat) of the regular file at path.

    The type is checked on the opened descriptor, so a swap between a caller's
    lstat() and this open() is caught too. OSError as os.open raises it
    (ENOENT; ELOOP for a link when follow_links is False), NotRegularFile for
    anything else at the path.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0)
    if not follow_links:
        flags |= getattr(os, 'O_NOFOLLOW', 0)
    fd = os.open(path, flags)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise NotRegularFile('%s is not a regular file (mode %o)' % (path, info.st_mode))
    return fd, info


def open_regular_append(path, mode=0o600):
    """Write-only descriptor appending to the regular file at path, created with mode if missing.

    Never follows a link and never blocks. What lstat() shows is not a regular
    file (a FIFO, device, directory, socket or link) raises NotRegularFile
    without being opened, since opening a device can act on it; the type is
    checked again on the opened descriptor, and a FIFO put there in between
    fails at once (ENXIO without a reader, NotRegularFile with one) instead
    of waiting for a reader. OSError as os.open raises it otherwise (ENOENT
    for a missing directory, EACCES).
    """
    try:
        info = os.lstat(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise
    else:
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile('%s is not a regular file (mode %o)' % (path, info.st_mode))
    flags = (os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | getattr(os, 'O_NOCTTY', 0)
             | getattr(os, 'O_CLOEXEC', 0) | getattr(os, 'O_NOFOLLOW', 0))
    fd = os.open(path, flags, mode)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise NotRegularFile('%s is not a regular file (mode %o)' % (path, info.st_mode))
    return fd
