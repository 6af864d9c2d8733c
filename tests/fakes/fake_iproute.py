# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fake pyroute2 IPRoute whose "kernel" keeps SR-IOV VF state on disk.

Faithful to the kernel's rtnetlink VF interface (include/uapi/linux/if_link.h,
IFLA_VFINFO_LIST / IFLA_VF_RATE) and to the kernel code behind it (net/core/rtnetlink.c do_setvfinfo/rtnl_set_vf_rate,
ixgbe_sriov.c ixgbe_ndo_set_vf_bw/ixgbe_check_vf_rate_limit):

* requests are built by pyroute2's own argument filters (so the caller's
  vf dict is consumed as the real library consumes it), encoded to bytes
  and decoded again, and the fake kernel reads the decoded message;
* replies are real ifinfmsg objects, encoded and decoded by pyroute2, so
  get_attr('IFLA_VFINFO_LIST').get_attrs('IFLA_VF_INFO') etc. behave as
  they do against a kernel;
* VF info is in a reply only with ext_mask & 1 (RTEXT_FILTER_VF);
* no ndo_set_vf_rate (a PF built with set_vf_rate=False, or lo) ->
  NetlinkError(95); max != 0 and max < min -> NetlinkError(22) from the
  core; unknown ifindex -> NetlinkError(19);
* drivers: 'ixgbe' follows ixgbe_ndo_set_vf_bw (VF index, link up, link at
  10000 Mb/s, min must be 0, max 0 or 11..link speed, else EINVAL) and
  silently zeroes every VF's rate when the link speed differs from the one
  rates were set at (when the link comes back up); any other driver name is
  a generic driver whose ndo_set_vf_rate checks only the VF index and stores
  both values, as netdevsim's nsim_set_vf_rate does. Link speed is read from
  the fake sysfs (class/net/PF/speed).
* link('set') returns the request it "sent"; real pyroute2 returns the
  kernel's ACK. Callers here ignore the return value.

Installed into the product's seam (sriov.IPRoute) by intravm_inject, with
ADAPTIVE_INTRAVM_FAKE_SRIOV_WORLD=<world dir from fake_sriov_sysfs>.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import json
import os

from pyroute2.iproute.linux import get_arguments_processor, get_dump_filter
from pyroute2.netlink import NLM_F_ACK, NLM_F_REQUEST
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTM_GETLINK, RTM_NEWLINK
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

WORLD_ENV = 'ADAPTIVE_INTRAVM_FAKE_SRIOV_WORLD'
STATE_FILE = 'netlink.json'
RTEXT_FILTER_VF = 1
RTEXT_FILTER_SKIP_STATS = 1 << 3
INT_MAX = 2 ** 31 - 1
ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772


def _wire(msg):
    """Encode a message and decode a fresh copy, as it crosses the socket."""
    msg.encode()
    copy = ifinfmsg(msg.data)
    copy.decode()
    return copy


def _request(command, kwarg):
    """The RTM_*LINK message pyroute2 0.9 would send for link(command, **kwarg)."""
    _dump_filter, kwarg = get_dump_filter('link', command, kwarg)
    processor = get_arguments_processor('link', command, kwarg)
    msg = ifinfmsg()
    msg['header']['type'] = RTM_NEWLINK if command == 'set' else RTM_GETLINK
    msg['header']['flags'] = NLM_F_REQUEST | (NLM_F_ACK if command == 'set' else 0)
    msg['header']['sequence_number'] = 1
    msg['header']['pid'] = os.getpid()
    msg.reset()
    for field in msg.fields:
        msg[field[0]] = processor.get_value(field[0], default=0, mode='field')
    for key, value in processor.items():
        nla = type(msg).name2nla(key)
        if msg.valid_nla(nla) and value is not None:
            msg['attrs'].append([nla, value])
    if 'attrs' in processor:
        msg['attrs'].extend(processor['attrs'])
    return _wire(msg)


