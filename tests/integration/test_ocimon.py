"""ocimon end to end, without the ocid daemon: real runc, a busybox rootfs.

The monitor is started through tests/unit/mon/mon-driver, a thin front to
the mon client API (mon_spawn, mon_reopen_log, mon_resize, mon_read_exit),
so these tests drive ocimon exactly as ocid does.
"""
import atexit
import errno
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import pytest

from conftest import build_dir

RUNC = shutil.which('runc') or '/usr/sbin/runc'
BUSYBOX = '/bin/busybox'
L = 16 * 1024


def ocimon_bin():
    return os.path.join(build_dir(), 'src', 'cmd', 'ocimon', 'ocimon')


def driver_bin():
    return os.path.join(build_dir(), 'tests', 'unit', 'mon', 'mon-driver')


# Under a sanitized build, ocimon's reports (its stderr is /dev/null) go to
# files here; the env fixture fails the test if any appear.
ASAN_DIR = tempfile.mkdtemp(prefix='ocimon-asan-')
atexit.register(shutil.rmtree, ASAN_DIR, ignore_errors=True)


def sanitizer_env():
    env = dict(os.environ)
    # As under systemd (ocid is Type=notify): ocimon must not let runc see it.
    env['NOTIFY_SOCKET'] = '/nonexistent/notify.sock'
    if os.environ.get('OCID_ASAN'):
        env['ASAN_OPTIONS'] = env.get('ASAN_OPTIONS', '') + ':log_path=' + ASAN_DIR + '/asan'
        env['UBSAN_OPTIONS'] = env.get('UBSAN_OPTIONS', '') + ':log_path=' + ASAN_DIR + '/ubsan'
    return env


