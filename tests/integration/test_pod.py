"""Pod sandboxes over CRI: real namespaces, real CNI plugins (bridge, host-local,
portmap from containernetworking-plugins), ocid-pause, restart survival.

Each daemon gets a bridge and a /24 of its own (flags --cni-default-bridge and
--cni-default-subnet), so these tests run beside other tests and a live ocid.
Traffic only goes to loopback and to the network namespaces made here."""
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import grpc
import pytest

from conftest import cleanup_net as _cleanup_net
from conftest import net_ids as _net_ids
from conftest import sanitizer_report

def _sh(cmd, check=True):
    return subprocess.run(['/bin/sh', '-c', cmd], capture_output=True, text=True, check=check,
                          timeout=30)


class PodEnv:
    def __init__(self, make_daemon, tmp_path, pb, subdir='d'):
        self.pb = pb
        self.tmp = str(tmp_path)
        self.bridge, self.prefix = _net_ids()
        self.subnet = self.prefix + '0/24'
        self.netd = os.path.join(self.tmp, 'net.d')
        self.plugins = os.path.join(self.tmp, 'plugins')
        os.makedirs(self.netd, exist_ok=True)
        if not os.path.isdir(self.plugins):
            os.makedirs(self.plugins)
            for p in ('bridge', 'host-local', 'portmap', 'loopback'):
                shutil.copy2(os.path.join('/usr/lib/cni', p), self.plugins)
        self.d = make_daemon(extra_args=[
            '--cni-config-dir', self.netd, '--cni-plugin-dir', self.plugins,
            '--cni-default-bridge', self.bridge, '--cni-default-subnet', self.subnet],
            subdir=subdir)

    def config(self, name, uid='uid-1', attempt=0, **kw):
        pb = self.pb
        c = pb.PodSandboxConfig(metadata=pb.PodSandboxMetadata(
            name=name, namespace='default', uid=uid, attempt=attempt), **kw)
        return c

    def run(self, cfg, **kw):
        return self.d.runtime('RunPodSandbox', self.pb.RunPodSandboxRequest(config=cfg),
                              **kw).pod_sandbox_id

    def status(self, pid, verbose=False):
        return self.d.runtime('PodSandboxStatus', self.pb.PodSandboxStatusRequest(
            pod_sandbox_id=pid, verbose=verbose))

    def info(self, pid):
        return json.loads(self.status(pid, verbose=True).info['info'])

    def stop(self, pid):
        self.d.runtime('StopPodSandbox', self.pb.StopPodSandboxRequest(pod_sandbox_id=pid))

    def remove(self, pid):
        self.d.runtime('RemovePodSandbox', self.pb.RemovePodSandboxRequest(pod_sandbox_id=pid))

    def list(self, **filt):
        f = self.pb.PodSandboxFilter(**filt) if filt else None
        return self.d.runtime('ListPodSandbox', self.pb.ListPodSandboxRequest(filter=f)).items

    def pod_dirs(self):
        return os.listdir(os.path.join(self.d.runroot, 'pods')) \
            if os.path.isdir(os.path.join(self.d.runroot, 'pods')) else []

    def cleanup(self):
        for p in self.list() if self.d.proc and self.d.proc.poll() is None else []:
            try:
                self.stop(p.id)
                self.remove(p.id)
            except grpc.RpcError:
                pass
        _cleanup_net(self.bridge, self.prefix, self.tmp)

    def finish(self):
        """Pods and network gone, the daemon stopped: exit 0, no sanitizer
        report in its log."""
        self.cleanup()
        rc = self.d.stop()
        log = self.d.read_log()
        assert rc == 0, log[-3000:]
        if os.environ.get('OCID_ASAN'):
            assert sanitizer_report(log) is None, f'sanitizer report:\n{log[-8000:]}'


@pytest.fixture
def env(make_daemon, tmp_path, pb):
    e = PodEnv(make_daemon, tmp_path, pb)
    e.d.start()
    yield e
    e.finish()



SERVER = r'''
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(8)
print('ready', flush=True)
while True:
    c, _ = s.accept(); c.sendall(b'hello from pod'); c.close()
'''

