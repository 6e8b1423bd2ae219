"""Containers end to end: a real ocid, a real registry on loopback serving a
busybox-static image, real runc and ocimon. Pods use the host network (no
CNI needed)."""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time

import grpc
import pytest

# The env fixture is in conftest.py; Env stays importable from here (test_import).
from conftest import CREATED, EXITED, RUNNING, Env  # noqa: F401


def code(e):
    return e.value.code()


def test_lifecycle(env):
    pb, d = env.pb, env.d
    pod = env.pod()
    cid = env.create(pod, 'web', ['/bin/sh', '-c', 'echo hello; echo oops >&2; exec sleep 600'],
                     labels={'app': 'web'})
    st = env.status(cid).status
    assert st.state == CREATED and st.metadata.name == 'web'
    assert st.created_at > 0 and st.started_at == 0
    env.start(cid)
    st = env.status(cid, verbose=True)
    assert st.status.state == RUNNING and st.status.started_at >= st.status.created_at
    assert st.status.image.image == env.image
    assert st.status.image_ref.startswith(env.image.rsplit(':', 1)[0] + '@sha256:')
    assert st.status.image_id.startswith('sha256:')
    assert st.status.labels['app'] == 'web' and st.status.annotations['note'] == 'web'
    assert st.status.log_path == os.path.join(env.logs, 'web', '0.log')
    assert (st.status.user.linux.uid, st.status.user.linux.gid) == (0, 0)
    info = json.loads(st.info['info'])
    assert info['sandboxID'] == pod and info['pid'] > 0
    assert info['runtimeSpec']['process']['args'][0] == '/bin/sh'
    os.kill(info['pid'], 0)

    # CRI log format: "<RFC3339Nano> <stream> F <line>"
    deadline = time.monotonic() + 5
    while 'oops' not in env.log('web') and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = env.log('web').splitlines()
    parsed = sorted((l.split(' ', 3)[1:] for l in lines), key=lambda x: x[0])
    assert parsed == [['stderr', 'F', 'oops'], ['stdout', 'F', 'hello']]
    assert all(l.split(' ')[0].endswith('Z') and len(l.split(' ')[0]) == 30 for l in lines)

    # ExecSync: output, exit code
    r = d.runtime('ExecSync', pb.ExecSyncRequest(
        container_id=cid, cmd=['/bin/sh', '-c', 'echo out; echo err >&2; exit 7'], timeout=10))
    assert (r.stdout, r.stderr, r.exit_code) == (b'out\n', b'err\n', 7)

    # Listing and filters (id prefix, pod, state, labels)
    assert [c.id for c in env.list()] == [cid]
    assert [c.id for c in env.list(id=cid[:12])] == [cid]
    assert [c.id for c in env.list(pod_sandbox_id=pod)] == [cid]
    assert env.list(state=pb.ContainerStateValue(state=pb.CONTAINER_EXITED)) == []
    assert [c.id for c in env.list(label_selector={'app': 'web'})] == [cid]
    assert env.list(label_selector={'app': 'db'}) == []

    # The name is reserved while the container exists.
    with pytest.raises(grpc.RpcError) as e:
        env.create(pod, 'web', ['/bin/true'])
    assert code(e) == grpc.StatusCode.ALREADY_EXISTS and cid in e.value.details()

    # Stop: sleep as PID 1 ignores SIGTERM, so SIGKILL after the timeout.
    t = time.monotonic()
    d.runtime('StopContainer', pb.StopContainerRequest(container_id=cid, timeout=1), timeout=30)
    assert 0.9 < time.monotonic() - t < 8
    st = env.status(cid).status
    assert (st.state, st.exit_code, st.reason) == (EXITED, 137, 'Error')
    assert st.finished_at >= st.started_at
    d.runtime('StopContainer', pb.StopContainerRequest(container_id=cid, timeout=1))
    with pytest.raises(grpc.RpcError) as e:
        env.start(cid)
    assert code(e) == grpc.StatusCode.INVALID_ARGUMENT

    # Remove: idempotent; the log stays (it is kubelet's).
    d.runtime('RemoveContainer', pb.RemoveContainerRequest(container_id=cid))
    d.runtime('RemoveContainer', pb.RemoveContainerRequest(container_id=cid))
    assert list(env.list()) == []
    assert os.path.exists(os.path.join(env.logs, 'web', '0.log'))
    assert not os.path.exists(os.path.join(d.root, 'containers', cid))
    with pytest.raises(grpc.RpcError) as e:
        env.status(cid)
    assert code(e) == grpc.StatusCode.NOT_FOUND
    # The name is free again.
    cid2 = env.create(pod, 'web', ['/bin/true'])
    assert cid2 != cid


