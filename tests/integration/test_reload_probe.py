"""A reload asks each runtime handler's program for its features
(`<program> features`, 10 s timeout) off the event loop (issues 10, 12): a
program that hangs on `features` does not stall the other RPCs, the calls
keep the settings they had until the answers are in, a handler whose
program timed out has no features and a log line names it, of two
reloads the later one wins, and a stop kills the programs still asked."""
import os
import shutil
import signal
import threading
import time

import grpc
import pytest

from conftest import sanitizer_report

RUNC = shutil.which('runc')
pytestmark = pytest.mark.skipif(not RUNC, reason='runc is not installed')

# The hang outlasts every deadline the RPCs below are given.
RPC_TIMEOUT = 3.0


def write_table(conf_d, slow, extra=False):
    conf_d.mkdir(parents=True, exist_ok=True)
    text = (f'[runtimes.runc]\npath = "{RUNC}"\nexec_fifo_start = true\n\n'
            f'[runtimes.slow]\npath = "{slow}"\nexec_fifo_start = true\n')
    if extra:
        text += f'\n[runtimes.extra]\npath = "{slow}"\nexec_fifo_start = true\n'
    (conf_d / 'runtimes.conf').write_text(text)


def hang_cmdline():
    return f'30.{os.getpid():07d}'


def slow_program(tmp_path):
    """runc, except that `features` hangs (and says so in `started`) while
    the file `hang` exists."""
    hang, started = tmp_path / 'hang', tmp_path / 'started'
    # A duration of its own: what the teardown may kill is recognised by it.
    nap = hang_cmdline()
    prog = tmp_path / 'slow-runtime'
    prog.write_text('#!/bin/sh\n'
                    'for a; do\n'
                    f'  if [ "$a" = features ] && [ -e {hang} ]; then\n'
                    f'    echo $$ >> {started}; exec sleep {nap}\n'
                    '  fi\n'
                    'done\n'
                    f'exec {RUNC} "$@"\n')
    prog.chmod(0o755)
    return prog, hang, started


