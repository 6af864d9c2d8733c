# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guest side claims Python 3.8+: the profiler agent and the record format it carries.

Always: the static checker vermin (pinned in requirements-dev.txt) finds nothing in either
file that needs a newer Python, and it does flag 3.9+ code (so a pass means something).
Where a real CPython 3.8 is on the machine (INTRAVM_PYTHON38, python3.8 on PATH, pyenv's
3.8, /usr/bin/python3.8): the agent takes samples under it, as installed in a guest, and
the record format round-trips under it and into the host reader.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import json
import os
import shutil
import subprocess
import sys

import pytest

from ansible_collections.adaptive.intravm.plugins.module_utils.channel.shm_reader import RingReader

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AGENT = os.path.join(REPO, 'services', 'profiler', 'intravm_profiler.py')
SHM_FORMAT = os.path.join(REPO, 'plugins', 'module_utils', 'channel', 'shm_format.py')
GUEST_FILES = [AGENT, SHM_FORMAT]


def vermin(*paths):
    exe = os.path.join(os.path.dirname(sys.executable), 'vermin')
    exe = exe if os.access(exe, os.X_OK) else shutil.which('vermin')
    assert exe, 'vermin is not installed (requirements-dev.txt pins it)'
    # --eval-annotations: also count annotations as if evaluated (typing.get_type_hints).
    return subprocess.run([exe, '--no-config-file', '--target=3.8-', '--violations', '--no-tips',
                           '--eval-annotations', '--processes=1'] + list(paths),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=120, check=False)


def test_guest_code_needs_nothing_newer_than_python38():
    proc = vermin(*GUEST_FILES)
    assert proc.returncode == 0, proc.stdout
    assert 'requires' not in proc.stdout, proc.stdout


def test_vermin_flags_python39_code(tmp_path):
    """The check above can fail: 3.9+ features in a guest-like file are reported.

    vermin knows a type only from a literal: ``name.removeprefix(...)`` on a variable
    passes unseen, which is why a real 3.8 run (below) is worth having where one exists.
    """
    newer = tmp_path / 'newer.py'
    newer.write_text('import math\n\n'
                     'NAME = "vcpu.0".removeprefix("vcpu.")\n'
                     'MERGED = {"a": 1} | {"b": 2}\n'
                     'STEP = math.lcm(4, 6)\n')
    proc = vermin(AGENT, str(newer))
    assert proc.returncode == 1, proc.stdout
    for feature in ('str.removeprefix', 'dict union', 'math.lcm'):
        assert feature in proc.stdout, proc.stdout
    assert 'intravm_profiler.py' not in proc.stdout, proc.stdout


def python38():
    """A working CPython 3.8 on this machine, or None."""
    candidates = [os.environ.get('INTRAVM_PYTHON38'), shutil.which('python3.8')]
    candidates += sorted(glob.glob(os.path.expanduser('~/.pyenv/versions/3.8*/bin/python3.8')), reverse=True)
    candidates += ['/usr/bin/python3.8', '/usr/local/bin/python3.8']
    for exe in candidates:
        if not exe or not os.access(exe, os.X_OK):
            continue
        try:
            proc = subprocess.run([exe, '-I', '-c', 'import sys; print("%d.%d" % sys.version_info[:2])'],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True,
                                  timeout=30, check=False)
        except OSError:
            continue
        if proc.returncode == 0 and proc.stdout.strip() == '3.8':
            return exe
    return None


# Under the guest's Python: every record the agent wrote, decoded with shm_format alone.
GUEST_READER = r'''
import json, sys
import shm_format as fmt
data = open(sys.argv[1], 'rb').read()
header, write_seq = fmt.parse_header(data, len(data))
seed = fmt.boot_seed(header.boot_id)
out = []
for seq in range(1, write_seq + 1):
    off = fmt.slot_offset(header, seq)
    stamp, metrics, _layout = fmt.decode_slot(data[off:off + header.record_size], header, seed, seq)
    out.append({'seq': seq, 'timestamp_ns': stamp, 'metrics': dict(metrics)})
print(json.dumps(out, sort_keys=True))
'''


def test_agent_and_format_on_a_real_python38(tmp_path):
    exe = python38()
    if exe is None:
        pytest.skip('no CPython 3.8 on this machine (set INTRAVM_PYTHON38); vermin covers it statically')
    # As installed in a guest: the agent next to a copy of shm_format.py, no collection, no site.
    shutil.copy(AGENT, str(tmp_path / 'intravm_profiler.py'))
    shutil.copy(SHM_FORMAT, str(tmp_path / 'shm_format.py'))
    region = tmp_path / 'region'
    region.write_bytes(b'\x00' * (1 << 18))

    def guest(*args):
        return subprocess.run([exe, '-E', '-s', '-S'] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=60, check=False, cwd=str(tmp_path))

    proc = guest('intravm_profiler.py', '--config', '/nonexistent', '--interval', '0.05',
                 '--count', '3', '--stdout', '--device', str(region), '--no-perf', '--no-gpu')
    assert proc.returncode == 0, proc.stderr
    printed = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(printed) == 3

    (tmp_path / 'guest_reader.py').write_text(GUEST_READER)
    proc = guest('guest_reader.py', str(region))
    assert proc.returncode == 0, proc.stderr
    decoded = json.loads(proc.stdout)
    assert [r['seq'] for r in decoded] == [1, 2, 3]

    host = RingReader(str(region)).poll()          # this (newer) Python reads what 3.8 wrote
    assert [s.seq for s in host] == [1, 2, 3]
    for sample, guest, line in zip(host, decoded, printed):
        assert sample.timestamp_ns == guest['timestamp_ns'] == line['timestamp_ns']
        assert dict(sample.metrics) == guest['metrics']
        assert sample.metrics['vcpus'] == line['metrics']['vcpus'] >= 1