def test_exit_codes_and_bad_input(env):
    pb, d = env.pb, env.d
    pod = env.pod()
    longline = env.create(pod, 'long', ['/bin/sh', '-c',
                                        "head -c 102400 /dev/zero | tr '\\0' a; echo"])
    env.start(longline)
    env.wait_state(longline, EXITED)
    recs = [l.split(' ', 3) for l in env.log('long').splitlines()]
    assert [r[2] for r in recs] == ['P'] * (len(recs) - 1) + ['F'] and len(recs) > 1
    assert ''.join(r[3] for r in recs) == 'a' * 102400
    d.runtime('RemoveContainer', pb.RemoveContainerRequest(container_id=longline))
    ok = env.create(pod, 'ok', ['/bin/sh', '-c', 'echo done'])
    bad = env.create(pod, 'bad', ['/bin/sh', '-c', 'exit 3'])
    for c in (ok, bad):
        env.start(c)
    st = env.wait_state(ok, EXITED)
    assert (st.exit_code, st.reason) == (0, 'Completed')
    st = env.wait_state(bad, EXITED)
    assert (st.exit_code, st.reason) == (3, 'Error')
    assert 'stdout F done' in env.log('ok')
    # The user: CRI run_as_user and supplemental groups, seen by ExecSync and status.
    cfg = pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name='user'), image=pb.ImageSpec(image=env.image),
        command=['/bin/sleep', '600'], working_dir='/work/dir', envs=[pb.KeyValue(key='A', value=b'1')],
        linux=pb.LinuxContainerConfig(security_context=pb.LinuxContainerSecurityContext(
            run_as_user=pb.Int64Value(value=1234), supplemental_groups=[77])))
    u = d.runtime('CreateContainer', pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=cfg, sandbox_config=env.pod_cfg), timeout=60).container_id
    env.start(u)
    out = d.runtime('ExecSync', pb.ExecSyncRequest(
        container_id=u, cmd=['/bin/sh', '-c', 'id -u; id -G; pwd; echo $A'], timeout=5)).stdout
    assert out.split() == [b'1234', b'0', b'77', b'/work/dir', b'1']
    st = env.status(u).status
    assert st.user.linux.uid == 1234 and 77 in st.user.linux.supplemental_groups
    d.runtime('RemoveContainer', pb.RemoveContainerRequest(container_id=u), timeout=30)

    # The CRI stop signal wins over the image's (none) and SIGTERM.
    cfg = pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name='sig'), image=pb.ImageSpec(image=env.image),
        command=['/bin/sh', '-c', "trap 'exit 42' USR1; while true; do sleep 0.1; done"],
        stop_signal=pb.SIGUSR1)
    sc = d.runtime('CreateContainer', pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=cfg, sandbox_config=env.pod_cfg), timeout=60).container_id
    env.start(sc)
    assert env.status(sc).status.stop_signal == pb.SIGUSR1
    time.sleep(0.3)
    d.runtime('StopContainer', pb.StopContainerRequest(container_id=sc, timeout=10), timeout=30)
    st = env.status(sc).status
    assert (st.exit_code, st.reason) == (42, 'Error')
    d.runtime('RemoveContainer', pb.RemoveContainerRequest(container_id=sc), timeout=30)

    # Stop of an exited container: fine.
    d.runtime('StopContainer', pb.StopContainerRequest(container_id=ok, timeout=0))

    with pytest.raises(grpc.RpcError) as e:
        env.create(pod, 'x', ['/bin/true'], image='localhost/nope:1')
    assert code(e) == grpc.StatusCode.NOT_FOUND and 'nope' in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        env.create('f' * 64, 'y', ['/bin/true'])
    assert code(e) == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as e:
        env.create(pod, 'z', ['/no/such/binary'])
    assert 'no/such/binary' in e.value.details()
    for bad_cfg in (
            dict(mounts=[pb.Mount(container_path='rel/path', host_path=env.logs)]),
            dict(linux=pb.LinuxContainerConfig(security_context=pb.LinuxContainerSecurityContext(
                run_as_group=pb.Int64Value(value=5)))),
            dict(log_path='../escape.log')):
        cfg = pb.ContainerConfig(metadata=pb.ContainerMetadata(name='inval'),
                                 image=pb.ImageSpec(image=env.image), command=['/bin/true'])
        for k, v in bad_cfg.items():
            if k == 'mounts':
                cfg.mounts.extend(v)
            elif k == 'linux':
                cfg.linux.CopyFrom(v)
            else:
                setattr(cfg, k, v)
        with pytest.raises(grpc.RpcError) as e:
            d.runtime('CreateContainer', pb.CreateContainerRequest(
                pod_sandbox_id=pod, config=cfg, sandbox_config=env.pod_cfg), timeout=60)
        assert code(e) == grpc.StatusCode.INVALID_ARGUMENT, (bad_cfg, e.value.details())
    assert not os.path.exists(os.path.join(os.path.dirname(env.logs), 'escape.log'))
    assert {c.metadata.name for c in env.list()} == {'ok', 'bad'}
    # Nothing of the failed creates is left on disk.
    assert len(os.listdir(os.path.join(d.root, 'containers'))) == 2
    # Unknown ids: remove succeeds, the others say NOT_FOUND.
    d.runtime('RemoveContainer', pb.RemoveContainerRequest(container_id='0' * 64))
    with pytest.raises(grpc.RpcError) as e:
        env.start('0' * 64)
    assert code(e) == grpc.StatusCode.NOT_FOUND


def test_stop_right_after_start_waits_for_the_handler(env):
    """A stop signal sent before the container's program handles it would be
    dropped by the kernel (it is its PID namespace's init); the stop waits
    until the program can take it instead of running into SIGKILL."""
    pod = env.pod()
    cid = env.create(pod, 'late-trap', ['/bin/sh', '-c', 'sleep 0.5; exec /bin/sh -c '
                                        '"trap \'exit 7\' TERM; while :; do sleep 0.05; done"'])
    env.start(cid)
    t = time.monotonic()
    env.d.runtime('StopContainer', env.pb.StopContainerRequest(container_id=cid, timeout=20),
                  timeout=40)
    st = env.status(cid).status
    assert (st.exit_code, st.reason) == (7, 'Error'), st
    assert time.monotonic() - t < 15  # not the grace period and a SIGKILL


def logging_runc(tmp_path):
    """A runtime that is runc, logging each call's arguments."""
    calls = tmp_path / 'runc-calls'
    wrapper = tmp_path / 'runc-logged'
    runc = shutil.which('runc') or '/usr/sbin/runc'
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexec {runc} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper), calls


def runc_state(env, cid, key='status'):
    out = subprocess.run(['runc', '--root', os.path.join(env.d.runroot, 'runtime'), 'state', cid],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)[key]


def runc_pid(env, cid):
    return runc_state(env, cid, 'pid')


