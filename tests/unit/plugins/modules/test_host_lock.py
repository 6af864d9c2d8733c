# -*- coding: utf-8 -*-
"""host_lock's run(): its checks of the request, and the warning when it takes over a stale lock."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.adaptive.intravm.plugins.module_utils.apply.host_lock import HostLock
from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError
from ansible_collections.adaptive.intravm.plugins.modules import host_lock
from module_stub import ModuleStub


def params(path, **over):
    base = dict(state='acquired', path=str(path), owner='run-a', wait=0, ttl=600, note='', uri='qemu:///system')
    base.update(over)
    return base


@pytest.mark.parametrize('over, says', [
    (dict(owner=' '), 'owner is empty'),
    (dict(wait=-1), 'wait must be 0 or more'),
    (dict(ttl=0), 'ttl more than 0'),
])
def test_a_bad_request_is_refused(tmp_path, over, says):
    with pytest.raises(IntravmError) as err:
        host_lock.run(ModuleStub(params(tmp_path / 'l', **over)))
    assert says in str(err.value)


def test_taking_over_a_stale_lock_warns_and_release_gives_it_back(tmp_path):
    path = tmp_path / 'l'
    now = [1000.0]
    HostLock(str(path), clock=lambda: now[0]).acquire('dead-run', 0, 10)
    now[0] += 11
    module = ModuleStub(params(path))
    result = host_lock.run(module, HostLock(str(path), clock=lambda: now[0]))
    assert result['changed'] and result['took_over']['owner'] == 'dead-run'
    assert len(module.warnings) == 1 and 'stale' in module.warnings[0] and 'dead-run' in module.warnings[0]
    released = host_lock.run(ModuleStub(params(path, state='released')))
    assert released['changed'] and not path.exists()
