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

import errno
import hmac
import http.server
import io
import logging
import os
import socket
import socketserver
import ssl
import stat
import threading
import time

from ansible_collections.adaptive.intravm.plugins.module_utils.regular_file import NotRegularFile, open_regular
from ansible_collections.adaptive.intravm.services.predictor.config import ConfigError, parse_listen

LOG = logging.getLogger('host_predictor')
# The most a request may take, from its connection to its last header (TLS handshake included):
# a client that stalls, or sends a byte at a time, frees its thread by then. Its response
# gets as long again.
REQUEST_TIMEOUT_S = 10
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
    kind, addr = parse_listen(cfg['listen'])
    if kind == 'unix':
        check_unix_path(addr)
    token = load_token(cfg['token_file']) if cfg.get('token_file') else None
    ctx = tls_context(cfg['tls_cert'], cfg['tls_key'], cfg.get('tls_client_ca')) if cfg.get('tls_cert') else None
    return token, ctx


class DeadlineReader(io.RawIOBase):
    """A connection's reads, each allowed only what is left until deadline (time.monotonic()).

    A socket timeout bounds one read: a client that sends a byte just before
    each read times out could hold its thread for ever. Under this reader the
    request's timeout bounds the whole request (its line, headers and body).
    """

    def __init__(self, sock, deadline):
        super(DeadlineReader, self).__init__()
        self.sock = sock
        self.deadline = deadline

    def readable(self):
        return True

    def readinto(self, buf):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout('the request was not read within its timeout')
        self.sock.settimeout(left)
        return self.sock.recv_into(buf)


def check_unix_path(path):
    """ConfigError unless nothing is at path yet or a socket is (one an earlier run left); returns lstat's result or None.

    The daemon removes a socket it finds there before it binds; anything else
    (a regular file, a link, a directory) is not its to remove.
    """
    try:
        info = os.lstat(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise ConfigError('listen unix:%s: cannot look at that path: %s' % (path, exc.strerror))
    if not stat.S_ISSOCK(info.st_mode):
        raise ConfigError('listen unix:%s: %s is there, not a socket; the daemon removes only a socket an earlier '
                          'run left, so move it away or listen elsewhere' % (path, _kind(info.st_mode)))
    return info


def _kind(mode):
    for test, name in ((stat.S_ISREG, 'a regular file'), (stat.S_ISLNK, 'a symbolic link'),
                       (stat.S_ISDIR, 'a directory'), (stat.S_ISFIFO, 'a FIFO')):
        if test(mode):
            return name
    return 'something (mode %o)' % mode


def clear_stale_socket(path):
    """Remove the socket an earlier run left at path; ConfigError for anything else, or a socket still served."""
    if check_unix_path(path) is None:
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
    except OSError as exc:
        if exc.errno != errno.ECONNREFUSED:
            raise ConfigError('listen unix:%s: cannot tell whether the socket there is still served: %s'
                              % (path, exc.strerror or exc))
    else:
        raise ConfigError('listen unix:%s: another process is serving that socket (a predictor already running?)' % path)
    finally:
        probe.close()
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise ConfigError('listen unix:%s: cannot remove the stale socket: %s' % (path, exc.strerror))


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
        # HTTP/1.0 (the default): one request per connection, so the connection's deadline is the request's.
        timeout = REQUEST_TIMEOUT_S

        def setup(self):
            deadline = time.monotonic() + self.timeout
            super(Handler, self).setup()
            if ctx is not None:
                self.request.do_handshake()     # here, in the request's thread; bounded as a whole by the timeout
            self.rfile.close()
            self.rfile = io.BufferedReader(DeadlineReader(self.connection, deadline))

        def parse_request(self):
            parsed = super(Handler, self).parse_request()
            self.connection.settimeout(self.timeout)    # the request is read: the response gets its own time
            return parsed

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
        request_queue_size = 128     # a burst of clients is accepted, not left to retry its SYN a second later

        def handle_error(self, request, client_address):
            LOG.debug('http: request from %s failed', client_address, exc_info=True)

    kind, addr = parse_listen(cfg['listen'])
    if kind == 'unix':
        clear_stale_socket(addr)

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