def test_start_through_the_exec_fifo(make_env, tmp_path):
    """StartContainer reads runc's exec fifo itself (no `runc start`):
    the program runs, runc reports it running, and a container whose init
    died before the start is refused with a message and shows EXITED.
    exec_fifo_start = false runs `runc start`."""
    wrapper, calls = logging_runc(tmp_path)
    env = make_env(['--runtime', wrapper])
    pod = env.pod()
    cid = env.create(pod, 'fifo', ['/bin/sh', '-c', 'echo started; exec sleep 100'])
    fifo = os.path.join(env.d.runroot, 'runtime', cid, 'exec.fifo')
    assert os.path.exists(fifo) and runc_state(env, cid) == 'created'
    env.start(cid)
    assert env.status(cid).status.state == RUNNING
    assert not os.path.exists(fifo) and runc_state(env, cid) == 'running'
    deadline = time.monotonic() + 10
    while 'started' not in env.log('fifo') and time.monotonic() < deadline:
        time.sleep(0.05)
    assert 'stdout F started' in env.log('fifo')
    verbs = [ln.split()[2] for ln in calls.read_text().splitlines()]  # --root R <verb>
    assert 'create' in verbs and 'start' not in verbs, verbs
    # ocimon learns the pid as the init's subreaper: runc writes no pid file
    # (with O_SYNC), ocimon does, and ocid has the pid runc reports.
    assert '--pid-file' not in calls.read_text(), calls.read_text()
    pid = json.loads(env.status(cid, verbose=True).info['info'])['pid']
    with open(os.path.join(env.d.runroot, 'containers', cid, 'pidfile')) as f:
        assert int(f.read()) == pid == runc_pid(env, cid)

    # The init killed while it waits for the start.
    dead = env.create(pod, 'dead', ['/bin/true'])
    info = json.loads(env.status(dead, verbose=True).info['info'])
    os.kill(info['pid'], signal.SIGKILL)
    with pytest.raises(grpc.RpcError) as e:
        env.start(dead)
    assert 'already dead' in e.value.details(), e.value.details()
    assert env.wait_state(dead, EXITED).exit_code == 137

    # Off: the runtime's own start.
    calls.write_text('')
    off = make_env(['--runtime', wrapper, '--exec-fifo-start=false'], subdir='off')
    cid = off.create(off.pod(), 'ran', ['/bin/sleep', '100'])
    off.start(cid)
    assert off.status(cid).status.state == RUNNING and runc_state(off, cid) == 'running'
    assert f'start {cid}' in calls.read_text(), calls.read_text()


def test_stop_right_after_a_fast_start(env):
    """StartContainer returns once the program runs as itself. runc's init
    closes the exec fifo a moment before its exec, and the exec resets the
    init's signal handlers later still; a stop in between saw init's SIGTERM
    handler, sent SIGTERM, and the program (its namespace's init, with no
    handler yet) lost it: the stop ran into SIGKILL after the whole grace
    period (critest's "should support stopping container" hit it). Here
    each stop is queued behind its start, so it runs the moment the start
    returns."""
    pb, d = env.pb, env.d
    pod = env.pod()
    raced = 0
    for i in range(40):
        cid = env.create(pod, f'quick{i}', ['/bin/sh', '-c', 'trap "exit 3" TERM; while :; do :; done'])
        out = {}

        def start():
            try:
                env.start(cid)
                out['started'] = time.monotonic()
            except grpc.RpcError as e:
                out['error'] = e.details()

        th = threading.Thread(target=start)
        th.start()
        time.sleep(0.0005)  # the start takes the container's lock first
        t = time.monotonic()
        d.runtime('StopContainer', pb.StopContainerRequest(container_id=cid, timeout=20),
                  timeout=40)
        th.join()
        st = env.status(cid).status
        if 'started' in out:
            raced += 1
            assert (st.exit_code, time.monotonic() - t < 10) == (3, True), (i, st)
        d.runtime('RemoveContainer', pb.RemoveContainerRequest(container_id=cid))
    assert raced >= 10, raced  # the stop did not overtake most starts


def test_exec_timeout_and_stop_zero(env):
    pb, d = env.pb, env.d
    pod = env.pod()
    cid = env.create(pod, 'sleeper', ['/bin/sleep', '600'])
    env.start(cid)
    t = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        d.runtime('ExecSync', pb.ExecSyncRequest(
            container_id=cid, cmd=['/bin/sh', '-c', 'sleep 301 & echo $$ > /x.pid; sleep 300'],
            timeout=1), timeout=30)
    assert code(e) == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - t < 10
    pid = d.runtime('ExecSync', pb.ExecSyncRequest(container_id=cid, cmd=['cat', '/x.pid'],
                                                   timeout=5)).stdout.strip()
    ps = d.runtime('ExecSync', pb.ExecSyncRequest(container_id=cid, cmd=['ps', '-o', 'pid'],
                                                  timeout=5)).stdout.split()
    assert pid not in ps
    procs = d.runtime('ExecSync', pb.ExecSyncRequest(container_id=cid, cmd=['ps', '-o', 'args'],
                                                     timeout=5)).stdout
    assert b'sleep 30' not in procs, procs  # the exec'd process's children are gone too
    # No exec timeout: the call's deadline bounds it.
    t = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        d.runtime('ExecSync', pb.ExecSyncRequest(container_id=cid, cmd=['/bin/sleep', '300']),
                  timeout=2)
    assert code(e) == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - t < 5
    deadline = time.monotonic() + 5
    while b'sleep 300' in d.runtime('ExecSync', pb.ExecSyncRequest(
            container_id=cid, cmd=['ps', '-o', 'args'], timeout=5)).stdout:
        assert time.monotonic() < deadline, 'the exec outlived its deadline'
        time.sleep(0.1)
    # Output is bounded below 16 MiB, both streams together (4 KiB for framing).
    r = d.runtime('ExecSync', pb.ExecSyncRequest(
        container_id=cid, cmd=['/bin/sh', '-c', 'head -c 17000000 /dev/zero; echo done >&2'],
        timeout=20), timeout=30)
    assert len(r.stdout) == (16 << 20) - 4096 - 5 and r.stderr == b'done\n' and r.exit_code == 0
    t = time.monotonic()
    d.runtime('StopContainer', pb.StopContainerRequest(container_id=cid, timeout=0))
    assert time.monotonic() - t < 5
    assert env.status(cid).status.exit_code == 137


