# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SR-IOV VF transmit-rate rules, as pure functions.

Rates are in Mbps as netlink's IFLA_VF_RATE carries them; 0 means no limit.
Everything here is checked before any netlink message is sent, so a bad
request changes nothing.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno

from ansible_collections.adaptive.intravm.plugins.module_utils.errors import IntravmError

# IFLA_VF_RATE fields are u32.
RATE_MAX = 2 ** 32 - 1


class VfRateError(IntravmError, ValueError):
    """A requested VF rate that must not be applied."""


def desired_rates(current, min_tx_rate=None, max_tx_rate=None):
    """The (min, max) to send: given values, the missing one from the current state.

    This is what `ip link set ... vf N max_tx_rate X` does too: IFLA_VF_RATE
    always carries both, so the omitted one keeps its present value.
    """
    return (current['min_tx_rate'] if min_tx_rate is None else min_tx_rate,
            current['max_tx_rate'] if max_tx_rate is None else max_tx_rate)


def validate(pf, vf, min_tx_rate, max_tx_rate, num_vfs, link_speed, vfs):
    """Raise VfRateError naming the offending value, or return None.

    num_vfs: VFs enabled on the PF (sysfs sriov_numvfs); link_speed: PF link
    speed in Mbps, or None when unknown (link down), which skips the two
    speed checks; vfs: the PF's VF list as read from netlink (dicts with vf
    and min_tx_rate), used for the sum of guaranteed minimums.
    """
    for name, value in (('min_tx_rate', min_tx_rate), ('max_tx_rate', max_tx_rate)):
        if value < 0 or value > RATE_MAX:
            raise VfRateError('%s=%d Mbps is out of range (0..%d; 0 = no limit)' % (name, value, RATE_MAX))
    if vf < 0 or vf >= num_vfs:
        raise VfRateError('VF index %d is out of range for PF %s: it has %d VF(s) enabled (0..%d)'
                          % (vf, pf, num_vfs, num_vfs - 1) if num_vfs else
                          'VF index %d is out of range for PF %s: it has no VFs enabled (sriov_numvfs is 0)' % (vf, pf))
    if max_tx_rate and min_tx_rate > max_tx_rate:
        raise VfRateError('min_tx_rate=%d Mbps is above max_tx_rate=%d Mbps for VF %d of PF %s'
                          % (min_tx_rate, max_tx_rate, vf, pf))
    if link_speed is None:
        return
    if max_tx_rate > link_speed:
        raise VfRateError('max_tx_rate=%d Mbps is above the link speed of PF %s (%d Mbps)'
                          % (max_tx_rate, pf, link_speed))
    others = sum(v['min_tx_rate'] for v in vfs if v['vf'] != vf)
    if others + min_tx_rate > link_speed:
        raise VfRateError('min_tx_rate=%d Mbps for VF %d would make the guaranteed minimums of PF %s '
                          'sum to %d Mbps, above its link speed of %d Mbps (other VFs hold %d Mbps)'
                          % (min_tx_rate, vf, pf, others + min_tx_rate, link_speed, others))


def refusal_message(code, driver, pf, vf, min_tx_rate, max_tx_rate):
    """Operator text for a NetlinkError the kernel or driver returned."""
    values = 'min_tx_rate=%d max_tx_rate=%d Mbps for VF %d of PF %s' % (min_tx_rate, max_tx_rate, vf, pf)
    if code == errno.EOPNOTSUPP:
        return ('driver %s of PF %s does not support VF rate limits (EOPNOTSUPP: no ndo_set_vf_rate); '
                'refused %s' % (driver, pf, values))
    if code == errno.EINVAL:
        hint = ''
        if driver == 'ixgbe':
            hint = ' (ixgbe accepts only min_tx_rate=0, max_tx_rate 0 or 11..link speed, at 10 Gb/s link speed with the link up)'
        return 'driver %s refused %s (EINVAL)%s' % (driver, values, hint)
    return 'driver %s refused %s: %s' % (driver, values, errno.errorcode.get(code, 'errno %d' % code))
