# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt QEMU hook: drop the CPU pins and NUMA nodesets this host cannot honour.

Pins travel with a guest: an incoming migration or a restored image names host
CPUs and NUMA nodes planned on another machine, and libvirt refuses the guest
when this host lacks one. libvirt hands the hook the domain XML of `migrate`
and `restore` on stdin and uses what it prints instead (nothing printed: the
XML as it was). This hook removes exactly the pins this host cannot honour,
logs each removal with the domain's name and keeps every other byte; the next
rebalance places the guest for this host.

Stdlib only, Python 3.8+. The host_predictor role installs it with a copy of
the collection's cpuset.py beside it and an sh wrapper in
/etc/libvirt/hooks/qemu.d/. It never fails the guest's operation: on any error
of its own it prints nothing and exits 0. It never calls libvirt, which waits
for it (a deadlock).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import sys
import time
import xml.etree.ElementTree as ET
from xml.parsers import expat

try:
    from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset
except ImportError:
    sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
    try:
        import cpuset  # noqa: E402  pylint: disable=import-error
    except ImportError:  # main() says so in the log and passes every domain through
        cpuset = None

OPERATIONS = ('migrate', 'restore')  # the only ones whose printed XML libvirt uses
DEFAULT_LOG = '/var/log/libvirt/intravm-qemu-hook.log'
DEFAULT_SYSFS = '/sys'

# Where a domain names host CPUs or NUMA nodes: element path -> (attribute, what it names).
# <vcpu> loses only its attribute; a pin or binding element goes whole.
PINS = {
    ('domain', 'vcpu'): ('cpuset', 'CPU'),
    ('domain', 'cputune', 'vcpupin'): ('cpuset', 'CPU'),
    ('domain', 'cputune', 'emulatorpin'): ('cpuset', 'CPU'),
    ('domain', 'cputune', 'iothreadpin'): ('cpuset', 'CPU'),
    ('domain', 'numatune', 'memory'): ('nodeset', 'NUMA node'),
    ('domain', 'numatune', 'memnode'): ('nodeset', 'NUMA node'),
}
CONTAINERS = (('domain', 'cputune'), ('domain', 'numatune'))  # dropped when nothing is left in them

_ATTRIBUTE = re.compile(br'\s+([^\s=/>]+)\s*=\s*("[^"]*"|\'[^\']*\')')
_TAG_NAME = re.compile(br'<[^\s/>]+')


class _Element(object):
    """One element as expat saw it, with its byte span in the document."""

    __slots__ = ('index', 'path', 'attrs', 'children', 'start', 'tag_end', 'end')

    def __init__(self, index, path, attrs, start):
        self.index, self.path, self.attrs, self.start = index, path, attrs, start
        self.children = []
        self.tag_end = self.end = None


def _refuse_doctype(*_args):
    raise ValueError('a DOCTYPE is not domain XML')


def _scan(data):
    """Every element in document order (ElementTree's iter() order) with its byte span.

    An element's start tag ends where expat's next event begins, the element
    where the event after its end begins: that holds whether expat reports an
    empty element's end at the start or the end of `<x/>`.
    """
    parser = expat.ParserCreate()
    elements, stack, waiting = [], [], []

    def mark():
        pos = parser.CurrentByteIndex
        for item in list(waiting):
            element, field = item
            if field == 'end' or pos > element.start:
                setattr(element, field, pos)
                waiting.remove(item)

    def start(name, attrs):
        mark()
        element = _Element(len(elements), (stack[-1].path if stack else ()) + (name,), attrs, parser.CurrentByteIndex)
        if stack:
            stack[-1].children.append(element)
        elements.append(element)
        stack.append(element)
        waiting.append((element, 'tag_end'))

    def end(_name):
        mark()
        waiting.append((stack.pop(), 'end'))

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = _refuse_doctype
    for handler in ('CharacterDataHandler', 'CommentHandler', 'ProcessingInstructionHandler',
                    'StartCdataSectionHandler', 'EndCdataSectionHandler', 'DefaultHandler'):
        setattr(parser, handler, lambda *_args: mark())
    parser.Parse(data, True)
    for element, field in waiting:
        setattr(element, field, len(data))
    return elements


def _line_start(data, pos):
    """Where to cut so a removed element takes its own indented line with it, and nothing else."""
    gap_from = data.rfind(b'>', 0, pos) + 1
    # after a CDATA section, comment or PI the gap is part of a text node with more in it
    if data[gap_from:pos].strip() or data[max(0, gap_from - 3):gap_from] in (b']]>', b'-->') or \
            data[max(0, gap_from - 2):gap_from] == b'?>':
        return pos
    newline = data.rfind(b'\n', gap_from, pos)
    return pos if newline < 0 else newline


def _without_attribute(tag, name):
    """A start tag's bytes less one attribute (values may hold '>', so walk the attributes in order)."""
    pos = _TAG_NAME.match(tag).end()
    found = _ATTRIBUTE.match(tag, pos)
    while found:
        if found.group(1) == name:
            return tag[:found.start()] + tag[found.end():]
        pos = found.end()
        found = _ATTRIBUTE.match(tag, pos)
    raise ValueError('attribute %r not found in %r' % (name, tag))


def _missing(value, available):
    """IDs a cpuset names that the host lacks; None for a value this grammar cannot read.

    libvirt formatted the XML, so a value we cannot read is not one we wrote: it is left alone.
    """
    try:
        return sorted(cpuset.parse(value) - available)
    except cpuset.CpusetError:
        return None