def test_events(env):
    pb, d = env.pb, env.d
    pod = env.pod()
    ch = d.channel()
    stub = ch.unary_stream('/runtime.v1.RuntimeService/GetContainerEvents',
                           request_serializer=lambda r: r.SerializeToString(),
                           response_deserializer=pb.ContainerEventResponse.FromString)
    call = stub(pb.GetEventsRequest(), timeout=60)
    got = []

    def reader():
        try:
            for ev in call:
                got.append(ev)
        except grpc.RpcError:
            pass

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.3)
    cid = env.create(pod, 'ev', ['/bin/sleep', '600'])
    env.start(cid)
    d.runtime('StopContainer', pb.StopContainerRequest(container_id=cid, timeout=0))
    d.runtime('RemoveContainer', pb.RemoveContainerRequest(container_id=cid))
    deadline = time.monotonic() + 5
    while len(got) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    call.cancel()
    t.join(5)
    assert [e.container_event_type for e in got] == [
        pb.CONTAINER_CREATED_EVENT, pb.CONTAINER_STARTED_EVENT, pb.CONTAINER_STOPPED_EVENT,
        pb.CONTAINER_DELETED_EVENT]
    assert all(e.container_id == cid and e.pod_sandbox_status.id == pod for e in got)
    assert got[0].created_at <= got[1].created_at <= got[3].created_at
    assert got[1].containers_statuses[0].state == RUNNING
    assert got[0].pod_sandbox_status.metadata.name == 'pod'
    assert got[0].pod_sandbox_status.state == pb.SANDBOX_READY

    # An open event stream does not hold up SIGTERM (own channel: stop()
    # closes the daemon's channels first).
    own = grpc.insecure_channel('unix:' + d.socket)
    stub2 = own.unary_stream('/runtime.v1.RuntimeService/GetContainerEvents',
                             request_serializer=lambda r: r.SerializeToString(),
                             response_deserializer=pb.ContainerEventResponse.FromString)
    call2 = stub2(pb.GetEventsRequest(), timeout=60)
    codes = []
    t2 = threading.Thread(target=lambda: codes.append(_drain(call2)))
    t2.start()
    time.sleep(0.3)
    t = time.monotonic()
    assert d.stop() == 0
    assert time.monotonic() - t < 2
    t2.join(5)
    assert codes == [grpc.StatusCode.UNAVAILABLE]
    own.close()
    d.start()


def _drain(call):
    try:
        for _ in call:
            pass
    except grpc.RpcError as e:
        return e.code()
    return None


def test_restart_keeps_containers(env):
    pb, d = env.pb, env.d
    pod = env.pod()
    running = env.create(pod, 'run', ['/bin/sh', '-c', 'while true; do echo tick; sleep 0.2; done'])
    env.start(running)
    created = env.create(pod, 'made', ['/bin/true'])
    done = env.create(pod, 'done', ['/bin/sh', '-c', 'exit 4'])
    env.start(done)
    env.wait_state(done, EXITED)
    later = env.create(pod, 'later', ['/bin/sleep', '600'])
    env.start(later)
    # 20 containers in all: running, created, exited, and exited while ocid is down.
    more = [env.create(pod, f'm{i}', ['/bin/sleep', '600']) for i in range(16)]
    for c in more[:10]:
        env.start(c)
    pid = json.loads(env.status(running, verbose=True).info['info'])['pid']
    later_pid = json.loads(env.status(later, verbose=True).info['info'])['pid']

    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.log.close()
    os.kill(pid, 0)  # still running without ocid
    os.kill(later_pid, signal.SIGKILL)  # exits while ocid is down
    n_before = env.log('run').count('tick')
    time.sleep(0.6)
    assert env.log('run').count('tick') > n_before  # logging never stopped
    # A create that never learnt its pid (ocid died during runtime create).
    half_row = more[-2]
    db = sqlite3.connect(os.path.join(d.root, 'ocid.db'))
    db.execute('UPDATE containers SET pid = 0 WHERE id = ?', (half_row,))
    db.commit()
    db.close()
    # A create that never finished leaves directories without a record.
    half = 'e' * 64
    for base in (d.root, d.runroot):
        os.makedirs(os.path.join(base, 'containers', half, 'upper'))

    d.start()
    states = {c.metadata.name: c.state for c in env.list()}
    want = {'run': RUNNING, 'made': CREATED, 'done': EXITED, 'later': EXITED}
    want.update({f'm{i}': RUNNING if i < 10 else CREATED for i in range(16) if i != 14})
    assert states == want
    for base in (d.root, d.runroot):
        assert not os.path.exists(os.path.join(base, 'containers', half))
        assert not os.path.exists(os.path.join(base, 'containers', half_row))
    assert subprocess.run(['runc', '--root', os.path.join(d.runroot, 'runtime'), 'state',
                           half_row], capture_output=True).returncode != 0
    # A created container that is never started can be removed at once.
    d.runtime('RemoveContainer', pb.RemoveContainerRequest(container_id=more[-1]), timeout=30)
    assert env.status(done).status.exit_code == 4
    st = env.status(later).status
    assert st.exit_code == 137 and st.reason == 'Error'
    # Still manageable after the restart.
    env.start(created)
    env.wait_state(created, EXITED)
    d.runtime('StopContainer', pb.StopContainerRequest(container_id=running, timeout=0))
    assert env.status(running).status.state == EXITED


