"""Faults the node meets (issue 10): a monitor killed, a runtime or a CNI
plugin that fails or hangs, metadata beyond its bound, a full disk, a
broken database."""
import json
import os
import re
import signal
import time

import grpc
import pytest

from conftest import EXITED, RUNNING


def ocimon_pid(cid):
    """The pid of the ocimon monitoring container `cid`."""
    for p in os.listdir('/proc'):
        if not p.isdigit():
            continue
        try:
            with open(f'/proc/{p}/cmdline', 'rb') as f:
                argv = f.read().split(b'\0')
        except OSError:
            continue
        if argv and argv[0].endswith(b'ocimon') and cid.encode() in argv:
            return int(p)
    raise AssertionError(f'no ocimon for {cid}')


def ctr_pid(env, cid):
    return json.loads(env.status(cid, verbose=True).info['info'])['pid']


def alive(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] not in ('Z', 'X')
    except OSError:
        return False


def test_monitor_killed(env):
    """kill -9 of a container's ocimon: within a second the container is
    EXITED, killed, with a message that says its monitor died -- never left
    RUNNING with nothing watching it."""
    pb, d = env.pb, env.d
    pod = env.pod()
    cid = env.create(pod, 'victim', ['/bin/sleep', '600'])
    env.start(cid)
    other = env.create(pod, 'bystander', ['/bin/sleep', '600'])
    env.start(other)
    pid = ctr_pid(env, cid)
    t0 = time.monotonic()
    os.kill(ocimon_pid(cid), signal.SIGKILL)
    while env.status(cid).status.state != EXITED and time.monotonic() - t0 < 5:
        time.sleep(0.02)
    dt = time.monotonic() - t0
    st = env.status(cid).status
    assert st.state == EXITED, st
    assert dt < 1.0, f'noticed after {dt:.2f}s'
    assert st.reason == 'Error' and st.exit_code == 137, st
    assert 'monitor' in st.message and 'died' in st.message, st.message
    assert not alive(pid), 'the container of a dead monitor still runs'
    # The other container is untouched; the dead one can be removed.
    assert env.status(other).status.state == RUNNING
    d.runtime('RemoveContainer', pb.RemoveContainerRequest(container_id=cid), timeout=30)
    assert [c.id for c in env.list()] == [other]


def test_monitor_killed_while_ocid_down(env):
    """A monitor killed while ocid is stopped: at start the container is
    reported EXITED with the reason, and its process no longer runs; a
    monitor alive at start is watched again (kill -9 noticed at once)."""
    pb, d = env.pb, env.d
    pod = env.pod()
    gone = env.create(pod, 'gone', ['/bin/sleep', '600'])
    env.start(gone)
    kept = env.create(pod, 'kept', ['/bin/sleep', '600'])
    env.start(kept)
    gone_pid = ctr_pid(env, gone)
    assert d.stop() == 0
    os.kill(ocimon_pid(gone), signal.SIGKILL)
    time.sleep(0.2)
    d.start()
    st = env.status(gone).status
    assert st.state == EXITED and 'monitor' in st.message, st
    assert not alive(gone_pid)
    assert env.status(kept).status.state == RUNNING
    t0 = time.monotonic()
    os.kill(ocimon_pid(kept), signal.SIGKILL)
    while env.status(kept).status.state != EXITED and time.monotonic() - t0 < 5:
        time.sleep(0.02)
    assert time.monotonic() - t0 < 1.0
    assert 'monitor' in env.status(kept).status.message


def faulty_runc(tmp_path):
    """A runtime that is runc, except for the verb and the fault named in
    the file `mode` (e.g. 'create fail-after': runc creates, then the
    runtime says it failed; 'start hang': `start` never answers)."""
    import shutil
    runc = shutil.which('runc') or '/usr/sbin/runc'
    mode = tmp_path / 'mode'
    mode.write_text('none pass\n')
    wrapper = tmp_path / 'runc-faulty'
    wrapper.write_text(f"""#!/bin/sh
read verb fault < {mode}
case " $* " in *" $verb "*) ;; *) exec {runc} "$@";; esac
case "$fault" in
fail) echo "boom: the runtime refuses to $verb" >&2; exit 1;;
hang) exec sleep 600;;
fail-after) {runc} "$@" >/dev/null 2>&1; echo "boom: $verb went wrong halfway" >&2; exit 1;;
hang-after) {runc} "$@" >/dev/null 2>&1; exec sleep 600;;
esac
exec {runc} "$@"
""")
    wrapper.chmod(0o755)
    return str(wrapper), mode


