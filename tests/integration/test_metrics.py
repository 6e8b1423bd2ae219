"""Prometheus metrics (issue 12): the text exposition on metrics_port or
metrics_socket, parsed by python3-prometheus-client's parser and scraped by
Debian's prometheus server on loopback."""
import json
import os
import subprocess
import time
import urllib.parse
import urllib.request

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import EXITED, RUNNING, http_unix
from registry import free_port


def scrape(port):
    with urllib.request.urlopen(f'http://127.0.0.1:{port}/metrics', timeout=10) as r:
        assert r.status == 200
        assert r.headers['Content-Type'].startswith('text/plain; version=0.0.4')
        return r.read().decode()


def samples(text):
    """{(name, frozenset(labels)): value} of every sample, through the parser."""
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(smp, name, **labels):
    return smp.get((name, frozenset(labels.items())))


def wait_log(d, line):
    """The endpoint starts after the CRI socket: wait for its log line."""
    deadline = time.monotonic() + 30
    while line not in d.read_log():
        assert time.monotonic() < deadline, d.read_log()[-3000:]
        time.sleep(0.05)


def test_off_by_default(daemon):
    """No port and no socket: no endpoint, and the log does not claim one."""
    daemon.runtime('Version', daemon.pb.VersionRequest())
    assert 'metrics endpoint listening' not in daemon.read_log()


def test_exposition(make_env):
    port = free_port()
    env = make_env(['--metrics-port', str(port)])
    d, pb = env.d, env.pb
    wait_log(d, f'metrics endpoint listening" address=127.0.0.1 port={port}')
    for _ in range(3):
        d.runtime('Version', pb.VersionRequest())
    with pytest.raises(grpc.RpcError) as e:
        d.runtime('ContainerStatus', pb.ContainerStatusRequest(container_id='f' * 64))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as e:
        d.image('PullImage', pb.PullImageRequest(
            image=pb.ImageSpec(image=env.reg.host + '/test/missing:latest')), timeout=60)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    # The same image under another name: its layer is in the store already.
    d.image('PullImage', pb.PullImageRequest(
        image=pb.ImageSpec(image=env.image.replace(':latest', '@') + env_digest(env))),
        timeout=60)
    pod = env.pod()
    cid = env.create(pod, 'sleeper', ['/bin/sleep', '600'])
    env.start(cid)
    env.wait_state(cid, RUNNING)
    hog = env.start_hog(pod)
    assert env.wait_state(hog, EXITED, timeout=60).reason == 'OOMKilled'

    text = scrape(port)
    smp = samples(text)
    assert value(smp, 'ocid_operations_total', operation='Version') >= 3
    assert value(smp, 'ocid_operations_total', operation='StartContainer') == 2
    assert value(smp, 'ocid_operations_errors_total', operation='ContainerStatus',
                 code='NOT_FOUND') == 1
    assert value(smp, 'ocid_operations_errors_total', operation='PullImage',
                 code='NOT_FOUND') == 1
    assert value(smp, 'ocid_image_pulls_failure_total', error='NOT_FOUND') == 1
    count = value(smp, 'ocid_operations_latency_seconds_count', operation='Version')
    assert count >= 3
    assert value(smp, 'ocid_operations_latency_seconds_bucket', operation='Version',
                 le='+Inf') == count
    assert value(smp, 'ocid_operations_latency_seconds_sum', operation='Version') > 0
    assert value(smp, 'ocid_image_pulls_bytes_total') > 100000  # busybox-static's layer
    assert value(smp, 'ocid_image_layer_reuse_total') >= 1
    assert value(smp, 'ocid_containers_running') == 1
    assert value(smp, 'ocid_containers_oom_total') == 1
    assert value(smp, 'ocid_processes_defunct') >= 0
    assert value(smp, 'process_resident_memory_bytes') > 1 << 20
    assert value(smp, 'process_open_fds') > 3
    assert value(smp, 'process_threads') > 1
    # Exactly one TYPE line per family, as the format requires.
    types = [line.split()[2] for line in text.splitlines() if line.startswith('# TYPE ')]
    assert len(types) == len(set(types))

    # Unknown paths and other methods are refused.
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f'http://127.0.0.1:{port}/nope', timeout=10)
    assert e.value.code == 404


