# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""host_predictor configuration: defaults and validation (stdlib and one stdlib-only helper, so the role can check a file fast).

The model defaults here match training.DEFAULTS (a unit test keeps them equal).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

from ansible_collections.adaptive.intravm.plugins.module_utils.addresses import is_loopback

DEFAULT_CONFIG = {
    'uri': 'qemu:///system',
    'step_s': 300,
    'checkpoint_interval_s': 300,
    'state_dir': '/var/lib/host_predictor',
    'state_file': '/run/host_predictor/forecasts.json',
    'listen': '127.0.0.1:9177',
    # Beyond loopback the endpoint needs TLS and a bearer token or client certificates.
    'tls_cert': None,
    'tls_key': None,
    'tls_client_ca': None,
    'token_file': None,
    'global_model': None,
    'shm_dir': '/dev/shm',
    'ring_prefix': 'intravm',
    'hidden': 48,
    'horizons': [1, 3, 6, 12],
    # Windows, in steps, over which each VM's peak demand is forecast (cpu_peak): what a
    # placement kept until the loop's next run must hold (15 min and 1 h at the default step).
    'windows': [3, 12],
    'chunk': 48,
    'online_lr': 1e-3,
    'gpu': True,
    'log_level': 'INFO',
    # How many recent steps of per-vCPU demand split a VM's forecast over its vCPUs
    # (an hour at the default step); fewer follow a hot vCPU that moves sooner.
    'vcpu_share_steps': 12,
}


# Peaks are resolved, and their baselines' errors of the last day computed, from the
# VM's kept history (two days and two hours of steps): a window is at most a day.
MAX_WINDOW_STEPS = 288
# A configuration is a few hundred bytes; anything much larger is not one.
MAX_CONFIG_BYTES = 1 << 20


class ConfigError(ValueError):
    """A configuration value that cannot work; the message names it."""


def read_file(path):
    """The settings in the JSON file at path: a JSON object, or ConfigError saying what it holds instead."""
    with open(path, 'rb') as handle:
        raw = handle.read(MAX_CONFIG_BYTES + 1)
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError('%s is larger than %d bytes: not a configuration file' % (path, MAX_CONFIG_BYTES))
    try:
        settings = json.loads(raw.decode('utf-8'))
    except RecursionError:
        raise ConfigError('%s is not valid JSON: nested too deeply' % path)
    except ValueError as exc:     # UnicodeDecodeError too
        raise ConfigError('%s is not valid JSON: %s' % (path, exc))
    if not isinstance(settings, dict):
        raise ConfigError('%s must hold a JSON object of settings ({"listen": ..., ...}), not a JSON %s'
                          % (path, _json_type(settings)))
    return settings


def _json_type(value):
    for kind, name in ((bool, 'boolean'), (list, 'list'), (str, 'string'), ((int, float), 'number')):
        if isinstance(value, kind):
            return name
    return 'null' if value is None else type(value).__name__


def load_config(path=None, overrides=None):
    cfg = dict(DEFAULT_CONFIG)
    if path:
        cfg.update(read_file(path))
    cfg.update(overrides or {})
    unknown = sorted(set(cfg) - set(DEFAULT_CONFIG))
    if unknown:
        raise ConfigError('unknown configuration key(s): %s' % ', '.join(unknown))
    for key in ('step_s', 'checkpoint_interval_s', 'hidden', 'chunk'):
        if not isinstance(cfg[key], (int, float)) or isinstance(cfg[key], bool) or cfg[key] <= 0:
            raise ConfigError('%s must be a positive number, got %r' % (key, cfg[key]))
    share = cfg['vcpu_share_steps']
    if not isinstance(share, int) or isinstance(share, bool) or share <= 0:
        raise ConfigError('vcpu_share_steps must be a positive whole number of steps, got %r' % (share,))
    hz = cfg['horizons']
    if not isinstance(hz, list) or not hz or not all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in hz):
        raise ConfigError('horizons must be a non-empty list of positive step counts, got %r' % (hz,))
    cfg['horizons'] = sorted(set(hz))
    cfg['windows'] = _windows(cfg['windows'])
    if parse_listen(cfg['listen']) is None:
        raise ConfigError('listen must be HOST:PORT or unix:/path, got %r' % (cfg['listen'],))
    check_endpoint_security(cfg)
    return cfg


def _windows(ws):
    """Sorted distinct peak windows, each a whole number of steps in [1, MAX_WINDOW_STEPS]."""
    if not isinstance(ws, list) or not ws or not all(
            isinstance(w, int) and not isinstance(w, bool) and 0 < w <= MAX_WINDOW_STEPS for w in ws):
        raise ConfigError('windows must be a non-empty list of step counts in [1, %d], got %r' % (MAX_WINDOW_STEPS, ws))
    return sorted(set(ws))


def check_endpoint_security(cfg):
    """Loopback and unix sockets may be plain; any other address needs TLS plus a token or client certificates."""
    for key in ('tls_cert', 'tls_key', 'tls_client_ca', 'token_file'):
        if cfg[key] is not None and not (isinstance(cfg[key], str) and cfg[key].startswith('/')):
            raise ConfigError('%s must be an absolute path, got %r' % (key, cfg[key]))
    if bool(cfg['tls_cert']) != bool(cfg['tls_key']):
        raise ConfigError('tls_cert and tls_key go together')
    if cfg['tls_client_ca'] and not cfg['tls_cert']:
        raise ConfigError('tls_client_ca needs tls_cert and tls_key (client certificates are checked by TLS)')
    kind, addr = parse_listen(cfg['listen'])
    if kind == 'unix':
        if cfg['tls_cert']:
            raise ConfigError('TLS on a unix socket (%s) protects nothing; use file permissions' % addr)
        return
    if is_loopback(addr[0]):
        return
    if not cfg['tls_cert'] or not (cfg['token_file'] or cfg['tls_client_ca']):
        raise ConfigError('listen %s is reachable beyond this host (by its guests too): set tls_cert and tls_key, and '
                          'token_file or tls_client_ca; or listen on 127.0.0.1' % cfg['listen'])


def parse_listen(text):
    if not isinstance(text, str):
        return None
    if text.startswith('unix:/'):
        return ('unix', text[5:])
    host, sep, port = text.rpartition(':')
    if not sep or not (port.isascii() and port.isdigit()) or not 0 <= int(port) < 65536:
        return None
    return ('tcp', (host.strip('[]') or '127.0.0.1', int(port)))
