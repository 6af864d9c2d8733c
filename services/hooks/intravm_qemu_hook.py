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

Stdlib only, Python 3.8+. The host_predictor role installs it with copies of
the collection's cpuset.py and regular_file.py beside it and an sh wrapper in
/etc/libvirt/hooks/qemu.d/. It never fails the guest's operation: on any error
of its own it prints nothing and exits 0. It never calls libvirt, which waits
for it (a deadlock), and never waits on anything else: the log is appended to
only when it is a regular file (a FIFO's open would block until a reader
came), and the work and memory per domain are bounded by MAX_XML_BYTES and
MAX_DEPTH, linear in the XML's size.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import itertools
import os
import re
import sys
import time
import xml.etree.ElementTree as ET
from xml.parsers import expat

try:
    from ansible_collections.adaptive.intravm.plugins.module_utils.host import cpuset
    from ansible_collections.adaptive.intravm.plugins.module_utils import regular_file
except ImportError:
    sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
    try:
        import cpuset  # noqa: E402  pylint: disable=import-error
    except ImportError:  # main() says so in the log and passes every domain through
        cpuset = None
    try:
        import regular_file  # noqa: E402  pylint: disable=import-error
    except ImportError:  # log() writes to stderr instead of a file it cannot open safely
        regular_file = None

OPERATIONS = ('migrate', 'restore')  # the only ones whose printed XML libvirt uses
DEFAULT_LOG = '/var/log/libvirt/intravm-qemu-hook.log'
DEFAULT_SYSFS = '/sys'
LOG_MODE = 0o644  # what open(..., 'a') under libvirtd's umask 022 gave

# The most the hook reads and parses. Larger or deeper XML is passed through
# unchanged (logged as a failure of the hook), and libvirt could not have
# produced it: a string through its RPC is at most REMOTE_STRING_MAX
# (4194304 bytes, src/remote/remote_protocol.x), and it parses XML with
# libxml2 without XML_PARSE_HUGE, whose depth limit is 256.
MAX_XML_BYTES = 4 << 20
MAX_DEPTH = 256

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
_PATH_DEPTH = max(len(path) for path in PINS)  # a deeper element is neither a pin nor a container: counted, not kept

_ATTRIBUTE = re.compile(br'\s+([^\s=/>]+)\s*=\s*("[^"]*"|\'[^\']*\')')
_TAG_NAME = re.compile(br'<[^\s/>]+')


class _Element(object):
    """A pin or a container as expat saw it, with its byte span in the document.

    index is its position in document order among all elements, parent its
    parent's; a container also counts its children (size) and keeps those
    that are pins (children).
    """

    __slots__ = ('index', 'parent', 'path', 'attrs', 'children', 'size', 'start', 'tag_end', 'end')

    def __init__(self, index, parent, path, attrs, start):
        self.index, self.parent, self.path, self.attrs, self.start = index, parent, path, attrs, start
        self.children = []
        self.size = 0
        self.tag_end = self.end = None


def _refuse_doctype(*_args):
    raise ValueError('a DOCTYPE is not domain XML')


def _scan(data):
    """The pins and containers, in document order (ElementTree's iter() order), with their byte spans.

    An element's start tag ends where expat's next event begins, the element
    where the event after its end begins: that holds whether expat reports an
    empty element's end at the start or the end of `<x/>`. Other elements are
    counted, not kept, and a path is followed only _PATH_DEPTH names deep, so
    memory is linear in the XML's size whatever its depth; XML deeper than
    MAX_DEPTH is refused (ValueError).
    """
    parser = expat.ParserCreate()
    elements, waiting = [], []
    stack = []   # (path, or None below _PATH_DEPTH; index; _Element or None) of each open element
    seen = [0]   # elements started so far: the next one's index

    def mark():
        pos = parser.CurrentByteIndex
        for item in list(waiting):
            element, field = item
            if field == 'end' or pos > element.start:
                setattr(element, field, pos)
                waiting.remove(item)

    def start(name, attrs):
        mark()
        index, seen[0] = seen[0], seen[0] + 1
        if len(stack) >= MAX_DEPTH:
            raise ValueError('XML nested deeper than %d elements is not a domain libvirt wrote' % MAX_DEPTH)
        parent_path, parent_index, parent = stack[-1] if stack else ((), None, None)
        path = parent_path + (name,) if parent_path is not None and len(parent_path) < _PATH_DEPTH else None
        element = None
        if path in PINS or path in CONTAINERS:
            element = _Element(index, parent_index, path, attrs, parser.CurrentByteIndex)
            elements.append(element)
            waiting.append((element, 'tag_end'))
        if parent is not None:
            parent.size += 1
            if element is not None:
                parent.children.append(element)
        stack.append((path, index, element))

    def end(_name):
        mark()
        element = stack.pop()[2]
        if element is not None:
            waiting.append((element, 'end'))

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


