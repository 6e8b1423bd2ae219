"""ocic as a streaming client: ctr exec (pipes and a terminal), ctr attach
and pod port-forward against a real ocid (the env fixture of conftest.py:
busybox-static from a loopback registry, real runc, ocimon and CNI)."""
import concurrent.futures
import fcntl
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import termios
import time

import pytest

from conftest import EXITED, ocic_bin
from registry import busybox_image

# Applets these tests run beyond the test image's own (symbolic links:
# busybox picks the applet by argv[0]).
APPLETS = ['printf', 'wc', 'stty', 'httpd', 'mkdir', 'wget']


def ocic(env, *args, input=None, timeout=30):
    """Run ocic against env's daemon; stdout and stderr as bytes."""
    return subprocess.run([ocic_bin(), '--socket', env.d.socket] + list(args),
                          capture_output=True, timeout=timeout,
                          input=input, stdin=None if input is not None else subprocess.DEVNULL)


@pytest.fixture
def env(make_env):
    """make_env's ocid, its image replaced by one with APPLETS too."""
    e = make_env()
    busybox_image(e.reg, 'test/busybox-stream',
                  extra=[(f'bin/{a}', 'symlink', 'busybox', {}) for a in APPLETS])
    e.image = f'{e.reg.host}/test/busybox-stream:latest'
    e.d.image('PullImage', e.pb.PullImageRequest(image=e.pb.ImageSpec(image=e.image)),
              timeout=60)
    return e


def sleeper(env):
    pod = env.pod()
    cid = env.create(pod, 'sleeper', ['/bin/sleep', '600'])
    env.start(cid)
    return pod, cid


# ---- exec without a terminal ----

def test_exec_pipes(env):
    _, cid = sleeper(env)
    p = ocic(env, 'ctr', 'exec', '--id', cid, '--', 'printf', 'hello')
    assert (p.returncode, p.stdout, p.stderr) == (0, b'hello', b'')
    p = ocic(env, 'ctr', 'exec', '--id', cid, '--', 'sh', '-c', 'exit 7')
    assert (p.returncode, p.stdout, p.stderr) == (7, b'', b'')
    p = ocic(env, 'ctr', 'exec', '--id', cid, 'sh', '-c', 'echo out; echo err >&2; exit 3')
    assert (p.returncode, p.stdout, p.stderr) == (3, b'out\n', b'err\n')
    # stdin with -i reaches the command, and its end ends cat.
    data = os.urandom(200000)
    p = ocic(env, 'ctr', 'exec', '-i', '--id', cid, '--', 'cat', input=data)
    assert p.returncode == 0 and p.stdout == data, (p.returncode, len(p.stdout), p.stderr)
    p = ocic(env, 'ctr', 'exec', '-i', '--id', cid, '--', 'wc', '-c', input=b'abc\n')
    assert (p.returncode, p.stdout.strip()) == (0, b'4'), p.stderr
    # Without -i, the command's stdin is empty.
    p = ocic(env, 'ctr', 'exec', '--id', cid, '--', 'cat', input=b'not sent')
    assert (p.returncode, p.stdout) == (0, b''), p.stderr


def test_exec_errors(env):
    _, cid = sleeper(env)
    p = ocic(env, 'ctr', 'exec', '--id', 'abcdef0123', '--', 'true')
    assert p.returncode == 1 and b'NOT_FOUND' in p.stderr, p.stderr
    p = ocic(env, 'ctr', 'exec', '--id', cid, '--', '/no/such/binary')
    assert p.returncode != 0 and p.stderr, (p.returncode, p.stderr)
    p = ocic(env, 'ctr', 'exec', '--timeout', '5s', '--id', cid, '--', 'true')
    assert p.returncode == 2 and b'--sync' in p.stderr, p.stderr
    p = ocic(env, 'ctr', 'exec', '-s', '-i', '--id', cid, '--', 'true')
    assert p.returncode == 2, p.stderr
    env.d.runtime('StopContainer', env.pb.StopContainerRequest(container_id=cid, timeout=0))
    p = ocic(env, 'ctr', 'exec', '--id', cid, '--', 'true')
    assert p.returncode == 1 and b'not running' in p.stderr, p.stderr