def leftovers(env, runtime, cid_known=()):
    """What a failed create could leave: container dirs, runtime
    containers, monitors, database rows, runtime processes, cgroups."""
    import subprocess
    d = env.d
    out = {}
    for base in (d.root, d.runroot):
        p = os.path.join(base, 'containers')
        out[p] = sorted(set(os.listdir(p)) - set(cid_known)) if os.path.isdir(p) else []
    r = subprocess.run(['runc', '--root', os.path.join(d.runroot, 'runtime'), 'list', '-q'],
                       capture_output=True, text=True)
    out['runc'] = sorted(set(r.stdout.split()) - set(cid_known))
    out['rows'] = sorted(set(c.id for c in env.list()) - set(cid_known))
    procs = []
    for p in os.listdir('/proc'):
        if not p.isdigit():
            continue
        try:
            with open(f'/proc/{p}/cmdline', 'rb') as f:
                argv = f.read().split(b'\0')
        except OSError:
            continue
        if (d.runroot.encode() in b' '.join(argv) and argv[0].endswith(b'ocimon')) or \
                (argv[:2] == [b'sleep', b'600'] and False) or argv[0] == runtime.encode() or \
                (len(argv) > 1 and argv[1] == runtime.encode()):
            if not any(c.encode() in b' '.join(argv) for c in cid_known):
                procs.append(b' '.join(argv).decode())
    out['procs'] = procs
    return out


def clean(env, runtime, known=(), within=5.0):
    deadline = time.monotonic() + within
    while True:
        left = leftovers(env, runtime, known)
        if not any(left.values()) or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def ctr_cgroup_dir(cid, pid):
    """The cgroup v2 (or v1 memory) directory of the container's process."""
    with open(f'/proc/{pid}/cgroup') as f:
        for line in f:
            hid, ctrls, path = line.rstrip('\n').split(':', 2)
            if ctrls in ('', 'memory') and cid in path:
                base = '/sys/fs/cgroup' if ctrls == '' and os.path.exists(
                    '/sys/fs/cgroup/cgroup.controllers') else '/sys/fs/cgroup/' + (
                    ctrls or 'unified')
                return base + path
    raise AssertionError(f'no cgroup for {cid}')


@pytest.mark.parametrize('fault', ['fail', 'fail-after'])
def test_runtime_create_fails(make_env, tmp_path, fault):
    """The runtime's create fails (at once, or after making the container):
    CreateContainer says so with the runtime's words, and nothing is left:
    no directories, runtime container, monitor, row or cgroup."""
    runtime, mode = faulty_runc(tmp_path)
    env = make_env(['--runtime', runtime])
    pod = env.pod()
    good = env.create(pod, 'good', ['/bin/sleep', '600'])
    env.start(good)
    cg_parent = os.path.dirname(ctr_cgroup_dir(good, ctr_pid(env, good)))
    before = sorted(os.listdir(cg_parent))
    mode.write_text(f'create {fault}\n')
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        env.create(pod, 'bad', ['/bin/sleep', '600'])
    assert time.monotonic() - t0 < 10
    assert 'boom' in e.value.details(), e.value.details()
    assert e.value.code() != grpc.StatusCode.DEADLINE_EXCEEDED
    assert clean(env, runtime, [good]) == {k: [] for k in leftovers(env, runtime, [good])}
    assert sorted(os.listdir(cg_parent)) == before
    mode.write_text('none pass\n')
    env.start(env.create(pod, 'again', ['/bin/sleep', '600']))  # the name is free again