CLIENT = r'''
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
print(c.recv(100).decode())
'''


def serve_in(netns, port):
    p = subprocess.Popen(['nsenter', f'--net={netns}', '/usr/bin/python3', '-c', SERVER,
                          str(port)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == 'ready'
    return p


def dial(host, port, tries=50):
    last = None
    for _ in range(tries):
        try:
            with socket.create_connection((host, port), timeout=3) as c:
                return c.recv(100)
        except OSError as e:
            last = e
            time.sleep(0.1)
    raise AssertionError(f'cannot reach {host}:{port}: {last}')


def test_status_network_ready(env, pb):
    conds = {c.type: c for c in env.d.runtime('Status', pb.StatusRequest()).status.conditions}
    assert conds['NetworkReady'].status is True, conds['NetworkReady'].message


def test_pod_ip_reach_hostport_files(env, pb):
    host_port = 20000 + os.getpid() % 20000
    cfg = env.config('web', hostname='web-0',
                     dns_config=pb.DNSConfig(servers=['10.96.0.10', '10.96.0.11'],
                                             searches=['default.svc.cluster.local', 'svc.cluster.local'],
                                             options=['ndots:5', 'edns0']),
                     port_mappings=[pb.PortMapping(protocol=pb.TCP, container_port=8080,
                                                   host_port=host_port, host_ip='127.0.0.1')],
                     labels={'app': 'web'}, annotations={'a': 'b'})
    pid = env.run(cfg)
    st = env.status(pid).status
    assert st.state == pb.SANDBOX_READY
    assert st.network.ip.startswith(env.prefix)
    assert st.metadata.name == 'web' and st.labels['app'] == 'web' and st.annotations['a'] == 'b'
    assert st.linux.namespaces.options.network == pb.POD
    info = env.info(pid)
    netns = info['runtime']['netns']
    poddir = info['runtime']['dir']
    srv = serve_in(netns, 8080)
    try:
        assert dial(st.network.ip, 8080) == b'hello from pod'
        assert dial('127.0.0.1', host_port) == b'hello from pod'
    finally:
        srv.kill()
        srv.wait()
    with open(os.path.join(poddir, 'resolv.conf')) as f:
        assert f.read() == ('nameserver 10.96.0.10\nnameserver 10.96.0.11\n'
                            'search default.svc.cluster.local svc.cluster.local\n'
                            'options ndots:5 edns0\n')
    with open(os.path.join(poddir, 'hosts')) as f:
        assert f.read() == ('127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'
                            f'{st.network.ip}\tweb-0\n')
    with open(os.path.join(poddir, 'hostname')) as f:
        assert f.read() == 'web-0\n'
    assert _sh(f'nsenter --uts={info["runtime"]["utsns"]} hostname').stdout == 'web-0\n'
    env.stop(pid)
    env.stop(pid)
    assert env.status(pid).status.state == pb.SANDBOX_NOTREADY
    env.remove(pid)
    env.remove(pid)
    with pytest.raises(grpc.RpcError) as ei:
        env.status(pid)
    assert ei.value.code() == grpc.StatusCode.NOT_FOUND
    assert env.pod_dirs() == []


def test_two_pods_reach_each_other(env):
    a = env.run(env.config('a', uid='ua'))
    b = env.run(env.config('b', uid='ub'))
    ip_a = env.status(a).status.network.ip
    srv = serve_in(env.info(a)['runtime']['netns'], 9000)
    try:
        out = _sh(f'nsenter --net={env.info(b)["runtime"]["netns"]} /usr/bin/python3 -c '
                  f'"{CLIENT}" {ip_a} 9000')
        assert out.stdout.strip() == 'hello from pod'
    finally:
        srv.kill()
        srv.wait()


def test_resolv_conf_copied_without_dns_config(env):
    pid = env.run(env.config('nodns'))
    with open(os.path.join(env.info(pid)['runtime']['dir'], 'resolv.conf')) as f, \
            open('/etc/resolv.conf') as h:
        assert f.read() == h.read()


PEER = r'''
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 9100)); s.listen(8)
print('ready', flush=True)
while True:
    c, a = s.accept(); c.sendall(a[0].encode()); c.close()
'''


def _masq_jumps(subnet):
    rules = _sh('iptables -t nat -S POSTROUTING').stdout.splitlines()
    return [r for r in rules if f'-s {subnet} ' in r and '-j OCID-MASQ-' in r]


def test_egress_masqueraded_by_one_chain_for_the_subnet(env):
    """A pod's traffic to outside its subnet leaves with the node's address:
    a peer in a network namespace of its own, routed through the node, sees
    the node's address, not the pod's. The built-in network makes one
    masquerade chain for its subnet, jumped to once from POSTROUTING, kept
    (not doubled) across a restart, made again after SIGHUP when a firewall
    reload removed it; no POSTROUTING rule names a pod."""
    n = os.getpid() % 250
    ns, host_if, peer_if = f'ocidpeer{os.getpid()}', f'ocph{os.getpid() % 100000}', 'eth0'
    host_ip, peer_ip = f'172.31.{n}.1', f'172.31.{n}.2'
    _sh(f'ip netns add {ns}')
    try:
        _sh(f'ip link add {host_if} type veth peer name {peer_if} netns {ns} && '
            f'ip addr add {host_ip}/30 dev {host_if} && ip link set {host_if} up && '
            f'ip netns exec {ns} sh -c "ip addr add {peer_ip}/30 dev {peer_if} && '
            f'ip link set {peer_if} up && ip link set lo up && '
            f'ip route add default via {host_ip}"')
        srv = subprocess.Popen(['ip', 'netns', 'exec', ns, '/usr/bin/python3', '-c', PEER,
                                peer_ip], stdout=subprocess.PIPE, text=True)
        try:
            assert srv.stdout.readline().strip() == 'ready'
            pods = [env.run(env.config(f'm{i}', uid=f'um{i}')) for i in range(2)]
            for pid in pods:
                ip = env.status(pid).status.network.ip
                out = _sh(f'nsenter --net={env.info(pid)["runtime"]["netns"]} '
                          f'/usr/bin/python3 -c "{CLIENT}" {peer_ip} 9100')
                # Without masquerade the peer sees the pod's own address
                # (its default route sends the answer back through us).
                assert out.stdout.strip() == host_ip, (ip, out.stdout)
            jumps = _masq_jumps(env.subnet)
            assert len(jumps) == 1, jumps
            chain = jumps[0].split()[-1]
            assert _sh(f'iptables -t nat -S {chain}').stdout.splitlines()[1:] == [
                f'-A {chain} -d {env.subnet} -j ACCEPT',
                f'-A {chain} ! -d 224.0.0.0/4 -j MASQUERADE']
            post = _sh('iptables -t nat -S POSTROUTING').stdout
            assert not [p for p in pods if p in post]
            env.d.stop()
            env.d.start()
            later = env.run(env.config('m2', uid='um2'))
            out = _sh(f'nsenter --net={env.info(later)["runtime"]["netns"]} '
                      f'/usr/bin/python3 -c "{CLIENT}" {peer_ip} 9100')
            assert out.stdout.strip() == host_ip
            assert _masq_jumps(env.subnet) == jumps
            # A firewall reload drops the chain; after SIGHUP the next pod
            # makes it again.
            _sh(f'iptables -t nat -D {jumps[0][3:]} && iptables -t nat -F {chain} && '
                f'iptables -t nat -X {chain}')
            env.d.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while 'configuration reloaded' not in env.d.read_log():
                assert time.monotonic() < deadline, 'no reload logged'
                time.sleep(0.05)
            again = env.run(env.config('m3', uid='um3'))
            out = _sh(f'nsenter --net={env.info(again)["runtime"]["netns"]} '
                      f'/usr/bin/python3 -c "{CLIENT}" {peer_ip} 9100')
            assert out.stdout.strip() == host_ip
            assert _masq_jumps(env.subnet) == jumps
        finally:
            srv.kill()
            srv.wait()
    finally:
        _sh(f'ip netns delete {ns}', check=False)
        _sh(f'ip link del {host_if}', check=False)


@pytest.mark.parametrize('fault', ['fail', 'hang'])
def test_masquerade_failure_is_clear_and_retried(make_daemon, tmp_path, pb, fault):
    """iptables-restore failing, or hanging past the call's deadline (here a
    stand-in bound over it in ocid's own mount namespace, while a flag file
    exists): RunPodSandbox fails naming the masquerade, the subnet and what
    went wrong, and leaves no pod and no program running; the next one
    tries again and succeeds."""
    real = str(tmp_path / 'xtables-real')
    shutil.copy2(os.path.realpath('/usr/sbin/iptables-restore'), real)
    flag = tmp_path / 'fail'
    flag.write_text('')
    nap = f'600.{os.getpid():07d}'  # what the hang runs: recognised below
    act = ('echo "iptables-restore: no nat table here (test)" >&2; exit 1' if fault == 'fail'
           else f'exec sleep {nap}')
    fake = tmp_path / 'iptables-fake'
    fake.write_text(f'#!/bin/bash\nif [ -e {flag} ]; then\n  {act}\nfi\n'
                    f'exec -a "$(basename "$0")" {real} "$@"\n')
    fake.chmod(0o755)
    e = PodEnv(make_daemon, tmp_path, pb)
    e.d.args = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c',
                'mount --bind "$0" "$1" && shift && exec "$@"', str(fake),
                '/usr/sbin/iptables-restore'] + e.d.args
    e.d.start()

    def sleepers():
        return [p for p in os.listdir('/proc') if p.isdigit() and _cmdline(p) == f'sleep\0{nap}\0']
    try:
        errs = []

        def first():
            try:
                e.run(e.config('m0', uid='um0'), timeout=6 if fault == 'hang' else 10.0)
            except grpc.RpcError as x:
                errs.append(x)
        th = threading.Thread(target=first)
        th.start()
        if fault == 'hang':
            # A second pod does not wait for the first one's program past
            # its own deadline, and is told why.
            deadline = time.monotonic() + 5
            while not sleepers() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert sleepers(), 'the first pod never ran iptables-restore'
            with pytest.raises(grpc.RpcError) as ei:
                e.run(e.config('mb', uid='umb'), timeout=2)
            assert ei.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, ei.value
            assert 'still being made for another pod' in ei.value.details(), ei.value
            # A reload meanwhile (it asks for the chain to be checked again)
            # does not wait for the program either: the loop serves on.
            e.d.proc.send_signal(signal.SIGHUP)
            assert e.d.runtime('Version', pb.VersionRequest(), timeout=2).runtime_name
        th.join(20)
        assert len(errs) == 1, errs
        msg = errs[0].details()
        assert f'masquerade of {e.subnet}' in msg and 'iptables-restore' in msg, msg
        if fault == 'fail':
            assert 'no nat table here (test)' in msg, msg
        else:
            # ocid gave up within the client's deadline (the client's own
            # timer would not name the program) and killed it.
            assert errs[0].code() == grpc.StatusCode.DEADLINE_EXCEEDED, errs[0]
            assert 'timed out' in msg, msg
            assert not sleepers()
        assert len(e.list()) == 0 and e.pod_dirs() == []
        assert not _masq_jumps(e.subnet)
        flag.unlink()
        pid = e.run(e.config('m1', uid='um1'))
        assert e.status(pid).status.state == pb.SANDBOX_READY
        assert len(_masq_jumps(e.subnet)) == 1
    finally:
        for p in sleepers():
            os.kill(int(p), signal.SIGKILL)
        e.finish()


def _cmdline(pid):
    try:
        with open(f'/proc/{pid}/cmdline') as f:
            return f.read()
    except OSError:
        return ''


def test_duplicate_name(env, pb):
    cfg = env.config('dup')
    first = env.run(cfg)
    with pytest.raises(grpc.RpcError) as ei:
        env.run(cfg)
    assert ei.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert first in ei.value.details()
    # Another attempt number is another name.
    env.run(env.config('dup', attempt=1))
    env.stop(first)
    env.remove(first)
    env.run(cfg)


def test_host_network(env, pb):
    ns = pb.NamespaceOption(network=pb.NODE, pid=pb.CONTAINER, ipc=pb.NODE)
    cfg = env.config('hostnet', hostname='ignored', linux=pb.LinuxPodSandboxConfig(
        security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))
    pid = env.run(cfg)
    st = env.status(pid).status
    assert st.network.ip == ''
    assert st.linux.namespaces.options.network == pb.NODE
    info = env.info(pid)
    assert 'netns' not in info['runtime']
    with open(os.path.join(info['runtime']['dir'], 'hostname')) as f:
        assert f.read() == socket.gethostname() + '\n'


def test_sysctls(env, pb):
    good = {'net.ipv4.ip_local_port_range': '2000 3000', 'kernel.shmmni': '1234',
            'net/ipv4/conf/all/forwarding': '1'}
    pid = env.run(env.config('sys', linux=pb.LinuxPodSandboxConfig(sysctls=good)))
    rt = env.info(pid)['runtime']
    assert _sh(f'nsenter --net={rt["netns"]} cat /proc/sys/net/ipv4/ip_local_port_range'
               ).stdout == '2000\t3000\n'
    assert _sh(f'nsenter --ipc={rt["ipcns"]} cat /proc/sys/kernel/shmmni').stdout == '1234\n'
    hostile = [
        ('kernel.shm_rmid_forced', '1+kernel.core_pattern=|/tmp/x'),
        ('net.ipv4.ip_forward', '1\nkernel.core_pattern=|/tmp/x'),
        ('kernel.core_pattern', '|/tmp/x'),
        ('net/ipv4/../../kernel/core_pattern', 'x'),
        ('vm.overcommit_memory', '1'),
        ('Net.ipv4.ip_forward', '1'),
    ]
    for i, (k, v) in enumerate(hostile):
        with pytest.raises(grpc.RpcError) as ei:
            env.run(env.config(f'bad{i}', linux=pb.LinuxPodSandboxConfig(sysctls={k: v})))
        assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert k in ei.value.details()
    ns = pb.NamespaceOption(network=pb.NODE)
    with pytest.raises(grpc.RpcError) as ei:
        env.run(env.config('hostsys', linux=pb.LinuxPodSandboxConfig(
            sysctls={'net.core.somaxconn': '1024'},
            security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns))))
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with open('/proc/sys/kernel/core_pattern') as f:
        assert '/tmp/x' not in f.read()
    assert len(env.pod_dirs()) == 1