def test_stats_update_reopen(env):
    pb, d = env.pb, env.d
    pod = env.pod()
    # A sleep of its own beside the loop: the pod counts two processes at
    # any moment, not only while the loop's short sleep runs.
    cid = env.create(pod, 'busy', ['/bin/sh', '-c', 'sleep 600 & i=0; while true; do '
                                   'i=$((i+1)); echo line$i; sleep 0.1; done'],
                     labels={'k': 'v'})
    env.start(cid)
    s1 = d.runtime('ContainerStats', pb.ContainerStatsRequest(container_id=cid)).stats
    assert s1.attributes.id == cid and s1.attributes.labels['k'] == 'v'
    assert s1.cpu.usage_core_nano_seconds.value > 0
    assert s1.memory.working_set_bytes.value > 0
    assert s1.writable_layer.fs_id.mountpoint.endswith('/containers')
    time.sleep(1.2)
    s2 = d.runtime('ContainerStats', pb.ContainerStatsRequest(container_id=cid)).stats
    assert s2.cpu.usage_core_nano_seconds.value > s1.cpu.usage_core_nano_seconds.value
    assert s2.cpu.timestamp > s1.cpu.timestamp
    lst = d.runtime('ListContainerStats', pb.ListContainerStatsRequest(
        filter=pb.ContainerStatsFilter(pod_sandbox_id=pod))).stats
    assert [s.attributes.id for s in lst] == [cid]
    ps = d.runtime('PodSandboxStats', pb.PodSandboxStatsRequest(pod_sandbox_id=pod)).stats
    assert ps.attributes.id == pod and ps.attributes.metadata.name == 'pod'
    assert [c.attributes.id for c in ps.linux.containers] == [cid]
    assert ps.linux.cpu.usage_core_nano_seconds.value > 0  # the pod's cgroup
    assert ps.linux.memory.working_set_bytes.value > 0
    assert ps.linux.process.process_count.value >= 2
    lps = d.runtime('ListPodSandboxStats', pb.ListPodSandboxStatsRequest()).stats
    assert [p.attributes.id for p in lps] == [pod]
    descs = d.runtime('ListMetricDescriptors', pb.ListMetricDescriptorsRequest()).descriptors
    assert 'container_cpu_usage_seconds_total' in {x.name for x in descs}
    pm = d.runtime('ListPodSandboxMetrics', pb.ListPodSandboxMetricsRequest()).pod_metrics
    assert [p.pod_sandbox_id for p in pm] == [pod]
    cm = pm[0].container_metrics[0]
    assert cm.container_id == cid
    cpu = [m for m in cm.metrics if m.name == 'container_cpu_usage_seconds_total'][0]
    assert cpu.value.value > 0 and list(cpu.label_values) == ['busy', cid]

    # UpdateContainerResources reaches the cgroup and ContainerStatus.
    d.runtime('UpdateContainerResources', pb.UpdateContainerResourcesRequest(
        container_id=cid, linux=pb.LinuxContainerResources(memory_limit_in_bytes=64 << 20,
                                                           cpu_shares=256)))
    st = env.status(cid).status
    assert st.resources.linux.memory_limit_in_bytes == 64 << 20
    cg = json.loads(env.status(cid, verbose=True).info['info'])['cgroupsPath']
    for base in ('/sys/fs/cgroup/memory', '/sys/fs/cgroup'):
        f = os.path.join(base + cg, 'memory.limit_in_bytes')
        f2 = os.path.join(base + cg, 'memory.max')
        if os.path.exists(f) or os.path.exists(f2):
            assert int(open(f if os.path.exists(f) else f2).read()) == 64 << 20
            break
    else:
        raise AssertionError(f'no memory cgroup found for {cg}')

    # ReopenContainerLog after a rename starts a new file.
    path = os.path.join(env.logs, 'busy', '0.log')
    os.rename(path, path + '.1')
    d.runtime('ReopenContainerLog', pb.ReopenContainerLogRequest(container_id=cid))
    deadline = time.monotonic() + 5
    while not (os.path.exists(path) and 'line' in open(path).read()):
        assert time.monotonic() < deadline, 'no new log file'
        time.sleep(0.05)
    d.runtime('StopContainer', pb.StopContainerRequest(container_id=cid, timeout=0))
    with pytest.raises(grpc.RpcError) as e:
        d.runtime('ReopenContainerLog', pb.ReopenContainerLogRequest(container_id=cid))
    assert code(e) == grpc.StatusCode.INVALID_ARGUMENT


def test_oom_pod_stop_remove_shared_ipc(env):
    pb, d = env.pb, env.d
    pod = env.pod()
    a = env.create(pod, 'a', ['/bin/sleep', '600'])
    b = env.create(pod, 'b', ['/bin/sleep', '600'])
    env.start(a)
    env.start(b)
    ns = [d.runtime('ExecSync', pb.ExecSyncRequest(
        container_id=c, cmd=['/bin/sh', '-c', 'readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts'],
        timeout=5)).stdout for c in (a, b)]
    assert ns[0] == ns[1] and b'ipc:[' in ns[0]  # one pod: one IPC and UTS namespace

    # A container over its memory limit is reported as OOMKilled.
    hog = env.start_hog(pod)
    st = env.wait_state(hog, EXITED, timeout=30)
    assert (st.reason, st.exit_code) == ('OOMKilled', 137)

    # StopPodSandbox stops the pod's containers; RemovePodSandbox removes them.
    d.runtime('StopPodSandbox', pb.StopPodSandboxRequest(pod_sandbox_id=pod), timeout=60)
    assert {c.state for c in env.list(pod_sandbox_id=pod)} == {EXITED}
    d.runtime('RemovePodSandbox', pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)
    assert list(env.list(pod_sandbox_id=pod)) == []
    assert os.listdir(os.path.join(d.root, 'containers')) == []


def test_example_container(env):
    """docs/examples/container_redis.json as ocic sends it, in a pod with its
    own network namespace (the built-in bridge network)."""
    from google.protobuf import json_format
    pb, d = env.pb, env.d
    ns = pb.NamespaceOption(network=pb.POD, pid=pb.CONTAINER, ipc=pb.POD)
    env.pod_cfg = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name='ex', namespace='default', uid='uid-ex'),
        log_directory=env.logs, hostname='ex',
        linux=pb.LinuxPodSandboxConfig(
            security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))
    pod = d.runtime('RunPodSandbox', pb.RunPodSandboxRequest(config=env.pod_cfg),
                    timeout=60).pod_sandbox_id
    with open(os.path.join(os.path.dirname(__file__), '..', '..', 'docs', 'examples',
                           'container_redis.json')) as f:
        doc = json.load(f)
    doc['image']['image'] = env.image
    cfg = json_format.ParseDict(doc, pb.ContainerConfig())
    cid = d.runtime('CreateContainer', pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=cfg, sandbox_config=env.pod_cfg), timeout=60).container_id
    env.start(cid)
    deadline = time.monotonic() + 5
    while 'listening' not in env.log('redis'):
        assert time.monotonic() < deadline, env.log('redis')
        time.sleep(0.05)
    out = d.runtime('ExecSync', pb.ExecSyncRequest(container_id=cid, cmd=[
        '/bin/sh', '-c', 'pwd; cat /proc/1/oom_score_adj; grep NoNewPrivs /proc/1/status;'
        ' hostname; grep CapBnd /proc/1/status'], timeout=5)).stdout.decode().split('\n')
    assert out[0] == '/data' and out[1] == '500'
    assert out[2].split() == ['NoNewPrivs:', '1'] and out[3] == 'ex'
    assert not int(out[4].split()[1], 16) & (1 << 13)  # CAP_NET_RAW dropped
    st = env.status(cid).status
    assert st.labels['role'] == 'cache' and st.resources.linux.cpu_shares == 256