class FakeKernel(object):
    """Link and VF state in the world's netlink.json, with the kernel's rules."""

    def __init__(self, state_path):
        self.state_path = state_path

    def load(self):
        with open(self.state_path) as handle:
            state = json.load(handle)
        if self._ixgbe_watchdog(state):
            self.save(state)
        return state

    def save(self, state):
        tmp = self.state_path + '.tmp'
        with open(tmp, 'w') as handle:
            json.dump(state, handle, indent=1, sort_keys=True)
        os.rename(tmp, self.state_path)

    def link_speed(self, state, link):
        """class/net/PF/speed in the fake sysfs; -1 or unreadable: link down."""
        try:
            with open(os.path.join(state['sysfs_root'], 'class', 'net', link['ifname'], 'speed')) as handle:
                return int(handle.read().strip())
        except (OSError, ValueError):
            return -1

    def _ixgbe_watchdog(self, state):
        """ixgbe_check_vf_rate_limit: a changed link speed zeroes all VF rates, silently."""
        changed = False
        for link in state['links'].values():
            pf = link['pf']
            if not pf or pf['driver'] != 'ixgbe' or not pf['vf_rate_link_speed']:
                continue
            speed = self.link_speed(state, link)
            # Called from the link-up path only: a link that is down changes nothing yet.
            if speed > 0 and speed != pf['vf_rate_link_speed']:
                pf['vf_rate_link_speed'] = 0
                for vf in pf['vfs']:
                    vf['max_tx_rate'] = 0
                changed = True
        return changed

    @staticmethod
    def find(state, index=0, ifname=None):
        for link in state['links'].values():
            if (index and link['index'] == index) or (not index and ifname and link['ifname'] == ifname):
                return link
        raise NetlinkError(errno.ENODEV)

    # ------------------------------------------------------------ replies
    def describe(self, state, link, ext_mask):
        """RTM_NEWLINK reply for one link (rtnl_fill_ifinfo, VF part as rtnl_fill_vf)."""
        msg = ifinfmsg()
        msg['header']['type'] = RTM_NEWLINK
        msg['family'] = 0
        msg['index'] = link['index']
        msg['ifi_type'] = ARPHRD_LOOPBACK if link['ifname'] == 'lo' else ARPHRD_ETHER
        msg['flags'] = 0x1 | 0x40  # IFF_UP | IFF_RUNNING
        msg['change'] = 0
        attrs = [('IFLA_IFNAME', link['ifname']),
                 ('IFLA_ADDRESS', link.get('mac') or '00:00:00:00:00:00'),
                 ('IFLA_MTU', 65536 if link['ifname'] == 'lo' else 1500)]
        pf = link['pf']
        has_parent = link['ifname'] != 'lo'
        if has_parent and ext_mask & RTEXT_FILTER_VF:
            attrs.append(('IFLA_NUM_VF', len(pf['vfs']) if pf else 0))
            if pf and pf['get_vf_config'] and pf['vfs']:
                attrs.append(('IFLA_VFINFO_LIST', {'attrs': [
                    ('IFLA_VF_INFO', {'attrs': self._vf_attrs(pf, vf, ext_mask)}) for vf in pf['vfs']]}))
        msg['attrs'] = attrs
        return _wire(msg)

    @staticmethod
    def _vf_attrs(pf, vf, ext_mask):
        idx = vf['vf']
        min_rate = 0 if pf['driver'] == 'ixgbe' else vf['min_tx_rate']
        attrs = [
            ('IFLA_VF_MAC', {'vf': idx, 'mac': vf['mac']}),
            ('IFLA_VF_VLAN', {'vf': idx, 'vlan': 0, 'qos': 0}),
            ('IFLA_VF_TX_RATE', {'vf': idx, 'tx_rate': vf['max_tx_rate']}),
            ('IFLA_VF_RATE', {'vf': idx, 'min_tx_rate': min_rate, 'max_tx_rate': vf['max_tx_rate']}),
            ('IFLA_VF_SPOOFCHK', {'vf': idx, 'spoofchk': 1}),
            ('IFLA_VF_LINK_STATE', {'vf': idx, 'link_state': 0}),
            ('IFLA_VF_RSS_QUERY_EN', {'vf': idx, 'rss_query_en': 0}),
            ('IFLA_VF_TRUST', {'vf': idx, 'trust': 0}),
        ]
        if not ext_mask & RTEXT_FILTER_SKIP_STATS:
            attrs.append(('IFLA_VF_STATS', {'attrs': [
                ('IFLA_VF_STATS_RX_PACKETS', vf['rx_packets']),
                ('IFLA_VF_STATS_TX_PACKETS', vf['tx_packets']),
                ('IFLA_VF_STATS_RX_BYTES', vf['rx_bytes']),
                ('IFLA_VF_STATS_TX_BYTES', vf['tx_bytes']),
                ('IFLA_VF_STATS_BROADCAST', 0),
                ('IFLA_VF_STATS_MULTICAST', 0),
                ('IFLA_VF_STATS_RX_DROPPED', 0),
                ('IFLA_VF_STATS_TX_DROPPED', 0),
            ]}))
        return attrs

    # ------------------------------------------------------------ setlink
    def setlink(self, request):
        """do_setlink for the VF attributes; other attributes are not modelled."""
        state = self.load()
        link = self.find(state, request['index'], request.get_attr('IFLA_IFNAME'))
        for name, _value in request['attrs']:
            if name not in ('IFLA_VFINFO_LIST', 'IFLA_IFNAME'):
                raise NotImplementedError('fake kernel does not model %s' % name)
        vflist = request.get_attr('IFLA_VFINFO_LIST')
        try:
            for name, info in (vflist['attrs'] if vflist is not None else []):
                if name != 'IFLA_VF_INFO':
                    raise NetlinkError(errno.EINVAL)
                self._setvfinfo(state, link, info)
        finally:
            # VF infos before a failing one stay applied, as in the kernel.
            self.save(state)

    def _setvfinfo(self, state, link, info):
        """do_setvfinfo, rate parts only, in the kernel's order (TX_RATE before RATE)."""
        for name, _value in info['attrs']:
            if name not in ('IFLA_VF_TX_RATE', 'IFLA_VF_RATE'):
                raise NotImplementedError('fake kernel does not model %s' % name)
        pf = link['pf']
        legacy = info.get_attr('IFLA_VF_TX_RATE')
        if legacy is not None:
            if legacy['vf'] >= INT_MAX:
                raise NetlinkError(errno.EINVAL)
            if not pf or not pf['get_vf_config']:
                raise NetlinkError(errno.EOPNOTSUPP)
            if legacy['vf'] >= len(pf['vfs']):
                raise NetlinkError(errno.EINVAL)
            current_min = 0 if pf['driver'] == 'ixgbe' else pf['vfs'][legacy['vf']]['min_tx_rate']
            self._set_vf_rate(state, link, legacy['vf'], current_min, legacy['tx_rate'])
        rate = info.get_attr('IFLA_VF_RATE')
        if rate is not None:
            if rate['vf'] >= INT_MAX:
                raise NetlinkError(errno.EINVAL)
            self._set_vf_rate(state, link, rate['vf'], rate['min_tx_rate'], rate['max_tx_rate'])

    def _set_vf_rate(self, state, link, vf, min_rate, max_rate):
        """rtnl_set_vf_rate, then the driver's ndo_set_vf_rate."""
        pf = link['pf']
        if not pf or not pf['set_vf_rate']:
            raise NetlinkError(errno.EOPNOTSUPP)
        if max_rate and max_rate < min_rate:
            raise NetlinkError(errno.EINVAL)
        if pf['driver'] == 'ixgbe':
            self._ixgbe_set_vf_bw(state, link, vf, min_rate, max_rate)
            return
        if vf >= len(pf['vfs']):
            raise NetlinkError(errno.EINVAL)
        pf['vfs'][vf]['min_tx_rate'] = min_rate
        pf['vfs'][vf]['max_tx_rate'] = max_rate

    def _ixgbe_set_vf_bw(self, state, link, vf, min_rate, max_rate):
        pf = link['pf']
        if vf >= len(pf['vfs']):
            raise NetlinkError(errno.EINVAL)
        speed = self.link_speed(state, link)
        if speed <= 0:  # link down
            raise NetlinkError(errno.EINVAL)
        if speed != 10000:
            raise NetlinkError(errno.EINVAL)
        if min_rate:
            raise NetlinkError(errno.EINVAL)
        if max_rate and (max_rate <= 10 or max_rate > speed):
            raise NetlinkError(errno.EINVAL)
        pf['vf_rate_link_speed'] = speed
        pf['vfs'][vf]['min_tx_rate'] = 0
        pf['vfs'][vf]['max_tx_rate'] = max_rate