def test_shared_pid_namespace_has_pause(env, pb):
    ns = pb.NamespaceOption(pid=pb.POD)
    pid = env.run(env.config('pidpod', linux=pb.LinuxPodSandboxConfig(
        security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns))))
    rt = env.info(pid)['runtime']
    pause = rt['pause_pid']
    with open(f'/proc/{pause}/status') as f:
        nspid = [l for l in f if l.startswith('NSpid:')][0].split()
    assert nspid[-1] == '1'
    assert os.readlink(f'/proc/{pause}/exe').endswith('ocid-pause')
    # A process joining the pod's PID namespace is not its PID 1: pause is.
    out = _sh(f'nsenter --pid={rt["pidns"]} /bin/sh -c \'echo $$\'')
    assert int(out.stdout) > 1
    env.stop(pid)
    assert not os.path.exists(f'/proc/{pause}') or \
        open(f'/proc/{pause}/status').read().find('State:\tZ') >= 0


def test_list_filters(env, pb):
    a = env.run(env.config('la', uid='1', labels={'app': 'x', 'tier': 'f'}))
    b = env.run(env.config('lb', uid='2', labels={'app': 'y'}))
    env.stop(b)
    assert {p.id for p in env.list()} == {a, b}
    assert [p.id for p in env.list(label_selector={'app': 'x'})] == [a]
    assert [p.id for p in env.list(state=pb.PodSandboxStateValue(state=pb.SANDBOX_NOTREADY))] == [b]
    assert [p.id for p in env.list(id=a[:8])] == [a]
    assert list(env.list(label_selector={'app': 'x', 'tier': 'nope'})) == []


