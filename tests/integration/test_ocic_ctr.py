"""ocic ctr logs / exec / stats / update and ocic events against a real ocid
(the env fixture of conftest.py: a loopback registry, a busybox-static image,
real runc and ocimon)."""
import json
import os
import queue
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
    p = ocic(env, 'ctr', 'exec', '--id', cid, '--', 'true')
    assert p.returncode == 2 and b'--sync' in p.stderr and p.stdout == b''
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