class FakeIPRoute(object):
    """The part of pyroute2.IPRoute's sync API the collection uses, against FakeKernel."""

    state_path = None  # set by factory(); tests may pass state_path=

    def __init__(self, *_args, **kwargs):
        path = kwargs.pop('state_path', None) or self.state_path
        if not path:
            world = os.environ.get(WORLD_ENV)
            if not world:
                raise RuntimeError('fake IPRoute: set %s to a fake SR-IOV world directory' % WORLD_ENV)
            path = os.path.join(world, STATE_FILE)
        self.kernel = FakeKernel(path)
        self.closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.closed = True

    def _check_open(self):
        if self.closed:
            raise OSError(errno.EBADF, 'Bad file descriptor')

    def link(self, command, **kwarg):
        """link('get'|'set'|'dump', ...) as pyroute2 0.9 sends it."""
        self._check_open()
        if command == 'dump':
            ext_mask = kwarg.get('ext_mask', 0)
            state = self.kernel.load()
            return tuple(self.kernel.describe(state, link, ext_mask)
                         for link in sorted(state['links'].values(), key=lambda lk: lk['index']))
        if command not in ('get', 'set'):
            raise NotImplementedError('fake IPRoute does not model link(%r)' % command)
        request = _request(command, kwarg)
        if command == 'set':
            self.kernel.setlink(request)
            return [request]  # the ACK'ed request; callers ignore it
        state = self.kernel.load()
        link = self.kernel.find(state, request['index'], request.get_attr('IFLA_IFNAME'))
        return [self.kernel.describe(state, link, request.get_attr('IFLA_EXT_MASK') or 0)]

    def get_links(self, *_argv, **kwarg):
        return self.link('dump', **kwarg)

    def link_lookup(self, match=None, **kwarg):
        """[index] for ifname= or index= (pyroute2 answers [] on ENODEV)."""
        self._check_open()
        if match is not None or not kwarg or not set(kwarg) <= {'index', 'ifname'}:
            raise NotImplementedError('fake IPRoute models link_lookup(ifname=...|index=...) only')
        try:
            return [msg['index'] for msg in self.link('get', **kwarg)]
        except NetlinkError:
            return []


def factory():
    """The IPRoute class for the world ADAPTIVE_INTRAVM_FAKE_SRIOV_WORLD names (intravm_inject installs it)."""
    world = os.environ.get(WORLD_ENV)
    if not world:
        raise RuntimeError('fake IPRoute: set %s to a fake SR-IOV world directory' % WORLD_ENV)
    return type('IPRoute', (FakeIPRoute,), {'state_path': os.path.join(world, STATE_FILE)})