def _describe(element, attribute):
    """What the log names: the element (path from <domain>) and its attributes, the dropped one last."""
    others = ''.join(" %s='%s'" % (k, v) for k, v in sorted(element.attrs.items()) if k != attribute)
    where = '<%s%s>' % ('/'.join(element.path[1:]), others)
    dropped = "%s='%s'" % (attribute, element.attrs[attribute])
    return '%s of %s' % (dropped, where) if element.path == ('domain', 'vcpu') else '%s %s>' % (where[:-1], dropped)


def _shape(root):
    """A tree as comparable data: tag, attributes, non-blank text and the number of children, in order."""
    return [(e.tag, e.attrib, (e.text or '').strip(), (e.tail or '').strip(), len(e)) for e in root.iter()]


def _check(data, out, dropped, stripped):
    """The output must be the input's tree less exactly the dropped parts; anything else is our bug."""
    expected = ET.fromstring(data)
    nodes = list(expected.iter())
    parents = {child: parent for parent in nodes for child in parent}
    for element in dropped:
        node, parent = nodes[element.index], parents[nodes[element.index]]
        before = list(parent).index(node) - 1
        if before >= 0:
            parent[before].tail = (parent[before].tail or '') + (node.tail or '')
        else:
            parent.text = (parent.text or '') + (node.tail or '')
        parent.remove(node)
    for element, attribute in stripped:
        del nodes[element.index].attrib[attribute]
    if _shape(ET.fromstring(out)) != _shape(expected):
        raise ValueError('the rewritten XML differs from the input by more than the dropped pins')


def rewrite(xml_text, host_cpus, host_nodes):
    """(the domain XML without the pins and nodesets this host cannot honour, or None if none; what was dropped).

    A pin naming any CPU (a binding naming any node) the host lacks goes whole:
    the part that remains was planned for another machine, and a vCPU squeezed
    onto it could be worse off than one left free until the next rebalance.
    xml_text is str or bytes; the result is of the same type.
    """
    data = xml_text.encode('utf-8') if isinstance(xml_text, str) else bytes(xml_text)
    elements = _scan(data)
    available = {'CPU': frozenset(host_cpus), 'NUMA node': frozenset(host_nodes)}
    changes, dropped, stripped = [], set(), []
    for element in elements:
        attribute, names = PINS.get(element.path, (None, None))
        if attribute not in element.attrs:
            continue
        missing = _missing(element.attrs[attribute], available[names])
        if not missing:
            continue
        changes.append('dropped %s: %s%s %s not on this host (online: %s)' % (
            _describe(element, attribute), names, 's' if len(missing) > 1 else '', cpuset.format(missing),
            cpuset.format(available[names]) or 'none'))
        if element.path == ('domain', 'vcpu'):
            stripped.append((element, attribute))
        else:
            dropped.add(element)
    for element in elements:
        if element.path in CONTAINERS and element.children and dropped.issuperset(element.children):
            dropped.difference_update(element.children)
            dropped.add(element)
    if not changes:
        return None, []
    edits = [(_line_start(data, e.start), e.end, b'') for e in dropped]
    edits += [(e.start, e.tag_end, _without_attribute(data[e.start:e.tag_end], a.encode('utf-8'))) for e, a in stripped]
    out = data
    for begin, finish, replacement in sorted(edits, reverse=True):
        out = out[:begin] + replacement + out[finish:]
    _check(data, out, dropped, stripped)
    return (out.decode('utf-8') if isinstance(xml_text, str) else out), changes


def online(sysfs, kind):
    """The online CPUs ('cpu') or NUMA nodes ('node'); a kernel without NUMA has node 0 only, as libvirt assumes."""
    path = os.path.join(sysfs, 'devices', 'system', kind, 'online')
    if kind == 'node' and not os.path.exists(path):
        return frozenset([0])
    with open(path) as handle:
        return cpuset.parse(handle.read())


def log(destination, domain, operation, lines):
    """Append to the log file, or to syslog for 'syslog'; a log that cannot be written never stops the rewrite."""
    try:
        if destination == 'syslog':
            import syslog  # pylint: disable=import-outside-toplevel
            syslog.openlog('intravm-qemu-hook')
            for line in lines:
                syslog.syslog(syslog.LOG_NOTICE, '%s %s: %s' % (domain, operation, line))
            return
        stamp = time.strftime('%Y-%m-%dT%H:%M:%S%z')
        with open(destination, 'a') as handle:
            handle.writelines('%s [%d] %s %s: %s\n' % (stamp, os.getpid(), domain, operation, line) for line in lines)
    except Exception:  # pylint: disable=broad-except
        pass


def main(argv, stdin, stdout):
    """Run as libvirt runs a hook: [--log=PATH|syslog] [--sysfs=ROOT] DOMAIN OPERATION SUBOP EXTRA.

    Prints the rewritten XML or nothing, and always returns 0: a hook that fails
    makes libvirt abort the migration or restore.
    """
    destination, domain, operation = DEFAULT_LOG, '-', '-'
    try:
        options, args = {}, list(argv)
        while args and args[0].startswith('--') and '=' in args[0]:
            key, value = args.pop(0)[2:].split('=', 1)
            options[key] = value
        destination = options.get('log', DEFAULT_LOG)
        domain, operation = (args + ['-', '-'])[:2]
        if operation not in OPERATIONS:
            return 0
        if cpuset is None:
            raise ImportError('cpuset.py is neither in the collection nor beside %s' % os.path.realpath(__file__))
        sysfs = options.get('sysfs', DEFAULT_SYSFS)
        new, changes = rewrite(stdin.read(), online(sysfs, 'cpu'), online(sysfs, 'node'))
        if new:
            log(destination, domain, operation, changes)
            stdout.write(new)
            stdout.flush()
    except Exception as exc:  # pylint: disable=broad-except
        log(destination, domain, operation, ['left unchanged, the hook failed: %s: %s' % (type(exc).__name__, exc)])
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:], sys.stdin.buffer, sys.stdout.buffer))
