"""Concurrency classes (issue 10): short calls never wait behind long or
streaming ones; streams hold no worker while they wait; pulls are bounded
by max_concurrent_pulls and excess pulls hold no worker either."""
import json
import threading
import time

import grpc
import pytest

from conftest import http_unix, sanitizer_report
from registry import SlowProxy

SHORT_BUDGET = 0.5  # seconds a short call may take while the daemon is loaded


def finish(d):
    rc = d.stop()
    log = d.read_log()
    assert rc == 0, log[-3000:]
    assert sanitizer_report(log) is None, log[-8000:]


def open_events(d, n):
    """n GetContainerEvents streams, each on its own channel, with a thread
    draining it. Returns (calls, codes) -- codes gets each stream's end."""
    pb = d.pb
    calls, codes = [], []
    for _ in range(n):
        stub = d.channel().unary_stream(
            '/runtime.v1.RuntimeService/GetContainerEvents',
            request_serializer=lambda r: r.SerializeToString(),
            response_deserializer=pb.ContainerEventResponse.FromString)
        call = stub(pb.GetEventsRequest(), timeout=120)
        calls.append(call)

        def drain(c=call):
            try:
                for _ in c:
                    pass
                codes.append(None)
            except grpc.RpcError as e:
                codes.append(e.code())
        threading.Thread(target=drain, daemon=True).start()
    return calls, codes


def short_calls(d, budget=SHORT_BUDGET):
    """Version, Status, ListPodSandbox, ListContainers, ImageFsInfo on a
    fresh channel: each must answer within `budget` seconds."""
    pb = d.pb
    ch = d.channel()
    d.runtime('Version', pb.VersionRequest(), channel=ch, timeout=10)  # connect first
    for svc, method, req in [('RuntimeService', 'Version', pb.VersionRequest()),
                             ('RuntimeService', 'Status', pb.StatusRequest()),
                             ('RuntimeService', 'ListPodSandbox', pb.ListPodSandboxRequest()),
                             ('RuntimeService', 'ListContainers', pb.ListContainersRequest()),
                             ('ImageService', 'ImageFsInfo', pb.ImageFsInfoRequest())]:
        t0 = time.monotonic()
        d.call(svc, method, req, channel=ch, timeout=budget * 4)
        dt = time.monotonic() - t0
        assert dt < budget, f'{method} took {dt:.2f}s'


def test_event_streams_hold_no_worker(make_daemon):
    """--workers 2, two open event streams: Version answers at once."""
    d = make_daemon(extra_args=['--workers', '2']).start()
    calls, codes = open_events(d, 2)
    time.sleep(0.5)
    short_calls(d)
    # Many more streams than workers: still served, and still answering.
    more, more_codes = open_events(d, 20)
    time.sleep(0.5)
    short_calls(d)
    assert codes == [] and more_codes == [], (codes, more_codes)
    for c in calls + more:
        c.cancel()
    deadline = time.monotonic() + 5
    while len(codes) + len(more_codes) < 22 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert codes + more_codes == [grpc.StatusCode.CANCELLED] * 22
    finish(d)


def test_event_stream_deadline_and_shutdown(make_daemon):
    """A parked stream still ends at its deadline, and at SIGTERM with
    UNAVAILABLE at once."""
    d = make_daemon(extra_args=['--workers', '1']).start()
    pb = d.pb
    stub = d.channel().unary_stream('/runtime.v1.RuntimeService/GetContainerEvents',
                                    request_serializer=lambda r: r.SerializeToString(),
                                    response_deserializer=pb.ContainerEventResponse.FromString)
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        for _ in stub(pb.GetEventsRequest(), timeout=0.5):
            pass
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - t0 < 2
    own = grpc.insecure_channel('unix:' + d.socket)
    s2 = own.unary_stream('/runtime.v1.RuntimeService/GetContainerEvents',
                          request_serializer=lambda r: r.SerializeToString(),
                          response_deserializer=pb.ContainerEventResponse.FromString)
    codes = []

    def drain(c):
        try:
            for _ in c:
                pass
        except grpc.RpcError as err:
            codes.append(err.code())
    ths = [threading.Thread(target=drain, args=(s2(pb.GetEventsRequest(), timeout=60),))
           for _ in range(3)]
    for t in ths:
        t.start()
    time.sleep(0.3)
    d.runtime('Version', pb.VersionRequest(), timeout=1)
    t0 = time.monotonic()
    finish(d)
    assert time.monotonic() - t0 < 2
    for t in ths:
        t.join(5)
    assert codes == [grpc.StatusCode.UNAVAILABLE] * 3
    own.close()


