"""Daemon lifecycle and configuration: signals, config errors, merge order, lock, sd_notify."""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import tomllib

import grpc

from conftest import RUNNING, ocid_bin, sanitizer_report
from test_http import flatten


def run_ocid(args, timeout=15):
    return subprocess.run([ocid_bin()] + args, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def test_sigterm_with_inflight_sleep(make_daemon):
    """A call running past the (default) grace period is cut off; exit 0 within 5 s."""
    d = make_daemon().start()
    errs = []

    def sleeper():
        try:
            d.sleep(30000, timeout=60)
        except grpc.RpcError as e:
            errs.append(e)

    th = threading.Thread(target=sleeper)
    th.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    rc = d.proc.wait(10)
    dt = time.monotonic() - t0
    th.join(10)
    assert rc == 0, d.read_log()[-3000:]
    assert dt < 5.0, f'took {dt:.2f}s to exit'
    assert not th.is_alive()
    assert errs and errs[0].code() in (grpc.StatusCode.UNAVAILABLE,
                                       grpc.StatusCode.CANCELLED), errs
    if os.environ.get('OCID_ASAN'):
        assert sanitizer_report(d.read_log()) is None, d.read_log()[-8000:]


def test_sigterm_lets_short_calls_finish(make_daemon):
    d = make_daemon().start()
    out = {}

    def sleeper():
        out['reply'] = d.sleep(800, timeout=10)

    th = threading.Thread(target=sleeper)
    th.start()
    time.sleep(0.3)
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(10) == 0
    th.join(10)
    assert out.get('reply') == b'', 'an in-flight call shorter than the grace was cut off'


def test_sigint_exits_0(make_daemon):
    d = make_daemon().start()
    d.proc.send_signal(signal.SIGINT)
    assert d.proc.wait(10) == 0


def test_broken_config_exits_2(tmp_path):
    conf = tmp_path / 'broken.conf'
    conf.write_text('# ok\nlog_level = "info"\nroot = [unterminated\n')
    p = run_ocid(['--config', str(conf), '--config-dir', str(tmp_path / 'none'),
                  '--root', str(tmp_path / 'r'), '--runroot', str(tmp_path / 'rr'),
                  '--listen', str(tmp_path / 's.sock')])
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert re.search(re.escape(str(conf)) + r':3\b', p.stderr), p.stderr


def test_invalid_value_exits_2(tmp_path):
    conf = tmp_path / 'bad.conf'
    conf.write_text('\nlog_level = "chatty"\n')
    p = run_ocid(['--config', str(conf), '--config-dir', str(tmp_path / 'none'),
                  '--root', str(tmp_path / 'r'), '--runroot', str(tmp_path / 'rr'),
                  '--listen', str(tmp_path / 's.sock')])
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert f'{conf}:2' in p.stderr, p.stderr


def test_broken_dropin_exits_2(tmp_path):
    dd = tmp_path / 'conf.d'
    dd.mkdir()
    (dd / '10-x.conf').write_text('stream_port = = 3\n')
    p = run_ocid(['--config', str(tmp_path / 'none.conf'), '--config-dir', str(dd),
                  '--root', str(tmp_path / 'r'), '--runroot', str(tmp_path / 'rr'),
                  '--listen', str(tmp_path / 's.sock')])
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert f'{dd / "10-x.conf"}:1' in p.stderr, p.stderr


def test_unknown_key_only_warns(make_daemon, tmp_path):
    conf = tmp_path / 'unknown.conf'
    conf.write_text('# comment\n\nno_such_key_xyz = 1\n')
    d = make_daemon(config=str(conf)).start()
    assert d.runtime('Version').runtime_name == 'ocid'
    log = d.read_log()
    assert 'no_such_key_xyz' in log, log
    assert f'{conf}:3' in log, log
    assert d.stop() == 0


def test_merge_order_file_dropin_flag(make_daemon, tmp_path):
    conf = tmp_path / 'ocid.conf'
    conf.write_text('stream_port = 1111\npull_progress_timeout = 7\n')
    dd = tmp_path / 'd'
    (dd / 'conf.d').mkdir(parents=True)
    (dd / 'conf.d' / '20-b.conf').write_text('stream_port = 3333\n')
    (dd / 'conf.d' / '10-a.conf').write_text('stream_port = 2222\npull_progress_timeout = 8\n')
    (dd / 'conf.d' / 'ignored.txt').write_text('stream_port = 9999\n')

    d = make_daemon(config=str(conf)).start()
    flat = flatten(tomllib.loads(d.http('GET', '/config')[2].decode()))
    assert flat['stream_port'] == 3333  # lexical order: 20-b after 10-a
    assert flat['pull_progress_timeout'] in (8, '8s', '8')  # drop-in over file
    assert d.stop() == 0
    d.kill()

    d2 = make_daemon(config=str(conf), extra_args=['--stream-port', '4444'], subdir='d').start()
    flat = flatten(tomllib.loads(d2.http('GET', '/config')[2].decode()))
    assert flat['stream_port'] == 4444  # flag over everything
    assert d2.stop() == 0


def test_second_daemon_refuses(make_daemon):
    d1 = make_daemon().start()
    d2 = make_daemon(subdir='d')  # same tmp dir: same root and runroot
    d2.socket = d2.socket + '2'
    d2.args[d2.args.index('--listen') + 1] = d2.socket
    d2.log_path = d2.log_path + '.2'
    d2.start(wait=False)
    rc = d2.proc.wait(10)
    assert rc == 1, (rc, d2.read_log())
    log = d2.read_log().lower()
    assert 'lock' in log or 'already' in log or 'running' in log, log
    # the first is unaffected
    assert d1.runtime('Version').runtime_name == 'ocid'
    assert d1.stop() == 0


def test_sighup_reload_log_level(make_daemon, tmp_path):
    conf = tmp_path / 'hup.conf'
    conf.write_text('log_level = "info"\n')
    d = make_daemon(config=str(conf))
    d.args.remove('--log-level')
    d.args.remove('debug')
    d.start()
    conf.write_text('log_level = "debug"\n')
    d.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    lines = []
    while time.monotonic() < deadline and not lines:
        time.sleep(0.1)
        log = d.read_log()
        lines = [l for l in log.splitlines() if re.search('reload', l, re.I)]
    assert lines, log
    assert any('log_level' in l or 'log-level' in l for l in lines), lines
    assert any('debug' in l for l in lines), lines
    assert d.proc.poll() is None
    assert d.runtime('Version').runtime_name == 'ocid'
    assert d.stop() == 0


def test_ready_notification(make_daemon, tmp_path):
    path = str(tmp_path / 'notify.sock')
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(path)
    ns.settimeout(15)
    try:
        d = make_daemon(env={'NOTIFY_SOCKET': path}).start(wait=False)
        msg = ns.recv(4096).decode()
        assert 'READY=1' in msg.split('\n'), msg
        # ready means serving
        assert d.runtime('Version').runtime_name == 'ocid'
        assert d.stop() == 0
    finally:
        ns.close()


def test_stale_socket_replaced(make_daemon):
    d = make_daemon()
    os.makedirs(os.path.dirname(d.socket), exist_ok=True)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(d.socket)
    s.close()  # a stale socket file nobody listens on
    d.start()
    assert d.runtime('Version').runtime_name == 'ocid'
    mode = os.stat(d.socket).st_mode & 0o777
    assert mode == 0o660, oct(mode)
    assert d.stop() == 0


def test_ocid_version_and_config_subcommands(tmp_path):
    p = run_ocid(['version'])
    assert p.returncode == 0, p.stderr
    assert '0.' in p.stdout
    p = run_ocid(['config', '--config', str(tmp_path / 'none.conf'),
                  '--config-dir', str(tmp_path / 'none.d'), '--root', '/x/y'])
    assert p.returncode == 0, p.stderr
    flat = flatten(tomllib.loads(p.stdout))
    assert flat['root'] == '/x/y'
    assert flat['runroot'] == '/run/ocid'
    assert flat['listen'] == '/run/ocid/ocid.sock'


def _wait_log(d, pattern, timeout=5.0):
    """The log lines matching pattern, once there is one (fails after timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [l for l in d.read_log().splitlines() if re.search(pattern, l)]
        if lines or time.monotonic() > deadline:
            assert lines, f'no log line matches {pattern!r}:\n{d.read_log()[-3000:]}'
            return lines
        time.sleep(0.05)


def _term_and_restart(d, grace_s):
    """SIGTERM: the daemon must exit 0 within the grace plus a margin; then a
    new daemon starts on the same root, runroot and socket."""
    t0 = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    rc = d.proc.wait(grace_s + 15)
    dt = time.monotonic() - t0
    log = d.read_log()
    assert rc == 0, log[-3000:]
    assert dt < grace_s + 2.5, f'took {dt:.1f}s to exit (grace {grace_s}s)\n{log[-3000:]}'
    if os.environ.get('OCID_ASAN'):
        assert sanitizer_report(log) is None, log[-8000:]
    d.log.close()
    d.start()


def test_sigterm_abandons_long_calls(make_env):
    """Issue 18: a StopContainer waiting out a 20 s grace on a container that
    ignores TERM, or an ExecSync of 'sleep 31', does not keep the daemon (and
    its lock) alive past shutdown_grace; the container keeps running."""
    env = make_env(extra_args=['--shutdown-grace', '1'])
    pb, d = env.pb, env.d
    pod = env.pod()
    cid = env.create(pod, 'stubborn',
                     ['/bin/sh', '-c', 'trap "" TERM; while true; do sleep 0.2; done'])
    env.start(cid)
    pid = json.loads(env.status(cid, verbose=True).info['info'])['pid']
    errs = []

    def call(method, req, timeout):
        try:
            d.runtime(method, req, timeout=timeout)
        except grpc.RpcError as e:
            errs.append(e.code())

    th = threading.Thread(target=call, args=(
        'StopContainer', pb.StopContainerRequest(container_id=cid, timeout=20), 40))
    th.start()
    time.sleep(0.7)
    _term_and_restart(d, 1)
    th.join(10)
    assert errs, 'the stop was not cut off'
    os.kill(pid, 0)
    assert env.status(cid).status.state == RUNNING

    th = threading.Thread(target=call, args=(
        'ExecSync', pb.ExecSyncRequest(container_id=cid, cmd=['/bin/sleep', '31']), 60))
    th.start()
    time.sleep(0.7)
    _term_and_restart(d, 1)
    th.join(10)
    assert env.status(cid).status.state == RUNNING
    assert 'abandoned' in d.read_log()


def test_second_daemon_refuses_a_live_socket(make_daemon):
    """Issue 18: same --listen, other root and runroot: B refuses A's live
    socket and leaves it alone."""
    a = make_daemon(subdir='a').start()
    b = make_daemon(subdir='b')
    b.socket = a.socket
    b.args[b.args.index('--listen') + 1] = a.socket
    b.start(wait=False)
    assert b.proc.wait(10) == 1, b.read_log()
    log = b.read_log()
    assert a.socket in log and 'in use' in log, log
    assert os.path.exists(a.socket)
    assert a.runtime('Version').runtime_name == 'ocid'
    assert a.stop() == 0


def test_exit_unlinks_only_its_own_socket(make_daemon):
    """Issue 18: A's socket is removed by hand and B binds the path; A's exit
    must not unlink B's socket."""
    a = make_daemon(subdir='a').start()
    b = make_daemon(subdir='b')
    b.socket = a.socket
    b.args[b.args.index('--listen') + 1] = a.socket
    os.unlink(a.socket)
    b.start()
    assert a.stop() == 0
    assert os.path.exists(b.socket)
    assert b.runtime('Version').runtime_name == 'ocid'
    assert b.stop() == 0
    assert not os.path.exists(b.socket)


def test_invalid_values_exit_2_before_creating_anything(tmp_path):
    """Issue 18: checked at start-up, naming the key, before any directory,
    lock or bridge exists."""
    base = ['--config', str(tmp_path / 'none.conf'), '--config-dir', str(tmp_path / 'none.d')]
    good = {'--root': str(tmp_path / 'r'), '--runroot': str(tmp_path / 'rr'),
            '--listen': str(tmp_path / 'rr' / 's.sock')}
    cases = [('--cni-default-subnet', 'banana', 'cni-default-subnet'),
             ('--cgroup-parent', 'relative/x', 'cgroup-parent'),
             ('--root', 'relroot', 'root'),
             ('--runroot', 'relrun', 'runroot'),
             ('--cni-default-bridge', 'x' * 20, 'cni-default-bridge')]
    for flag, value, key in cases:
        args = dict(good, **{flag: value})
        p = subprocess.run([ocid_bin()] + base + [a for kv in args.items() for a in kv],
                           capture_output=True, text=True, timeout=15, cwd=tmp_path,
                           stdin=subprocess.DEVNULL)
        assert p.returncode == 2, (flag, value, p.returncode, p.stderr)
        assert key in p.stderr and value in p.stderr, p.stderr
        assert sorted(os.listdir(tmp_path)) == [], (flag, os.listdir(tmp_path))
    # a config file: the message names file:line and the key
    conf = tmp_path / 'bad.conf'
    conf.write_text('[ocid]\ncgroup_parent = "relative/x"\n')
    p = run_ocid(['--config', str(conf), '--config-dir', str(tmp_path / 'none.d')] +
                 [a for kv in good.items() for a in kv])
    assert p.returncode == 2 and f'{conf}:2' in p.stderr and 'cgroup_parent' in p.stderr, \
        p.stderr
    assert not os.path.exists(good['--root'])


def test_sighup_invalid_value_keeps_running_config(make_daemon, tmp_path):
    conf = tmp_path / 'hup.conf'
    conf.write_text('stream_port = 0\n')
    d = make_daemon(config=str(conf)).start()
    conf.write_text('cni_default_subnet = "banana"\n')
    d.proc.send_signal(signal.SIGHUP)
    lines = _wait_log(d, 'reload failed')
    assert any('cni_default_subnet' in l and 'banana' in l for l in lines), lines
    flat = flatten(tomllib.loads(d.http('GET', '/config')[2].decode()))
    assert flat['cni_default_subnet'] == d.net_prefix + '0/24'
    assert d.stop() == 0


def test_sighup_restart_only_settings(make_daemon, tmp_path):
    """Issue 18: cgroup_parent and shm_size cannot change under running
    managers: a reload reports them as restart-only and /config keeps showing
    the values in effect (and new pods get them)."""
    conf = tmp_path / 'hup.conf'
    conf.write_text('cgroup_parent = "/ocid-a"\nshm_size = "32MiB"\n')
    d = make_daemon(config=str(conf)).start()
    conf.write_text('cgroup_parent = "/ocid-b"\nshm_size = "16MiB"\nimage_volumes = "ignore"\n')
    d.proc.send_signal(signal.SIGHUP)
    _wait_log(d, 'configuration reloaded')
    log = d.read_log()
    for key in ('cgroup_parent', 'shm_size'):
        assert re.search(rf'changes only at restart.*key={key}', log), log[-3000:]
    flat = flatten(tomllib.loads(d.http('GET', '/config')[2].decode()))
    assert flat['cgroup_parent'] == '/ocid-a'
    assert flat['shm_size'] == 32 << 20
    assert flat['image_volumes'] == 'ignore'  # reloadable: applied
    pb = d.pb
    md = pb.PodSandboxMetadata(name='p', namespace='default', uid='uid-p')
    cfg = pb.PodSandboxConfig(metadata=md, linux=pb.LinuxPodSandboxConfig(
        security_context=pb.LinuxSandboxSecurityContext(
            namespace_options=pb.NamespaceOption(network=pb.NODE))))
    pod = d.runtime('RunPodSandbox', pb.RunPodSandboxRequest(config=cfg),
                    timeout=60).pod_sandbox_id
    try:
        shm = os.path.join(d.runroot, 'pods', pod, 'shm')
        out = subprocess.run(['findmnt', '-n', '-o', 'OPTIONS', shm], capture_output=True,
                             text=True).stdout
        assert 'size=32768k' in out, out
        cg = [l for l in open('/proc/self/mountinfo') if ' - cgroup2 ' in l]
        if cg:
            root = cg[0].split()[4]
            assert any(n.startswith('ocid-pod-') for n in os.listdir(root + '/ocid-a'))
    finally:
        d.runtime('StopPodSandbox', pb.StopPodSandboxRequest(pod_sandbox_id=pod), timeout=60)
        d.runtime('RemovePodSandbox', pb.RemovePodSandboxRequest(pod_sandbox_id=pod),
                  timeout=60)
    assert d.stop() == 0


def test_sighup_raising_log_level_still_reports(make_daemon, tmp_path):
    """Issue 18: info -> warn must not hide the 'configuration reloaded' line."""
    conf = tmp_path / 'hup.conf'
    conf.write_text('log_level = "info"\n')
    d = make_daemon(config=str(conf))
    i = d.args.index('--log-level')
    del d.args[i:i + 2]
    d.start()
    conf.write_text('log_level = "warn"\n')
    d.proc.send_signal(signal.SIGHUP)
    lines = _wait_log(d, 'configuration reloaded')
    assert any('log_level' in l and 'warn' in l for l in lines), lines
    assert d.stop() == 0


def test_flag_forms_version_and_ms_durations(make_daemon, tmp_path):
    """Issue 18: ocid --version; '--layer-sync false'; '--shutdown-grace 500ms'."""
    p = run_ocid(['--version'])
    assert p.returncode == 0 and 'ocid version' in p.stdout, (p.returncode, p.stderr)
    p = run_ocid(['config', '--config', str(tmp_path / 'none.conf'),
                  '--config-dir', str(tmp_path / 'none.d'), '--layer-sync', 'false',
                  '--exec-fifo-start', 'false', '--shutdown-grace', '500ms',
                  '--pull-progress-timeout', '1500ms'])
    assert p.returncode == 0, p.stderr
    flat = flatten(tomllib.loads(p.stdout))
    assert flat['layer_sync'] is False and flat['exec_fifo_start'] is False
    assert flat['shutdown_grace'] == '500ms'
    assert flat['pull_progress_timeout'] == 2
    d = make_daemon(extra_args=['--shutdown-grace', '500ms']).start()
    t0 = time.monotonic()
    th = threading.Thread(target=lambda: _swallow(lambda: d.sleep(30000, timeout=60)))
    th.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(10) == 0
    assert time.monotonic() - t0 < 2.0
    th.join(10)
    assert re.search(r'shutting down.*grace=500ms', d.read_log()), d.read_log()[-2000:]


def _swallow(fn):
    try:
        fn()
    except grpc.RpcError:
        pass


def test_config_sources_that_are_ambiguous_exit_2(tmp_path):
    """Issue 18: one key at the top level and under [ocid]; a --config-dir
    that is a regular file."""
    conf = tmp_path / 'twice.conf'
    conf.write_text('workers = 3\n[ocid]\nworkers = 4\n')
    p = run_ocid(['config', '--config', str(conf), '--config-dir', str(tmp_path / 'none.d')])
    assert p.returncode == 2 and 'workers' in p.stderr and '[ocid]' in p.stderr, p.stderr
    f = tmp_path / 'file.d'
    f.write_text('workers = 3\n')
    p = run_ocid(['config', '--config', str(tmp_path / 'none.conf'), '--config-dir', str(f)])
    assert p.returncode == 2 and 'not a directory' in p.stderr, p.stderr
