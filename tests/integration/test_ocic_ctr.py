"""ocic ctr logs / exec / stats / update and ocic events against a real ocid
(the env fixture of conftest.py: a loopback registry, a busybox-static image,
real runc and ocimon)."""
import json
import os
import queue
import re
import subprocess
import threading
import time

from conftest import EXITED, RUNNING, ocic_bin


def ocic(env, *args, timeout=30):
    """Run ocic against env's daemon; stdout and stderr as bytes."""
    return subprocess.run([ocic_bin(), '--socket', env.d.socket] + list(args),
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


class Lines:
    """A running ocic whose stdout lines are read by a thread."""

    def __init__(self, env, *args):
        self.p = subprocess.Popen([ocic_bin(), '--socket', env.d.socket] + list(args),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL)
        self.q = queue.Queue()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            self.q.put(line.decode())
        self.q.put(None)

    def next(self, timeout=5.0):
        """The next line (None at EOF); fails after timeout seconds."""
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f'no line from ocic in {timeout}s') from None

    def until(self, pred, timeout=10.0):
        """Lines up to and including the first for which pred is true."""
        got, deadline = [], time.monotonic() + timeout
        while True:
            line = self.next(max(0.1, deadline - time.monotonic()))
            assert line is not None, f'EOF before the expected line; got {got}'
            got.append(line)
            if pred(line):
                return got

    def wait(self, timeout=10.0):
        rc = self.p.wait(timeout)
        self.t.join(timeout)
        return rc, self.p.stderr.read().decode()

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        self.p.stdout.close()
        self.p.stderr.close()


def run_to_exit(env, pod, name, script):
    cid = env.create(pod, name, ['/bin/sh', '-c', script])
    env.start(cid)
    env.wait_state(cid, EXITED)
    return cid


# ---- exec ----

def test_exec_sync(env):
    pod = env.pod()
    cid = env.create(pod, 'sleeper', ['/bin/sleep', '600'])
    env.start(cid)
    p = ocic(env, 'ctr', 'exec', '--sync', '--id', cid, '--',
             'sh', '-c', 'echo out; echo err >&2; exit 3')
    assert (p.returncode, p.stdout, p.stderr) == (3, b'out\n', b'err\n')
    p = ocic(env, 'ctr', 'exec', '-s', '--id', cid[:12], 'echo', 'a  b', '--id')
    assert (p.returncode, p.stdout) == (0, b'a  b --id\n'), p.stderr
    t = time.monotonic()
    p = ocic(env, 'ctr', 'exec', '--sync', '--timeout', '1', '--id', cid, '--', 'sleep', '30')
    assert p.returncode == 1 and b'DEADLINE_EXCEEDED' in p.stderr, p.stderr
    assert time.monotonic() - t < 10
    # Without --sync: Exec and a streaming session (test_ocic_stream.py).
    p = ocic(env, 'ctr', 'exec', '--id', cid, '--', 'true')
    assert (p.returncode, p.stdout, p.stderr) == (0, b'', b'')
    for bad in (['--sync', '--id', cid], ['--sync', '--', 'true'],
                ['--sync', '--timeout', 'soon', '--id', cid, 'true']):
        p = ocic(env, 'ctr', 'exec', *bad)
        assert p.returncode == 2, (bad, p.stderr)
    p = ocic(env, 'ctr', 'exec', '--sync', '--id', 'abcdef0123', '--', 'true')
    assert p.returncode == 1 and b'NOT_FOUND' in p.stderr, p.stderr


# ---- events ----