# ---- exec with a terminal, under a pty ----

class Pty:
    """ocic run on a new pseudo-terminal of the given size."""

    def __init__(self, argv, rows, cols):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execv(argv[0], argv)
            finally:
                os._exit(127)
        self.resize(rows, cols, signal_it=False)
        self.buf = b''

    def resize(self, rows, cols, signal_it=True):
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
        if signal_it:
            os.kill(self.pid, signal.SIGWINCH)

    def write(self, b):
        os.write(self.fd, b)

    def expect(self, pattern, timeout=10.0):
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            left = deadline - time.monotonic()
            assert left > 0, f'no {pattern!r} in {self.buf!r}'
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    chunk = b''
                assert chunk, f'EOF before {pattern!r}; got {self.buf!r}'
                self.buf += chunk

    def wait(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            try:
                select.select([self.fd], [], [], 0.05)
                os.read(self.fd, 65536)
            except OSError:
                time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError('ocic did not exit')


def test_exec_tty(env):
    _, cid = sleeper(env)
    t = Pty([ocic_bin(), '--socket', env.d.socket, 'ctr', 'exec', '-it', '--id', cid, '--',
             'sh'], 33, 101)
    # runc copies our size to the container's terminal just after it starts
    # copying stdin, so a shell fast enough can see 0 0 first (runc's race,
    # seen once under ASan): wait for the size, then check it.
    t.write(b'for i in $(seq 50); do [ "$(stty size)" = "33 101" ] && break; '
            b'sleep 0.1; done 2>/dev/null; stty size; echo A$((6*7))B\r')
    t.expect(rb'\r\n33 101\r\n')
    t.expect(rb'A42B')
    t.resize(40, 120)
    time.sleep(0.3)
    t.write(b'stty size\r')
    t.expect(rb'40 120\r\n')
    # The local terminal is raw: ^C goes to the remote shell, not to ocic.
    t.write(b'sleep 100\r')
    time.sleep(0.3)
    t.write(b'\x03')
    t.write(b'echo after-$((1+1))\r')
    t.expect(rb'after-2')
    t.write(b'exit 5\r')
    assert t.wait() == 5


def test_exec_tty_restores_the_terminal(env):
    """The terminal's modes are back after ocic exits: at the command's exit
    and on SIGTERM (which ends ocic with 143)."""
    _, cid = sleeper(env)
    ocic_cmd = (f"sh -c 'echo $$ > ocic.pid; exec {ocic_bin()} --socket {env.d.socket} "
                f"ctr exec -it --id {cid} -- sh -c \"$0\"'")
    killer = ('(while [ ! -s ocic.pid ]; do sleep 0.1; done; sleep 1; '
              'kill -TERM $(cat ocic.pid)) &\n')
    for inner, pre, rc in (('exit 3', '', 3), ('sleep 30', killer, 143)):
        script = (f'stty -g > before; rm -f ocic.pid\n{pre}{ocic_cmd} "{inner}"\n'
                  'echo rc=$?; stty -g > after; cmp -s before after && echo same || echo differ\n')
        with open(os.path.join(env.logs, 'restore.sh'), 'w') as f:
            f.write(script)
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.chdir(env.logs)
                os.execv('/bin/sh', ['/bin/sh', 'restore.sh'])
            finally:
                os._exit(127)
        out = b''
        deadline = time.monotonic() + 20
        while b'same' not in out and b'differ' not in out and time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    break
        if b'same' not in out and b'differ' not in out:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)
        assert f'rc={rc}'.encode() in out and b'same' in out, out


