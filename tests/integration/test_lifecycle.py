"""Daemon lifecycle and configuration: signals, config errors, merge order, lock, sd_notify."""
import os
import re
import signal
import socket
import subprocess
import threading
import time
import tomllib

import grpc

from conftest import ocid_bin, sanitizer_report
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