def test_long_calls_do_not_delay_short_ones(make_daemon):
    """--workers 2: ten 3 s Sleeps (class long) run beside each other and
    Version/Status/ListPodSandbox answer at once."""
    d = make_daemon(extra_args=['--workers', '2']).start()
    done = []

    def sleeper():
        d.sleep(3000, channel=ch, timeout=30)
        done.append(time.monotonic())
    ch = d.channel()
    t0 = time.monotonic()
    ths = [threading.Thread(target=sleeper) for _ in range(10)]
    for t in ths:
        t.start()
    time.sleep(0.3)
    short_calls(d)
    for t in ths:
        t.join(30)
    assert len(done) == 10
    # They ran side by side on the long pool, not two at a time.
    assert max(done) - t0 < 6, max(done) - t0
    finish(d)


def write_conf(tmp_path, host):
    etc = tmp_path / 'etc'
    etc.mkdir(exist_ok=True)
    (etc / 'registries.conf').write_text(f'[[registry]]\nlocation = "{host}"\ninsecure = true\n')
    (etc / 'policy.json').write_text(json.dumps({'default': [{'type': 'insecureAcceptAnything'}]}))
    return ['--registries-conf', str(etc / 'registries.conf'),
            '--signature-policy', str(etc / 'policy.json'),
            '--global-auth-file', str(etc / 'auth.json')]


def pulls_in_flight(d):
    st, _, body = d.http('GET', '/images/pulls')
    assert st == 200
    return sorted(p['name'] for p in json.loads(body))


def start_pulls(d, names):
    errs = []

    def one(name):
        try:
            d.image('PullImage', d.pb.PullImageRequest(image=d.pb.ImageSpec(image=name)),
                    timeout=120)
        except grpc.RpcError as e:
            errs.append((name, e.code()))
    ths = [threading.Thread(target=one, args=(n,), daemon=True) for n in names]
    for t in ths:
        t.start()
    return ths, errs


def test_stalled_pulls_do_not_delay_short_ones(make_daemon, tmp_path):
    """--workers 2, twelve pulls from a registry that never answers, at most
    4 at once (max_concurrent_pulls): the others wait without a worker,
    short calls answer at once, and long calls still run."""
    from registry import Registry
    reg = Registry(tmp_path / 'registry').start()
    proxy = SlowProxy(reg.port, stall_after=0)
    try:
        d = make_daemon(extra_args=write_conf(tmp_path, proxy.host) + [
            '--workers', '2', '--long-workers', '2', '--max-concurrent-pulls', '4']).start()
        names = [f'{proxy.host}/stall/app{i}:v1' for i in range(12)]
        ths, errs = start_pulls(d, names)
        deadline = time.monotonic() + 10
        while len(pulls_in_flight(d)) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        assert len(pulls_in_flight(d)) == 4, pulls_in_flight(d)
        short_calls(d)
        # Queued pulls hold no long worker: a long call runs at once.
        t0 = time.monotonic()
        d.sleep(100, timeout=5)
        assert time.monotonic() - t0 < SHORT_BUDGET
        # /info (HTTP, short) too.
        t0 = time.monotonic()
        assert http_unix(d.socket, 'GET', '/info', timeout=5)[0] == 200
        assert time.monotonic() - t0 < SHORT_BUDGET
        assert errs == []
        proxy.stop()  # unblock: every pull fails now, the queued ones refused
        for t in ths:
            t.join(60)
        assert len(errs) == 12, errs
        finish(d)
    finally:
        proxy.stop()
        reg.stop()


def test_pull_watch_holds_no_worker(make_daemon, tmp_path):
    """Watches of pulls (/images/pulls/watch) hold no worker while they wait."""
    d = make_daemon(extra_args=['--workers', '2']).start()
    socks = []
    import socket
    for i in range(4):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.socket)
        s.sendall(f'GET /images/pulls/watch?ref=example.org/x{i}:v1 HTTP/1.1\r\n'
                  'Host: x\r\n\r\n'.encode())
        socks.append(s)
    time.sleep(0.5)
    short_calls(d)
    t0 = time.monotonic()
    assert http_unix(d.socket, 'GET', '/info', timeout=5)[0] == 200
    assert time.monotonic() - t0 < SHORT_BUDGET
    # Each watch still ends on its own ("no such pull" after ~5 s).
    for s in socks:
        s.settimeout(10)
        data = b''
        while b'no such pull' not in data:
            chunk = s.recv(4096)
            assert chunk, data
            data += chunk
        s.close()
    finish(d)
