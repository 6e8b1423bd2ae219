"""Fixtures for ocid integration tests (run with /usr/bin/python3 -m pytest).

OCID_BUILD  build directory to test (default: <repo>/build)
OCID_ASAN   set when the build is sanitized: daemon logs are checked for reports
"""
import importlib
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time

import grpc
import pytest

from registry import Registry, busybox_image

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROTO = os.path.join(TOP, 'api', 'runtime', 'v1', 'api.proto')
SANITIZER_MARKERS = ('ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:',
                     'SUMMARY: UndefinedBehaviorSanitizer')


def build_dir():
    return os.path.abspath(os.environ.get('OCID_BUILD', os.path.join(TOP, 'build')))


def ocid_bin():
    return os.path.join(build_dir(), 'src', 'cmd', 'ocid', 'ocid')


def ocic_bin():
    return os.path.join(build_dir(), 'src', 'cmd', 'ocic', 'ocic')


_net_counter = [0]


def net_ids():
    """A bridge name and a /24 prefix ('10.a.b.') of this test's own, so
    daemons of parallel tests (and a live ocid on 10.88.0.0/16) never share
    addresses."""
    _net_counter[0] += 1
    n = (os.getpid() * 7 + _net_counter[0]) % 40000
    return f'ocit{n:x}', f'10.{64 + n // 250 % 60}.{n % 250}.'


def cleanup_net(bridge, prefix, tmp):
    """NAT rules of our subnet and their chains (the plugins' per pod, the
    built-in network's masquerade), mounts under tmp, the bridge."""
    subprocess.run(['/bin/sh', '-c', f"""
for c in $(iptables -t nat -S POSTROUTING | grep -- '-s {prefix}' | grep -o 'CNI-[0-9a-f]*\\|OCID-MASQ-[0-9a-f]*' | sort -u); do
  iptables -t nat -S POSTROUTING | grep -- "-j $c" | sed 's/^-A /-D /' | while read -r l; do eval iptables -t nat $l; done
  iptables -t nat -F $c; iptables -t nat -X $c; done
for m in $(grep -o '{tmp}/[^ ]*' /proc/self/mountinfo | sort -r); do umount -l $m; done
ip link del {bridge} 2>/dev/null; ip link del {bridge}b 2>/dev/null; true"""],
                   capture_output=True, timeout=60)


def sanitizer_report(text):
    """The first sanitizer marker found in text, or None."""
    for m in SANITIZER_MARKERS:
        if m in text:
            return m
    return None


@pytest.fixture(scope='session')
def pb():
    """The api_pb2 module generated from the vendored CRI proto."""
    out = tempfile.mkdtemp(prefix='ocid-pb-')
    subprocess.run(['protoc', '--proto_path=' + os.path.dirname(PROTO),
                    '--python_out=' + out, PROTO], check=True)
    sys.path.insert(0, out)
    try:
        return importlib.import_module('api_pb2')
    finally:
        sys.path.remove(out)


