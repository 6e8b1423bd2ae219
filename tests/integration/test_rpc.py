"""The gRPC server itself: concurrency, deadlines, cancellation, limits, bad input."""
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from h2raw import RawH2, grpc_frame

VERSION = '/runtime.v1.RuntimeService/Version'
SLEEP = '/ocid.debug.Debug/Sleep'


def test_500_concurrent_calls(daemon, pb):
    channels = [daemon.channel() for _ in range(8)]

    def one(i):
        r = daemon.runtime('Version', pb.VersionRequest(), channel=channels[i % len(channels)],
                           timeout=30)
        return r.runtime_name

    with ThreadPoolExecutor(max_workers=50) as ex:
        names = list(ex.map(one, range(500)))
    assert names == ['ocid'] * 500


def test_sleep_does_not_delay_version_on_same_channel(daemon, pb):
    ch = daemon.channel()
    daemon.runtime('Version', channel=ch)  # connect first
    done = {}

    def sleeper():
        t0 = time.monotonic()
        daemon.sleep(2000, channel=ch)
        done['sleep'] = time.monotonic() - t0

    th = threading.Thread(target=sleeper)
    th.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    r = daemon.runtime('Version', channel=ch)
    dt = time.monotonic() - t0
    assert r.runtime_name == 'ocid'
    assert 'sleep' not in done, 'Sleep finished before Version: handler blocked the connection?'
    assert dt < 1.0, f'Version took {dt:.2f}s while Sleep ran'
    th.join(10)
    assert done['sleep'] >= 1.9


def test_sleep_runs_for_its_time(daemon):
    t0 = time.monotonic()
    assert daemon.sleep(300) == b''
    assert 0.29 <= time.monotonic() - t0 < 3


def test_deadline_exceeded_from_server(daemon):
    """grpc-timeout: 200m on Sleep(3000): the server answers grpc-status 4 itself."""
    c = RawH2(daemon.socket)
    try:
        t0 = time.monotonic()
        sid = c.start(SLEEP, grpc_frame(b'3000'), [('grpc-timeout', '200m')])
        code, msg = c.status(sid, timeout=5)
        dt = time.monotonic() - t0
        assert code == 4, (code, msg, c.streams[sid])
        assert dt < 1.5, f'DEADLINE_EXCEEDED came after {dt:.2f}s'
        # the connection still works afterwards
        sid = c.start(VERSION, grpc_frame(b''))
        assert c.status(sid)[0] == 0
    finally:
        c.close()


def test_grpcio_deadline(daemon):
    with pytest.raises(grpc.RpcError) as ei:
        daemon.sleep(3000, timeout=0.3)
    assert ei.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_rst_stream_cancellation_keeps_connection(daemon):
    c = RawH2(daemon.socket)
    try:
        sids = [c.start(SLEEP, grpc_frame(b'5000')) for _ in range(5)]
        time.sleep(0.2)
        for sid in sids:
            c.reset(sid)
        t0 = time.monotonic()
        sid = c.start(VERSION, grpc_frame(b''))
        code, msg = c.status(sid, timeout=5)
        assert code == 0, msg
        assert time.monotonic() - t0 < 1.0
        assert c.streams[sid]['data'][:1] == b'\x00'
    finally:
        c.close()


def test_cancelled_sleeps_free_the_workers(daemon, pb):
    """Cancel many sleeps; then Sleep(100) must still be served promptly."""
    c = RawH2(daemon.socket)
    try:
        sids = [c.start(SLEEP, grpc_frame(b'20000')) for _ in range(40)]
        time.sleep(0.3)
        for sid in sids:
            c.reset(sid)
        time.sleep(0.3)
        t0 = time.monotonic()
        daemon.sleep(100, timeout=10)
        assert time.monotonic() - t0 < 2.0
    finally:
        c.close()


def test_oversize_request_resource_exhausted(daemon):
    c = RawH2(daemon.socket, timeout=30)
    try:
        sid = c.start(VERSION, grpc_frame(b'\x0a' + b'x' * (17 << 20)))
        code, msg = c.status(sid, timeout=30)
        assert code == 8, (code, msg)  # RESOURCE_EXHAUSTED
    finally:
        c.close()
    # and grpcio sees the same
    ch = daemon.channel()
    stub = ch.unary_unary(VERSION, request_serializer=lambda b: b,
                          response_deserializer=lambda b: b)
    with pytest.raises(grpc.RpcError) as ei:
        stub(b'\x0a\x80\x80\x80\x09' + b'x' * (17 << 20), timeout=30)
    assert ei.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_compressed_message_refused(daemon):
    c = RawH2(daemon.socket)
    try:
        sid = c.start(VERSION, grpc_frame(b'\x1f\x8b', compressed=True),
                      [('grpc-encoding', 'gzip')])
        code, msg = c.status(sid)
        assert code in (3, 12, 13), (code, msg)  # INVALID_ARGUMENT/UNIMPLEMENTED/INTERNAL
        assert code != 0
        assert 'compress' in msg.lower(), msg
    finally:
        c.close()


def test_garbage_and_half_open_do_not_disturb(daemon, pb):
    ch = daemon.channel()
    daemon.runtime('Version', channel=ch)
    idle = []
    # connect and send nothing
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(daemon.socket)
    idle.append(s)
    # half a preface
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(daemon.socket)
    s.sendall(b'PRI * HTTP/2.0\r\n')
    idle.append(s)
    # a valid preface followed by half a frame header
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(daemon.socket)
    s.sendall(b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00')
    idle.append(s)
    # garbage
    for n in range(20):
        g = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        g.connect(daemon.socket)
        try:
            g.sendall(os.urandom(1 + n * 997))
            g.settimeout(2)
            try:
                g.recv(4096)
            except (socket.timeout, OSError):
                pass
        except OSError:
            pass
        g.close()
    try:
        for _ in range(20):
            assert daemon.runtime('Version', channel=ch, timeout=5).runtime_name == 'ocid'
        # a fresh client still connects
        assert daemon.runtime('Version', timeout=5).runtime_name == 'ocid'
    finally:
        for s in idle:
            s.close()


def test_socket_path_authority_like_go_clients(daemon):
    """Go gRPC (kubelet, crictl) sends the unix socket path as :authority."""
    c = RawH2(daemon.socket)
    try:
        sid = c.start(VERSION, grpc_frame(b''), authority=daemon.socket)
        code, msg = c.status(sid)
        assert code == 0, (code, msg)
        assert c.streams[sid]['data'][:1] == b'\x00'
    finally:
        c.close()


def test_not_grpc_requests_refused(daemon):
    c = RawH2(daemon.socket)
    try:
        sid = c.start(VERSION, grpc_frame(b''), method='PUT')
        code, msg = c.status(sid)
        assert code == 13 and 'POST' in msg, (code, msg)
        sid = c.start(VERSION, grpc_frame(b''), content_type='text/plain')
        code, msg = c.status(sid)
        assert code == 13 and 'content-type' in msg, (code, msg)
        sid = c.start(VERSION, grpc_frame(b''), [('grpc-timeout', '12x')])
        code, msg = c.status(sid)
        assert code == 3 and 'grpc-timeout' in msg, (code, msg)
        # the connection is still good
        sid = c.start(VERSION, grpc_frame(b''))
        assert c.status(sid)[0] == 0
    finally:
        c.close()