def test_exec_tty_sigterm(env):
    """SIGTERM to ocic ends it with 143 (its terminal restored: above)."""
    _, cid = sleeper(env)
    t = Pty([ocic_bin(), '--socket', env.d.socket, 'ctr', 'exec', '-it', '--id', cid, '--',
             'sh'], 24, 80)
    t.write(b'echo ready-$((2+2))\r')
    t.expect(rb'ready-4')
    os.kill(t.pid, signal.SIGTERM)
    assert t.wait() == 128 + signal.SIGTERM


# ---- attach ----

def create_stdin(env, pod, name, cmd, tty=False, once=True):
    pb = env.pb
    cfg = pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name=name), image=pb.ImageSpec(image=env.image),
        command=cmd, log_path=f'{name}/0.log', stdin=True, stdin_once=once, tty=tty)
    cid = env.d.runtime('CreateContainer', pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=cfg, sandbox_config=env.pod_cfg), timeout=60).container_id
    env.start(cid)
    return cid


def test_attach_stdin_once(env):
    pod = env.pod()
    cid = create_stdin(env, pod, 'sh', ['/bin/sh'])
    p = ocic(env, 'ctr', 'attach', '-i', '--id', cid, input=b'echo hello\n')
    assert (p.returncode, p.stdout, p.stderr) == (0, b'hello\n', b''), p
    # The end of our stdin was the container's (stdin_once): sh is gone.
    env.wait_state(cid, EXITED)
    p = ocic(env, 'ctr', 'attach', '--id', cid)
    assert p.returncode == 1 and b'not running' in p.stderr, p.stderr
    p = ocic(env, 'ctr', 'attach', '--id', 'abcdef0123')
    assert p.returncode == 1 and b'NOT_FOUND' in p.stderr, p.stderr


def test_attach_output_and_stderr(env):
    """Without -i: the container's output as it comes, stdout and stderr
    apart, until it exits."""
    pod = env.pod()
    cid = env.create(pod, 'talker', ['/bin/sh', '-c',
                                     'sleep 1; echo out; echo err >&2; sleep 0.5; exit 4'])
    env.start(cid)
    p = ocic(env, 'ctr', 'attach', '--id', cid)
    assert (p.returncode, p.stdout, p.stderr) == (0, b'out\n', b'err\n'), p


def test_attach_tty(env):
    """A container with a terminal: attached as one (the default), in raw
    mode, and resized."""
    pod = env.pod()
    cid = create_stdin(env, pod, 'ttysh', ['/bin/sh'], tty=True, once=False)
    t = Pty([ocic_bin(), '--socket', env.d.socket, 'ctr', 'attach', '-i', '--id', cid], 30, 90)
    time.sleep(0.5)
    t.write(b'stty size\r')
    t.expect(rb'30 90\r\n')
    t.resize(31, 91)
    time.sleep(0.3)
    t.write(b'stty size\r')
    t.expect(rb'31 91\r\n')
    t.write(b'exit\r')
    assert t.wait() == 0
    env.wait_state(cid, EXITED)


# ---- port-forward ----

HTTPD = 'mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 8080 -h /www'


def netns_pod(env, name='pf'):
    pb = env.pb
    ns = pb.NamespaceOption(network=pb.POD, pid=pb.CONTAINER, ipc=pb.POD)
    env.pod_cfg = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=name, namespace='default', uid='uid-' + name),
        log_directory=env.logs, hostname=name,
        linux=pb.LinuxPodSandboxConfig(
            security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))
    return env.d.runtime('RunPodSandbox', pb.RunPodSandboxRequest(config=env.pod_cfg),
                         timeout=60).pod_sandbox_id


def http_get(port, timeout=10):
    with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
        s.sendall(b'GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n')
        out = b''
        while True:
            b = s.recv(65536)
            if not b:
                return out
            out += b