def _shape(node):
    """One element as comparable data: tag, attributes, non-blank text and tail, and the number of children.

    items(), not attrib: attrib would give each element of the tree a dict of its own to keep.
    """
    return node.tag, sorted(node.items()), (node.text or '').strip(), (node.tail or '').strip(), len(node)


def _check(data, out, dropped, stripped):
    """The output must be the input's tree less exactly the dropped parts; anything else is our bug.

    One pass over each tree, and each parent's children are rebuilt once: the
    cost is linear in the XML's size however many pins go.
    """
    expected = ET.fromstring(data)
    going = {}   # parent's index -> indexes of its children that go
    for element in dropped:
        going.setdefault(element.parent, set()).add(element.index)
    wanted = set(going).union(*going.values()).union(element.index for element, _attribute in stripped)
    nodes = {}
    for index, node in enumerate(expected.iter()):
        if len(nodes) == len(wanted):
            break
        if index in wanted:
            nodes[index] = node
    for parent_index, indexes in going.items():
        parent, doomed, kept = nodes[parent_index], set(nodes[i] for i in indexes), []
        for child in list(parent):
            if child not in doomed:
                kept.append(child)
            elif kept:
                kept[-1].tail = (kept[-1].tail or '') + (child.tail or '')
            else:
                parent.text = (parent.text or '') + (child.tail or '')
        parent[:] = kept
    for element, attribute in stripped:
        del nodes[element.index].attrib[attribute]
    for mine, theirs in itertools.zip_longest(ET.fromstring(out).iter(), expected.iter()):
        if mine is None or theirs is None or _shape(mine) != _shape(theirs):
            raise ValueError('the rewritten XML differs from the input by more than the dropped pins')


def rewrite(xml_text, host_cpus, host_nodes):
    """(the domain XML without the pins and nodesets this host cannot honour, or None if none; what was dropped).

    A pin naming any CPU (a binding naming any node) the host lacks goes whole:
    the part that remains was planned for another machine, and a vCPU squeezed
    onto it could be worse off than one left free until the next rebalance.
    xml_text is str or bytes; the result is of the same type.
    """
    data = xml_text.encode('utf-8') if isinstance(xml_text, str) else bytes(xml_text)
    if len(data) > MAX_XML_BYTES:
        raise ValueError('domain XML of %d bytes is longer than the %d libvirt passes' % (len(data), MAX_XML_BYTES))
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
        if element.path in CONTAINERS and element.size == len(element.children) > 0 and dropped.issuperset(element.children):
            dropped.difference_update(element.children)
            dropped.add(element)
    if not changes:
        return None, []
    edits = [(_line_start(data, e.start), e.end, b'') for e in dropped]
    edits += [(e.start, e.tag_end, _without_attribute(data[e.start:e.tag_end], a.encode('utf-8'))) for e, a in stripped]
    pieces, pos = [], 0   # the edits never overlap: one join, not a copy of the XML per edit
    for begin, finish, replacement in sorted(edits):
        pieces += [data[pos:begin], replacement]
        pos = finish
    out = b''.join(pieces + [data[pos:]])
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
    """Append to the log file, or to syslog for 'syslog'; a log that cannot be written never stops the rewrite.

    The file is opened with regular_file.open_regular_append: never through a
    link, and a FIFO (whose open would wait for a reader, and libvirt on the
    hook, forever), device or directory at the path is refused unopened. The
    lines then go to stderr, with why.
    """
    if destination == 'syslog':
        try:
            import syslog  # pylint: disable=import-outside-toplevel
            syslog.openlog('intravm-qemu-hook')
            for line in lines:
                syslog.syslog(syslog.LOG_NOTICE, '%s %s: %s' % (domain, operation, line))
        except Exception:  # pylint: disable=broad-except
            pass
        return
    stamp = time.strftime('%Y-%m-%dT%H:%M:%S%z')
    text = ''.join('%s [%d] %s %s: %s\n' % (stamp, os.getpid(), domain, operation, line) for line in lines)
    try:
        if regular_file is None:
            raise ImportError('regular_file.py is neither in the collection nor beside %s' % os.path.realpath(__file__))
        with os.fdopen(regular_file.open_regular_append(destination, LOG_MODE), 'a', encoding='utf-8',
                       errors='backslashreplace') as handle:
            handle.write(text)
    except Exception as exc:  # pylint: disable=broad-except
        try:
            sys.stderr.write('intravm-qemu-hook: not logged to %s (%s: %s):\n%s' % (destination, type(exc).__name__, exc, text))
            sys.stderr.flush()
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
        data = stdin.read(MAX_XML_BYTES + 1)   # never more: rewrite() refuses what is longer
        new, changes = rewrite(data, online(sysfs, 'cpu'), online(sysfs, 'node'))
        if new:
            log(destination, domain, operation, changes)
            stdout.write(new)
            stdout.flush()
    except Exception as exc:  # pylint: disable=broad-except
        log(destination, domain, operation, ['left unchanged, the hook failed: %s: %s' % (type(exc).__name__, exc)])
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:], sys.stdin.buffer, sys.stdout.buffer))
