"""Streaming (issue 9): exec, attach and port-forward over SPDY/3.1 and
WebSocket, through the URLs the CRI calls Exec, Attach and PortForward hand
out. The clients share nothing with ocid: tests/integration/spdy.py for
SPDY and Debian's python3-websocket for WebSocket."""
import base64
import json
import os
import re
import socket
import struct
import threading
import time
import urllib.parse

import grpc
import pytest
import websocket

from conftest import EXITED, RUNNING
from spdy import SpdyClient

V4 = 'v4.channel.k8s.io'
SUCCESS = {'metadata': {}, 'status': 'Success'}


# ---- CRI calls ----

def exec_url(env, cid, cmd, tty=False, stdin=False, stdout=True, stderr=None):
    stderr = not tty if stderr is None else stderr
    return env.d.runtime('Exec', env.pb.ExecRequest(
        container_id=cid, cmd=cmd, tty=tty, stdin=stdin, stdout=stdout, stderr=stderr)).url


def attach_url(env, cid, stdin=True, stdout=True, stderr=True, tty=False):
    return env.d.runtime('Attach', env.pb.AttachRequest(
        container_id=cid, stdin=stdin, stdout=stdout, stderr=stderr, tty=tty)).url


def pf_url(env, pod, ports=()):
    return env.d.runtime('PortForward', env.pb.PortForwardRequest(
        pod_sandbox_id=pod, port=list(ports))).url


def run_ctr(env, pod, name, cmd, **kw):
    """Create and start a container; kw: stdin, stdin_once, tty."""
    pb = env.pb
    cfg = pb.ContainerConfig(metadata=pb.ContainerMetadata(name=name),
                             image=pb.ImageSpec(image=env.image), command=cmd,
                             log_path=f'{name}/0.log', **kw)
    cid = env.d.runtime('CreateContainer', pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=cfg, sandbox_config=env.pod_cfg), timeout=60).container_id
    env.start(cid)
    return cid


def pod_net(env, name='netpod'):
    """A pod with a network namespace of its own (the built-in CNI bridge)."""
    pb = env.pb
    env.pod_cfg = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=name, namespace='default', uid='uid-' + name),
        log_directory=env.logs, hostname=name)
    return env.d.runtime('RunPodSandbox', pb.RunPodSandboxRequest(config=env.pod_cfg),
                         timeout=60).pod_sandbox_id


def shell(env, pod, name='sh'):
    return run_ctr(env, pod, name, ['/bin/sleep', '600'])