@pytest.mark.parametrize('fault', ['hang', 'hang-after'])
def test_runtime_create_hangs(make_env, tmp_path, fault):
    """The runtime's create never answers: CreateContainer fails within its
    deadline with a message naming the runtime, and what it made is undone."""
    runtime, mode = faulty_runc(tmp_path)
    env = make_env(['--runtime', runtime])
    pod = env.pod()
    mode.write_text(f'create {fault}\n')
    pb = env.pb
    cfg = pb.ContainerConfig(metadata=pb.ContainerMetadata(name='stuck'),
                             image=pb.ImageSpec(image=env.image), command=['/bin/sleep', '600'],
                             log_path='stuck/0.log')
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        env.d.runtime('CreateContainer', pb.CreateContainerRequest(
            pod_sandbox_id=pod, config=cfg, sandbox_config=env.pod_cfg), timeout=6)
    dt = time.monotonic() - t0
    assert dt < 6.5, dt
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, e.value
    # Ours, not the client library's: it names the runtime.
    assert 'create' in e.value.details() and 'runc-faulty' in e.value.details(), \
        e.value.details()
    assert clean(env, runtime) == {k: [] for k in leftovers(env, runtime)}
    mode.write_text('none pass\n')
    env.start(env.create(pod, 'stuck', ['/bin/sleep', '600']))


@pytest.mark.parametrize('fault', ['fail', 'hang'])
def test_runtime_start_fails_or_hangs(make_env, tmp_path, fault):
    """`<runtime> start` fails or hangs (exec_fifo_start = false): a clear
    error within StartContainer's deadline; the container stays CREATED and
    can be removed, leaving nothing."""
    runtime, mode = faulty_runc(tmp_path)
    env = make_env(['--runtime', runtime, '--exec-fifo-start=false'])
    pod = env.pod()
    cid = env.create(pod, 'nostart', ['/bin/sleep', '600'])
    mode.write_text(f'start {fault}\n')
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        env.d.runtime('StartContainer', env.pb.StartContainerRequest(container_id=cid),
                      timeout=5)
    assert time.monotonic() - t0 < 5.5
    if fault == 'fail':
        assert 'boom' in e.value.details(), e.value.details()
    else:
        assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert 'start' in e.value.details() and 'runc-faulty' in e.value.details(), \
            e.value.details()
    assert env.status(cid).status.state in (0, EXITED)  # CREATED, or its init gone
    mode.write_text('none pass\n')
    env.d.runtime('RemoveContainer', env.pb.RemoveContainerRequest(container_id=cid),
                  timeout=30)
    assert clean(env, runtime) == {k: [] for k in leftovers(env, runtime)}


SLEEPER = """#!/bin/sh
cat >/dev/null
case "$CNI_COMMAND" in
ADD) exec sleep 600;;
VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0"]}';;
esac
exit 0
"""