def env_digest(env):
    d, pb = env.d, env.pb
    st = d.image('ImageStatus', pb.ImageStatusRequest(image=pb.ImageSpec(image=env.image)))
    return st.image.repo_digests[0].split('@', 1)[1]


def test_unix_socket(make_daemon, tmp_path):
    sock = str(tmp_path / 'metrics.sock')
    d = make_daemon(extra_args=['--metrics-socket', sock]).start()
    wait_log(d, 'metrics endpoint listening" socket=')
    d.runtime('Version', d.pb.VersionRequest())
    status, hdrs, body = http_unix(sock, 'GET', '/metrics')
    assert status == 200 and hdrs['content-type'].startswith('text/plain')
    smp = samples(body.decode())
    assert value(smp, 'ocid_operations_total', operation='Version') >= 1
    assert oct(os.stat(sock).st_mode & 0o777) == '0o660'
    assert d.stop() == 0
    assert not os.path.exists(sock)


def test_bad_address(make_daemon):
    d = make_daemon(extra_args=['--metrics-port', '9', '--metrics-address', 'localhost'])
    p = subprocess.run(d.args, capture_output=True, text=True, timeout=30)
    assert p.returncode == 2
    assert "flag --metrics-address: 'localhost' is not an IPv4 or IPv6 address" in p.stderr


def test_port_in_use(make_daemon):
    import socket
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    s.listen()
    port = s.getsockname()[1]
    try:
        d = make_daemon(extra_args=['--metrics-port', str(port)])
        p = subprocess.run(d.args, capture_output=True, text=True, timeout=60)
    finally:
        s.close()
    assert p.returncode == 1
    assert f'metrics: listen on 127.0.0.1 port {port}: Address already in use' in p.stderr


def prom_query(port, q):
    url = f'http://127.0.0.1:{port}/api/v1/query?' + urllib.parse.urlencode({'query': q})
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)['data']['result']
    except (urllib.error.URLError, ConnectionError):
        return None


def test_prometheus_scrapes(daemon_with_metrics, tmp_path):
    """Debian's prometheus server scrapes ocid and answers a query for a
    series of ours."""
    d, port = daemon_with_metrics
    for _ in range(5):
        d.runtime('Version', d.pb.VersionRequest())
    web = free_port()
    (tmp_path / 'prometheus.yml').write_text(
        'global:\n  scrape_interval: 1s\n'
        'scrape_configs:\n  - job_name: ocid\n    static_configs:\n'
        f"      - targets: ['127.0.0.1:{port}']\n")
    log = open(tmp_path / 'prometheus.log', 'w')
    p = subprocess.Popen(['/usr/bin/prometheus', '--config.file', str(tmp_path / 'prometheus.yml'),
                          '--storage.tsdb.path', str(tmp_path / 'tsdb'),
                          '--web.listen-address', f'127.0.0.1:{web}'],
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        res = None
        while time.monotonic() < deadline and p.poll() is None:
            res = prom_query(web, 'ocid_operations_total{operation="Version",job="ocid"}')
            if res:
                break
            time.sleep(0.5)
        assert res, (tmp_path / 'prometheus.log').read_text()[-3000:]
        assert float(res[0]['value'][1]) >= 5
        up = prom_query(web, 'up{job="ocid"}')
        assert up and up[0]['value'][1] == '1'
        hist = prom_query(web, 'ocid_operations_latency_seconds_count{operation="Version"}')
        assert hist and float(hist[0]['value'][1]) >= 5
    finally:
        p.terminate()
        p.wait(timeout=30)
        log.close()


@pytest.fixture
def daemon_with_metrics(make_daemon):
    port = free_port()
    d = make_daemon(extra_args=['--metrics-port', str(port)]).start()
    wait_log(d, 'metrics endpoint listening')
    yield d, port
    assert d.stop() == 0