def wait_listen(env, cid, port, timeout=10):
    """Until a socket in cid's network namespace listens on TCP `port`."""
    pat = re.compile(r':%04X [0-9A-F:]+ 0A ' % port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = env.d.runtime('ExecSync', env.pb.ExecSyncRequest(
            container_id=cid, cmd=['cat', '/proc/net/tcp', '/proc/net/tcp6'], timeout=5))
        if pat.search(r.stdout.decode()):
            return
        time.sleep(0.1)
    raise AssertionError(f'nothing listens on port {port} in {cid}')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def failure(code):
    """What a v4 Status says of a command that exited with `code`."""
    return {'status': 'Failure', 'reason': 'NonZeroExitCode',
            'details': {'causes': [{'reason': 'ExitCode', 'message': str(code)}]}}


def assert_failure(status, code):
    want = failure(code)
    assert {k: status.get(k) for k in want} == want, status


# ---- SPDY clients ----

def connect(url, versions=(V4,)):
    """A SpdyClient and its upgrade answer (status, headers dict, body)."""
    u = urllib.parse.urlsplit(url)
    c = SpdyClient(u.hostname, u.port)
    status, hdrs, body = c.upgrade(u.path, versions)
    return c, status, dict(hdrs), body


class Rc:
    """An exec or attach session over SPDY, its streams opened in client-go's
    order: error, then stdin, stdout, stderr, resize (those asked for)."""

    def __init__(self, url, stdin=False, stdout=True, stderr=True, tty=False, versions=(V4,),
                 resize=None, busy_wait=0, early_stdin=None):
        deadline = time.monotonic() + busy_wait
        while True:
            self.c, status, hdrs, body = connect(url, versions)
            if status != 503 or time.monotonic() > deadline:
                break
            self.c.close()  # the server is full: the token is still good
            time.sleep(0.1)
        assert status == 101, (status, hdrs, body)
        self.version = hdrs['x-stream-protocol-version']
        self.ids = {'error': self.c.open_stream({'streamtype': 'error'})}
        wanted = dict(stdin=stdin, stdout=stdout, stderr=stderr,
                      resize=tty if resize is None else resize)
        for name, want in wanted.items():
            if want:
                self.ids[name] = self.c.open_stream({'streamtype': name})
            if want and name == 'stdin' and early_stdin is not None:
                # Before the other streams, so before the command starts.
                self.send(early_stdin)
        for name, sid in self.ids.items():
            assert self.c.wait_reply(sid) is not None, f'no SYN_REPLY for {name}'

    def send(self, data, fin=False):
        self.c.send(self.ids['stdin'], data, fin)

    def close_stdin(self):
        self.c.close_stream(self.ids['stdin'])

    def resize(self, w, h):
        self.c.send(self.ids['resize'], json.dumps({'Width': w, 'Height': h}).encode())

    def data(self, name):
        return self.c.data(self.ids[name]) if name in self.ids else b''

    def wait_data(self, name, want, timeout=10):
        """Until stream `name` holds at least `want` (bytes) at its start."""
        sid = self.ids[name]
        self.c.wait(lambda: bytes(self.c.streams[sid].data[:len(want)]) == want
                    or len(self.c.streams[sid].data) >= len(want) + 4096, timeout)
        return self.data(name)

    def finish(self, timeout=20):
        """Wait for the end (FIN on the error stream); returns (stdout,
        stderr, status): status is the parsed Status for v4, else the raw text."""
        assert self.c.wait_fin(self.ids['error'], timeout), 'no FIN on the error stream'
        for name in ('stdout', 'stderr'):
            if name in self.ids:
                assert self.c.wait_fin(self.ids[name], 5), f'no FIN on {name}'
        err = self.data('error')
        status = json.loads(err) if self.version == V4 else err
        return self.data('stdout'), self.data('stderr'), status

    def close(self):
        self.c.close()


def run_exec(env, cid, cmd, stdin=None, tty=False, versions=(V4,)):
    """A whole exec session: (stdout, stderr, status)."""
    rc = Rc(exec_url(env, cid, cmd, tty=tty, stdin=stdin is not None), stdin=stdin is not None,
            stderr=not tty, tty=tty, versions=versions)
    try:
        if stdin is not None:
            rc.send(stdin, fin=True)
        return rc.finish()
    finally:
        rc.close()


class Pf:
    """A port-forward session over SPDY: a connection is an error and a data
    stream sharing a request id."""

    def __init__(self, url):
        self.c, status, hdrs, body = connect(url, ('portforward.k8s.io',))
        assert status == 101, (status, hdrs, body)
        assert hdrs['x-stream-protocol-version'] == 'portforward.k8s.io'
        self.n = 0

    def open(self, port):
        """(error stream, data stream) of a new connection to `port`."""
        self.n += 1
        h = {'port': str(port), 'requestid': str(self.n)}
        e = self.c.open_stream(dict(h, streamtype='error'))
        d = self.c.open_stream(dict(h, streamtype='data'))
        assert self.c.wait_reply(e) is not None and self.c.wait_reply(d) is not None
        return e, d

    def exchange(self, port, data, fin=False, timeout=10):
        """Send data on a new connection and read until the pod closes it:
        (data received, error stream text)."""
        e, d = self.open(port)
        self.c.send(d, data, fin=fin)
        assert self.c.wait_fin(d, timeout), f'no FIN on data; got {self.c.data(d)!r}'
        assert self.c.wait_fin(e, timeout), 'no FIN on error'
        return self.c.data(d), self.c.data(e)

    def close(self):
        self.c.close()


HTTP_GET = b'GET / HTTP/1.0\r\nHost: pod\r\n\r\n'


def assert_page(resp, body):
    assert resp.startswith(b'HTTP/1.1 200 OK\r\n'), resp
    assert resp.endswith(b'\r\n\r\n' + body), resp


def httpd(port, text):
    """busybox httpd serving `text` on [IP:]PORT."""
    return ['/bin/sh', '-c', f'busybox mkdir -p /www && echo {text} > /www/index.html && '
                             f'exec busybox httpd -f -p {port} -h /www']


# ---- WebSocket helpers ----

def ws_open(url, protocols, query=''):
    return websocket.create_connection('ws' + url[len('http'):] + query,
                                       subprotocols=list(protocols), timeout=10)


def ws_messages(ws, until=None):
    """Messages (opcode, bytes) until the server's close (or until(msgs))."""
    msgs = []
    while not (until and until(msgs)):
        op, data = ws.recv_data()
        if op == websocket.ABNF.OPCODE_CLOSE:
            break
        msgs.append((op, data if isinstance(data, bytes) else data.encode()))
    return msgs


def channels(msgs):
    """Binary messages gathered per channel: {channel: bytes}."""
    out = {}
    for _, m in msgs:
        out[m[0]] = out.get(m[0], b'') + m[1:]
    return out


# ---- exec ----

@pytest.fixture
def ctr(env):
    """A running container in a host-network pod: (env, container id)."""
    pod = env.pod()
    return env, shell(env, pod)


def test_exec_output_and_exit_codes(ctr):
    env, cid = ctr
    assert run_exec(env, cid, ['echo', '-n', 'hello']) == (b'hello', b'', SUCCESS)
    out, err, status = run_exec(env, cid, ['sh', '-c', 'echo out; echo err >&2; exit 3'])
    assert (out, err) == (b'out\n', b'err\n')
    assert_failure(status, 3)
    # A child left behind holding stdout does not keep the session open.
    t = time.monotonic()
    assert run_exec(env, cid, ['sh', '-c', 'sleep 30 & echo -n bg']) == (b'bg', b'', SUCCESS)
    assert time.monotonic() - t < 10


def test_exec_stdin_reaches_eof(ctr):
    env, cid = ctr
    data = b''.join(b'line %d\n' % i for i in range(20000))  # 228 KiB: several frames
    out, err, status = run_exec(env, cid, ['cat'], stdin=data)
    assert (out, err, status) == (data, b'', SUCCESS)
    # Only the end of stdin ends wc: its count proves every byte and the EOF came.
    assert run_exec(env, cid, ['busybox', 'wc', '-c'], stdin=b'abc')[0].split() == [b'3']
    # Much more output than any buffer on the way.
    out, err, status = run_exec(env, cid, ['busybox', 'head', '-c', '8388608', '/dev/zero'])
    assert (out == bytes(8 << 20), err, status) == (True, b'', SUCCESS)


def test_exec_tty_resize_and_exit_code(ctr):
    env, cid = ctr
    out, _, status = run_exec(env, cid, ['busybox', 'tty'], tty=True)
    assert re.fullmatch(rb'/dev/pts/\d+\r\n', out) and status == SUCCESS, out
    # The command waits for each size in turn: the first sent before any
    # output, the second while it runs. (runc sizes the container's terminal
    # just after the command starts: stty may find it 0x0 and complain.)
    script = ('for want in "30 100" "40 120"; do i=0; '
              'while [ "$(busybox stty size 2>/dev/null)" != "$want" ]; do '
              'i=$((i+1)); [ $i -gt 100 ] && exit 9; sleep 0.05; done; echo "$want"; done; exit 4')
    rc = Rc(exec_url(env, cid, ['sh', '-c', script], tty=True), stderr=False, tty=True)
    try:
        rc.resize(100, 30)
        assert rc.wait_data('stdout', b'30 100\r\n') == b'30 100\r\n'
        rc.resize(120, 40)
        out, err, status = rc.finish()
    finally:
        rc.close()
    assert out == b'30 100\r\n40 120\r\n'
    assert_failure(status, 4)


def test_exec_tty_stdin(ctr):
    env, cid = ctr
    # Stdin sent with the streams, before the command runs: the bytes reach
    # the container's terminal unchanged and are echoed once, by it.
    rc = Rc(exec_url(env, cid, ['sh', '-c', 'read x; echo "got:$x"; exit 2'], tty=True,
                     stdin=True), stdin=True, stderr=False, tty=True, early_stdin=b'hello\n')
    try:
        out, _, status = rc.finish()
    finally:
        rc.close()
    assert out == b'hello\r\ngot:hello\r\n'
    assert_failure(status, 2)
    # Stdin while it runs (no echo asked), then ^D: the end of input.
    script = 'busybox stty -echo; echo ready; read x; echo "got:$x"; busybox wc -c'
    rc = Rc(exec_url(env, cid, ['sh', '-c', script], tty=True, stdin=True), stdin=True,
            stderr=False, tty=True)
    try:
        assert rc.wait_data('stdout', b'ready\r\n') == b'ready\r\n'
        rc.send(b'late\nabc\x04\x04')  # the first ^D ends the line, the second the input
        out, _, status = rc.finish()
    finally:
        rc.close()
    assert (out, status) == (b'ready\r\ngot:late\r\n3\r\n', SUCCESS)


def test_cri_validation(env):
    pb, d = env.pb, env.d
    pod = env.pod()
    cid = shell(env, pod)
    bad = [dict(cmd=['true'], tty=True, stdout=True, stderr=True),
           dict(cmd=['true']),
           dict(cmd=[], stdout=True),
           dict(cmd=[''], stdout=True)]
    for req in bad:
        with pytest.raises(grpc.RpcError) as e:
            d.runtime('Exec', pb.ExecRequest(container_id=cid, **req))
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, req
    for req in (dict(tty=True, stdout=True, stderr=True), dict()):
        with pytest.raises(grpc.RpcError) as e:
            d.runtime('Attach', pb.AttachRequest(container_id=cid, **req))
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, req
    with pytest.raises(grpc.RpcError) as e:
        d.runtime('Exec', pb.ExecRequest(container_id='f' * 64, cmd=['true'], stdout=True))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as e:
        d.runtime('Attach', pb.AttachRequest(container_id='f' * 64, stdout=True))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    done = run_ctr(env, pod, 'done', ['true'])
    env.wait_state(done, EXITED)
    with pytest.raises(grpc.RpcError) as e:
        d.runtime('Exec', pb.ExecRequest(container_id=done, cmd=['true'], stdout=True))
    assert 'not running' in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        d.runtime('Attach', pb.AttachRequest(container_id=done, stdout=True))
    assert 'not running' in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        d.runtime('PortForward', pb.PortForwardRequest(pod_sandbox_id='f' * 64, port=[80]))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    for port in (0, 70000, -1):
        with pytest.raises(grpc.RpcError) as e:
            d.runtime('PortForward', pb.PortForwardRequest(pod_sandbox_id=pod, port=[80, port]))
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, port
    url = exec_url(env, cid, ['true'])
    assert re.fullmatch(r'http://127\.0\.0\.1:\d+/exec/[0-9a-f]{32}', url), url
    assert re.fullmatch(r'http://127\.0\.0\.1:\d+/attach/[0-9a-f]{32}', attach_url(env, cid))
    assert re.fullmatch(r'http://127\.0\.0\.1:\d+/portforward/[0-9a-f]{32}', pf_url(env, pod))


def test_older_protocols(ctr):
    env, cid = ctr
    cmd = ['sh', '-c', 'echo -n hi; exit 3']
    for offer, chosen in ((['v3.channel.k8s.io'], 'v3.channel.k8s.io'),
                          (['v2.channel.k8s.io', V4], 'v2.channel.k8s.io'),
                          (['v5.channel.k8s.io', 'channel.k8s.io', V4], 'channel.k8s.io')):
        rc = Rc(exec_url(env, cid, cmd), versions=offer)
        try:
            assert rc.version == chosen
            out, err, status = rc.finish()
        finally:
            rc.close()
        # Before v4 the error stream holds plain text, and only on failure.
        assert (out, err) == (b'hi', b'')
        assert status.startswith(b'command terminated with non-zero exit code') and b'3' in status
        rc = Rc(exec_url(env, cid, ['true']), versions=offer)
        try:
            assert rc.finish() == (b'', b'', b'')
        finally:
            rc.close()
    # v2 has no resize stream: a tty session starts without one.
    rc = Rc(exec_url(env, cid, ['echo', '-n', 'tty'], tty=True), stderr=False, tty=True,
            resize=False, versions=['v2.channel.k8s.io'])
    try:
        assert rc.finish() == (b'tty', b'', b'')
    finally:
        rc.close()
    c, status, _, _ = connect(exec_url(env, cid, ['true']), ['v9.channel.k8s.io'])
    c.close()
    assert status == 403
    c, status, _, _ = connect(exec_url(env, cid, ['true']), [])
    c.close()
    assert status == 400


# ---- attach ----

def test_attach_stdin_once(env):
    pod = env.pod()
    cid = run_ctr(env, pod, 'sh', ['sh'], stdin=True, stdin_once=True)
    rc = Rc(attach_url(env, cid), stdin=True)
    try:
        rc.send(b'echo hello\n')
        assert rc.wait_data('stdout', b'hello\n') == b'hello\n'
        rc.close_stdin()
        out, err, status = rc.finish()
    finally:
        rc.close()
    assert (out, err, status) == (b'hello\n', b'', SUCCESS)
    st = env.wait_state(cid, EXITED)
    assert st.exit_code == 0


def test_attach_keeps_stdin_without_stdin_once(env):
    pod = env.pod()
    cid = run_ctr(env, pod, 'sh', ['sh'], stdin=True)
    for word in (b'one', b'two'):
        rc = Rc(attach_url(env, cid), stdin=True)
        try:
            rc.send(b'echo ' + word + b'\n')
            assert rc.wait_data('stdout', word + b'\n') == word + b'\n'
            rc.close_stdin()
            time.sleep(0.5)
            assert env.status(cid).status.state == RUNNING
        finally:
            rc.close()


def test_attach_two_clients(env):
    pod = env.pod()
    cid = run_ctr(env, pod, 'tick', ['sh', '-c', 'while true; do echo tick; sleep 0.2; done'])
    rcs = [Rc(attach_url(env, cid, stdin=False, stderr=False), stderr=False) for _ in range(2)]
    try:
        for rc in rcs:
            assert rc.wait_data('stdout', b'tick\ntick\n').startswith(b'tick\ntick\n')
    finally:
        for rc in rcs:
            rc.close()
    # The output also went on to the CRI log.
    assert 'stdout F tick' in env.log('tick')


def test_attach_tty_resize(env):
    pod = env.pod()
    # (A new terminal may be 0x0, which stty reports as an error.)
    script = ('while [ "$(busybox stty size 2>/dev/null)" != "30 100" ]; do sleep 0.05; done; '
              'echo resized; exec sleep 600')
    cid = run_ctr(env, pod, 'tty', ['sh', '-c', script], tty=True, stdin=True)
    rc = Rc(attach_url(env, cid, stdin=False, stderr=False, tty=True), stderr=False, tty=True)
    try:
        rc.resize(100, 30)
        assert rc.wait_data('stdout', b'resized\r\n') == b'resized\r\n'
    finally:
        rc.close()


# ---- port-forward ----

def test_portforward_pod_network(env):
    pod = pod_net(env)
    web = run_ctr(env, pod, 'web', httpd(8080, 'hello-pf'))
    wc = ['busybox', 'nc', '-ll', '-p', '8081', '-e', 'busybox', 'wc', '-c']
    nc = run_ctr(env, pod, 'wc', wc)
    wait_listen(env, web, 8080)
    pf = Pf(pf_url(env, pod, [8080]))
    try:
        resp, err = pf.exchange(8080, HTTP_GET)
        assert_page(resp, b'hello-pf\n')
        assert err == b''
        # A refused port: a message on the error stream, FIN on both; the
        # session goes on.
        resp, err = pf.exchange(9999, b'')
        assert resp == b''
        assert b'9999' in err and b'refused' in err, err
        resp, _ = pf.exchange(8080, HTTP_GET)
        assert_page(resp, b'hello-pf\n')
        # Half close: wc answers only once its input ends (SHUT_WR in the pod).
        wait_listen(env, nc, 8081)
        assert pf.exchange(8081, b'x' * 100000, fin=True) == (b'100000\n', b'')
    finally:
        pf.close()


def test_portforward_bulk_and_many(env):
    pod = pod_net(env)
    big = 4 << 20
    web = run_ctr(env, pod, 'web', ['/bin/sh', '-c', 'busybox mkdir -p /www && '
                                    f'busybox head -c {big} /dev/zero > /www/big && '
                                    'exec busybox httpd -f -p 8080 -h /www'])
    nc = run_ctr(env, pod, 'wc', ['busybox', 'nc', '-ll', '-p', '8081', '-e', 'busybox', 'wc',
                                  '-c'])
    wait_listen(env, web, 8080)
    wait_listen(env, nc, 8081)
    pf = Pf(pf_url(env, pod))
    try:
        resp, err = pf.exchange(8080, b'GET /big HTTP/1.0\r\n\r\n', timeout=30)
        head, _, body = resp.partition(b'\r\n\r\n')
        assert head.startswith(b'HTTP/1.1 200 OK') and body == bytes(big) and err == b''
        assert pf.exchange(8081, b'y' * big, fin=True, timeout=30) == (b'%d\n' % big, b'')
        # Connections that ended both ways leave room for more: many, one
        # after another, in one session (FIN after the request, as kubectl
        # does when its local client is done).
        for _ in range(150):
            assert pf.exchange(8081, b'abc', fin=True) == (b'3\n', b'')
        # A reset data stream ends its error stream too.
        e, d = pf.open(8081)
        pf.c.reset(d)
        assert pf.c.wait_fin(e) and pf.c.data(e) == b''
        assert pf.exchange(8081, b'ok', fin=True) == (b'2\n', b'')
    finally:
        pf.close()


def test_portforward_two_ports_concurrent(env):
    pod = pod_net(env)
    a = run_ctr(env, pod, 'a', httpd(8080, 'page-a'))
    b = run_ctr(env, pod, 'b', httpd(8090, 'page-b'))
    wait_listen(env, a, 8080)
    wait_listen(env, b, 8090)
    pf = Pf(pf_url(env, pod, [8080, 8090]))
    try:
        conns = [(port, *pf.open(port)) for port in (8080, 8090) * 5]
        for _, _, d in conns:
            pf.c.send(d, HTTP_GET)
        for port, e, d in conns:
            assert pf.c.wait_fin(d) and pf.c.wait_fin(e)
            assert_page(pf.c.data(d), b'page-a\n' if port == 8080 else b'page-b\n')
            assert pf.c.data(e) == b''
    finally:
        pf.close()


def test_portforward_host_network(env):
    pod = env.pod('hostpod')
    port = free_port()
    cid = run_ctr(env, pod, 'web', httpd(f'127.0.0.1:{port}', 'host-pf'))
    wait_listen(env, cid, port)
    pf = Pf(pf_url(env, pod, [port]))
    try:
        resp, err = pf.exchange(port, HTTP_GET)
    finally:
        pf.close()
    assert_page(resp, b'host-pf\n')
    assert err == b''


def test_portforward_small_writes_not_delayed(env):
    """A reply and the end of the connection right after it reach the client
    at once: small writes are not held back until the client acknowledges the
    previous one (Nagle's algorithm against a delayed ACK costs 40 ms; Go,
    kubelet's language, sets TCP_NODELAY on every connection)."""
    pod = env.pod('hostpod')
    ls = socket.create_server(('127.0.0.1', 0))

    def serve():  # a count of what it read, then close
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            with c:
                n = 0
                while (b := c.recv(4096)):
                    n += len(b)
                c.sendall(b'%d\n' % n)

    threading.Thread(target=serve, daemon=True).start()
    port = ls.getsockname()[1]
    pf = Pf(pf_url(env, pod))
    gaps = []
    try:
        for _ in range(10):
            e, d = pf.open(port)
            pf.c.send(d, b'abc', fin=True)
            assert pf.c.wait(lambda: pf.c.data(d) == b'3\n')
            t = time.monotonic()
            assert pf.c.wait_fin(d)
            gaps.append(time.monotonic() - t)
    finally:
        pf.close()
        ls.close()
    assert sorted(gaps)[len(gaps) // 2] < 0.02, ['%.1f ms' % (g * 1e3) for g in gaps]


# ---- WebSocket ----

def test_ws_exec_v5(ctr):
    env, cid = ctr
    ws = ws_open(exec_url(env, cid, ['echo', '-n', 'hello']), ['v5.channel.k8s.io'])
    try:
        assert ws.subprotocol == 'v5.channel.k8s.io'
        msgs = ws_messages(ws)
    finally:
        ws.close()
    assert all(op == websocket.ABNF.OPCODE_BINARY for op, _ in msgs)
    ch = channels(msgs)
    assert ch[1] == b'hello' and ch.get(2, b'') == b''
    assert json.loads(ch[3]) == SUCCESS
    # Stdin closed by the v5 close message [255, 0]: wc sees its end.
    ws = ws_open(exec_url(env, cid, ['busybox', 'wc', '-c'], stdin=True), ['v5.channel.k8s.io'])
    try:
        ws.send_binary(b'\x00abcd')
        ws.send_binary(b'\xff\x00')
        ch = channels(ws_messages(ws))
    finally:
        ws.close()
    assert ch[1].split() == [b'4'] and json.loads(ch[3]) == SUCCESS


def test_ws_exec_base64(ctr):
    env, cid = ctr
    ws = ws_open(exec_url(env, cid, ['sh', '-c', 'echo -n hello; echo -n oops >&2; exit 5']),
                 ['v4.base64.channel.k8s.io'])
    try:
        assert ws.subprotocol == 'v4.base64.channel.k8s.io'
        msgs = ws_messages(ws)
    finally:
        ws.close()
    assert all(op == websocket.ABNF.OPCODE_TEXT for op, _ in msgs)
    ch = {}
    for _, m in msgs:
        k = m[0] - ord('0')
        ch[k] = ch.get(k, b'') + base64.b64decode(m[1:])
    assert (ch[1], ch[2]) == (b'hello', b'oops')
    assert_failure(json.loads(ch[3]), 5)


def test_ws_portforward(env):
    pod = pod_net(env)
    web = run_ctr(env, pod, 'web', httpd(8080, 'hello-ws'))
    wait_listen(env, web, 8080)
    ws = ws_open(pf_url(env, pod), ['portforward.k8s.io'], query='?port=8080')
    try:
        assert ws.subprotocol == 'portforward.k8s.io'
        # Each channel opens with its port, little-endian.
        first = ws_messages(ws, until=lambda m: len(m) == 2)
        assert sorted(m for _, m in first) == [b'\x00' + struct.pack('<H', 8080),
                                              b'\x01' + struct.pack('<H', 8080)]
        ws.send_binary(b'\x00' + HTTP_GET)
        ch = channels(ws_messages(ws, until=lambda m: channels(m).get(0, b'').endswith(
            b'hello-ws\n')))
    finally:
        ws.close()
    assert_page(ch[0], b'hello-ws\n')


# ---- tokens and sessions ----

def status_of(url, path=None):
    """(status, body) of an upgrade request to url (or to `path` on its server)."""
    u = urllib.parse.urlsplit(url)
    c = SpdyClient(u.hostname, u.port)
    try:
        status, _, body = c.upgrade(path or u.path, (V4,))
    finally:
        c.close()
    return status, body


def test_tokens(ctr):
    env, cid = ctr
    expiring = exec_url(env, cid, ['true'])
    t0 = time.monotonic()
    url = exec_url(env, cid, ['true'])
    rc = Rc(url)
    try:
        assert rc.finish() == (b'', b'', SUCCESS)
    finally:
        rc.close()
    assert status_of(url) == (404, b'')
    assert status_of(url, '/exec/' + '0' * 32) == (404, b'')
    assert status_of(url, '/exec/') == (404, b'')
    token = exec_url(env, cid, ['true']).rsplit('/', 1)[1]
    assert status_of(url, '/attach/' + token) == (404, b'')
    token = attach_url(env, cid, stdin=False, stderr=False).rsplit('/', 1)[1]
    assert status_of(url, '/portforward/' + token) == (404, b'')
    time.sleep(max(0.0, 61 - (time.monotonic() - t0)))
    assert status_of(expiring) == (404, b'')


def test_50_concurrent_execs(ctr):
    env, cid = ctr
    urls = [exec_url(env, cid, ['echo', '-n', str(i)]) for i in range(50)]
    results = [None] * 50

    def one(i):
        try:
            rc = Rc(urls[i])
            try:
                results[i] = rc.finish(timeout=60)
            finally:
                rc.close()
        except Exception as e:  # noqa: BLE001 -- reported below
            results[i] = e

    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert results == [(str(i).encode(), b'', SUCCESS) for i in range(50)]


def procs():
    """{pid: (ppid, argv)} of every process."""
    out = {}
    for p in os.listdir('/proc'):
        if not p.isdigit():
            continue
        try:
            with open(f'/proc/{p}/stat') as f:
                ppid = int(f.read().rsplit(')', 1)[1].split()[1])
            with open(f'/proc/{p}/cmdline', 'rb') as f:
                argv = f.read().split(b'\0')[:-1]
        except (OSError, IndexError, ValueError):
            continue
        out[int(p)] = (ppid, argv)
    return out


def counts(pid):
    return len(os.listdir(f'/proc/{pid}/fd')), len(os.listdir(f'/proc/{pid}/task'))


def settle(pred, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        ok = pred()
        if ok or time.monotonic() > deadline:
            return ok
        time.sleep(0.1)


@pytest.mark.parametrize('tty', [False, True])
def test_client_disconnect_leaves_nothing(ctr, tty):
    env, cid = ctr
    ocid = env.d.proc.pid
    secs = str(100000 + os.getpid() % 50000)
    mine = lambda: [p for p, (_, a) in procs().items() if a == [b'sleep', secs.encode()]]
    # What ocid started for this exec (the runtime, or a reaper above it).
    children = lambda: [p for p, (pp, a) in procs().items() if pp == ocid and secs.encode() in a]
    # A first session warms up what the daemon keeps (RPC threads, ...).
    assert run_exec(env, cid, ['true'], tty=tty)[2] == SUCCESS
    url = exec_url(env, cid, ['sleep', secs], tty=tty, stdin=True)
    time.sleep(0.3)
    before = counts(ocid)
    rc = Rc(url, stdin=True, stderr=not tty, tty=tty)
    assert settle(lambda: len(mine()) == 1), 'the command did not start'
    assert children()
    rc.close()
    assert settle(lambda: not mine()), 'the command outlived its client'
    assert settle(lambda: not children()), children()
    assert settle(lambda: counts(ocid) == before), (counts(ocid), before)


def test_idle_timeout(make_env):
    env = make_env(['--stream-idle-timeout', '2s'])
    pod = env.pod()
    cid = shell(env, pod)
    # Output is traffic: a command that prints every half second outlives it.
    script = 'for i in 1 2 3 4 5 6 7 8; do echo $i; sleep 0.5; done'
    out, _, status = run_exec(env, cid, ['sh', '-c', script])
    assert (out, status) == (b'1\n2\n3\n4\n5\n6\n7\n8\n', SUCCESS)
    rc = Rc(exec_url(env, cid, ['sleep', '1000']))
    t = time.monotonic()
    try:
        assert rc.c.wait_eof(10), 'an idle session stayed open'
    finally:
        rc.close()
    assert 1.5 < time.monotonic() - t < 6
    assert rc.c.goaway is not None


def test_session_bound(make_env):
    env = make_env(['--stream-max-sessions', '2'])
    pod = env.pod()
    cid = shell(env, pod)
    rcs = [Rc(exec_url(env, cid, ['sleep', '1000'])) for _ in range(2)]
    third = exec_url(env, cid, ['echo', '-n', 'third'])
    try:
        status, body = status_of(third)
        assert status == 503, (status, body)
    finally:
        rcs[0].close()
    # The token was not spent on the refusal: once a session ended, it serves.
    rc = Rc(third, busy_wait=10)
    try:
        assert rc.finish() == (b'third', b'', SUCCESS)
    finally:
        rc.close()
        rcs[1].close()