@pytest.mark.parametrize('where', ['chain', 'ipam'])
def test_cni_add_hangs(make_daemon, tmp_path, pb, where):
    """A plugin that hangs on ADD: in the chain after the bridge made a veth
    and took an IP, or as the bridge's own IPAM plugin (which the bridge
    runs, not ocid). RunPodSandbox fails within its deadline naming the
    plugin ocid ran, and the namespaces, the IP, the veth and every process
    are released: the hung IPAM plugin goes with the bridge, instead of
    hanging on (and holding its lock) after the bridge was killed."""
    import subprocess
    from test_pod import PodEnv
    env = PodEnv(make_daemon, tmp_path, pb)
    with open(os.path.join(env.plugins, 'sleeper'), 'w') as f:
        f.write(SLEEPER)
    os.chmod(os.path.join(env.plugins, 'sleeper'), 0o755)
    data = os.path.join(env.tmp, 'ipam')
    ipam = {'type': 'host-local', 'dataDir': data, 'ranges': [[{'subnet': env.subnet}]]}
    # A bridge of its own for the IPAM case: the bridge plugin cannot later
    # give an address to a bridge it made without one (cleanup_net removes
    # '<bridge>b' too).
    bridge = env.bridge if where == 'chain' else env.bridge + 'b'
    plugins = [{'type': 'bridge', 'bridge': bridge, 'isGateway': True,
                'ipam': ipam if where == 'chain' else {'type': 'sleeper'}}]
    if where == 'chain':
        plugins.append({'type': 'sleeper'})
    with open(os.path.join(env.netd, '10-hang.conflist'), 'w') as f:
        json.dump({'cniVersion': '1.0.0', 'name': 'hangnet', 'plugins': plugins}, f)
    env.d.start()
    try:
        # The answer names the plugin: the daemon gave up within the
        # client's deadline (the client's own timer would not name it).
        with pytest.raises(grpc.RpcError) as e:
            env.run(env.config('hang'), timeout=6)
        assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, e.value
        named = 'sleeper' if where == 'chain' else 'bridge'
        assert f'plugin {named}' in e.value.details(), e.value.details()

        def left():
            out = {'pods': env.pod_dirs()}
            with open('/proc/self/mountinfo') as f:
                out['mounts'] = [ln.split()[4] for ln in f if env.d.runroot in ln]
            ips = os.path.join(data, 'hangnet')
            out['ips'] = [n for n in (os.listdir(ips) if os.path.isdir(ips) else [])
                          if n[0].isdigit() and not n.startswith('last_reserved')]
            out['veths'] = subprocess.run(['ip', '-o', 'link', 'show', 'master', bridge],
                                          capture_output=True, text=True).stdout.split('\n')[:-1]
            out['sleep'] = [p for p in os.listdir('/proc') if p.isdigit() and
                            _cmdline(p) == [b'sleep', b'600', b''] and
                            _environ_has(p, b'CNI_NETNS=' + env.d.runroot.encode())]
            out['rows'] = [p.id for p in env.list()]
            return out
        deadline = time.monotonic() + 5
        while any(left().values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(left().values()), left()
        # The network works again once the plugin does.
        os.unlink(os.path.join(env.netd, '10-hang.conflist'))
        env.run(env.config('fine'))
    finally:
        env.cleanup()
        assert env.d.stop() == 0


def _cmdline(pid):
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            return f.read().split(b'\0')
    except OSError:
        return []


def _environ_has(pid, prefix):
    try:
        with open(f'/proc/{pid}/environ', 'rb') as f:
            return any(v.startswith(prefix) for v in f.read().split(b'\0'))
    except OSError:
        return False


def test_metadata_bounded(env):
    """Labels and annotations of one pod or container: 256 KiB together at
    most (Kubernetes' limit for annotations), else INVALID_ARGUMENT naming
    the limit; just under it is fine."""
    pb, d = env.pb, env.d
    big = {f'k{i:05d}': 'v' * 1024 for i in range(5000)}  # ~5 MiB
    ns = pb.NamespaceOption(network=pb.NODE, pid=pb.CONTAINER, ipc=pb.POD)

    def pod_cfg(name, labels=None, annotations=None):
        return pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, namespace='default', uid='u-' + name),
            log_directory=env.logs, labels=labels or {}, annotations=annotations or {},
            linux=pb.LinuxPodSandboxConfig(
                security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))
    for labels, annotations in ((big, None), (None, big),
                                ({'a': 'x' * (130 << 10)}, {'b': 'y' * (130 << 10)})):
        with pytest.raises(grpc.RpcError) as e:
            d.runtime('RunPodSandbox', pb.RunPodSandboxRequest(
                config=pod_cfg('big', labels, annotations)), timeout=30)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value
        assert '256 KiB' in e.value.details() and 'pod' in e.value.details(), e.value.details()
    assert list(d.runtime('ListPodSandbox', pb.ListPodSandboxRequest()).items) == []
    # Just under the bound: accepted, and stored whole.
    fits = {'a': 'x' * (127 << 10), 'b': 'y' * (127 << 10)}
    pod = d.runtime('RunPodSandbox', pb.RunPodSandboxRequest(
        config=pod_cfg('fits', annotations=fits)), timeout=60).pod_sandbox_id
    st = d.runtime('PodSandboxStatus', pb.PodSandboxStatusRequest(pod_sandbox_id=pod)).status
    assert dict(st.annotations) == fits
    env.pod_cfg = pod_cfg('fits', annotations=fits)
    with pytest.raises(grpc.RpcError) as e:
        env.create(pod, 'big', ['/bin/true'], labels=big)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value
    assert '256 KiB' in e.value.details() and 'container' in e.value.details()
    assert env.list() == []
    cid = env.create(pod, 'fits', ['/bin/true'], labels={'l': 'z' * (200 << 10)})
    assert len(env.status(cid).status.labels['l']) == 200 << 10