def test_image_removed_under_a_container_keeps_its_layers(env):
    """RemoveImage while a container uses the image: the image goes, its
    layers stay until the container is gone (then a restart drops them)."""
    pb, d = env.pb, env.d
    layers = os.path.join(d.root, 'layers')

    def chains():
        return sorted(n for n in os.listdir(layers) if n != 'l')

    before = chains()
    assert before
    pod = env.pod()
    cid = env.create(pod, 'keeper', ['/bin/sh', '-c', 'sleep 600'])
    d.image('RemoveImage', pb.RemoveImageRequest(image=pb.ImageSpec(image=env.image)))
    assert not d.image('ListImages', pb.ListImagesRequest()).images
    assert chains() == before
    env.start(cid)
    r = d.runtime('ExecSync', pb.ExecSyncRequest(container_id=cid, cmd=['/bin/echo', 'still'],
                                                 timeout=10), timeout=20)
    assert r.exit_code == 0 and r.stdout == b'still\n'
    d.runtime('RemoveContainer', pb.RemoveContainerRequest(container_id=cid), timeout=30)
    d.stop()
    d.kill()
    d.start()
    assert chains() == []


def test_exec_timeout_reaps_the_process(env):
    """What critest checks: after an ExecSync timeout no trace of the command
    is left, not even a zombie, though the container's init never reaps."""
    pb, d = env.pb, env.d
    pod = env.pod()
    cid = env.create(pod, 'noreap', ['/bin/top'])  # top never reaps
    env.start(cid)
    with pytest.raises(grpc.RpcError) as e:
        d.runtime('ExecSync', pb.ExecSyncRequest(container_id=cid, cmd=['sleep', '4321'],
                                                 timeout=1), timeout=30)
    assert code(e) == grpc.StatusCode.DEADLINE_EXCEEDED
    r = d.runtime('ExecSync', pb.ExecSyncRequest(container_id=cid, cmd=['ps', '-o', 'pid,stat,comm'],
                                                 timeout=5))
    assert r.exit_code == 0 and b'top' in r.stdout, r
    assert b'sleep' not in r.stdout, r.stdout  # not even a zombie
    # an exec within its time is not disturbed by the timer
    r = d.runtime('ExecSync', pb.ExecSyncRequest(container_id=cid, cmd=['/bin/sh', '-c', 'sleep 0.3; echo ok'],
                                                 timeout=5), timeout=10)
    assert r.exit_code == 0 and r.stdout == b'ok\n'


def test_exec_sync_reply_fits_kubelets_limit(env):
    """ExecSync output is bounded as a whole, framing included: a client that
    receives at most 16 MiB (kubelet's limit) gets the reply, with the start
    of each stream; a short stream beside a long one stays whole."""
    pb, d = env.pb, env.d
    pod = env.pod()
    cid = env.create(pod, 'chatty', ['/bin/sh', '-c', 'sleep 600'])
    env.start(cid)
    ch = grpc.insecure_channel('unix:' + d.socket, options=[
        ('grpc.max_receive_message_length', 16 << 20)])

    def run(script):
        return d.call('RuntimeService', 'ExecSync', pb.ExecSyncRequest(
            container_id=cid, cmd=['/bin/sh', '-c', script], timeout=60), channel=ch,
            timeout=90)

    try:
        r = run('head -c 20000000 /dev/zero')
        assert r.exit_code == 0 and r.stderr == b''
        assert 16 << 19 < len(r.stdout) < 16 << 20 and r.stdout.count(b'\0') == len(r.stdout)
        assert r.ByteSize() <= 16 << 20
        r = run('head -c 10000000 /dev/zero; head -c 10000000 /dev/zero | tr "\\0" e >&2; exit 3')
        assert r.exit_code == 3 and r.ByteSize() <= 16 << 20
        assert len(r.stdout) == len(r.stderr) or abs(len(r.stdout) - len(r.stderr)) == 1
        assert len(r.stdout) + len(r.stderr) > (16 << 20) - 8192
        assert set(r.stderr) == {ord('e')}
        r = run('echo oops >&2; head -c 20000000 /dev/zero')
        assert r.stderr == b'oops\n' and r.ByteSize() <= 16 << 20
        assert len(r.stdout) > (16 << 20) - 8192
        # below the bound nothing changes
        r = run('head -c 5000000 /dev/zero; head -c 5000000 /dev/zero >&2')
        assert (len(r.stdout), len(r.stderr)) == (5000000, 5000000)
    finally:
        ch.close()


def test_seccomp_profile_path(env):
    """The deprecated seccomp_profile_path (critest 1.26 still sends it) and
    the default when neither it nor `seccomp` is given: unconfined."""
    pb, d = env.pb, env.d
    pod = env.pod()

    def make(name, path=None):
        sc = pb.LinuxContainerSecurityContext(seccomp_profile_path=path) if path is not None \
            else pb.LinuxContainerSecurityContext()
        cfg = pb.ContainerConfig(metadata=pb.ContainerMetadata(name=name),
                                 image=pb.ImageSpec(image=env.image),
                                 command=['/bin/sleep', '600'], log_path=f'{name}.log',
                                 linux=pb.LinuxContainerConfig(security_context=sc))
        return d.runtime('CreateContainer', pb.CreateContainerRequest(
            pod_sandbox_id=pod, config=cfg, sandbox_config=env.pod_cfg),
            timeout=60).container_id

    def seccomp_mode(cid):
        env.start(cid)
        out = d.runtime('ExecSync', pb.ExecSyncRequest(
            container_id=cid, cmd=['cat', '/proc/self/status'], timeout=5)).stdout
        return [ln for ln in out.decode().splitlines() if ln.startswith('Seccomp:')][0].split()[1]

    assert seccomp_mode(make('plain')) == '0'
    assert seccomp_mode(make('unconfined', 'unconfined')) == '0'
    assert seccomp_mode(make('default', 'runtime/default')) == '2'
    assert seccomp_mode(make('docker', 'docker/default')) == '2'
    with pytest.raises(grpc.RpcError) as e:
        make('bogus', '/some/profile.json')
    assert code(e) == grpc.StatusCode.INVALID_ARGUMENT
    assert 'localhost/' in e.value.details()
    assert not [c for c in env.list() if c.metadata.name == 'bogus']


