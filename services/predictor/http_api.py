# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The predictor's HTTP endpoint: /forecasts, /metrics and /healthz.

Loopback (or a unix socket) by default. Forecasts tell whoever reads them which
VM is busy when, and the guests on this host can reach its addresses: an
endpoint on any other address must be served over TLS and ask for a bearer
token (`token_file`) or a client certificate (`tls_client_ca`), or the daemon
refuses to start (config.load_config says why).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hmac
import http.server
import logging
import os
import socketserver
import ssl
import threading

from ansible_collections.adaptive.intravm.plugins.module_utils.regular_file import NotRegularFile, open_regular
from ansible_collections.adaptive.intravm.services.predictor.config import ConfigError, parse_listen

LOG = logging.getLogger('host_predictor')
REQUEST_TIMEOUT_S = 10      # a client that stalls (or never finishes its TLS handshake) frees its thread
MAX_TOKEN_BYTES = 4096


def load_token(path):
    """The bearer token in `path` (surrounding whitespace dropped); ConfigError when it is unsafe or empty.

    The file must be a regular file that others cannot read: a token anyone on
    the host can read protects nothing.
    """
    try:
        fd, info = open_regular(path)
    except NotRegularFile:
        raise ConfigError('token_file %s is not a regular file' % path)
    except OSError as exc:
        raise ConfigError('token_file %s cannot be opened: %s' % (path, exc.strerror))
    with os.fdopen(fd, 'rb') as handle:
        if info.st_mode & 0o007:
            raise ConfigError('token_file %s is readable by others (mode %04o); chmod o-rwx it'
                              % (path, info.st_mode & 0o777))
        token = handle.read(MAX_TOKEN_BYTES + 1).strip()
    if len(token) < 16 or len(token) > MAX_TOKEN_BYTES:
        raise ConfigError('token_file %s must hold a token of 16 to %d bytes' % (path, MAX_TOKEN_BYTES))
    return token


def tls_context(cert, key, client_ca=None):
    """A server context (TLS 1.2+) from PEM files; with client_ca, clients must show a certificate it signed."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
        if client_ca:
            ctx.load_verify_locations(cafile=client_ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError('TLS files (tls_cert %s, tls_key %s, tls_client_ca %s) cannot be used: %s'
                          % (cert, key, client_ca, exc))
    return ctx


def check_files(cfg):
    """Load what the endpoint's config names (so check-config fails on a bad file, not the service start)."""
    token = load_token(cfg['token_file']) if cfg.get('token_file') else None
    ctx = tls_context(cfg['tls_cert'], cfg['tls_key'], cfg.get('tls_client_ca')) if cfg.get('tls_cert') else None
    return token, ctx


def authorized(header, token):
    """True when no token is asked for, or the Authorization header carries it (compared in constant time)."""
    if token is None:
        return True
    scheme, _sep, given = (header or '').strip().partition(' ')
    return scheme.lower() == 'bearer' and hmac.compare_digest(given.strip().encode('utf-8', 'replace'), token)


def serve(predictor, cfg):
    """Start the endpoint in a background thread; returns the server (shutdown() stops it)."""
    token, ctx = check_files(cfg)

    class Handler(http.server.BaseHTTPRequestHandler):
        timeout = REQUEST_TIMEOUT_S

        def setup(self):
            super(Handler, self).setup()
            if ctx is not None:
                self.request.do_handshake()     # here, in the request's thread, not in the accept loop

        def do_GET(self):  # pylint: disable=invalid-name
            if not authorized(self.headers.get('Authorization'), token):
                self.send_response(401)
                self.send_header('WWW-Authenticate', 'Bearer realm="host_predictor"')
                self.send_header('Content-Length', '0')
                self.end_headers()
                return
            path = self.path.split('?')[0]
            status = 200
            if path in ('/', '/forecasts'):
                with predictor.lock:
                    body, ctype = predictor.doc_bytes, 'application/json'
            elif path == '/metrics':
                body, ctype = predictor.metrics.exposition(), 'text/plain; version=0.0.4'
            elif path == '/healthz':
                health = predictor.health()
                body, ctype = (health + '\n').encode(), 'text/plain'
                status = 200 if health == 'ok' else 503
            else:
                self.send_error(404, 'unknown path %s' % path)
                return
            self.send_response(status)
            self.send_header('Content-Type', ctype)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):  # pylint: disable=arguments-differ
            LOG.debug('http: ' + fmt, *args)

    class Quiet(object):
        daemon_threads = True

        def handle_error(self, request, client_address):
            LOG.debug('http: request from %s failed', client_address, exc_info=True)

    kind, addr = parse_listen(cfg['listen'])
    if kind == 'unix':
        if os.path.exists(addr):
            os.unlink(addr)

        class UnixHTTP(Quiet, socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            def get_request(self):
                conn, _addr = super(UnixHTTP, self).get_request()
                return conn, ('unix', 0)

        server = UnixHTTP(addr, Handler)
    else:
        class TcpHTTP(Quiet, http.server.ThreadingHTTPServer):
            allow_reuse_address = True

        server = TcpHTTP(addr, Handler)
        if ctx is not None:
            server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=server.serve_forever, name='http', daemon=True).start()
    return server