def _tree(top):
    out = set()
    for dirpath, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            if n != 'ocid.log':
                st = os.lstat(p)
                out.add((os.path.relpath(p, top), st.st_mode,
                         0 if os.path.isdir(p) else st.st_size))
    return out


def test_unknown_ids(env, pb):
    """Stop and remove of an id that names nothing (unknown, critest's UUID,
    a path) answer OK and touch nothing, as the CRI asks; the status says
    NOT_FOUND; an empty id is refused."""
    pid = env.run(env.config('bystander'))
    # <runroot>/pods/../../etc
    sentinel = os.path.join(env.d.tmp, 'etc')
    os.makedirs(sentinel)
    open(os.path.join(sentinel, 'keep'), 'w').close()
    before = _tree(env.d.tmp)
    for bad in ('0' * 64, '56d052c7-a050-411a-8fd0-4e745e97c28e', '../../etc', '../' + pid):
        env.stop(bad)
        env.remove(bad)
        with pytest.raises(grpc.RpcError) as ei:
            env.status(bad)
        assert ei.value.code() == grpc.StatusCode.NOT_FOUND, bad
    assert _tree(env.d.tmp) == before
    assert os.path.exists(os.path.join(sentinel, 'keep'))
    assert env.status(pid).status.state == pb.SANDBOX_READY
    with pytest.raises(grpc.RpcError) as ei:
        env.stop('')
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_broken_cni_config_leaks_nothing(env, pb):
    with open(os.path.join(env.netd, '10-bad.conflist'), 'w') as f:
        json.dump({'cniVersion': '1.0.0', 'name': 'badnet', 'plugins': [
            {'type': 'bridge', 'bridge': env.bridge + 'b',
             'ipam': {'type': 'host-local', 'ranges': [[{'subnet': '10.0.0.0/33'}]]}}]}, f)
    with pytest.raises(grpc.RpcError) as ei:
        env.run(env.config('broken'))
    assert 'plugin bridge' in ei.value.details(), ei.value.details()
    assert env.pod_dirs() == []
    with open('/proc/self/mountinfo') as f:
        assert env.d.runroot not in f.read()
    conds = {c.type: c for c in env.d.runtime('Status', pb.StatusRequest()).status.conditions}
    assert conds['NetworkReady'].status is True  # the config parses; ADD is what fails
    with open(os.path.join(env.netd, '10-bad.conflist'), 'w') as f:
        f.write('{"cniVersion":')
    conds = {c.type: c for c in env.d.runtime('Status', pb.StatusRequest()).status.conditions}
    assert conds['NetworkReady'].status is False
    assert '10-bad.conflist' in conds['NetworkReady'].message
    os.unlink(os.path.join(env.netd, '10-bad.conflist'))
    env.run(env.config('fine'))