UUID = '56d052c7-a050-411a-8fd0-4e745e97c28e'  # what critest v1.32 sends


def _tree(top):
    """Every path under `top` with its type and size, the log left out."""
    out = set()
    for dirpath, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            if n == 'ocid.log':
                continue
            st = os.lstat(p)
            out.add((os.path.relpath(p, top), st.st_mode, 0 if os.path.isdir(p) else st.st_size))
    return out


def test_stop_and_remove_of_what_names_nothing_answer_ok(env):
    """StopContainer and RemoveContainer are idempotent: an id that names
    nothing (unknown, a UUID, a path) answers OK and touches nothing; the
    status calls say NOT_FOUND; an ambiguous prefix names something and
    stays an error."""
    pb, d = env.pb, env.d
    pod = env.pod()
    cid = env.create(pod, 'bystander', ['/bin/sh', '-c', 'sleep 600'])
    env.start(cid)
    # <runroot>/containers/../../etc and <root>/containers/../../etc
    sentinel = os.path.join(d.tmp, 'etc')
    os.makedirs(sentinel)
    open(os.path.join(sentinel, 'keep'), 'w').close()
    before = _tree(d.tmp)
    for bad in (UUID, '0' * 64, '../../etc', '../' + cid, cid + '/..', 'ZZ'):
        d.runtime('StopContainer', pb.StopContainerRequest(container_id=bad, timeout=1))
        d.runtime('RemoveContainer', pb.RemoveContainerRequest(container_id=bad))
        for m, req in (('ContainerStatus', pb.ContainerStatusRequest(container_id=bad)),
                       ('StartContainer', pb.StartContainerRequest(container_id=bad))):
            with pytest.raises(grpc.RpcError) as e:
                d.runtime(m, req)
            assert code(e) == grpc.StatusCode.NOT_FOUND, (m, bad, e.value.details())
    assert _tree(d.tmp) == before
    assert os.path.exists(os.path.join(sentinel, 'keep'))
    assert env.status(cid).status.state == RUNNING
    # An empty id is a malformed request, not an idempotent no-op.
    with pytest.raises(grpc.RpcError) as e:
        d.runtime('StopContainer', pb.StopContainerRequest(container_id='', timeout=1))
    assert code(e) == grpc.StatusCode.INVALID_ARGUMENT
    # Two containers whose ids start alike (16 first digits: at most 17 tries).
    ids = {cid[0]: cid}
    while True:
        c = env.create(pod, f'twin{len(ids)}', ['/bin/true'])
        if c[0] in ids:
            break
        ids[c[0]] = c
    with pytest.raises(grpc.RpcError) as e:
        d.runtime('StopContainer', pb.StopContainerRequest(container_id=c[0], timeout=1))
    # ENOTUNIQ: the caller's argument, not INTERNAL
    assert code(e) == grpc.StatusCode.INVALID_ARGUMENT and 'ambiguous' in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        d.runtime('RemoveContainer', pb.RemoveContainerRequest(container_id=c[0]))
    assert code(e) == grpc.StatusCode.INVALID_ARGUMENT and 'ambiguous' in e.value.details()
    assert env.status(cid).status.state == RUNNING
    assert env.status(c).status.state == CREATED


def _cgroup_file(env, cid, v1_name, v2_name):
    cg = json.loads(env.status(cid, verbose=True).info['info'])['cgroupsPath']
    for path in (f'/sys/fs/cgroup/memory{cg}/{v1_name}', f'/sys/fs/cgroup{cg}/{v2_name}'):
        if os.path.exists(path):
            return path
    return None


def test_update_resources_checked_and_bounded_as_create(env):
    """UpdateContainerResources goes through oci_resources_build, as a create
    does: bad values are INVALID_ARGUMENT naming the field (not a runtime
    failure), and a memory limit leaves no swap beyond it where the host
    accounts swap."""
    pb, d = env.pb, env.d
    pod = env.pod()
    cid = env.create(pod, 'upd', ['/bin/sh', '-c', 'sleep 600'])
    env.start(cid)
    for bad, words in ((dict(memory_limit_in_bytes=64 << 20,
                             memory_swap_limit_in_bytes=32 << 20), 'memory plus swap'),
                       (dict(memory_limit_in_bytes=-5), 'negative'),
                       (dict(cpu_shares=-1), 'must not be negative')):
        with pytest.raises(grpc.RpcError) as e:
            d.runtime('UpdateContainerResources', pb.UpdateContainerResourcesRequest(
                container_id=cid, linux=pb.LinuxContainerResources(**bad)))
        assert code(e) == grpc.StatusCode.INVALID_ARGUMENT, (bad, e.value.details())
        assert words in e.value.details(), e.value.details()
    assert env.status(cid).status.resources.linux.memory_limit_in_bytes == 0
    d.runtime('UpdateContainerResources', pb.UpdateContainerResourcesRequest(
        container_id=cid, linux=pb.LinuxContainerResources(memory_limit_in_bytes=64 << 20)))
    memsw = _cgroup_file(env, cid, 'memory.memsw.limit_in_bytes', 'memory.swap.max')
    if memsw is None:
        pytest.skip('this host does not account swap')
    want = str(64 << 20) if memsw.endswith('limit_in_bytes') else '0'
    assert open(memsw).read().strip() == want


def _stop_signal_image(reg, repo, stop_signal):
    from registry import Layer, busybox_entries, make_config, push_image
    layer = Layer(busybox_entries())
    cfg = json.loads(make_config([layer]))
    if stop_signal:
        cfg['config']['StopSignal'] = stop_signal
    push_image(reg, repo, 'v1', [layer], config=json.dumps(cfg, sort_keys=True).encode())
    return f'{reg.host}/{repo}:v1'