def driver(*args, timeout=60):
    p = subprocess.run([driver_bin(), *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, env=sanitizer_env())
    return p.returncode, p.stdout.strip()


def parse_kv(line):
    return dict(kv.split('=', 1) for kv in line.split()[1:] if '=' in kv)


class Env:
    """A temp dir with a busybox rootfs, a runc --root and per-container dirs."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='ocimon-t-')
        self.root = os.path.join(self.dir, 'runc')
        self.rootfs = os.path.join(self.dir, 'rootfs')
        os.makedirs(os.path.join(self.rootfs, 'bin'))
        for d in ('proc', 'sys', 'dev', 'tmp', 'etc'):
            os.makedirs(os.path.join(self.rootfs, d))
        shutil.copy(BUSYBOX, os.path.join(self.rootfs, 'bin', 'busybox'))
        for app in ('sh', 'echo', 'sleep', 'cat', 'head', 'tr', 'printf', 'stty', 'true',
                    'grep', 'wc'):
            os.symlink('busybox', os.path.join(self.rootfs, 'bin', app))
        spec_dir = os.path.join(self.dir, 'spec')
        os.makedirs(spec_dir)
        subprocess.run([RUNC, 'spec'], cwd=spec_dir, check=True)
        with open(os.path.join(spec_dir, 'config.json')) as f:
            self.base_spec = json.load(f)
        self.ids = []
        self.monitors = []

    def container(self, args, tty=False, stdin=False, memory=None, config=True,
                  stdin_once=False):
        """A bundle for `args`; returns a dict of the paths mon_spawn takes."""
        cid = 'ocimon-%d-%d' % (os.getpid(), len(self.ids))
        self.ids.append(cid)
        d = os.path.join(self.dir, cid)
        os.makedirs(os.path.join(d, 'run'))
        spec = json.loads(json.dumps(self.base_spec))
        spec['root'] = {'path': self.rootfs, 'readonly': True}
        spec['process']['args'] = args
        spec['process']['terminal'] = tty
        spec['process']['env'] = ['PATH=/bin', 'TERM=xterm']
        spec['linux']['cgroupsPath'] = '/ocimon-test/' + cid
        if memory:
            spec['linux'].setdefault('resources', {})['memory'] = {'limit': memory,
                                                                  'swap': memory}
        if config:
            with open(os.path.join(d, 'config.json'), 'w') as f:
                json.dump(spec, f)
        return {'id': cid, 'bundle': d, 'log': os.path.join(d, 'ctr.log'),
                'exit': os.path.join(d, 'run', 'exit'), 'ctl': os.path.join(d, 'run', 'ctl'),
                'attach': os.path.join(d, 'run', 'attach'), 'tty': tty, 'stdin': stdin,
                'stdin_once': stdin_once}

    def spawn(self, c, *extra):
        flags = [f for f in ('tty', 'stdin', 'stdin_once') if c[f]] + list(extra)
        rc, out = driver('spawn', ocimon_bin(), c['id'], c['bundle'], RUNC, self.root, c['log'],
                         c['exit'], c['ctl'], c['attach'], *flags)
        if rc != 0:
            return None, out
        kv = parse_kv(out)
        c['pid'], c['mon_pid'] = int(kv['pid']), int(kv['mon_pid'])
        self.monitors.append(c['mon_pid'])
        return c['pid'], out

    def runc(self, *args, check=True):
        return subprocess.run([RUNC, '--root', self.root, *args], capture_output=True,
                              text=True, check=check, timeout=30)

    def start(self, c):
        self.runc('start', c['id'])

    def cleanup(self):
        for cid in self.ids:
            self.runc('delete', '--force', cid, check=False)
        for pid in self.monitors:
            try:
                with open('/proc/%d/cmdline' % pid, 'rb') as f:
                    if b'ocimon' in f.read():
                        os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
        # The per-test cgroup parent, once empty (another run may use it).
        for ctrl in os.listdir('/sys/fs/cgroup'):
            try:
                os.rmdir(os.path.join('/sys/fs/cgroup', ctrl, 'ocimon-test'))
            except OSError:
                pass


@pytest.fixture
def env():
    assert os.path.exists(ocimon_bin()), 'build ocimon first'
    assert os.path.exists(BUSYBOX), 'busybox-static is needed'
    e = Env()
    yield e
    e.cleanup()
    reports = os.listdir(ASAN_DIR)
    for r in reports:
        with open(os.path.join(ASAN_DIR, r)) as f:
            print(f.read())
        os.unlink(os.path.join(ASAN_DIR, r))
    assert not reports, 'sanitizer reports from ocimon or mon-driver'


def wait_exit(c, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(c['exit']):
            rc, out = driver('exit', c['exit'])
            assert rc == 0, out
            return parse_kv(out)
        time.sleep(0.02)
    raise AssertionError('no exit file for %s' % c['id'])


def records(path):
    """The CRI log as (stream, tag, content) tuples; checks each record's shape."""
    out = []
    with open(path, 'rb') as f:
        data = f.read()
    assert data == b'' or data.endswith(b'\n')
    for line in data.split(b'\n')[:-1]:
        ts, stream, tag, content = line.split(b' ', 3) if line.count(b' ') >= 3 else \
            (line.split(b' ') + [b''])[:4]
        assert len(ts) == 30 and ts[10:11] == b'T' and ts.endswith(b'Z'), line[:40]
        assert stream in (b'stdout', b'stderr') and tag in (b'P', b'F')
        out.append((stream.decode(), tag.decode(), content))
    return out


def mon_alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().split(') ')[1].split()[0] != 'Z'
    except OSError:
        return False


@pytest.mark.parametrize('script,code', [('exit 0', 0), ('exit 3', 3)])
def test_exit_code(env, script, code):
    c = env.container(['sh', '-c', 'echo hi; ' + script])
    pid, out = env.spawn(c)
    assert pid, out
    state = json.loads(env.runc('state', c['id']).stdout)
    assert state['status'] == 'created' and state['pid'] == pid
    with open(os.path.join(c['bundle'], 'pidfile')) as f:
        assert int(f.read()) == pid
    assert os.path.exists(c['ctl']) and os.path.exists(c['attach'])
    assert not os.path.exists(c['exit'])
    t0 = time.time_ns()
    env.start(c)
    e = wait_exit(c)
    assert e['exit_code'] == str(code) and e['signal'] == '0' and e['oom'] == '0'
    assert t0 <= int(e['finished_ns']) <= time.time_ns()
    assert records(c['log']) == [('stdout', 'F', b'hi')]
    # The monitor is gone and has removed its sockets.
    deadline = time.monotonic() + 5
    while mon_alive(c['mon_pid']) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not mon_alive(c['mon_pid'])
    assert not os.path.exists(c['ctl']) and not os.path.exists(c['attach'])


def test_signals_not_inherited(env):
    # ocimon ignores SIGPIPE/SIGHUP/SIGINT itself; the container must not.
    c = env.container(['grep', '-E', '^Sig(Ign|Blk)', '/proc/self/status'])
    assert env.spawn(c)[0]
    env.start(c)
    assert wait_exit(c)['exit_code'] == '0'
    recs = records(c['log'])
    assert [r[2] for r in recs] == [b'SigBlk:\t0000000000000000', b'SigIgn:\t0000000000000000']


def test_killed_by_signal(env):
    c = env.container(['sleep', '100'])
    assert env.spawn(c)[0]
    env.start(c)
    env.runc('kill', c['id'], 'KILL')
    e = wait_exit(c)
    assert e['exit_code'] == '137' and e['signal'] == '9' and e['oom'] == '0'


def test_killed_before_start(env):
    # Created, never started, then deleted: the monitor still records it.
    c = env.container(['sleep', '100'])
    assert env.spawn(c)[0]
    env.runc('delete', '--force', c['id'])
    e = wait_exit(c)
    assert e['signal'] == '9'


def test_cri_log(env):
    script = ('echo one; echo two >&2; echo; head -c 102400 /dev/zero | tr "\\0" x; echo; '
              'head -c 16384 /dev/zero | tr "\\0" y; echo; printf tail')
    c = env.container(['sh', '-c', script])
    assert env.spawn(c)[0]
    env.start(c)
    assert wait_exit(c)['exit_code'] == '0'
    recs = records(c['log'])
    out = [r for r in recs if r[0] == 'stdout']
    assert ('stderr', 'F', b'two') in recs
    assert out[0] == ('stdout', 'F', b'one')
    assert out[1] == ('stdout', 'F', b'')
    # 100 KiB: six full P records then an F with the rest.
    assert [r[1] for r in out[2:9]] == ['P'] * 6 + ['F']
    assert all(len(r[2]) == L for r in out[2:8])
    assert b''.join(r[2] for r in out[2:9]) == b'x' * 102400
    # Exactly the buffer size: a single F record.
    assert out[9] == ('stdout', 'F', b'y' * L)
    # An unfinished last line is written when the stream ends.
    assert out[10] == ('stdout', 'F', b'tail')
    assert len(out) == 11


def test_stalled_partial_line(env):
    # A prompt without a newline reaches the log (as P) while the container
    # waits; the rest of the line ends it with F.
    c = env.container(['sh', '-c', 'printf "prompt> "; sleep 4; echo yes'])
    assert env.spawn(c)[0]
    env.start(c)
    deadline = time.monotonic() + 3.5
    while not records(c['log']) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert records(c['log']) == [('stdout', 'P', b'prompt> ')]
    assert wait_exit(c)['exit_code'] == '0'
    assert records(c['log']) == [('stdout', 'P', b'prompt> '), ('stdout', 'F', b'yes')]


def test_reopen_log(env):
    c = env.container(['sh', '-c', 'i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.05; done'])
    assert env.spawn(c)[0]
    env.start(c)
    time.sleep(0.3)
    os.rename(c['log'], c['log'] + '.1')
    rc, out = driver('reopen', c['ctl'])
    assert rc == 0, out
    time.sleep(0.3)
    old, new = records(c['log'] + '.1'), records(c['log'])
    assert old and new
    # Continuous: the new file starts where the old one stopped.
    last = int(old[-1][2][4:])
    assert new[0][2] == b'tick%d' % (last + 1)
    # Resize needs a terminal.
    rc, out = driver('resize', c['ctl'], 80, 24)
    assert rc == 1 and 'code=-25' in out, out
    env.runc('kill', c['id'], 'KILL')
    wait_exit(c)
    rc, out = driver('reopen', c['ctl'])
    assert rc == 1, out


def test_tty_resize(env):
    c = env.container(['sh', '-c', 'sleep 0.5; stty size; echo done'], tty=True)
    assert env.spawn(c)[0]
    # The console socket is gone once the terminal has been received.
    assert sorted(os.listdir(os.path.dirname(c['ctl']))) == ['attach', 'ctl']
    rc, out = driver('resize', c['ctl'], 123, 45)
    assert rc == 0, out
    env.start(c)
    assert wait_exit(c)['exit_code'] == '0'
    recs = records(c['log'])
    text = b''.join(r[2] for r in recs)
    assert all(r[0] == 'stdout' for r in recs)
    assert b'45 123' in text and b'done' in text


def test_attach(env):
    c = env.container(['sh', '-c', 'read x; echo got $x; echo err >&2; exit 5'], stdin=True)
    assert env.spawn(c)[0]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(10)
    s.connect(c['attach'])
    env.start(c)
    time.sleep(0.1)
    s.send(b'\x00hello\n')
    got = {1: b'', 2: b''}
    exit_pkt = None
    while exit_pkt is None:
        pkt = s.recv(9000)
        assert pkt, 'attach closed before the exit notice'
        if pkt[0] == 3:
            exit_pkt = pkt[1:]
        else:
            got[pkt[0]] += pkt[1:]
    assert got[1] == b'got hello\n' and got[2] == b'err\n'
    typ, ver, plen, res = struct.unpack('<HHII', exit_pkt[:12])
    assert (typ, ver, plen, res) == (5, 1, 17, 0)
    code, sig, oom, fin = struct.unpack('<iiBq', exit_pkt[12:])
    assert (code, sig, oom) == (5, 0, 0)
    assert s.recv(100) == b''
    assert ('stdout', 'F', b'got hello') in records(c['log'])


def test_stdin_back_pressure(env):
    # 1 MiB of stdin to a container that starts reading only after a second:
    # far more than a pipe holds, and none of it may be dropped.
    c = env.container(['sh', '-c', 'sleep 1; wc -c'], stdin=True)
    assert env.spawn(c)[0]
    env.start(c)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(20)
    s.connect(c['attach'])
    chunk = b'\x00' + b'z' * 8192
    for _ in range(128):
        s.sendall(chunk)
    s.send(b'\x00')
    assert wait_exit(c)['exit_code'] == '0'
    assert [r[2].strip() for r in records(c['log'])] == [b'1048576']
    s.close()


def test_stdin_once(env):
    # The first attach session ends: the container's stdin reaches EOF.
    c = env.container(['sh', '-c', 'cat; echo eof'], stdin=True, stdin_once=True)
    assert env.spawn(c)[0]
    env.start(c)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(c['attach'])
    s.send(b'\x00line\n')
    s.settimeout(10)
    assert s.recv(100) == b'\x01line\n'
    s.close()
    assert wait_exit(c)['exit_code'] == '0'
    assert records(c['log']) == [('stdout', 'F', b'line'), ('stdout', 'F', b'eof')]


def test_stdin_stays_open(env):
    # Without stdin_once, a client leaving does not end the container's input.
    c = env.container(['sh', '-c', 'cat; echo eof'], stdin=True)
    assert env.spawn(c)[0]
    env.start(c)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(c['attach'])
    s.send(b'\x00a\n')
    s.settimeout(10)
    assert s.recv(100) == b'\x01a\n'
    s.close()
    time.sleep(0.5)
    assert not os.path.exists(c['exit'])
    # A second client closes it explicitly with an empty stdin packet.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(c['attach'])
    s.send(b'\x00')
    assert wait_exit(c)['exit_code'] == '0'
    assert records(c['log']) == [('stdout', 'F', b'a'), ('stdout', 'F', b'eof')]
    s.close()


def test_runtime_error(env):
    # No config.json: runc's own error comes back through the sync pipe,
    # as the runtime's failure (-ECHILD, which ocid answers as UNKNOWN).
    c = env.container(['true'], config=False)
    pid, out = env.spawn(c)
    assert pid is None
    assert 'config.json' in out and f'code=-{errno.ECHILD}' in out, out
    assert not os.path.exists(c['ctl']) and not os.path.exists(c['attach'])
    # A missing binary is refused at create time by runc.
    c = env.container(['/no/such/binary'])
    pid, out = env.spawn(c)
    assert pid is None and '/no/such/binary' in out, out


def test_systemd_cgroup_flag_reaches_the_runtime(env):
    """With the systemd cgroup driver, runc gets --systemd-cgroup; this host
    has no systemd as PID 1, so runc's own refusal shows the flag arrived."""
    c = env.container(['true'])
    pid, out = env.spawn(c, 'systemd_cgroup')
    # e.g. 'expected cgroupsPath ... for systemd cgroups' or 'systemd not running'
    assert pid is None and 'systemd' in out, out
    pid, out = env.spawn(env.container(['true']))
    assert pid is not None, out


def test_bad_ocimon_path(env, tmp_path):
    c = env.container(['true'])
    rc, out = driver('spawn', str(tmp_path / 'nope'), c['id'], c['bundle'], RUNC, env.root,
                     c['log'], c['exit'], c['ctl'], c['attach'])
    assert rc == 1 and 'exec ocimon' in out and 'code=-2' in out, out
    # A program that exits without a report (here: false) is named as such.
    rc, out = driver('spawn', '/bin/false', c['id'], c['bundle'], RUNC, env.root,
                     c['log'], c['exit'], c['ctl'], c['attach'])
    assert rc == 1 and 'exited with status 1 without reporting' in out, out


def test_survives_parent_death(env):
    # The spawning process (and its whole process group) dies right after
    # the spawn; the monitor, in its own session, keeps logging.
    c = env.container(['sh', '-c', 'sleep 1; echo late; exit 4'])
    cmd = [driver_bin(), 'spawn', ocimon_bin(), c['id'], c['bundle'], RUNC, env.root,
           c['log'], c['exit'], c['ctl'], c['attach']]
    parent = subprocess.Popen(['/bin/sh', '-c', '"$@"; exec sleep 100', 'sh', *cmd],
                              stdout=subprocess.PIPE, start_new_session=True,
                              env=sanitizer_env())
    line = parent.stdout.readline().decode()
    kv = parse_kv(line)
    mon_pid = int(kv['mon_pid'])
    env.monitors.append(mon_pid)
    # ocimon leaves the spawner's session just after its report (see its
    # main): until then a kill of the spawner's group is a kill of it too.
    # The test kills the group once it has left, not in that window.
    deadline = time.monotonic() + 5
    while os.getsid(mon_pid) != mon_pid and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(parent.pid, signal.SIGKILL)
    parent.wait()
    assert mon_alive(mon_pid)
    assert os.getsid(mon_pid) not in (os.getsid(0), parent.pid)
    with open('/proc/%d/status' % mon_pid) as f:
        ppid = int([ln for ln in f if ln.startswith('PPid:')][0].split()[1])
    assert ppid != parent.pid
    env.start(c)
    e = wait_exit(c)
    assert e['exit_code'] == '4'
    assert records(c['log']) == [('stdout', 'F', b'late')]


def memory_cgroup_works():
    return os.path.exists('/sys/fs/cgroup/memory/memory.limit_in_bytes') or \
        os.path.exists('/sys/fs/cgroup/cgroup.controllers')


def test_oom_kill(env):
    assert memory_cgroup_works(), 'no memory cgroup on this host'
    c = env.container(['sh', '-c', 'x=$(head -c 200000000 /dev/zero | tr "\\0" x); echo no'],
                      memory=16 * 1024 * 1024)
    pid, out = env.spawn(c)
    assert pid, out
    env.start(c)
    e = wait_exit(c, timeout=60)
    assert e['oom'] == '1', e
    assert e['exit_code'] != '0'


@pytest.mark.parametrize('flag,value', [('--sync-fd', '3x'), ('--sync-fd', '-1'),
                                        ('--timeout-ms', '5s'), ('--timeout-ms', '99999999999')])
def test_numbers_checked(tmp_path, flag, value):
    # Numbers on the command line are parsed whole: atoi took '3x' for 3.
    args = {'--id': 'x', '--bundle': tmp_path, '--runtime': '/bin/true',
            '--runtime-root': tmp_path, '--log-path': tmp_path / 'log',
            '--exit-file': tmp_path / 'exit', '--ctl': tmp_path / 'ctl',
            '--attach': tmp_path / 'attach', '--pid-file': tmp_path / 'pid',
            '--sync-fd': '3', '--timeout-ms': '1000'}
    args[flag] = value
    p = subprocess.run([ocimon_bin()] + [str(x) for kv in args.items() for x in kv],
                       capture_output=True, text=True, timeout=20, env=sanitizer_env())
    assert p.returncode == 2 and 'usage: ocimon' in p.stderr, (p.returncode, p.stderr)
    assert not (tmp_path / 'ctl').exists()


def test_exec_reaper(tmp_path):
    # Its exit code is that of the process whose pid the "runtime" wrote,
    # even when that one exits before the runtime and leaves a child behind.
    pidfile = tmp_path / 'pid'
    runtime = tmp_path / 'rt'
    # (`exec sleep`: the shell would reap its background job itself; a
    # runtime leaves it to the subreaper, as runc exec --detach does.)
    runtime.write_text('#!/bin/sh\n(sleep 0.2; exit 7) & echo $! > "$1"\n'
                       '(sleep 30 </dev/null >/dev/null 2>&1 &)\nexec sleep 0.5\n')
    runtime.chmod(0o755)
    t0 = time.monotonic()
    p = subprocess.run([ocimon_bin(), '--exec-reaper', str(pidfile), str(runtime), str(pidfile)],
                       capture_output=True, text=True, timeout=20, env=sanitizer_env())
    assert p.returncode == 7, (p.returncode, p.stderr)
    assert time.monotonic() - t0 < 5
    # A runtime that fails is the answer.
    runtime.write_text('#!/bin/sh\necho no such container >&2\nexit 1\n')
    p = subprocess.run([ocimon_bin(), '--exec-reaper', str(pidfile), str(runtime)],
                       capture_output=True, text=True, timeout=20, env=sanitizer_env())
    assert p.returncode == 1 and 'no such container' in p.stderr