def test_disk_full_during_pull(make_daemon, tmp_path):
    """The root's filesystem fills during a pull: RESOURCE_EXHAUSTED naming
    the disk, nothing left in tmp/ nor any layer of it, the daemon keeps
    serving, and the pull works once there is room."""
    import subprocess
    from registry import Registry, busybox_image
    from test_image import big_layer_image, write_conf
    reg = Registry(tmp_path / 'registry').start()
    root = tmp_path / 'small-root'
    root.mkdir()
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=24m', 'ocid-small-root', str(root)],
                   check=True)
    try:
        busybox_image(reg, 'small/app')
        big_layer_image(reg, 'big/app', 40)
        d = make_daemon(extra_args=write_conf(tmp_path, f'[[registry]]\nlocation = "{reg.host}"\n'
                                              'insecure = true\n') + ['--root', str(root)]).start()
        pb = d.pb

        def pull(name):
            return d.image('PullImage', pb.PullImageRequest(image=pb.ImageSpec(image=name)),
                           timeout=120).image_ref
        pull(f'{reg.host}/small/app:latest')
        with pytest.raises(grpc.RpcError) as e:
            pull(f'{reg.host}/big/app:v1')
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, e.value
        msg = e.value.details()
        assert 'no space' in msg.lower() and str(root) in msg, msg
        assert os.listdir(root / 'tmp') == []
        d.runtime('Version', pb.VersionRequest(), timeout=2)
        imgs = d.image('ListImages', pb.ListImagesRequest()).images
        assert [t for i in imgs for t in i.repo_tags] == [f'{reg.host}/small/app:latest']
        # Room again: the same pull works.
        subprocess.run(['mount', '-o', 'remount,size=256m', str(root)], check=True)
        pull(f'{reg.host}/big/app:v1')
        assert os.listdir(root / 'tmp') == []
        assert d.stop() == 0
    finally:
        d.kill()
        subprocess.run(['umount', '-l', str(root)])
        reg.stop()


