# -*- coding: utf-8 -*-
# Copyright: (c) 2026, adaptive.intravm contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""observability/ against the real parts: promtool checks and unit-tests the rules; real rebalance
runs write the textfile the role documents; a real Prometheus (Debian's binary) scrapes a real host
predictor and that textfile, and answers every PromQL expression of the dashboard and the rules.

prometheus and promtool come from scripts/setup.sh (Debian's prometheus package): when they are
missing these tests fail, they never skip."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.adaptive.intravm.plugins.module_utils.apply.host_lock import HostLock
from integration import test_rebalance_playbooks as rebalance_tests  # its play() and setup()
import libvirt_harness

ROOT = rebalance_tests.ROOT
OBS = os.path.join(ROOT, 'observability')
RULES = os.path.join(OBS, 'prometheus', 'rules.yml')
DASHBOARD = os.path.join(OBS, 'grafana', 'intravm.json')
TEXTFILE = 'intravm_rebalance.prom'

# Rule expressions a short test cannot make true, each with why. Every other expression of the
# rules and the dashboard must return data. The operands of these four are recording rules,
# which must return data themselves.
NO_DATA = {
    'StaleForecasts': 'the predictor steps every second, so its forecasts are always fresh',
    'ModelErrorHigh': "a paused domain's demand is 0, which every model forecasts almost exactly",
    'RejectedSamplesHigh': 'no guest misbehaves: the bad_rate counter stays at 0 (its series exists)',
    'RebalanceNotRunning': 'the textfile was written seconds before',
}


def tool(name):
    path = shutil.which(name)
    assert path, '%s is not installed: scripts/setup.sh installs it (Debian package prometheus)' % name
    return path


def samples(path):
    """{(name, sorted label items): value} of a text-format file, parsed by prometheus_client."""
    out = {}
    for family in text_string_to_metric_families(open(str(path)).read()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(metrics, name, **labels):
    return metrics[(name, tuple(sorted(labels.items())))]


def by_label(metrics, name, label):
    return dict((dict(labels)[label], v) for (n, labels), v in metrics.items() if n == name)


def run_metrics_tasks(tmp_path, textfile_dir, facts):
    """roles/rebalance/tasks/metrics.yml alone, with the facts a run would have left."""
    play = tmp_path / 'metrics-only.yml'
    play.write_text(yaml.safe_dump([{'hosts': 'localhost', 'gather_facts': False, 'tasks': [
        {'name': 'The rebalance role publishes its metrics',
         'ansible.builtin.include_role': {'name': 'adaptive.intravm.rebalance', 'tasks_from': 'metrics'}}]}]))
    extra = dict(facts, rebalance_textfile_dir=str(textfile_dir), ansible_python_interpreter=sys.executable)
    proc = subprocess.run([os.path.join(rebalance_tests.BIN, 'ansible-playbook'), str(play), '-i', 'localhost,',
                           '-c', 'local', '-e', json.dumps(extra)], env=rebalance_tests.ENV, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-5000:]


# -- the rules --------------------------------------------------------------------------------

def test_promtool_checks_the_rules_and_every_alert_fires_in_its_unit_test():
    promtool = tool('promtool')
    check = subprocess.run([promtool, 'check', 'rules', RULES], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, check=False)
    assert check.returncode == 0 and 'SUCCESS' in check.stdout, check.stdout
    unit = subprocess.run([promtool, 'test', 'rules', 'tests.yml'], cwd=os.path.join(OBS, 'prometheus'),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert unit.returncode == 0 and 'SUCCESS' in unit.stdout, unit.stdout
    alerts = [r['alert'] for g in yaml.safe_load(open(RULES))['groups'] for r in g['rules'] if 'alert' in r]
    assert sorted(alerts) == sorted(['PredictorDown', 'PredictorDegraded', 'StaleForecasts', 'ModelErrorHigh',
                                     'RejectedSamplesHigh', 'RebalanceFailing', 'RebalanceNotRunning'])
    tests = yaml.safe_load(open(os.path.join(OBS, 'prometheus', 'tests.yml')))['tests']
    fired = set(case['alertname'] for t in tests for case in t.get('alert_rule_test', []) if case.get('exp_alerts'))
    assert fired == set(alerts), 'every alert has a unit test in which it fires'


# -- the textfile of rebalance runs -------------------------------------------------------------

def test_the_textfile_tells_what_real_rebalance_runs_did(libvirtd, make_domain, tmp_path):
    dom = make_domain('obs', vcpus=2)
    libvirt_harness.pin_vcpus(dom, {0})      # both on CPU 0, a hotspot (the moves depend on what else loads the host)
    forecasts, state_dir, extra = rebalance_tests.setup(tmp_path, [dom.name()])
    textfiles = tmp_path / 'textfile'
    textfiles.mkdir()
    extra['rebalance_textfile_dir'] = str(textfiles)
    prom = textfiles / TEXTFILE

    rebalance_tests.play('rebalance.yml', dict(extra, rebalance_run_id='dry'), check=True)
    assert os.listdir(str(textfiles)) == [], 'check mode writes nothing'

    started = time.time()
    rebalance_tests.play('rebalance.yml', dict(extra, rebalance_run_id='first', rebalance_reason='hotspot_predicted'))
    ended = time.time()
    assert os.listdir(str(textfiles)) == [TEXTFILE], 'written by rename: no temporary is left'
    assert oct(os.stat(str(prom)).st_mode & 0o777) == '0o644', 'node_exporter (another user) reads it'
    report = json.loads((state_dir / 'last-rebalance.json').read_text())
    assert report['run_id'] == 'first' and not report['failed'], report
    metrics = samples(prom)
    assert started <= value(metrics, 'intravm_rebalance_last_run_timestamp_seconds') <= ended
    assert 0 < value(metrics, 'intravm_rebalance_last_run_duration_seconds') < ended - started
    assert value(metrics, 'intravm_rebalance_last_run_lock_wait_seconds') == pytest.approx(report['lock']['waited_s'], abs=1e-3)
    assert by_label(metrics, 'intravm_rebalance_last_run_outcome', 'outcome') == {
        'ok': 1, 'refused': 0, 'failed_domains': 0, 'lock_failed': 0, 'placement_failed': 0, 'plan_failed': 0, 'skipped': 0}
    assert by_label(metrics, 'intravm_rebalance_last_run_trigger', 'trigger') == {'hotspot_predicted': 1}
    kinds = [m['kind'] for m in report['moves']]
    assert by_label(metrics, 'intravm_rebalance_last_run_moves', 'kind') == dict(
        (k, kinds.count(k)) for k in ('rebalance', 'placement', 'repair', 'node', 'pool', 'other'))
    assert by_label(metrics, 'intravm_rebalance_last_run_changed_domains', 'resource') == dict(
        (r, len(report['changed'][r])) for r in ('cpu', 'numa', 'memory', 'vcpus', 'network', 'gpu'))
    assert value(metrics, 'intravm_rebalance_last_run_failed_domains') == len(report['failed']) == 0
    assert value(metrics, 'intravm_rebalance_last_run_superseded_domains') == len(report['superseded']) == 0
    assert by_label(metrics, 'intravm_rebalance_last_run_plan_refused', 'reason') == {'stale': 0, 'future': 0, 'other': 0}
    assert value(metrics, 'intravm_rebalance_last_run_hotspots') == len(report['hotspots'])
    assert 0 <= value(metrics, 'intravm_rebalance_last_run_forecast_age_seconds') < ended - json.loads(
        forecasts.read_text())['generated_at'] + 1

    # stale forecasts: the plan is refused, the run succeeds, the refusal is counted by its class
    doc = json.loads(forecasts.read_text())
    doc['generated_at'] = time.time() - 3600
    forecasts.write_text(json.dumps(doc))
    rebalance_tests.play('rebalance.yml', dict(extra, rebalance_reason='Nightly run #7'))
    report = json.loads((state_dir / 'last-rebalance.json').read_text())
    assert 'older than max_age' in report['plan_refused']
    metrics = samples(prom)
    assert value(metrics, 'intravm_rebalance_last_run_outcome', outcome='refused') == 1
    assert by_label(metrics, 'intravm_rebalance_last_run_plan_refused', 'reason') == {'stale': 1, 'future': 0, 'other': 0}
    assert sum(by_label(metrics, 'intravm_rebalance_last_run_moves', 'kind').values()) == 0
    assert value(metrics, 'intravm_rebalance_last_run_forecast_age_seconds') >= 3600
    assert by_label(metrics, 'intravm_rebalance_last_run_trigger', 'trigger') == {'other': 1}, 'free text is not a label'

    # another run holds the lock: the run fails before planning, and says so
    lock = HostLock(str(state_dir / 'rebalance.lock'))
    lock.acquire('awx-job-9', 0, 600)
    try:
        rebalance_tests.play('rebalance.yml', dict(extra, rebalance_lock_wait=0), rc=2)
    finally:
        lock.release('awx-job-9')
    metrics = samples(prom)
    assert [o for o, v in by_label(metrics, 'intravm_rebalance_last_run_outcome', 'outcome').items() if v] == ['lock_failed']
    assert ('intravm_rebalance_last_run_duration_seconds', ()) not in metrics, 'no lock, no duration'
    assert value(metrics, 'intravm_rebalance_last_run_timestamp_seconds') > ended


def test_the_textfile_counts_failed_and_superseded_domains_and_stays_off_without_its_directory(tmp_path):
    textfiles = tmp_path / 'textfile'
    textfiles.mkdir()
    facts = {'rebalance_reason': 'scheduled', 'rebalance_lock': {'lock': {'acquired_at': time.time() - 2}, 'waited_s': 0.5},
             'rebalance_before': {'domains': []},
             'rebalance_plan': {'moves': [{'kind': 'rebalance'}, {'kind': 'rebalance'}, {'kind': 'repair'}, {'kind': 'new'},
                                          {'kind': 'node'}],
                                'hotspots': [], 'forecast_age_s': 3.0},
             'rebalance_failed': {'a': 'domain a is shutoff', 'GPU 0': 'GPU 0: NVML error'},
             'rebalance_superseded': {'b': 'superseded: vcpu 0 pinned elsewhere'},
             'rebalance_changed': {'cpu': ['c'], 'numa': ['c'], 'network': [], 'gpu': []}}
    run_metrics_tasks(tmp_path, textfiles, facts)
    metrics = samples(textfiles / TEXTFILE)
    assert [o for o, v in by_label(metrics, 'intravm_rebalance_last_run_outcome', 'outcome').items() if v] == ['failed_domains']
    assert value(metrics, 'intravm_rebalance_last_run_failed_domains') == 2
    assert value(metrics, 'intravm_rebalance_last_run_superseded_domains') == 1
    assert by_label(metrics, 'intravm_rebalance_last_run_moves', 'kind') == {'rebalance': 2, 'placement': 0, 'repair': 1, 'node': 1,
                                                                             'pool': 0, 'other': 1}
    assert by_label(metrics, 'intravm_rebalance_last_run_changed_domains', 'resource') == {
        'cpu': 1, 'numa': 1, 'memory': 0, 'vcpus': 0, 'network': 0, 'gpu': 0}
    assert 2 <= value(metrics, 'intravm_rebalance_last_run_duration_seconds') < 120
    promtool = subprocess.run([tool('promtool'), 'check', 'metrics'], input=(textfiles / TEXTFILE).read_text(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert promtool.returncode == 0 and not promtool.stdout.strip(), promtool.stdout

    run_metrics_tasks(tmp_path, tmp_path / 'absent', facts)
    assert not (tmp_path / 'absent').exists(), 'the directory is never created'


# -- every expression against a real Prometheus ---------------------------------------------------

class Prometheus(object):
    def __init__(self, tmp_path, scrape):
        self.port = free_port()
        self.dir = tmp_path / 'prometheus'
        self.dir.mkdir()
        config = {'global': {'scrape_interval': '1s', 'evaluation_interval': '1s', 'scrape_timeout': '1s'},
                  'rule_files': [RULES], 'scrape_configs': scrape}
        (self.dir / 'prometheus.yml').write_text(yaml.safe_dump(config))
        self.log = open(str(self.dir / 'prometheus.log'), 'w')
        self.proc = subprocess.Popen([tool('prometheus'), '--config.file=%s' % (self.dir / 'prometheus.yml'),
                                      '--storage.tsdb.path=%s' % (self.dir / 'data'),
                                      '--web.listen-address=127.0.0.1:%d' % self.port],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while True:
            assert self.proc.poll() is None, 'prometheus exited:\n' + self.logs()
            try:
                with urllib.request.urlopen('http://127.0.0.1:%d/-/ready' % self.port, timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (OSError, urllib.error.URLError):
                pass
            assert time.time() < deadline, 'prometheus never got ready:\n' + self.logs()
            time.sleep(0.3)

    def logs(self):
        return open(str(self.dir / 'prometheus.log')).read()[-5000:]

    def api(self, path, **params):
        url = 'http://127.0.0.1:%d/api/v1/%s?%s' % (self.port, path, urllib.parse.urlencode(params))
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                body = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read())
        assert body['status'] == 'success', '%s %s: %s' % (path, params, body)
        return body['data']

    def query(self, expr):
        return self.api('query', query=expr)['result']

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def free_port():
    from integration import test_host_predictor  # pylint: disable=import-outside-toplevel
    return test_host_predictor.free_port()


@pytest.fixture
def textfile_server(tmp_path):
    """node_exporter's textfile collector stand-in: serves the textfile directory over HTTP."""
    folder = tmp_path / 'textfile'
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # pylint: disable=arguments-differ
            pass

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def predictor(tmp_path):
    """test_host_predictor's daemon whose state file cannot be written (a directory is in the way),
    so /healthz reports degraded while it keeps forecasting."""
    from integration import test_host_predictor  # pylint: disable=import-outside-toplevel
    daemon = test_host_predictor.Daemon(tmp_path)
    os.makedirs(daemon.cfg['state_file'])
    yield daemon
    if daemon.proc and daemon.proc.poll() is None:
        daemon.proc.kill()
        daemon.proc.wait()


def substitute(expr, horizon):
    """A dashboard expression as Grafana sends it: every domain and host, the first horizon."""
    expr = expr.replace('${horizon}', horizon).replace('$horizon', horizon).replace('$__rate_interval', '20s')
    return re.sub(r'\$(instance|domain|node)\b', '.+', expr)


def dashboard_exprs():
    dash = json.load(open(DASHBOARD))
    exprs = []
    for panel in dash['panels']:
        for target in panel.get('targets', []):
            exprs.append(('panel %r' % panel['title'], target['expr']))
    for var in dash['templating']['list']:
        if var['type'] == 'query':
            exprs.append(('variable %s' % var['name'], var['query']['query']))
    return exprs


def rule_exprs():
    rules = yaml.safe_load(open(RULES))['groups']
    return [(r.get('alert') or r['record'], r['expr']) for g in rules for r in g['rules']]


def test_prometheus_answers_every_dashboard_and_rule_expression(libvirtd, make_domain, predictor, textfile_server, tmp_path):
    dom = make_domain('obsprom', vcpus=2)
    predictor.start()
    folder, textfile_port = textfile_server
    run_metrics_tasks(tmp_path, folder, {
        'rebalance_reason': 'hotspot_predicted', 'rebalance_lock': {'lock': {'acquired_at': time.time() - 1}, 'waited_s': 0.0},
        'rebalance_before': {'domains': []},
        'rebalance_plan': {'moves': [{'kind': 'rebalance'}], 'hotspots': [{'cpu': 0}], 'forecast_age_s': 1.0},
        'rebalance_failed': {'gone': 'domain gone is not found'}, 'rebalance_superseded': {},
        'rebalance_changed': {'cpu': [dom.name()], 'numa': [], 'network': [], 'gpu': []}})
    dead = free_port()                        # a second predictor target that never answers: up == 0
    prometheus = Prometheus(tmp_path, [
        {'job_name': 'intravm-predictor',
         'static_configs': [{'targets': ['127.0.0.1:%d' % predictor.port, '127.0.0.1:%d' % dead]}]},
        {'job_name': 'node', 'metrics_path': '/' + TEXTFILE,
         'static_configs': [{'targets': ['127.0.0.1:%d' % textfile_port]}]}])
    try:
        predictor.wait_vm(dom.name(), min_samples=4)
        health = predictor.log()
        assert 'state write to' in health, 'the state file write should fail:\n' + health
        horizon = str(json.loads(predictor.get())['vms'][dom.name()]['horizons_s'][0])
        recorded = [r['record'] for g in yaml.safe_load(open(RULES))['groups'] for r in g['rules'] if 'record' in r]
        exprs = ([(where, substitute(expr, horizon)) for where, expr in dashboard_exprs()] + rule_exprs() +
                 [('series %s as Prometheus recorded it' % name, name) for name in recorded])

        def without_data():
            empty = []
            for where, expr in exprs:
                label_values = re.match(r'^label_values\((.*), *(\w+)\)$', expr)
                if label_values:
                    found = [s['metric'].get(label_values.group(2)) for s in prometheus.query(label_values.group(1))]
                    ok = bool(found) and all(found)
                else:
                    ok = bool(prometheus.query(expr))
                if not ok:
                    empty.append(where)
            return empty

        deadline = time.time() + 60
        empty = without_data()
        while set(empty) != set(NO_DATA) and time.time() < deadline:
            time.sleep(1)
            empty = without_data()
        assert sorted(empty) == sorted(NO_DATA), 'expressions without data: %s\n%s' % (empty, prometheus.logs())

        for group in prometheus.api('rules')['groups']:
            for rule in group['rules']:
                assert rule['health'] == 'ok', rule
        firing = dict((a['labels']['alertname'], a['state']) for a in prometheus.api('alerts')['alerts'])
        assert firing.get('RebalanceFailing') == 'firing' and firing.get('PredictorDown') == 'pending', firing
        assert firing.get('PredictorDegraded') == 'pending', firing
        delay = prometheus.query('intravm_vcpu_delay_seconds_total{domain="%s"}' % dom.name())
        assert len(delay) == 1 and float(delay[0]['value'][1]) >= 0
        age = prometheus.query('intravm:forecast_age_seconds{instance="127.0.0.1:%d"}' % predictor.port)
        assert 0 <= float(age[0]['value'][1]) < 10, 'the forecast timestamp follows the steps'
    finally:
        prometheus.stop()