# Traps 37 (SIGRTMIN+3), 39 (SIGRTMIN+5) and TERM, and says which came.
TRAP = ("trap 'echo got-37; exit 37' 37; trap 'echo got-39; exit 39' 39; "
        "trap 'echo got-TERM; exit 15' TERM; echo ready; while :; do sleep 0.05; done")


def test_stop_signal_from_image_and_cri(env):
    """An image's StopSignal "SIGRTMIN+3" (systemd images) is exactly what
    StopContainer sends, and so is CRI's SIGRTMINPLUS5; neither becomes
    SIGTERM. ContainerStatus names them back."""
    pb, d = env.pb, env.d
    rt = _stop_signal_image(env.reg, 'test/rtmin', 'SIGRTMIN+3')
    plain = _stop_signal_image(env.reg, 'test/plain', None)
    for img in (rt, plain):
        d.image('PullImage', pb.PullImageRequest(image=pb.ImageSpec(image=img)), timeout=60)
    pod = env.pod()
    a = env.create(pod, 'img-signal', ['/bin/sh', '-c', TRAP], image=rt)
    cfg = pb.ContainerConfig(metadata=pb.ContainerMetadata(name='cri-signal'),
                             image=pb.ImageSpec(image=plain), command=['/bin/sh', '-c', TRAP],
                             log_path='cri-signal/0.log', stop_signal=pb.SIGRTMINPLUS5)
    b = d.runtime('CreateContainer', pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=cfg, sandbox_config=env.pod_cfg), timeout=60).container_id
    assert env.status(a).status.stop_signal == pb.SIGRTMINPLUS3
    assert env.status(b).status.stop_signal == pb.SIGRTMINPLUS5
    for cid, name, sig in ((a, 'img-signal', 37), (b, 'cri-signal', 39)):
        env.start(cid)
        deadline = time.monotonic() + 10
        while 'ready' not in env.log(name):
            assert time.monotonic() < deadline, env.log(name)
            time.sleep(0.05)
        d.runtime('StopContainer', pb.StopContainerRequest(container_id=cid, timeout=20),
                  timeout=40)
        st = env.status(cid).status
        assert (st.state, st.exit_code) == (EXITED, sig), (name, st.exit_code, env.log(name))
        assert f'got-{sig}' in env.log(name)
    # An image StopSignal nothing knows is refused at create, naming it.
    bad = _stop_signal_image(env.reg, 'test/badsig', 'SIGNOPE')
    d.image('PullImage', pb.PullImageRequest(image=pb.ImageSpec(image=bad)), timeout=60)
    with pytest.raises(grpc.RpcError) as e:
        env.create(pod, 'bad-signal', ['/bin/true'], image=bad)
    assert code(e) == grpc.StatusCode.INVALID_ARGUMENT and 'SIGNOPE' in e.value.details()


def test_image_ref_is_the_repo_digest(env, tmp_path):
    """ContainerStatus.image_ref (kubelet's imageID) is the repo digest, as
    containerd and CRI-O report it, in lists too and after a restart; an
    image without one (a `docker save` import) gives its id."""
    from test_import import busybox_layers, docker_save_files, ocic, tar_of
    pb, d = env.pb, env.d
    img = d.image('ImageStatus', pb.ImageStatusRequest(image=pb.ImageSpec(image=env.image))).image
    digest = img.repo_digests[0]
    assert digest.startswith(env.image.rsplit(':', 1)[0] + '@sha256:'), digest
    files, saved_id = docker_save_files(
        busybox_layers(extra=[('etc/motd', 'file', b'saved\n', {})]), ['example.com/x/y:1'])
    path = tmp_path / 'save.tar'
    path.write_bytes(tar_of(files))
    p = ocic(d, ['image', 'import', str(path)])
    assert p.returncode == 0, p.stderr
    pod = env.pod()
    a = env.create(pod, 'pulled', ['/bin/true'])
    b = env.create(pod, 'saved', ['/bin/true'], image='example.com/x/y:1')
    c = env.create(pod, 'by-id', ['/bin/true'], image=img.id)

    def refs():
        st = {cid: env.status(cid).status for cid in (a, b, c)}
        listed = {x.id: x.image_ref for x in env.list()}
        for cid, s in st.items():
            assert listed[cid] == s.image_ref and s.image_id in (img.id, saved_id)
        return [st[cid].image_ref for cid in (a, b, c)]

    assert refs() == [digest, saved_id, digest]
    assert env.status(a).status.image_id == img.id
    d.stop()
    d.kill()
    d.start()
    assert refs() == [digest, saved_id, digest]


def test_image_fs_info_container_filesystem(env):
    """ImageFsInfo reports the writable layers' filesystem (<root>/containers,
    what container stats use) apart from the image store (<root>/layers)."""
    pb, d = env.pb, env.d
    pod = env.pod()
    cid = env.create(pod, 'writer',
                     ['/bin/sh', '-c', 'head -c 3000000 /dev/urandom > /big; sleep 600'])
    env.start(cid)
    deadline = time.monotonic() + 10
    while d.runtime('ExecSync', pb.ExecSyncRequest(container_id=cid, cmd=[
            '/bin/sh', '-c', 'test $(wc -c < /big) = 3000000'], timeout=5)).exit_code:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    r = d.image('ImageFsInfo')
    img, ctr = r.image_filesystems[0], r.container_filesystems[0]
    assert img.fs_id.mountpoint == os.path.join(d.root, 'layers')
    assert ctr.fs_id.mountpoint == os.path.join(d.root, 'containers')
    stats = d.runtime('ContainerStats', pb.ContainerStatsRequest(container_id=cid)).stats
    assert stats.writable_layer.fs_id.mountpoint == ctr.fs_id.mountpoint
    # the writable layer's 3 MB are counted there, not the image's ~2 MB
    assert ctr.used_bytes.value >= 3000000 and img.used_bytes.value < 3000000
    assert ctr.inodes_used.value >= 3 and ctr.timestamp > 0
