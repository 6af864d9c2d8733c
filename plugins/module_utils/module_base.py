# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every adaptive.intravm module shares, so a module is its spec, its docs and one call.

IntravmModule adds the shared options (`uri`; `live`/`config` for modules
that change a domain, documented by the adaptive.intravm.libvirt doc
fragment), checks the Python dependencies, opens and always closes libvirt
connections, maps the one error family to fail_json with the domain named,
and applies the one diff policy: a result carries `diff` only in diff mode,
as {'before': ..., 'after': ...} of the same shape.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.adaptive.intravm.plugins.module_utils.apply.rollback import PartialApplyError
from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError
from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset, libvirt_conn

URI_SPEC = dict(uri=dict(type='str', default=libvirt_conn.DEFAULT_URI))
SIDES_SPEC = dict(live=dict(type='bool', default=True), config=dict(type='bool', default=True))
DOMAIN_SPEC = dict(name=dict(type='str', required=True))

# (importable?, pip name, import traceback) for the dependency check.
LIBVIRT = (libvirt_conn.HAS_LIBVIRT, 'libvirt-python', libvirt_conn.LIBVIRT_IMPORT_ERROR)


def diff_policy(result, diff_mode):
    """The one diff policy: `diff` ({'before', 'after'}) is returned in diff mode and only then."""
    result = dict(result)
    diff = result.pop('diff', None)
    if diff_mode and diff is not None:
        result['diff'] = {'before': diff.get('before'), 'after': diff.get('after')}
    return result


def domain_sides(params, dom):
    """['live'] and/or ['config'] as O(live) and O(config) ask, after checking the domain has them."""
    name = params.get('name')
    if not params['live'] and not params['config']:
        raise IntravmError('live and config are both false: nothing to change')
    sides = []
    if params['live']:
        if not dom.isActive():
            raise IntravmError('live: true but domain %r is %s; set live: false to change only its persistent config'
                               % (name, libvirt_conn.state_name(dom)))
        sides.append('live')
    if params['config']:
        if not dom.isPersistent():
            raise IntravmError('config: true but domain %r is transient (it has no persistent config); set config: false'
                               % name)
        sides.append('config')
    return sides


def integer_text_ok(value):
    """True when value is an integer option the one grammar takes: an int (not a bool), or its ASCII digits.

    The digits are cpuset's (1 to 12 ASCII digits, ASCII spaces around),
    after an optional '-' so that a negative value gets the option's own
    range error. Ansible's type='int' also takes "\u0663" (ARABIC-INDIC DIGIT
    THREE), "\u00b2", "1_0", "1e3", "3.0", true and 3.0; none of them is an
    integer here. An int's magnitude is held to the same 12 digits.
    """
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) < 10 ** 12
    if not isinstance(value, str):
        return False
    text = value.strip(' \t\r\n')
    return cpuset.is_number(text[1:] if text.startswith('-') else text)


def integer_option_errors(spec, params, where='', blank=False):
    """A message for each type='int' option (or elements='int' item) in params that integer_text_ok refuses.

    Walks sub-options (dicts and lists of dicts) as Ansible does; params are
    the module's arguments as given, before Ansible converts them. blank: set
    each refused value to 0 in params, so Ansible's own handling of the
    arguments (it logs them) never meets it; the module then fails with these
    messages.
    """
    errors = []
    if not isinstance(params, dict):
        return errors
    for name, option in spec.items():
        for key in [name] + list(option.get('aliases') or ()):
            if params.get(key) is None:
                continue
            value, label = params[key], where + key
            if option.get('type') == 'int' and not integer_text_ok(value):
                errors.append(_integer_refusal(label, value))
                if blank:
                    params[key] = 0
            elif option.get('type') == 'list' and option.get('elements') == 'int' and isinstance(value, list):
                for i, item in enumerate(value):
                    if item is not None and not integer_text_ok(item):
                        errors.append(_integer_refusal('%s[%d]' % (label, i), item))
                        if blank:
                            value[i] = 0
            if option.get('options'):
                for i, sub in enumerate(value if isinstance(value, list) else [value]):
                    prefix = '%s[%d].' % (label, i) if isinstance(value, list) else label + '.'
                    errors.extend(integer_option_errors(option['options'], sub, prefix, blank))
    return errors


def _integer_refusal(label, value):
    shown = repr(value) if len(repr(value)) <= 40 else '%s... (%d characters)' % (repr(value)[:30], len(repr(value)))
    return ('argument %r is %s: an integer must be an int or ASCII digits 0-9 (at most 12, a "-" before them '
            'allowed)' % (label, shown))


def handled_errors():
    """The exception types a module reports as a failure of its own (not a traceback)."""
    handled = (IntravmError, PartialApplyError)
    if libvirt_conn.HAS_LIBVIRT:
        handled += (libvirt_conn.libvirt.libvirtError,)
    return handled