class Forwarder:
    def __init__(self, env, *args):
        self.p = subprocess.Popen([ocic_bin(), '--socket', env.d.socket, 'pod', 'port-forward']
                                  + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL)
        os.set_blocking(self.p.stderr.fileno(), False)

    def forwarding(self, n):
        """The (local, remote) pairs of the first n 'Forwarding from' lines."""
        got = []
        while len(got) < n:
            line = self.p.stdout.readline().decode()
            assert line, f'ocic ended: {self.stop()}'
            m = re.match(r'Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)$', line.strip())
            if m:
                got.append((int(m.group(1)), int(m.group(2))))
        return got

    def stderr(self):
        try:
            return (self.p.stderr.read() or b'').decode()
        except (BlockingIOError, TypeError):
            return ''

    def stop(self, sig=signal.SIGINT):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            rc = self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        os.set_blocking(self.p.stderr.fileno(), True)
        err = self.p.stderr.read().decode()
        self.p.stdout.close()
        self.p.stderr.close()
        return rc, err


def test_port_forward(env):
    pod = netns_pod(env)
    cid = env.create(pod, 'httpd', ['/bin/sh', '-c', HTTPD])
    env.start(cid)
    # httpd is up once it answers inside the pod.
    deadline = time.monotonic() + 10
    while env.d.runtime('ExecSync', env.pb.ExecSyncRequest(
            container_id=cid, cmd=['wget', '-q', '-O', '-', 'http://127.0.0.1:8080/'],
            timeout=5)).stdout != b'hi\n':
        assert time.monotonic() < deadline, 'httpd never answered in the pod'
        time.sleep(0.1)
    f = Forwarder(env, '--id', pod, ':8080', '0:9')
    try:
        (local, remote), (refused_local, _) = f.forwarding(2)
        assert remote == 8080 and local > 0
        for _ in range(2):
            reply = http_get(local)
            assert reply.startswith(b'HTTP/1.') and reply.endswith(b'\r\n\r\nhi\n'), reply
        # Nothing listens on port 9 in the pod: the error is printed, the
        # connection closed, and the forwarder goes on.
        assert http_get(refused_local) == b''
        deadline = time.monotonic() + 5
        err = ''
        while 'error' not in err and time.monotonic() < deadline:
            time.sleep(0.05)
            err += f.stderr()
        assert re.search(rf'error occurred forwarding {refused_local} -> 9: .*connect', err), err
        assert http_get(local).endswith(b'hi\n')
        # Many connections over the session's life (each pair of streams
        # must leave the server's table: ocic finishes its error stream at
        # once, as client-go does), and some at once.
        for _ in range(300):
            assert http_get(local).endswith(b'hi\n')
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            replies = list(pool.map(lambda _: http_get(local), range(40)))
        assert all(r.endswith(b'hi\n') for r in replies)
        assert f.p.poll() is None
    finally:
        rc, err = f.stop()
    assert rc == 0, err


def test_port_forward_same_local_port(env):
    """REMOTE alone listens on the same port locally (kubectl's rule)."""
    pod = netns_pod(env)
    cid = env.create(pod, 'httpd', ['/bin/sh', '-c', HTTPD])
    env.start(cid)
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        free = s.getsockname()[1]
    f = Forwarder(env, '--id', pod, f'{free}:8080', '8080')
    try:
        pairs = f.forwarding(2)
        assert pairs == [(free, 8080), (8080, 8080)], pairs
        deadline = time.monotonic() + 10
        while True:
            reply = http_get(free)
            if reply.endswith(b'hi\n'):
                break
            assert time.monotonic() < deadline, (reply, f.stderr())
            time.sleep(0.2)
    finally:
        rc, err = f.stop(signal.SIGTERM)
    assert rc == 0, err


def test_port_forward_errors(env):
    p = ocic(env, 'pod', 'port-forward', '--id', 'abcdef0123', '8080')
    assert p.returncode == 1 and b'NOT_FOUND' in p.stderr, p.stderr
    for bad in ('0', '8080:', 'x', '70000', '1:2:3', '-1'):
        p = ocic(env, 'pod', 'port-forward', '--id', 'abcdef0123', '--', bad)
        assert p.returncode == 2 and b'bad port' in p.stderr, (bad, p.stderr)
    p = ocic(env, 'pod', 'port-forward', '--id', 'abcdef0123')
    assert p.returncode == 2, p.stderr
