# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-VM checkpoints: atomic writes, safe loads, corrupt files set aside.

A checkpoint holds only tensors and plain values, so it loads with
torch.load(weights_only=True) (no pickle code runs). Writes go to a temporary
file in the same directory, are fsynced and renamed over the old one, so a
crash (kill -9) leaves either the previous or the new checkpoint, never half
of one. A file that fails to load or validate is renamed *.corrupt-<time> and
the caller falls back to the global model.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import logging
import os
import re
import tempfile
import time

import torch

LOG = logging.getLogger('host_predictor')
FORMAT = 1
_SAFE = re.compile(r'[^A-Za-z0-9_.-]')


def safe_name(key):
    """File-name form of a domain UUID or name."""
    return _SAFE.sub('_', str(key))[:200] or '_'


def atomic_write_bytes(path, data):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def save(path, params, extra):
    """Write {'format', 'params': {name: tensor}, 'extra': plain values} atomically."""
    import io  # pylint: disable=import-outside-toplevel
    buf = io.BytesIO()
    torch.save({'format': FORMAT, 'params': dict((k, v.detach().clone()) for k, v in params.items()),
                'extra': extra}, buf)
    atomic_write_bytes(path, buf.getvalue())


def set_aside(path, why):
    dest = '%s.corrupt-%d' % (path, int(time.time()))
    try:
        os.replace(path, dest)
    except OSError:
        dest = None
    LOG.warning('checkpoint %s set aside as %s: %s', path, dest, why)
    return dest


def load(path, expect_shapes=None):
    """(params, extra) or None when absent; a corrupt or mismatched file is set aside and None returned."""
    if not os.path.exists(path):
        return None
    try:
        blob = torch.load(path, map_location='cpu', weights_only=True)
        if not isinstance(blob, dict) or blob.get('format') != FORMAT:
            raise ValueError('unknown checkpoint format %r' % (blob.get('format') if isinstance(blob, dict) else type(blob)))
        params = blob['params']
        for name, tensor in params.items():
            if not torch.is_tensor(tensor) or not bool(torch.isfinite(tensor).all()):
                raise ValueError('parameter %s is not a finite tensor' % name)
            if expect_shapes is not None and tuple(tensor.shape) != tuple(expect_shapes.get(name, ())):
                raise ValueError('parameter %s has shape %s, expected %s' % (name, tuple(tensor.shape), expect_shapes.get(name)))
        if expect_shapes is not None and set(params) != set(expect_shapes):
            raise ValueError('parameters %s, expected %s' % (sorted(params), sorted(expect_shapes)))
        return params, blob.get('extra') or {}
    except Exception as exc:  # pylint: disable=broad-except
        set_aside(path, exc)
        return None


def archive(path, archive_dir):
    """Move a vanished domain's checkpoint into archive_dir (kept, not lost)."""
    if not os.path.exists(path):
        return None
    os.makedirs(archive_dir, exist_ok=True)
    dest = os.path.join(archive_dir, '%s.%d' % (os.path.basename(path), int(time.time())))
    os.replace(path, dest)
    return dest