def test_damaged_database(env):
    """A truncated ocid.db: ocid refuses to start with a clear error naming
    the way out; `ocid check` says it is damaged; `ocid wipe` kills what ran
    and empties the roots (the old database kept aside); ocid then starts
    empty and pulls again."""
    import subprocess
    pb, d = env.pb, env.d
    pod = env.pod()
    cid = env.create(pod, 'c', ['/bin/sleep', '600'])
    env.start(cid)
    pid = ctr_pid(env, cid)
    flags = d.args[1:]
    ocid = d.args[0]
    assert subprocess.run([ocid, 'check'] + flags, capture_output=True, text=True).returncode == 0
    # ocid is running: wipe refuses.
    w = subprocess.run([ocid, 'wipe'] + flags, capture_output=True, text=True)
    assert w.returncode == 1 and 'stop ocid first' in w.stderr, w
    assert d.stop() == 0
    db = os.path.join(d.root, 'ocid.db')
    with open(db, 'r+b') as f:
        f.truncate(os.path.getsize(db) // 3)
    d.start(wait=False)
    assert d.proc.wait(20) == 1
    log = d.read_log()
    assert 'ocid check' in log and 'ocid wipe' in log and 'malformed' in log, log[-2000:]
    c = subprocess.run([ocid, 'check'] + flags, capture_output=True, text=True)
    assert c.returncode == 1 and 'damaged' in c.stdout, c
    assert alive(pid)  # nothing touched the running container so far
    w = subprocess.run([ocid, 'wipe'] + flags, capture_output=True, text=True)
    assert w.returncode == 0, w
    assert 'kept as' in w.stdout, w.stdout
    assert not alive(pid)
    with open('/proc/self/mountinfo') as f:
        mounts = f.read()
    assert d.root + '/' not in mounts and d.runroot + '/' not in mounts
    assert sorted(n for n in os.listdir(d.root) if not n.startswith('ocid.db.wiped-')) == \
        ['ocid.lock']
    d.start()
    assert list(d.image('ListImages', pb.ListImagesRequest()).images) == []
    assert list(d.runtime('ListPodSandbox', pb.ListPodSandboxRequest()).items) == []
    d.image('PullImage', pb.PullImageRequest(image=pb.ImageSpec(image=env.image)), timeout=60)
    env.start(env.create(env.pod('again'), 'c', ['/bin/sleep', '600']))


def cgroup_dirs(name):
    """Every directory called `name` in any cgroup hierarchy."""
    return [os.path.join(top, name) for top, dirs, _ in os.walk('/sys/fs/cgroup') if name in dirs]


def cgroup_pids(dirs):
    """The processes in these cgroups and those below them."""
    pids = set()
    for top in dirs:
        for d, _, _ in os.walk(top):
            with open(os.path.join(d, 'cgroup.procs')) as f:
                pids.update(int(x) for x in f.read().split())
    return pids


def nat_rules():
    import subprocess
    return subprocess.run(['iptables', '-w', '-t', 'nat', '-S'], capture_output=True, text=True,
                          check=True).stdout


def move_to_root(pid):
    """Move `pid` to the root cgroup of every hierarchy."""
    for h in os.listdir('/sys/fs/cgroup'):
        procs = os.path.join('/sys/fs/cgroup', h, 'cgroup.procs')
        if os.path.exists(procs):
            with open(procs, 'w') as f:
                f.write(str(pid))


def remove_cgroups(tops):
    """Kill what is in these cgroups and below, then remove them."""
    deadline = time.monotonic() + 10
    for top in tops:
        for sub, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
            while time.monotonic() < deadline:
                try:
                    for x in cgroup_pids([sub]):
                        os.kill(x, signal.SIGKILL)
                    os.rmdir(sub)
                    break
                except OSError:
                    time.sleep(0.05)


def test_wipe_ends_pods(env):
    """`ocid wipe` leaves nothing of its pods behind, with the database
    unread: the processes of a shared PID namespace (its ocid-pause, which
    no runtime ran, moved out of the pod's cgroup as with the systemd
    driver) and those in a pod's cgroup (a container whose runtime state is
    gone) are killed and the pods' cgroups removed, also below a parent of
    kubelet's choosing; another daemon's pod cgroup under the same parent,
    and what runs in it, are not touched; a pod's network is deleted
    through its plugins (its host port's NAT rules go)."""
    import subprocess
    pb, d = env.pb, env.d
    parent = f'/ocid-wipe-{os.getpid()}/kubepods'
    ns = pb.NamespaceOption(network=pb.NODE, pid=pb.POD, ipc=pb.POD)
    env.pod_cfg = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name='shared', namespace='default', uid='uid-shared'),
        log_directory=env.logs, hostname='shared',
        linux=pb.LinuxPodSandboxConfig(
            cgroup_parent=parent,
            security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))
    shared = d.runtime('RunPodSandbox', pb.RunPodSandboxRequest(config=env.pod_cfg),
                       timeout=60).pod_sandbox_id
    env.start(env.create(shared, 'a', ['/bin/sleep', '600']))
    plain = env.pod('plain')
    env.start(env.create(plain, 'c', ['/bin/sleep', '600']))
    lost = env.create(plain, 'lost', ['/bin/sleep', '600'])
    env.start(lost)
    host_port = 20000 + (os.getpid() + 11) % 20000
    web_cfg = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name='web', namespace='default', uid='uid-web'),
        log_directory=env.logs, hostname='web',
        port_mappings=[pb.PortMapping(protocol=pb.TCP, container_port=80, host_port=host_port)])
    web = d.runtime('RunPodSandbox', pb.RunPodSandboxRequest(config=web_cfg),
                    timeout=60).pod_sandbox_id
    other = 'ocid-pod-' + 'f' * 64  # as another daemon's pod, same parent
    made, pids, bystander = [], {}, None
    try:
        tops = sorted({os.path.dirname(x) for x in cgroup_dirs('ocid-pod-' + shared)})
        bystander = subprocess.Popen(['sleep', '600'])
        for top in tops:
            os.mkdir(os.path.join(top, other))
            made.append(os.path.join(top, other))
            for f in ('cpuset.cpus', 'cpuset.mems'):  # else no task may join
                if os.path.exists(os.path.join(top, f)):
                    with open(os.path.join(top, f)) as src, \
                            open(os.path.join(top, other, f), 'w') as dst:
                        dst.write(src.read())
            with open(os.path.join(top, other, 'cgroup.procs'), 'w') as f:
                f.write(str(bystander.pid))
        dirs = {p: cgroup_dirs('ocid-pod-' + p) for p in (shared, plain, web)}
        assert dirs[shared] and all(parent + '/' in x for x in dirs[shared]), dirs
        pids = {p: cgroup_pids(v) for p, v in dirs.items()}
        assert [len(pids[p]) for p in (shared, plain, web)] == [2, 2, 0], pids
        pause = cgroup_pids(dirs[shared][:1]) - cgroup_pids(
            [os.path.join(dirs[shared][0], x) for x in os.listdir(dirs[shared][0])
             if os.path.isdir(os.path.join(dirs[shared][0], x))])
        assert len(pause) == 1, pause
        move_to_root(*pause)
        assert web in nat_rules() and f'--dport {host_port}' in nat_rules()
        assert d.stop() == 0
        # A container the runtime no longer knows: wipe finds it by its cgroup.
        rt = os.path.join(d.runroot, 'runtime', lost)
        assert os.path.isdir(rt)
        subprocess.run(['rm', '-rf', rt], check=True)
        w = subprocess.run([d.args[0], 'wipe'] + d.args[1:], capture_output=True, text=True)
        assert w.returncode == 0 and 'ocid: wipe:' not in w.stderr, w
        assert '1 pod networks and 3 pod cgroups removed' in w.stdout, w.stdout
        # The plugins undid the pod's network: its host port's NAT rules
        # (portmap's, which name the pod) are gone.
        assert web not in nat_rules(), nat_rules()
        for p in (shared, plain, web):
            assert cgroup_dirs('ocid-pod-' + p) == [], p
            assert not any(alive(x) for x in pids[p]), (p, pids[p])
        assert sorted(cgroup_dirs(other)) == sorted(made) and alive(bystander.pid)
        d.start()
        assert list(d.runtime('ListPodSandbox', pb.ListPodSandboxRequest()).items) == []
    finally:
        # What a failed wipe left: its processes, then the cgroups.
        if bystander:
            bystander.kill()
            bystander.wait()
        for x in set().union(*pids.values()):
            try:
                os.kill(x, signal.SIGKILL)
            except OSError:
                pass
        remove_cgroups(made + cgroup_dirs(parent.split('/')[1]) +
                       cgroup_dirs('ocid-pod-' + plain) + cgroup_dirs('ocid-pod-' + web))
        for rule in (r for r in nat_rules().splitlines() if web in r and r.startswith('-A ')):
            subprocess.run(['/bin/sh', '-c', 'iptables -w -t nat ' + rule.replace('-A ', '-D ', 1)])
            for chain in set(re.findall(r'CNI-DN-[0-9a-f]+', rule)):
                subprocess.run(['iptables', '-w', '-t', 'nat', '-F', chain])
                subprocess.run(['iptables', '-w', '-t', 'nat', '-X', chain])
        if not d.proc or d.proc.poll() is not None:
            d.start()  # the fixture's end removes what is left through it