def wait_until(cond, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f'never: {what}'
        time.sleep(0.05)


def features(d, pb):
    st = d.runtime('Status', pb.StatusRequest(), timeout=RPC_TIMEOUT)
    return {h.name: (h.features.recursive_read_only_mounts, h.features.user_namespaces)
            for h in st.runtime_handlers}


def log_lines(d, *words):
    return [ln for ln in d.read_log().splitlines() if all(w in ln for w in words)]


def answers_during_hang(d, pb, started):
    """Version and Status answer within RPC_TIMEOUT while the probe hangs
    (the program has started and has not been killed yet)."""
    n = len(started.read_text().split())
    for _ in range(5):
        assert d.runtime('Version', pb.VersionRequest(), timeout=RPC_TIMEOUT).runtime_name
        got = features(d, pb)
    # Still inside the hang: no probe of this program ended meanwhile.
    assert not log_lines(d, "runtime handler's features unknown", 'handler=slow')
    assert len(started.read_text().split()) == n
    return got


def kill_left(started):
    """The hung programs (pids in `started`) still running: killed, and
    returned."""
    left = []
    for pid in (started.read_text().split() if started.exists() else []):
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                if f.read() == f'sleep\0{hang_cmdline()}\0'.encode():
                    left.append(pid)
                    os.kill(int(pid), signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return left


@pytest.fixture
def reload_env(make_daemon, tmp_path, pb):
    prog, hang, started = slow_program(tmp_path)
    d = make_daemon()
    conf_d = tmp_path / 'd' / 'conf.d'
    write_table(conf_d, prog)
    d.start()
    yield d, conf_d, prog, hang, started
    rc = d.stop(timeout=30)
    d.kill()
    # Every program ocid asked is gone once it has exited: killed at the
    # timeout, or at the stop when a round was still asking. One left
    # behind is killed here, then reported.
    left = kill_left(started)
    log = d.read_log()
    assert rc == 0, f'ocid exited {rc} on SIGTERM; log:\n{log[-4000:]}'
    assert not left, f'features programs left running after ocid stopped: {left}'
    if os.environ.get('OCID_ASAN'):
        assert sanitizer_report(log) is None, f'sanitizer report:\n{log[-8000:]}'


def test_hung_features_on_reload(reload_env, pb):
    d, conf_d, prog, hang, started = reload_env
    # At start the program answered before the first call was served (the
    # hang begins only after it): runc's features.
    before = features(d, pb)
    assert before['slow'] == before['runc'] == before['']
    hang.write_text('')
    d.proc.send_signal(signal.SIGHUP)
    wait_until(started.exists, 'the reload asks the slow program')
    # The loop thread is not waiting for it: short calls answer, and see the
    # settings they had until the reload's answers are in.
    assert answers_during_hang(d, pb, started) == before
    # The probe times out (10 s): the handler has no features, and the log
    # says which handler and why.
    wait_until(lambda: log_lines(d, "runtime handler's features unknown", 'handler=slow'),
               'the timed-out probe is logged')
    line = log_lines(d, "runtime handler's features unknown", 'handler=slow')[0]
    assert str(prog) in line and 'timed out' in line, line
    wait_until(lambda: features(d, pb)['slow'] == (False, False), 'slow loses its features')
    got = features(d, pb)
    assert got['runc'] == got[''] == before['runc']


def test_later_reload_wins(reload_env, pb):
    d, conf_d, prog, hang, started = reload_env
    before = features(d, pb)
    hang.write_text('')
    d.proc.send_signal(signal.SIGHUP)
    wait_until(started.exists, 'the first reload asks the slow program')
    # A second reload while the first still waits: the program answers
    # again, and the table gains a handler.
    hang.unlink()
    write_table(conf_d, prog, extra=True)
    d.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: 'extra' in features(d, pb), 'the second reload applies')
    got = features(d, pb)
    assert got['slow'] == got['extra'] == before['runc'], got
    # The first reload's answer (the timeout) comes later and is dropped.
    wait_until(lambda: log_lines(d, 'features of an earlier reload dropped'),
               'the first reload ends')
    assert log_lines(d, "runtime handler's features unknown", 'handler=slow')
    got = features(d, pb)
    assert 'extra' in got
    assert got['slow'] == got['extra'] == before['runc'], got


def test_stop_during_probe(reload_env, pb):
    """SIGTERM while a reload's probe hangs: ocid kills the program and
    exits 0 (the fixture checks both, and under ASan that nothing leaked or
    was touched after free)."""
    d, conf_d, prog, hang, started = reload_env
    assert 'slow' in features(d, pb)  # served: the start's probe is over
    hang.write_text('')
    d.proc.send_signal(signal.SIGHUP)
    wait_until(started.exists, 'the reload asks the slow program')
    assert d.runtime('Version', pb.VersionRequest(), timeout=RPC_TIMEOUT).runtime_name


def test_abandoning_stop_kills_probe(make_env, tmp_path):
    """SIGTERM while a reload's probe hangs and an ExecSync outlasts
    shutdown_grace: ocid abandons the call and exits at once, and still
    kills the program it was asking first."""
    prog, hang, started = slow_program(tmp_path)
    write_table(tmp_path / 'd' / 'conf.d', prog)
    env = make_env(extra_args=['--shutdown-grace', '1'])
    pb, d = env.pb, env.d
    cid = env.create(env.pod(), 'c', ['/bin/sleep', '600'])
    env.start(cid)
    hang.write_text('')
    d.proc.send_signal(signal.SIGHUP)
    wait_until(started.exists, 'the reload asks the slow program')

    def call():
        try:
            d.runtime('ExecSync', pb.ExecSyncRequest(container_id=cid, cmd=['/bin/sleep', '31']),
                      timeout=60)
        except grpc.RpcError:
            pass
    th = threading.Thread(target=call)
    th.start()
    time.sleep(0.7)
    d.proc.send_signal(signal.SIGTERM)
    rc = d.proc.wait(20)
    th.join(10)
    log = d.read_log()
    assert rc == 0, log[-3000:]
    assert 'abandoned' in log, log[-3000:]
    left = kill_left(started)
    assert not left, f'features programs left running after ocid stopped: {left}'
    # The next start (the fixture's teardown talks to it) asks a program
    # that answers.
    hang.unlink()
    d.log.close()
    d.start()