def test_events(env):
    pb, d = env.pb, env.d
    pod = env.pod()
    ev = Lines(env, 'events')
    try:
        # The stream is open once a probe container's event comes through.
        for i in range(50):
            probe = env.create(pod, f'probe{i}', ['/bin/true'])
            try:
                ev.until(lambda line: probe in line, timeout=0.3)
                break
            except AssertionError:
                pass
        else:
            raise AssertionError('ocic events never printed an event')
        cid = env.create(pod, 'ev', ['/bin/sleep', '600'])
        env.start(cid)
        d.runtime('StopContainer', pb.StopContainerRequest(container_id=cid, timeout=0))
        d.runtime('RemoveContainer', pb.RemoveContainerRequest(container_id=cid))
        lines = ev.until(lambda line: cid in line and ' deleted ' in line)
        mine = [line.split() for line in lines if cid in line]
        assert [f[1] for f in mine] == ['created', 'started', 'stopped', 'deleted'], lines
        assert all(f[2] == cid and f[3] == pod for f in mine)
        assert [f[0] for f in mine] == sorted(f[0] for f in mine)
        assert all(re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z', f[0]) for f in mine)
        assert ev.p.poll() is None  # still following
    finally:
        ev.kill()

    # -o json: one protobuf JSON object per line; --id keeps one container
    # (no probe possible here: the stream is given a second to open).
    mine = env.create(pod, 'mine', ['/bin/sleep', '600'])
    ev = Lines(env, '-o', 'json', 'events', '--id', mine[:10])
    try:
        time.sleep(1)
        env.create(pod, 'other', ['/bin/true'])
        env.start(mine)
        j = json.loads(ev.next())
        assert (j['containerId'], j['containerEventType']) == (mine, 'CONTAINER_STARTED_EVENT')
        assert j['podSandboxStatus']['id'] == pod
        assert j['containersStatuses'][0]['state'] == 'CONTAINER_RUNNING'
    finally:
        ev.kill()
    p = ocic(env, 'events', 'extra')
    assert p.returncode == 2

    # The daemon going away ends the stream: status 1 and why.
    ev = Lines(env, 'events')
    try:
        time.sleep(0.5)
        assert d.stop() == 0
        assert ev.next() is None
        rc, err = ev.wait()
        assert rc == 1 and err.startswith('ocic: UNAVAILABLE'), err
    finally:
        ev.kill()
        d.start()


# ---- logs ----

def joined(text):
    """(stream, line + newline) of a CRI log, P records joined."""
    out, part = [], {'stdout': b'', 'stderr': b''}
    for rec in text.splitlines():
        _, stream, tag, content = rec.split(' ', 3)
        part[stream] += content.encode()
        if tag == 'F':
            out.append((stream, part[stream] + b'\n'))
            part[stream] = b''
    return out


def test_logs(env):
    pod = env.pod()
    cid = run_to_exit(env, pod, 'talk', 'echo out1; echo err1 >&2; echo out2; echo err2 >&2; '
                      "head -c 40000 /dev/zero | tr '\\0' a; echo; printf 'no newline'")
    recs = [line.split(' ', 3) for line in env.log('talk').splitlines()]
    assert 'P' in [r[2] for r in recs]  # the long line is in pieces
    p = ocic(env, 'ctr', 'logs', '--id', cid)
    assert p.returncode == 0, p.stderr
    assert p.stdout == b'out1\nout2\n' + b'a' * 40000 + b'\nno newline\n'
    assert p.stderr == b'err1\nerr2\n'

    # --tail counts lines of both streams (in the file's order, which ocimon
    # chose); a joined line is one line.
    want = joined(env.log('talk'))
    assert len(want) == 6
    # Both streams into one pipe: the log's order.
    both = subprocess.run([ocic_bin(), '--socket', env.d.socket, 'ctr', 'logs', '--id', cid],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    assert both.stdout == b''.join(t for s, t in want)
    for n in range(1, 8):
        p = ocic(env, 'ctr', 'logs', '--tail', str(n), '--id', cid[:12])
        assert p.returncode == 0, p.stderr
        assert p.stdout == b''.join(t for s, t in want[-n:] if s == 'stdout'), n
        assert p.stderr == b''.join(t for s, t in want[-n:] if s == 'stderr'), n
    p = ocic(env, 'ctr', 'logs', '--tail', '0', '--id', cid)
    assert (p.returncode, p.stdout, p.stderr) == (0, b'', b'')
    p = ocic(env, 'ctr', 'logs', '--tail', '-1', '--id', cid)
    assert p.stdout.startswith(b'out1\n')

    # --timestamps: the time of the line's first record, as in the file.
    p = ocic(env, 'ctr', 'logs', '--timestamps', '--id', cid)
    first = {}  # the time of each line's first record
    for r in recs:
        first.setdefault(r[3][:4], r[0])
    lines = p.stdout.split(b'\n') + p.stderr.split(b'\n')
    assert f'{first["out2"]} out2'.encode() in lines
    assert f'{first["err1"]} err1'.encode() in lines
    assert f'{first["aaaa"]} '.encode() + b'a' * 40000 in lines

    # -f on a container that has exited: all of it, and it ends at once.
    t = time.monotonic()
    p = ocic(env, 'ctr', 'logs', '-f', '--id', cid)
    assert (p.returncode, p.stderr) == (0, b'err1\nerr2\n')
    assert p.stdout.endswith(b'\nno newline\n') and time.monotonic() - t < 1

    # A line that is not a record is printed as it is.
    with open(os.path.join(env.logs, 'talk', '0.log'), 'a') as f:
        f.write('garbage that is not a record\n2026-01-01T00:00:00Z stdout F tail\n')
    p = ocic(env, 'ctr', 'logs', '--tail', '2', '--id', cid)
    assert (p.returncode, p.stdout) == (0, b'garbage that is not a record\ntail\n'), p.stderr

    for bad in (['--tail', 'x'], ['--tail', '-2'], ['--tail'], []):
        p = ocic(env, 'ctr', 'logs', '--id', cid, *bad) if bad else ocic(env, 'ctr', 'logs')
        assert p.returncode == 2, (bad, p.stderr)
    p = ocic(env, 'ctr', 'logs', '--id', 'abcdef0123')
    assert p.returncode == 1 and b'NOT_FOUND' in p.stderr


def test_logs_follow(env):
    pod = env.pod()
    cid = env.create(pod, 'slow', ['/bin/sh', '-c',
                                   'echo first; echo e1 >&2; sleep 1.5; echo second; sleep 0.5;'
                                   ' echo third'])
    env.start(cid)
    f = Lines(env, 'ctr', 'logs', '-f', '--id', cid)
    try:
        t = time.monotonic()
        assert f.next() == 'first\n'
        # "second" comes only after the sleep, while ocic still follows.
        assert f.next() == 'second\n' and time.monotonic() - t > 1.0
        assert f.next() == 'third\n'
        assert f.next() is None  # ends on its own once the container has exited
        rc, err = f.wait()
        assert (rc, err) == (0, 'e1\n')
    finally:
        f.kill()
    assert env.status(cid).status.state == EXITED


def test_logs_follow_rotation(env):
    pb, d = env.pb, env.d
    pod = env.pod()
    cid = env.create(pod, 'busy', ['/bin/sh', '-c',
                                   'i=0; while true; do i=$((i+1)); echo line$i; sleep 0.05; done'])
    env.start(cid)
    f = Lines(env, 'ctr', 'logs', '-f', '--tail', '1', '--id', cid)
    try:
        first = int(f.next()[4:])
        path = os.path.join(env.logs, 'busy', '0.log')
        f.until(lambda line: line == f'line{first + 5}\n')
        os.rename(path, path + '.1')
        d.runtime('ReopenContainerLog', pb.ReopenContainerLogRequest(container_id=cid))
        got = f.until(lambda line: line == f'line{first + 30}\n')
        with open(path) as new:
            assert new.read().split(' ', 3)[3] != f'line{first + 6}\n'  # something moved
        # Nothing lost or doubled across the rotation.
        assert got == [f'line{i}\n' for i in range(first + 6, first + 31)]
        d.runtime('StopContainer', pb.StopContainerRequest(container_id=cid, timeout=0))
        env.wait_state(cid, EXITED)
        rc, _ = f.wait(timeout=5)
        assert rc == 0
    finally:
        f.kill()


# ---- stats, update ----

def test_stats(env):
    pod = env.pod()
    busy = env.create(pod, 'busy', ['/bin/sh', '-c', 'while :; do :; done'], labels={'k': 'v'})
    idle = env.create(pod, 'idle', ['/bin/sleep', '600'])
    for c in (busy, idle):
        env.start(c)
    t = time.monotonic()
    p = ocic(env, 'ctr', 'stats')
    assert p.returncode == 0, p.stderr
    assert time.monotonic() - t >= 1.0  # two samples a second apart
    head, *rows = p.stdout.decode().splitlines()
    assert head.split() == ['CONTAINER', 'NAME', 'CPU', '%', 'MEM', 'DISK', 'INODES']
    by_name = {r.split()[1]: r.split() for r in rows}
    assert set(by_name) == {'busy', 'idle'}
    cid, _, cpu, mem, disk, inodes = by_name['busy']
    assert cid == busy[:13]
    assert float(cpu) > 20  # a spinning shell takes a good part of a core
    assert mem[-1] == 'B' and mem[0] != '0', mem
    assert disk[-1] == 'B' and int(inodes) >= 0
    assert float(by_name['idle'][2]) < 5

    for args in (['--id', busy], ['--label', 'k=v'], ['-l', 'k=v', '--pod', pod]):
        p = ocic(env, 'ctr', 'stats', *args)
        assert [r.split()[1] for r in p.stdout.decode().splitlines()[1:]] == ['busy'], args
    p = ocic(env, 'ctr', 'stats', '--pod', 'f' * 64)
    assert (p.returncode, len(p.stdout.decode().splitlines())) == (0, 1)

    t = time.monotonic()
    p = ocic(env, '-o', 'json', 'ctr', 'stats', '--id', busy)
    assert p.returncode == 0 and time.monotonic() - t < 1.0
    j = json.loads(p.stdout)
    [s] = j['stats']
    assert s['attributes']['id'] == busy and s['attributes']['labels'] == {'k': 'v'}
    assert int(s['memory']['workingSetBytes']['value']) > 0
    assert int(s['cpu']['usageCoreNanoSeconds']['value']) > 0
    p = ocic(env, 'ctr', 'stats', '--label', 'novalue')
    assert p.returncode == 2


def cgroup_read(env, cid, *names):
    """The first of the cgroup files `names` that exists for the container."""
    rel = json.loads(env.status(cid, verbose=True).info['info'])['cgroupsPath'].lstrip('/')
    for name in names:
        for base in ('/sys/fs/cgroup', '/sys/fs/cgroup/memory', '/sys/fs/cgroup/cpu'):
            path = os.path.join(base, rel, name)
            if os.path.exists(path):
                with open(path) as f:
                    return f.read().strip()
    raise AssertionError(f'none of {names} in the cgroup {rel}')


def test_update(env):
    pod = env.pod()
    cid = env.create(pod, 'upd', ['/bin/sleep', '600'])
    env.start(cid)
    p = ocic(env, 'ctr', 'update', '--id', cid, '--memory', '64m', '--cpu-shares', '512',
             '--cpu-quota', '50000', '--cpu-period', '100000')
    assert (p.returncode, p.stdout.decode()) == (0, cid + '\n'), p.stderr
    assert cgroup_read(env, cid, 'memory.max', 'memory.limit_in_bytes') == str(64 << 20)
    assert cgroup_read(env, cid, 'cpu.max', 'cpu.cfs_quota_us').split()[0] == '50000'
    res = env.status(cid).status.resources.linux
    assert (res.memory_limit_in_bytes, res.cpu_shares, res.cpu_quota, res.cpu_period) == \
        (64 << 20, 512, 50000, 100000)
    p = ocic(env, 'ctr', 'update', '--id', cid, '-m', '100MiB')
    assert p.returncode == 0, p.stderr
    assert cgroup_read(env, cid, 'memory.max', 'memory.limit_in_bytes') == str(100 << 20)
    p = ocic(env, 'ctr', 'update', '--id', cid, '--memory', str(96 << 20))
    assert p.returncode == 0, p.stderr
    assert cgroup_read(env, cid, 'memory.max', 'memory.limit_in_bytes') == str(96 << 20)

    for bad in ([], ['--memory', '12x'], ['--memory', '-5'], ['--memory', '1m2'],
                ['--memory', ''], ['--cpu-shares', 'abc'], ['--cpu-shares', '1e3'],
                ['--cpu-quota', '-2'], ['--oom-score-adj', '2000'],
                ['--memory', '99999999999999999999'], ['--memory', '9999999999t'],
                ['--unified', 'novalue']):
        p = ocic(env, 'ctr', 'update', '--id', cid, *bad)
        assert p.returncode == 2, (bad, p.stderr)
        assert p.stderr.startswith(b'ocic: ') and p.stdout == b''
    assert cgroup_read(env, cid, 'memory.max', 'memory.limit_in_bytes') == str(96 << 20)
    p = ocic(env, 'ctr', 'update', '--id', 'abcdef0123', '--memory', '1g')
    assert p.returncode == 1 and b'NOT_FOUND' in p.stderr, p.stderr