def wait_for_socket(path, proc, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if os.path.exists(path):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                return True
            except OSError:
                pass
            finally:
                s.close()
        time.sleep(0.02)
    return False


def http_unix(path, method, target, body=None, timeout=10.0):
    """Plain HTTP/1.1 over the unix socket. Returns (status, headers, body bytes)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    try:
        req = f'{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n'
        if body is not None:
            req += f'Content-Length: {len(body)}\r\n'
        s.sendall(req.encode() + b'\r\n' + (body or b''))
        data = b''
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            head, sep, rest = data.partition(b'\r\n\r\n')
            if sep:
                hdrs = _parse_headers(head)
                n = hdrs.get('content-length')
                if n is not None and len(rest) >= int(n):
                    break
    finally:
        s.close()
    head, _, rest = data.partition(b'\r\n\r\n')
    status = int(head.split(b' ', 2)[1])
    hdrs = _parse_headers(head)
    if 'content-length' in hdrs:
        rest = rest[:int(hdrs['content-length'])]
    return status, hdrs, rest


def _parse_headers(head):
    hdrs = {}
    for line in head.split(b'\r\n')[1:]:
        k, _, v = line.decode('latin-1').partition(':')
        hdrs[k.strip().lower()] = v.strip()
    return hdrs


class Daemon:
    """A running ocid in temp dirs."""

    def __init__(self, pb, tmp, extra_args=(), env=None, config=None):
        self.pb = pb
        self.tmp = tmp
        self.root = os.path.join(tmp, 'root')
        self.runroot = os.path.join(tmp, 'run')
        self.socket = os.path.join(tmp, 'run', 'ocid.sock')
        self.log_path = os.path.join(tmp, 'ocid.log')
        self.args = [ocid_bin(), '--root', self.root, '--runroot', self.runroot,
                     '--listen', self.socket, '--config', config or os.path.join(tmp, 'none.conf'),
                     '--config-dir', os.path.join(tmp, 'conf.d'), '--enable-debug-rpc',
                     '--log-level', 'debug'] + list(extra_args)
        # Pod networks of their own (see net_ids), unless the test chose.
        self.bridge, self.net_prefix = net_ids()
        if '--cni-default-bridge' not in extra_args:
            self.args += ['--cni-default-bridge', self.bridge,
                          '--cni-default-subnet', self.net_prefix + '0/24']
        else:
            self.bridge = extra_args[list(extra_args).index('--cni-default-bridge') + 1]
        if '--cni-config-dir' not in extra_args:
            self.args += ['--cni-config-dir', os.path.join(tmp, 'net.d')]
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.log = None
        self._channels = []
        self._starts = 0

    def start(self, wait=True):
        assert os.access(ocid_bin(), os.X_OK), f'{ocid_bin()} is not built (OCID_BUILD?)'
        self._starts += 1
        self.log = open(self.log_path, 'ab')
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env)
        if wait and not wait_for_socket(self.socket, self.proc):
            raise AssertionError(f'ocid did not come up (rc={self.proc.poll()}):\n{self.read_log()}')
        return self

    def read_log(self):
        with open(self.log_path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    def channel(self):
        # gRPC shares connections among channels of equal arguments: the
        # start count keeps a channel made after a restart off a connection
        # to the daemon that was killed, which a first call could still
        # write to ("Broken pipe") before the client saw it close.
        ch = grpc.insecure_channel('unix:' + self.socket, options=[
            ('grpc.max_send_message_length', 64 << 20),
            ('grpc.max_receive_message_length', 64 << 20),
            ('ocid.test.starts', self._starts)])
        self._channels.append(ch)
        return ch

    def method_types(self, service, method):
        svc = self.pb.DESCRIPTOR.services_by_name[service]
        m = svc.methods_by_name[method]
        req = getattr(self.pb, m.input_type.name)
        resp = getattr(self.pb, m.output_type.name)
        return m, req, resp

    def call(self, service, method, request=None, channel=None, timeout=10.0):
        """Unary call /runtime.v1.<service>/<method>; returns the decoded reply."""
        m, req_t, resp_t = self.method_types(service, method)
        ch = channel or self.channel()
        stub = ch.unary_unary(f'/runtime.v1.{service}/{method}',
                              request_serializer=lambda r: r.SerializeToString(),
                              response_deserializer=resp_t.FromString)
        return stub(request if request is not None else req_t(), timeout=timeout)

    def runtime(self, method, request=None, **kw):
        return self.call('RuntimeService', method, request, **kw)

    def image(self, method, request=None, **kw):
        return self.call('ImageService', method, request, **kw)

    def sleep(self, ms, channel=None, timeout=30.0):
        """The debug Sleep RPC (request: decimal milliseconds as raw bytes)."""
        ch = channel or self.channel()
        stub = ch.unary_unary('/ocid.debug.Debug/Sleep', request_serializer=lambda b: b,
                              response_deserializer=lambda b: b)
        return stub(str(ms).encode(), timeout=timeout)

    def http(self, method, target, body=None):
        return http_unix(self.socket, method, target, body)

    def stop(self, timeout=10.0):
        """SIGTERM; returns the exit code (None if it did not exit in time)."""
        for ch in self._channels:
            ch.close()
        self._channels = []
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.log:
            self.log.close()
            self.log = None


@pytest.fixture
def make_daemon(pb, tmp_path):
    """Factory: make_daemon(extra_args=(), env=None, config=None, subdir='d') -> Daemon (not started)."""
    made = []

    def make(extra_args=(), env=None, config=None, subdir='d'):
        d = tmp_path / subdir
        d.mkdir(exist_ok=True)
        dm = Daemon(pb, str(d), extra_args, env, config)
        made.append(dm)
        return dm

    yield make
    for dm in made:
        dm.kill()
        cleanup_net(dm.bridge, dm.net_prefix, dm.tmp)


@pytest.fixture
def open_tmp_path():
    """A test directory (0700, like pytest's) outside pytest's own
    /tmp/pytest-of-root, for tests that open it to others (the root of a
    pod's user namespace reaches the daemon's files through every directory
    above them): any pytest run that starts meanwhile resets
    /tmp/pytest-of-root to 0700. Removed without crossing into what is
    still mounted below it."""
    p = tempfile.mkdtemp(prefix='ocid-test-', dir='/tmp')
    yield pathlib.Path(p)
    subprocess.run(['rm', '-rf', '--one-file-system', p], check=False)


@pytest.fixture
def daemon(make_daemon):
    """A started ocid; on teardown SIGTERM must exit 0 with no sanitizer report."""
    d = make_daemon().start()
    yield d
    rc = d.stop()
    d.kill()
    log = d.read_log()
    assert rc == 0, f'ocid exited {rc} on SIGTERM; log:\n{log[-4000:]}'
    if os.environ.get('OCID_ASAN'):
        assert sanitizer_report(log) is None, f'sanitizer report:\n{log[-8000:]}'


# ContainerState values.
RUNNING, EXITED, CREATED = 1, 2, 0


@pytest.fixture
def make_env(make_daemon, tmp_path):
    """Factory: make_env(extra_args=(), subdir='d') -> a started ocid (with
    extra_args) beside a loopback registry serving a busybox-static image,
    pulled, as an Env. At the end its containers and pods are removed and
    SIGTERM must exit 0 with no sanitizer report."""
    reg = Registry(tmp_path / 'registry').start()
    etc = tmp_path / 'etc'
    etc.mkdir()
    (etc / 'registries.conf').write_text(
        f'[[registry]]\nlocation = "{reg.host}"\ninsecure = true\n')
    (etc / 'policy.json').write_text(
        json.dumps({'default': [{'type': 'insecureAcceptAnything'}]}))
    args = ['--registries-conf', str(etc / 'registries.conf'),
            '--signature-policy', str(etc / 'policy.json'),
            '--global-auth-file', str(etc / 'auth.json')]
    busybox_image(reg, 'test/busybox')
    image = f'{reg.host}/test/busybox:latest'
    made = []

    def make(extra_args=(), subdir='d'):
        d = make_daemon(extra_args=args + list(extra_args), subdir=subdir).start()
        d.image('PullImage', d.pb.PullImageRequest(image=d.pb.ImageSpec(image=image)),
                timeout=60)
        logs = tmp_path / subdir / 'logs'
        logs.mkdir()
        e = Env(d, image, str(logs))
        e.reg = reg
        made.append(e)
        return e

    yield make
    try:
        for e in made:
            d = e.d
            for c in d.runtime('ListContainers', d.pb.ListContainersRequest()).containers:
                d.runtime('RemoveContainer', d.pb.RemoveContainerRequest(container_id=c.id),
                          timeout=30)
            for p in d.runtime('ListPodSandbox', d.pb.ListPodSandboxRequest()).items:
                d.runtime('RemovePodSandbox',
                          d.pb.RemovePodSandboxRequest(pod_sandbox_id=p.id), timeout=60)
            rc = d.stop()
            log = d.read_log()
            assert rc == 0, log[-3000:]
            if os.environ.get('OCID_ASAN'):
                assert sanitizer_report(log) is None, log[-8000:]
    finally:
        # Also after a failed test left its daemon down: no registry stays.
        reg.stop()


@pytest.fixture
def env(make_env):
    """A started ocid with a loopback registry serving a busybox-static image
    (pulled); yields an Env. Containers and pods are removed at the end."""
    return make_env()


class Env:
    def __init__(self, d, image, logs):
        self.d, self.pb, self.image, self.logs = d, d.pb, image, logs
        self.pod_cfg = None

    def pod(self, name='pod'):
        pb = self.pb
        ns = pb.NamespaceOption(network=pb.NODE, pid=pb.CONTAINER, ipc=pb.POD)
        self.pod_cfg = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, namespace='default', uid='uid-' + name),
            log_directory=self.logs, hostname=name,
            linux=pb.LinuxPodSandboxConfig(
                security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))
        r = self.d.runtime('RunPodSandbox', pb.RunPodSandboxRequest(config=self.pod_cfg),
                           timeout=60)
        return r.pod_sandbox_id

    def create(self, pod, name, cmd, attempt=0, labels=None, image=None):
        pb = self.pb
        cfg = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=name, attempt=attempt),
            image=pb.ImageSpec(image=image or self.image), command=cmd,
            log_path=f'{name}/{attempt}.log', labels=labels or {},
            annotations={'note': name})
        return self.d.runtime('CreateContainer', pb.CreateContainerRequest(
            pod_sandbox_id=pod, config=cfg, sandbox_config=self.pod_cfg), timeout=60).container_id

    def start(self, cid):
        self.d.runtime('StartContainer', self.pb.StartContainerRequest(container_id=cid),
                       timeout=30)

    def start_hog(self, pod):
        """Create and start 'hog', which outgrows its 32 MiB memory limit."""
        pb = self.pb
        cfg = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name='hog'), image=pb.ImageSpec(image=self.image),
            command=['/bin/sh', '-c', 'x=0123456789; while true; do x=$x$x; done'],
            log_path='hog_0.log',
            linux=pb.LinuxContainerConfig(resources=pb.LinuxContainerResources(
                memory_limit_in_bytes=32 << 20)))
        hog = self.d.runtime('CreateContainer', pb.CreateContainerRequest(
            pod_sandbox_id=pod, config=cfg, sandbox_config=self.pod_cfg),
            timeout=60).container_id
        self.start(hog)
        return hog

    def status(self, cid, verbose=False):
        return self.d.runtime('ContainerStatus', self.pb.ContainerStatusRequest(
            container_id=cid, verbose=verbose))

    def wait_state(self, cid, state, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.status(cid).status
            if st.state == state:
                return st
            time.sleep(0.05)
        raise AssertionError(f'{cid} never reached state {state}: {st}')

    def list(self, **flt):
        return self.d.runtime('ListContainers', self.pb.ListContainersRequest(
            filter=self.pb.ContainerFilter(**flt))).containers[:]

    def log(self, name, attempt=0):
        with open(os.path.join(self.logs, name, f'{attempt}.log')) as f:
            return f.read()
