# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The predictor's endpoint beyond loopback: TLS and a token (or client certificates), checked by real clients.

Certificates are made here (cryptography, which ansible-core already needs);
the clients are the ones the product uses: ansible's open_url in
allocation_plan, urllib in the event source.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import asyncio
import datetime
import ipaddress
import json
import os
import ssl
import threading
import time
import urllib.error
import urllib.request

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.adaptive.intravm.extensions.eda.plugins.event_source import forecasts as source
from ansible_collections.adaptive.intravm.plugins.module_utils.plan import forecast_doc
from ansible_collections.adaptive.intravm.plugins.modules import allocation_plan
from ansible_collections.adaptive.intravm.services.predictor import config, http_api
from forecast_endpoint import Endpoint

TOKEN = 'k3y-0f-the-fleet-controller-0123456789'
DOC = {'version': 2, 'generated_at': 1.0, 'host': 'hv1', 'host_cpus': 4, 'step_s': 300,
       'vms': {'web01': {'vcpus': 4, 'horizons_s': [300], 'cpu': {'p50': [0.9], 'p90': [1.0]}}}}


def _cert(subject, issuer_name, issuer_key, key, ca=False, sans=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path, cert=None, key=None):
    with open(str(path), 'wb') as out:
        if cert is not None:
            out.write(cert.public_bytes(serialization.Encoding.PEM))
        if key is not None:
            out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
    return str(path)


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1/localhost, a client certificate, and a CA nobody trusts."""
    root = tmp_path_factory.mktemp('pki')
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert('intravm test CA', 'intravm test CA', ca_key, ca_key, ca=True)
    srv_key = ec.generate_private_key(ec.SECP256R1())
    srv = _cert('hv1', 'intravm test CA', ca_key, srv_key,
                sans=[x509.IPAddress(ipaddress.ip_address('127.0.0.1')), x509.DNSName('localhost')])
    cli_key = ec.generate_private_key(ec.SECP256R1())
    cli = _cert('controller', 'intravm test CA', ca_key, cli_key)
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = _cert('someone else', 'someone else', other_key, other_key, ca=True)
    token = root / 'token'
    token.write_text(TOKEN + '\n')
    os.chmod(str(token), 0o600)
    return {
        'ca': _write(root / 'ca.pem', ca), 'cert': _write(root / 'srv.pem', srv), 'key': _write(root / 'srv.key', key=srv_key),
        'client_cert': _write(root / 'cli.pem', cli), 'client_key': _write(root / 'cli.key', key=cli_key),
        'other_ca': _write(root / 'other.pem', other), 'token': str(token),
    }


class FakePredictor(object):
    """What http_api.serve reads of the daemon."""

    def __init__(self):
        self.lock = threading.Lock()
        self.doc_bytes = json.dumps(DOC).encode()
        self.metrics = self

    def exposition(self):
        return b'intravm_tracked_vms 1.0\n'

    def health(self):
        return 'ok'


@pytest.fixture
def endpoint(pki):
    servers = []

    def start(**cfg):
        cfg = config.load_config(overrides=dict({'listen': '127.0.0.1:0'}, **cfg))
        server = http_api.serve(FakePredictor(), cfg)
        servers.append(server)
        return 'https://127.0.0.1:%d' % server.server_address[1] if cfg['tls_cert'] else \
            'http://127.0.0.1:%d' % server.server_address[1]
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _get(url, token=None, cafile=None, cert=None):
    ctx = ssl.create_default_context(cafile=cafile) if url.startswith('https') else None
    if cert:
        ctx.load_cert_chain(*cert)
    req = urllib.request.Request(url, headers={'Authorization': 'Bearer %s' % token} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10, context=ctx) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


# --- configuration: what may listen where ------------------------------------------------------------

@pytest.mark.parametrize('listen', ['0.0.0.0:9177', '192.0.2.10:9177', '[::]:9177', 'hv1.example:9177'])
def test_beyond_loopback_without_tls_and_token_is_refused(listen, pki):
    with pytest.raises(config.ConfigError, match='reachable beyond this host'):
        config.load_config(overrides={'listen': listen})
    with pytest.raises(config.ConfigError, match='reachable beyond this host'):     # TLS alone lets anyone read
        config.load_config(overrides={'listen': listen, 'tls_cert': pki['cert'], 'tls_key': pki['key']})
    with pytest.raises(config.ConfigError, match='reachable beyond this host'):     # a token in clear text
        config.load_config(overrides={'listen': listen, 'token_file': pki['token']})
    config.load_config(overrides={'listen': listen, 'tls_cert': pki['cert'], 'tls_key': pki['key'], 'token_file': pki['token']})
    config.load_config(overrides={'listen': listen, 'tls_cert': pki['cert'], 'tls_key': pki['key'], 'tls_client_ca': pki['ca']})


@pytest.mark.parametrize('listen', ['127.0.0.1:9177', '[::1]:9177', 'localhost:9177', ':9177', 'unix:/run/hp.sock'])
def test_loopback_and_unix_sockets_stay_plain_by_default(listen):
    assert config.load_config(overrides={'listen': listen})['tls_cert'] is None


@pytest.mark.parametrize('overrides, message', [
    ({'tls_cert': '/etc/hp/c.pem'}, 'go together'),
    ({'tls_client_ca': '/etc/hp/ca.pem'}, 'needs tls_cert'),
    ({'token_file': 'token'}, 'absolute path'),
    ({'listen': 'unix:/run/hp.sock', 'tls_cert': '/c', 'tls_key': '/k'}, 'unix socket'),
])
def test_inconsistent_tls_settings_are_refused(overrides, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load_config(overrides=overrides)


def test_token_file_others_can_read_or_too_short_is_refused(tmp_path):
    loose = tmp_path / 'loose'
    loose.write_text(TOKEN)
    os.chmod(str(loose), 0o644)
    with pytest.raises(config.ConfigError, match='readable by others'):
        http_api.load_token(str(loose))
    short = tmp_path / 'short'
    short.write_text('abc')
    os.chmod(str(short), 0o600)
    with pytest.raises(config.ConfigError, match='16 to'):
        http_api.load_token(str(short))
    os.symlink(str(short), str(tmp_path / 'link'))
    with pytest.raises(config.ConfigError, match='cannot be opened'):
        http_api.load_token(str(tmp_path / 'link'))


def test_check_config_loads_the_files_it_names(tmp_path, pki):
    from ansible_collections.adaptive.intravm.services.predictor import __main__ as cli
    cfg = tmp_path / 'config.json'
    cfg.write_text(json.dumps({'listen': '0.0.0.0:9177', 'tls_cert': pki['cert'], 'tls_key': pki['ca'],
                               'token_file': pki['token']}))
    assert cli.main(['check-config', '--config', str(cfg)]) == 2      # the CA file holds no key for the cert
    cfg.write_text(json.dumps({'listen': '0.0.0.0:9177', 'tls_cert': pki['cert'], 'tls_key': pki['key'],
                               'token_file': pki['token']}))
    assert cli.main(['check-config', '--config', str(cfg)]) == 0


# --- the real endpoint --------------------------------------------------------------------------------

def test_tls_endpoint_answers_only_with_the_token(endpoint, pki):
    base = endpoint(tls_cert=pki['cert'], tls_key=pki['key'], token_file=pki['token'])
    assert _get(base + '/forecasts', cafile=pki['ca'])[0] == 401
    assert _get(base + '/forecasts', token='x' * len(TOKEN), cafile=pki['ca'])[0] == 401
    assert _get(base + '/metrics', token=TOKEN[:-1], cafile=pki['ca'])[0] == 401
    status, body = _get(base + '/forecasts', token=TOKEN, cafile=pki['ca'])
    assert status == 200 and json.loads(body.decode()) == DOC
    assert _get(base + '/healthz', token=TOKEN, cafile=pki['ca']) == (200, b'ok\n')
    with pytest.raises(urllib.error.URLError, match='CERTIFICATE_VERIFY_FAILED'):
        _get(base + '/forecasts', token=TOKEN, cafile=pki['other_ca'])      # an impostor's CA is not ours
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        _get(base.replace('https', 'http') + '/forecasts', token=TOKEN)    # no plain text on the TLS port
    assert _get(base + '/forecasts', token=TOKEN, cafile=pki['ca'])[0] == 200    # and it still serves after that


def test_client_certificates_replace_the_token(endpoint, pki):
    base = endpoint(tls_cert=pki['cert'], tls_key=pki['key'], tls_client_ca=pki['ca'])
    with pytest.raises((urllib.error.URLError, ConnectionError, ssl.SSLError)):
        _get(base + '/forecasts', cafile=pki['ca'])
    status, _body = _get(base + '/forecasts', cafile=pki['ca'], cert=(pki['client_cert'], pki['client_key']))
    assert status == 200


def test_a_stalled_handshake_does_not_block_other_clients(endpoint, pki):
    import socket
    base = endpoint(tls_cert=pki['cert'], tls_key=pki['key'], token_file=pki['token'])
    port = int(base.rsplit(':', 1)[1])
    stalled = socket.create_connection(('127.0.0.1', port))     # connects, never says hello
    try:
        assert _get(base + '/healthz', token=TOKEN, cafile=pki['ca'])[0] == 200
    finally:
        stalled.close()


# --- the clients: allocation_plan (ansible's open_url) and the event source (urllib) ------------------

def _plan_params(url, **extra):
    params = {'forecasts_path': None, 'forecasts_url': url, 'forecasts': None, 'timeout': 5, 'forecasts_token': None,
              'forecasts_ca_path': None, 'forecasts_client_cert': None, 'forecasts_client_key': None}
    params.update(extra)
    return params


def test_allocation_plan_reads_a_protected_endpoint(endpoint, pki):
    base = endpoint(tls_cert=pki['cert'], tls_key=pki['key'], token_file=pki['token'])
    url = base + '/forecasts'
    assert allocation_plan.load_forecasts(_plan_params(url, forecasts_token=TOKEN, forecasts_ca_path=pki['ca'])) == DOC
    with pytest.raises(forecast_doc.ForecastDocError, match='401'):
        allocation_plan.load_forecasts(_plan_params(url, forecasts_ca_path=pki['ca']))
    with pytest.raises(forecast_doc.ForecastDocError, match='CERTIFICATE_VERIFY_FAILED|certificate verify failed'):
        allocation_plan.load_forecasts(_plan_params(url, forecasts_token=TOKEN))    # system CAs do not know ours


def test_a_token_is_never_sent_in_clear_beyond_loopback():
    for url in ('http://192.0.2.10:9177/forecasts', 'http://hv1.example:9177/forecasts'):
        with pytest.raises(forecast_doc.ForecastDocError, match='https only'):
            allocation_plan.load_forecasts(_plan_params(url, forecasts_token=TOKEN))
        with pytest.raises(forecast_doc.ForecastDocError, match='https only'):
            source.endpoints_of({'url': url, 'token': TOKEN})
    assert forecast_doc.check_token_url('http://127.0.0.1:9177/f') and forecast_doc.check_token_url('https://hv1/f')


def test_a_redirect_does_not_carry_the_token_elsewhere():
    elsewhere = Endpoint(DOC)

    def redirect(handler):
        handler.send_response(302)
        handler.send_header('Location', elsewhere.url)
        handler.send_header('Content-Length', '0')
        handler.end_headers()
    first = Endpoint(answer=redirect)
    try:
        with pytest.raises(forecast_doc.ForecastDocError):
            allocation_plan.load_forecasts(_plan_params(first.url, forecasts_token=TOKEN))
        assert source.read_state(first.url, opener=source.make_opener(token=TOKEN)) is None
        assert first.seen == ['Bearer %s' % TOKEN] * 2 and elsewhere.seen == []
        assert allocation_plan.load_forecasts(_plan_params(first.url)) == DOC    # without a token, redirects are followed
    finally:
        first.close()
        elsewhere.close()


def test_event_source_reads_a_protected_endpoint(endpoint, pki):
    base = endpoint(tls_cert=pki['cert'], tls_key=pki['key'], token_file=pki['token'])
    opener = source.make_opener(token=TOKEN, ca_path=pki['ca'])
    assert source.read_state(base + '/forecasts', opener=opener) == DOC
    assert source.read_state(base + '/forecasts', opener=source.make_opener(ca_path=pki['ca'])) is None   # 401


def test_one_activation_follows_a_fleet_each_endpoint_debounced_on_its_own():
    hot = dict(DOC)
    cool = dict(DOC, vms={'web01': {'vcpus': 4, 'horizons_s': [300], 'cpu': {'p50': [0.1], 'p90': [0.2]}}})
    servers = [Endpoint(lambda d=(hot if i % 3 == 0 else cool): dict(d, generated_at=time.time())) for i in range(12)]
    events = []

    class Queue(object):
        async def put(self, event):
            events.append(event['intravm'])
    try:
        args = {'endpoints': [{'host': 'hv%02d' % i, 'url': s.url} for i, s in enumerate(servers)],
                'interval': 0.05, 'debounce': 2, 'max_events': 4}
        asyncio.run(asyncio.wait_for(source.main(Queue(), args), 30))
    finally:
        for server in servers:
            server.close()
    # Every third host is hot (4 of 12); each raises once, named by its inventory host, after two polls.
    assert sorted(e['host'] for e in events) == ['hv00', 'hv03', 'hv06', 'hv09']
    assert {e['type'] for e in events} == {'hotspot_predicted'}
    assert all(len(s.seen) >= 2 for s in servers)


# --- the configuration file: only a JSON object of settings -------------------------------------------

@pytest.mark.parametrize('command', ['check-config', 'run'])
@pytest.mark.parametrize('content, says', [
    ('[1, 2]', 'not a JSON list'),
    ('[["listen", "0.0.0.0:1"]]', 'not a JSON list'),
    ('"listen"', 'not a JSON string'),
    ('5', 'not a JSON number'),
    ('null', 'not a JSON null'),
    ('true', 'not a JSON boolean'),
    ('[' * 100000, 'nested too deeply'),
    (b'\xff\xfe{}', 'not valid JSON'),
], ids=['list', 'list of pairs', 'string', 'number', 'null', 'boolean', 'deep nesting', 'not UTF-8'])
def test_a_config_file_that_is_not_an_object_is_refused_without_a_traceback(tmp_path, capsys, command, content, says):
    from ansible_collections.adaptive.intravm.services.predictor import __main__ as cli
    path = tmp_path / 'config.json'
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert cli.main([command, '--config', str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith('host_predictor: %s ' % path) and says in err and 'Traceback' not in err, err


# --- listen: unix:PATH removes only a stale socket -----------------------------------------------------

@pytest.fixture
def short_dir():
    """A directory with a path short enough for a unix socket (tmp_path can pass the 108-byte limit)."""
    import shutil
    import tempfile
    folder = tempfile.mkdtemp(prefix='hp', dir='/tmp')
    yield folder
    shutil.rmtree(folder)


def _unix_get(path, what='/healthz'):
    import socket
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(5)
    try:
        conn.connect(path)
        conn.sendall(('GET %s HTTP/1.0\r\n\r\n' % what).encode())
        reply = b''
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                return reply
            reply += chunk
    finally:
        conn.close()


@pytest.mark.parametrize('plant', ['regular file', 'link to a regular file', 'directory', 'fifo'])
def test_listen_on_a_unix_path_never_removes_what_is_not_a_socket(short_dir, plant, capsys):
    from ansible_collections.adaptive.intravm.services.predictor import __main__ as cli
    path = os.path.join(short_dir, 'hp.sock')
    victim = os.path.join(short_dir, 'victim')
    with open(victim, 'w') as out:
        out.write('precious\n')
    if plant == 'regular file':
        os.rename(victim, path)
    elif plant == 'link to a regular file':
        os.symlink(victim, path)
    elif plant == 'directory':
        os.mkdir(path)
    else:
        os.mkfifo(path)
    before = os.lstat(path)
    cfg = config.load_config(overrides={'listen': 'unix:' + path})
    with pytest.raises(config.ConfigError, match='is there, not a socket'):
        http_api.serve(FakePredictor(), cfg)
    cfg_file = os.path.join(short_dir, 'config.json')
    with open(cfg_file, 'w') as out:
        json.dump({'listen': 'unix:' + path}, out)
    assert cli.main(['check-config', '--config', cfg_file]) == 2
    assert 'not a socket' in capsys.readouterr().err
    after = os.lstat(path)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode), 'what was there is still there'
    if plant in ('regular file', 'link to a regular file'):
        with open(path) as handle:
            assert handle.read() == 'precious\n'


def test_listen_on_a_unix_path_replaces_a_stale_socket_but_not_a_served_one(short_dir):
    import socket
    path = os.path.join(short_dir, 'hp.sock')
    left = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    left.bind(path)
    left.close()                                    # an earlier run died: its socket file stays
    cfg = config.load_config(overrides={'listen': 'unix:' + path})
    server = http_api.serve(FakePredictor(), cfg)
    try:
        assert _unix_get(path).startswith(b'HTTP/1.0 200') and _unix_get(path).endswith(b'ok\n')
        with pytest.raises(config.ConfigError, match='another process is serving'):
            http_api.serve(FakePredictor(), cfg)     # a second daemon does not steal the first one's socket
        assert _unix_get(path).startswith(b'HTTP/1.0 200')
    finally:
        server.shutdown()
        server.server_close()


# --- the request timeout bounds the whole request, not each read ---------------------------------------

def _drip(port, clients, period_s, for_s):
    """Open `clients` connections that each send a request a byte at a time; seconds from each one's
    connection until the server cut it (None: never, within for_s)."""
    import select
    import socket
    request = b'GET /healthz HTTP/1.0\r\nX-Slow: ' + b'a' * 10000
    socks, since, sent, cut = [], {}, {}, {}
    while len(socks) < clients:
        sock = socket.create_connection(('127.0.0.1', port))
        since[sock], sent[sock], cut[sock] = time.monotonic(), 1, None
        sock.send(request[:1])
        socks.append(sock)
    start = time.monotonic()
    try:
        while time.monotonic() - start < for_s and any(v is None for v in cut.values()):
            time.sleep(period_s)
            live = [s for s in socks if cut[s] is None]
            readable = select.select(live, [], [], 0)[0]
            for sock in live:
                try:
                    if sock in readable and not sock.recv(1024):
                        raise ConnectionResetError
                    sock.send(request[sent[sock]:sent[sock] + 1])
                    sent[sock] += 1
                except OSError:
                    cut[sock] = time.monotonic() - since[sock]
    finally:
        for sock in socks:
            sock.close()
    return [cut[s] for s in socks]


@pytest.mark.parametrize('clients', [1, 40])
def test_a_client_dripping_its_request_is_cut_at_the_request_timeout(monkeypatch, endpoint, clients):
    """A byte every 0.1 s never lets one read wait 0.5 s, yet the request is cut at 0.5 s, alone or among many."""
    monkeypatch.setattr(http_api, 'REQUEST_TIMEOUT_S', 0.5)
    base = endpoint()
    port = int(base.rsplit(':', 1)[1])
    cut = _drip(port, clients, 0.1, 4.0)
    assert all(c is not None for c in cut), 'held past 4 s: %d of %d never cut' % (cut.count(None), clients)
    assert max(cut) < 2.5 and min(cut) >= 0.4, cut
    assert _get(base + '/healthz') == (200, b'ok\n'), 'a prompt client is still served'


def test_a_prompt_client_is_served_while_slow_ones_are_held(monkeypatch, endpoint):
    monkeypatch.setattr(http_api, 'REQUEST_TIMEOUT_S', 1.0)
    base = endpoint()
    port = int(base.rsplit(':', 1)[1])
    got = []
    thread = threading.Thread(target=lambda: got.append(_drip(port, 20, 0.1, 3.0)))
    thread.start()
    try:
        time.sleep(0.3)
        assert _get(base + '/forecasts')[0] == 200
    finally:
        thread.join()
    assert all(c is not None and c < 3.0 for c in got[0]), got
