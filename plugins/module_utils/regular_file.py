# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Opening a file that someone else may have planted: regular files only, and the open never blocks.

/dev/shm and the state directories are places where another process can put
a FIFO (an open() for reading would wait for a writer forever) or a link to
somewhere else. The ring reader, the forecast loader, shm_channel and the
host lock all open through here. Pure stdlib: the host predictor carries it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

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