def error_text(exc):
    """What an operator reads for one of handled_errors()."""
    if isinstance(exc, (IntravmError, PartialApplyError)):
        return str(exc)
    return 'libvirt error: %s' % libvirt_conn.error_text(exc)


class EntryView(object):
    """The module seen with one entry's parameters, so one module call can run a per-domain logic for many domains.

    Offers what a module's run(module) uses: params, check_mode, connect()
    (one shared connection), sides(dom) and warn().
    """

    def __init__(self, module, conn, params):
        self.module = module
        self.params = params
        self.check_mode = module.check_mode
        self._conn = conn

    def connect(self):
        return self._conn

    def sides(self, dom):
        return domain_sides(self.params, dom)

    def warn(self, text):
        self.module.warn(text)


class IntravmModule(AnsibleModule):
    """AnsibleModule with the collection's options, dependency check, connections, errors and diff policy.

    domain: add the required `name` of the one domain the module changes.
    sides: add `live` and `config`. libvirt: add `uri` (False for a module that
    never talks to libvirt). requires: (importable?, pip name, traceback)
    tuples checked at start; libvirt itself is checked when connect() is called,
    so a module that needs it only sometimes still runs without it.
    """

    def __init__(self, argument_spec, domain=False, sides=False, requires=(), libvirt=True, **kwargs):
        spec = dict(URI_SPEC) if libvirt else {}
        if domain:
            spec.update(DOMAIN_SPEC)
        if sides:
            spec.update(SIDES_SPEC)
        spec.update(argument_spec)
        kwargs.setdefault('supports_check_mode', True)
        self._integer_errors = []
        super(IntravmModule, self).__init__(argument_spec=spec, **kwargs)
        self._connections = []
        if self._integer_errors:
            self.fail_json(msg='; '.join(self._integer_errors))
        for importable, name, trace in requires:
            if not importable:
                self.fail_json(msg=missing_required_lib(name), exception=trace)

    def _load_params(self):
        # The arguments as given, before Ansible's type='int' turns "\u0663" into 3: every integer option
        # goes through the one grammar (integer_text_ok). The module fails once AnsibleModule is set up
        # (it knows then which values it must not echo), with the value blanked meanwhile.
        super(IntravmModule, self)._load_params()
        self._integer_errors = integer_option_errors(self.argument_spec, self.params, blank=True)

    def connect(self):
        """A libvirt connection to O(uri); closed when the module exits."""
        if not libvirt_conn.HAS_LIBVIRT:
            self.fail_json(msg=missing_required_lib('libvirt-python'), exception=libvirt_conn.LIBVIRT_IMPORT_ERROR)
        conn = libvirt_conn.connect(self.params['uri'])
        self._connections.append(conn)
        return conn

    def sides(self, dom):
        return domain_sides(self.params, dom)

    def entry(self, conn, params):
        """This module seen with one entry's parameters (EntryView), for logic that runs per domain."""
        return EntryView(self, conn, params)

    handled_errors = staticmethod(handled_errors)
    error_text = staticmethod(error_text)

    def _close(self):
        while self._connections:
            try:
                self._connections.pop().close()
            except Exception:  # pylint: disable=broad-except  # closing must not hide the result
                pass

    def _named(self, text):
        # Always a str: ansible-core before 2.19 refuses an exception as fail_json's msg.
        subject = self.params.get('name')
        return '%s: %s' % (subject, text) if subject else '%s' % (text,)

    def run_and_exit(self, logic, errors=None):
        """exit_json with logic(self)'s result under the diff policy, or fail_json naming the domain.

        errors: {exception type: formatter(exc, params) -> (message, facts)} for
        what only this module raises (NVML errors, sysfs OSErrors); IntravmError
        (the collection's one error family) and libvirt's own are handled here.
        A PartialApplyError reports what was rolled back and is `changed` only
        when the rollback was incomplete; any other failure is not `changed`
        unless the IntravmError's facts say it is (apply_plan interrupted after
        it changed domains).
        """
        errors = errors or {}
        handled = handled_errors() + tuple(errors)
        try:
            result = logic(self)
        except handled as exc:
            self._fail(exc, errors)
        finally:
            self._close()
        self.exit_json(**diff_policy(result, self._diff))

    def _fail(self, exc, errors):
        if isinstance(exc, PartialApplyError):
            self.fail_json(msg=self._named(exc), changed=bool(exc.rollback_errors), rolled_back=exc.rolled_back)
        for kind, formatter in errors.items():
            if isinstance(exc, kind):
                msg, facts = formatter(exc, self.params)
                self.fail_json(msg=self._named(msg), changed=False, **facts)
        facts = dict({'changed': False}, **exc.facts) if isinstance(exc, IntravmError) else {'changed': False}
        self.fail_json(msg=self._named(error_text(exc)), **facts)