def test_plugin_removed_before_stop(env, pb):
    pid = env.run(env.config('noplugin'))
    os.rename(os.path.join(env.plugins, 'bridge'), os.path.join(env.plugins, 'bridge.away'))
    try:
        env.stop(pid)
        assert env.status(pid).status.state == pb.SANDBOX_NOTREADY
    finally:
        os.rename(os.path.join(env.plugins, 'bridge.away'), os.path.join(env.plugins, 'bridge'))
    env.remove(pid)
    assert env.pod_dirs() == []
    assert 'CNI DEL failed' in env.d.read_log()


def test_kill9_restart_keeps_pods(env, pb):
    ids = [env.run(env.config(f'r{i}', uid=f'u{i}')) for i in range(10)]
    ips = {i: env.status(i).status.network.ip for i in ids}
    env.d.proc.send_signal(signal.SIGKILL)
    env.d.proc.wait(10)
    env.d.start()
    # gRPC may hand back the subchannel of the killed daemon once.
    for _ in range(50):
        try:
            items = {p.id: p for p in env.list()}
            break
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.UNAVAILABLE, e
            time.sleep(0.1)
    assert set(items) == set(ids)
    for i in ids:
        st = env.status(i).status
        assert st.state == pb.SANDBOX_READY
        assert st.network.ip == ips[i]
    srv = serve_in(env.info(ids[3])['runtime']['netns'], 8081)
    try:
        assert dial(ips[ids[3]], 8081) == b'hello from pod'
    finally:
        srv.kill()
        srv.wait()


