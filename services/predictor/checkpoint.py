# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-VM checkpoints: atomic writes, safe loads, corrupt files set aside.

A checkpoint holds only tensors and plain values, so it loads with
torch.load(weights_only=True) (no pickle code runs). Writes go to a temporary
file in the same directory, are fsynced and renamed over the old one, so a
crash (kill -9) leaves either the previous or the new checkpoint, never half
of one; a write that fails (a full disk) removes its temporary and raises,
leaving the previous checkpoint as it was. A kill -9 mid-write can leave the
temporary behind: remove_stale_temps() deletes those at start. A file that
fails to load or validate (the weights, and the plain part through the caller's
check) is renamed *.corrupt-<time> and the caller falls back to the global model.
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
# mkstemp(prefix='.NAME.') names: its 8 random characters follow the prefix
_TEMP = r'\.(?:%s)\.[a-z0-9_]{8}\Z'


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


def remove_stale_temps(directory, name_pattern):
    """Delete the temporaries a writer killed mid-write left in directory; returns their names.

    Only the names atomic_write_bytes and state.write_atomic give a target whose
    name matches name_pattern (a regular expression) are touched, and only files.
    """
    match = re.compile(_TEMP % name_pattern).match
    removed = []
    with os.scandir(directory) as entries:
        stale = [entry.path for entry in entries if match(entry.name) and entry.is_file(follow_symlinks=False)]
    for path in stale:
        try:
            os.unlink(path)
            removed.append(os.path.basename(path))
        except OSError as exc:
            LOG.warning('stale temporary file %s not removed: %s', path, exc)
    if removed:
        LOG.info('removed %d stale temporary file(s) from %s', len(removed), directory)
    return removed


def set_aside(path, why):
    dest = '%s.corrupt-%d' % (path, int(time.time()))
    try:
        os.replace(path, dest)
    except OSError:
        dest = None
    LOG.warning('checkpoint %s set aside as %s: %s', path, dest, why)
    return dest


def is_float_tensor(value):
    """A dense floating-point tensor (what the model and the VM track hold); not int, bool, complex or sparse."""
    return torch.is_tensor(value) and value.layout == torch.strided and value.is_floating_point()


def load(path, expect_shapes=None, check_extra=None, adapt=None):
    """(params, extra) or None when absent; a corrupt or mismatched file is set aside and None returned.

    check_extra(extra) raises on a value the caller cannot use and returns what it
    will use, so a file that loads but would break the caller is set aside too.
    It runs before the weights are checked: the plain part says what the file was
    written for (its horizons and windows), which explains a shape mismatch better.
    adapt(params, checked) returns the weights the caller uses (an older layout
    re-laid, see model.regrow_heads); the shapes are checked after it.
    """
    if not os.path.exists(path):
        return None
    try:
        blob = torch.load(path, map_location='cpu', weights_only=True)
        if not isinstance(blob, dict) or blob.get('format') != FORMAT:
            raise ValueError('unknown checkpoint format %r' % ((blob.get('format') if isinstance(blob, dict) else type(blob)),))
        extra = blob.get('extra') or {}
        checked = extra if check_extra is None else check_extra(extra)
        params = {}
        for name, tensor in blob['params'].items():
            if not is_float_tensor(tensor):
                raise ValueError('parameter %s is not a float tensor' % name)
            params[name] = tensor.float()   # what the model holds and computes in: float64 1e300 is not finite there
            if not bool(torch.isfinite(params[name]).all()):
                raise ValueError('parameter %s is not finite' % name)
        if adapt is not None:
            params = adapt(params, checked)
        for name, tensor in params.items():
            if expect_shapes is not None and tuple(tensor.shape) != tuple(expect_shapes.get(name, ())):
                raise ValueError('parameter %s has shape %s, expected %s' % (name, tuple(tensor.shape), expect_shapes.get(name)))
        if expect_shapes is not None and set(params) != set(expect_shapes):
            raise ValueError('parameters %s, expected %s' % (sorted(params), sorted(expect_shapes)))
        return params, checked
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
