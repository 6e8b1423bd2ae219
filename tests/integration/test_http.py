"""HTTP/1.1 on the CRI socket: /info, /config, 404."""
import json
import tomllib


def test_info(daemon):
    status, hdrs, body = daemon.http('GET', '/info')
    assert status == 200
    assert 'json' in hdrs.get('content-type', '')
    info = json.loads(body)
    for key in ('version', 'root', 'runroot', 'storage_driver', 'cgroup_driver',
                'default_runtime'):
        assert key in info, (key, info)
    assert info['root'] == daemon.root
    assert info['runroot'] == daemon.runroot


def test_config_is_toml(daemon):
    status, hdrs, body = daemon.http('GET', '/config')
    assert status == 200
    cfg = tomllib.loads(body.decode())
    flat = flatten(cfg)
    assert flat.get('root') == daemon.root
    assert flat.get('runroot') == daemon.runroot
    assert flat.get('listen') == daemon.socket


def test_unknown_path_404_json(daemon):
    for target in ('/nope', '/info/x', '/'):
        status, hdrs, body = daemon.http('GET', target)
        assert status == 404, (target, status)
        err = json.loads(body)
        assert isinstance(err, dict) and err


def test_http_and_grpc_interleave(daemon, pb):
    for _ in range(5):
        assert daemon.http('GET', '/info')[0] == 200
        assert daemon.runtime('Version').runtime_name == 'ocid'


def flatten(d):
    """All keys of a TOML document, last wins, tables merged (keys are unique here)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v))
        else:
            out[k] = v
    return out


def _dechunk(data):
    out = b''
    while True:
        size, _, rest = data.partition(b'\r\n')
        n = int(size, 16)
        if n == 0:
            return out
        out += rest[:n]
        assert rest[n:n + 2] == b'\r\n'
        data = rest[n + 2:]


def _read_response(s):
    data = b''
    while b'0\r\n\r\n' not in data or b'\r\n\r\n' not in data:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b'\r\n\r\n')
    return head, body


def test_streaming_upload_larger_than_message_limit(daemon):
    """A streaming endpoint takes a body far above max_recv_msg_size (1 MiB
    here) without buffering it whole, and answers while it arrives."""
    import hashlib
    import os
    import socket
    d2 = daemon  # default limit: 16 MiB; send 20 MiB
    payload = os.urandom(1 << 20) * 20
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(d2.socket)
    s.sendall(b'POST /debug/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n'
              b'Content-Length: %d\r\n\r\n' % len(payload))
    got = bytearray()
    sent = 0
    s.setblocking(False)
    import select
    while True:
        want_w = [s] if sent < len(payload) else []
        r, w, _ = select.select([s], want_w, [], 30)
        assert r or w, 'stalled'
        if w:
            try:
                sent += s.send(payload[sent:sent + (256 << 10)])
            except BlockingIOError:
                pass
        if r:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            got += chunk
    s.close()
    head, _, body = bytes(got).partition(b'\r\n\r\n')
    assert head.startswith(b'HTTP/1.1 200'), head
    assert b'chunked' in head.lower()
    out = _dechunk(body)
    assert len(out) == len(payload)
    assert hashlib.sha256(out).digest() == hashlib.sha256(payload).digest()


def test_streaming_response_arrives_incrementally(daemon):
    import socket
    import time
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(daemon.socket)
    t0 = time.monotonic()
    s.sendall(b'GET /debug/ticks?n=10 HTTP/1.1\r\nHost: x\r\n\r\n')
    data = b''
    while b'tick 0' not in data:
        data += s.recv(4096)
    assert time.monotonic() - t0 < 0.9, 'first chunk waited for the whole response'
    assert b'tick 9' not in data
    while not data.endswith(b'0\r\n\r\n'):
        data += s.recv(4096)
    head, _, body = data.partition(b'\r\n\r\n')
    assert _dechunk(body) == b''.join(b'tick %d\n' % i for i in range(10))
    # keep-alive: the same connection serves the next request
    s.sendall(b'GET /info HTTP/1.1\r\nHost: x\r\n\r\n')
    more = s.recv(65536)
    assert more.startswith(b'HTTP/1.1 200'), more
    s.close()


def test_streaming_client_gone_mid_upload(daemon, pb):
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(daemon.socket)
    s.sendall(b'POST /debug/echo HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n' + b'x' * 100000)
    s.close()
    # the daemon is fine and the worker was released
    for _ in range(3):
        assert daemon.http('GET', '/info')[0] == 200
    assert daemon.runtime('Version').runtime_name == 'ocid'


def test_expect_continue(daemon):
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(daemon.socket)
    s.sendall(b'POST /debug/echo HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n')
    data = s.recv(4096)
    # a streaming handler may send its head before the body arrives
    assert data.startswith(b'HTTP/1.1 100 Continue\r\n\r\n'), data
    data = data[25:]
    s.sendall(b'hello')
    while not data.endswith(b'0\r\n\r\n'):
        data += s.recv(4096)
    assert data.startswith(b'HTTP/1.1 200')
    assert _dechunk(data.partition(b'\r\n\r\n')[2]) == b'hello'
    s.close()