def test_update_runtime_config(env, pb):
    """The pod CIDR reaches a network that declares the ipRanges capability
    and survives a restart of ocid; a malformed one is refused."""
    conf = {'cniVersion': '1.0.0', 'name': 'ranges', 'plugins': [{
        'type': 'bridge', 'bridge': env.bridge, 'isGateway': True, 'ipMasq': False,
        'capabilities': {'ipRanges': True},
        'ipam': {'type': 'host-local', 'dataDir': os.path.join(env.tmp, 'ipam')}}]}
    with open(os.path.join(env.netd, '10-ranges.conflist'), 'w') as f:
        json.dump(conf, f)

    def update(cidr):
        env.d.runtime('UpdateRuntimeConfig', pb.UpdateRuntimeConfigRequest(
            runtime_config=pb.RuntimeConfig(network_config=pb.NetworkConfig(pod_cidr=cidr))))

    def pod_ip(name):
        for _ in range(50):  # the config dir watch may take a moment
            pid = env.run(env.config(name, uid='u-' + name))
            if 'ranges' in json.dumps(env.info(pid)):
                return int(env.status(pid).status.network.ip.rsplit('.', 1)[1])
            env.stop(pid)
            env.remove(pid)
            time.sleep(0.1)
        raise AssertionError('the ranges network was never used')

    update(env.prefix + '128/25')
    assert pod_ip('r1') >= 128
    for bad in ('10.1.2.3', '10.1.2.0/33', 'fd00::/129', 'nonsense/8', '10.0.0.0/8,x/1'):
        with pytest.raises(grpc.RpcError) as ei:
            update(bad)
        assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT and bad.split(',')[-1] in \
            ei.value.details(), (bad, ei.value.details())
    env.d.stop()
    env.d.start()
    assert pod_ip('r2') >= 128  # recorded, not only in memory
    update('')
    with pytest.raises(grpc.RpcError) as ei:  # cleared: host-local has no range left
        env.run(env.config('r3', uid='u-r3'))
    assert 'range' in ei.value.details()


