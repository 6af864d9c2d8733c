# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The published forecast document's atomic file form.

The document itself (its version, builders and the one check every reader
applies) is plugins/module_utils/channel/forecast_format.py; docs/predictor.md.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import tempfile


def write_atomic(path, doc):
    """Replace path with doc in one rename; readers see the old or the new file, never a mix."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, 'w') as handle:
            json.dump(doc, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