def test_runtime_handler(env, pb):
    with pytest.raises(grpc.RpcError) as ei:
        env.d.runtime('RunPodSandbox', pb.RunPodSandboxRequest(
            config=env.config('h'), runtime_handler='nosuch'))
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_reboot_pods_notready_then_removed(env, pb):
    ids = [env.run(env.config(f'boot{i}', uid=f'b{i}')) for i in range(2)]
    env.d.proc.send_signal(signal.SIGKILL)
    env.d.proc.wait(10)
    # What a reboot does to the runroot: mounts and files gone.
    _sh(f"for m in $(grep -o '{env.d.runroot}/[^ ]*' /proc/self/mountinfo | sort -r); do"
        f" umount -l $m; done; rm -rf {env.d.runroot}")
    env.d.start()
    for _ in range(50):
        try:
            items = {p.id: p for p in env.list()}
            break
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.UNAVAILABLE, e
            time.sleep(0.1)
    assert set(items) == set(ids)
    assert all(p.state == pb.SANDBOX_NOTREADY for p in items.values())
    for i in ids:
        env.stop(i)
        env.remove(i)
    assert list(env.list()) == []
    # The addresses went back to the pool (host-local keeps one file per address).
    ipam = os.path.join(env.d.root, 'cni', 'networks', 'ocid-default')
    assert [f for f in os.listdir(ipam) if f.startswith(env.prefix)] == []


def test_hostport_without_host_ip_answers_on_loopback(env, pb):
    host_port = 20000 + (os.getpid() + 7) % 20000
    pid = env.run(env.config('hp', port_mappings=[pb.PortMapping(
        protocol=pb.TCP, container_port=7070, host_port=host_port)]))
    srv = serve_in(env.info(pid)['runtime']['netns'], 7070)
    try:
        assert dial('127.0.0.1', host_port) == b'hello from pod'
    finally:
        srv.kill()
        srv.wait()
    env.stop(pid)
    with pytest.raises(AssertionError):
        dial('127.0.0.1', host_port, tries=2)
