"""Isolation features a current kubelet asks for (issue 15) and the Status
features that announce them: recursive read-only mounts (a submount of a
read-only bind stays writable unless the mount is recursive_read_only) and
supplemental groups policy (Merge / Strict, ContainerStatus.user). Real
ocid, runc and kernel mounts; host-network pods."""
import os
import subprocess

import grpc
import pytest

from registry import Layer, busybox_entries, make_config, push_image


@pytest.fixture
def tmp_path(open_tmp_path):
    """Pods here have user namespaces: see open_tmp_path."""
    return open_tmp_path


def sh(*args):
    subprocess.run(args, check=True)


def create(env, name, mounts=(), sc=None, image=None, expect=None):
    pb = env.pb
    cfg = pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name=name), image=pb.ImageSpec(image=image or env.image),
        command=['/bin/sleep', '600'], log_path=f'{name}.log', mounts=list(mounts))
    if sc is not None:
        cfg.linux.security_context.CopyFrom(sc)
    req = pb.CreateContainerRequest(pod_sandbox_id=env.pod_id, config=cfg,
                                    sandbox_config=env.pod_cfg)
    if expect is not None:
        with pytest.raises(grpc.RpcError) as e:
            env.d.runtime('CreateContainer', req, timeout=60)
        assert e.value.code() == expect, e.value.details()
        return e.value.details()
    return env.d.runtime('CreateContainer', req, timeout=60).container_id


def run(env, cid, script):
    r = env.d.runtime('ExecSync', env.pb.ExecSyncRequest(
        container_id=cid, cmd=['/bin/sh', '-c', script], timeout=10))
    return r.exit_code, r.stdout.decode(), r.stderr.decode()


@pytest.fixture
def rro_dir(tmp_path):
    """<tmp>/rro holding a file, with a tmpfs mounted on <tmp>/rro/tmpfs."""
    top = tmp_path / 'rro'
    sub = top / 'tmpfs'
    sub.mkdir(parents=True)
    (top / 'f').write_text('top\n')
    sh('mount', '-t', 'tmpfs', '-o', 'size=1m', 'rrotest', str(sub))
    yield str(top)
    subprocess.run(['umount', '-l', str(sub)])


def handlers(env):
    st = env.d.runtime('Status', env.pb.StatusRequest())
    return {h.name: h.features for h in st.runtime_handlers}, st


def test_status_reports_handlers_and_features(env):
    got, st = handlers(env)
    # The default handler and its name, both the configured runc.
    assert set(got) == {'', 'runc'}
    # runc here lists "rro" in `runc features` and the kernel has
    # mount_setattr: the feature is real, so it is reported.
    assert got[''].recursive_read_only_mounts and got['runc'].recursive_read_only_mounts
    assert not got[''].user_namespaces
    assert st.features.supplemental_groups_policy


def test_recursive_readonly_mount(env, rro_dir):
    pb = env.pb
    env.pod_id = env.pod()
    mounts = [pb.Mount(container_path='/rro', host_path=rro_dir, readonly=True,
                       recursive_read_only=True),
              pb.Mount(container_path='/ro', host_path=rro_dir, readonly=True)]
    cid = create(env, 'rro', mounts)
    env.start(cid)
    # Plain read-only: the top is read-only, the submount under it is not.
    rc, _, err = run(env, cid, ': > /ro/x')
    assert rc != 0 and 'Read-only file system' in err
    assert run(env, cid, 'echo w > /ro/tmpfs/plain')[0] == 0
    assert open(os.path.join(rro_dir, 'tmpfs', 'plain')).read() == 'w\n'
    # Recursive read-only: the submount is read-only too.
    rc, _, err = run(env, cid, ': > /rro/tmpfs/rec')
    assert rc != 0 and 'Read-only file system' in err, err
    rc, _, err = run(env, cid, ': > /rro/x')
    assert rc != 0 and 'Read-only file system' in err
    assert not os.path.exists(os.path.join(rro_dir, 'tmpfs', 'rec'))
    assert run(env, cid, 'cat /rro/f')[1] == 'top\n'
    # Only inside the container: the host's tmpfs stays writable.
    with open(os.path.join(rro_dir, 'tmpfs', 'host'), 'w') as f:
        f.write('h\n')
    assert run(env, cid, 'cat /rro/tmpfs/host')[1] == 'h\n'
    got = {m.container_path: m for m in env.status(cid).status.mounts}
    assert got['/rro'].recursive_read_only and not got['/ro'].recursive_read_only


@pytest.mark.parametrize('readonly,prop,words', [
    (False, 'PROPAGATION_PRIVATE', 'needs readonly'),
    (True, 'PROPAGATION_HOST_TO_CONTAINER', 'not HOST_TO_CONTAINER'),
    (True, 'PROPAGATION_BIDIRECTIONAL', 'not BIDIRECTIONAL'),
])
def test_recursive_readonly_refused(env, rro_dir, readonly, prop, words):
    pb = env.pb
    env.pod_id = env.pod()
    m = pb.Mount(container_path='/rro', host_path=rro_dir, readonly=readonly,
                 recursive_read_only=True, propagation=getattr(pb, prop))
    msg = create(env, 'bad', [m], expect=grpc.StatusCode.INVALID_ARGUMENT)
    assert words in msg and '/rro' in msg
    assert env.list() == []


def groups_image(env):
    """busybox with default-user (1000:1000), a member of group 50000 in the
    image's /etc/group, as critest's test-image-predefined-group has it."""
    extra = [('etc', 'dir', None, {}),
             ('etc/passwd', 'file', b'root:x:0:0:root:/root:/bin/sh\n'
              b'default-user:x:1000:1000::/home/default-user:/bin/sh\n', {}),
             ('etc/group', 'file', b'root:x:0:\ndefault-user:x:1000:\n'
              b'group-defined-in-image:x:50000:default-user\n', {})]
    layers = [Layer(busybox_entries()), Layer(extra)]
    cfg = make_config(layers, user='default-user')
    push_image(env.reg, 'test/groups', 'v1', layers, config=cfg)
    image = f'{env.reg.host}/test/groups:v1'
    env.d.image('PullImage', env.pb.PullImageRequest(image=env.pb.ImageSpec(image=image)),
                timeout=60)
    return image


@pytest.mark.parametrize('policy,want', [
    (None, [1000, 1234, 50000]),        # Merge, the default
    ('Merge', [1000, 1234, 50000]),
    ('Strict', [1000, 1234]),           # the image's group 50000 is left out
])
def test_supplemental_groups_policy(env, policy, want):
    pb = env.pb
    env.pod_id = env.pod()
    image = groups_image(env)
    sc = pb.LinuxContainerSecurityContext(run_as_user=pb.Int64Value(value=1000),
                                          supplemental_groups=[1234])
    if policy:
        sc.supplemental_groups_policy = getattr(pb, policy)
    cid = create(env, 'groups', sc=sc, image=image)
    env.start(cid)
    u = env.status(cid).status.user.linux
    assert (u.uid, u.gid, sorted(u.supplemental_groups)) == (1000, 1000, want)
    # What the process really has, and an exec'd one too.
    assert run(env, cid, 'id -G') == (0, ' '.join(map(str, want)) + '\n', '')
    assert run(env, cid, 'id -u; id -g')[1] == '1000\n1000\n'


def test_supplemental_groups_policy_unknown(env):
    pb = env.pb
    env.pod_id = env.pod()
    sc = pb.LinuxContainerSecurityContext(supplemental_groups_policy=7)
    msg = create(env, 'bad', sc=sc, expect=grpc.StatusCode.INVALID_ARGUMENT)
    assert 'supplemental_groups_policy 7' in msg


def searchable(path):
    """o+x on every directory from path up to /: the root of a pod's user
    namespace is "others" to them (pytest's own directories are 0700)."""
    p = os.path.abspath(path)
    while p != '/':
        os.chmod(p, os.stat(p).st_mode | 0o111)
        p = os.path.dirname(p)


@pytest.fixture
def uns_env(tmp_path, make_env):
    searchable(tmp_path)
    return make_env()


def uns_pod(env, host_id=200000, length=65536, name='uns', pid=None):
    pb = env.pb
    m = [pb.IDMapping(container_id=0, host_id=host_id, length=length)]
    ns = pb.NamespaceOption(network=pb.POD, pid=pid if pid is not None else pb.POD, ipc=pb.POD,
                            userns_options=pb.UserNamespace(mode=pb.POD, uids=m, gids=m))
    env.pod_cfg = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=name, namespace='default', uid='uid-' + name),
        log_directory=env.logs, hostname=name,
        linux=pb.LinuxPodSandboxConfig(
            security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))
    env.pod_id = env.d.runtime('RunPodSandbox', pb.RunPodSandboxRequest(config=env.pod_cfg),
                               timeout=60).pod_sandbox_id
    return env.pod_id


def uns_ctr(env, name, mounts=(), pid=None):
    sc = env.pb.LinuxContainerSecurityContext(
        namespace_options=env.pod_cfg.linux.security_context.namespace_options)
    if pid is not None:
        sc.namespace_options.pid = pid
    cid = create(env, name, mounts, sc=sc)
    env.start(cid)
    return cid


def test_userns_pod(uns_env, tmp_path):
    env, pb = uns_env, uns_env.pb
    got, _ = handlers(env)
    assert got[''].user_namespaces and got['runc'].user_namespaces
    secret = tmp_path / 'secret'
    secret.mkdir()
    (secret / 'key').write_text('host only\n')
    os.chmod(secret / 'key', 0o600)
    uns_pod(env)
    cid = uns_ctr(env, 'uns', [pb.Mount(container_path='/secret', host_path=str(secret))])
    # Root inside, the pod's mapping, the image's files owned by root.
    assert run(env, cid, 'id -u; id -g')[1] == '0\n0\n'
    assert run(env, cid, 'cat /proc/self/uid_map /proc/self/gid_map')[1].split() == \
        ['0', '200000', '65536'] * 2
    assert run(env, cid, 'ls -ln /bin/busybox')[1].split()[2:4] == ['0', '0']
    # Outside, the same files show the mapped ids, and what the container
    # writes lands with them; the shared layer itself is untouched.
    merged = os.path.join(env.d.root, 'containers', cid, 'merged')
    assert os.stat(os.path.join(merged, 'bin', 'busybox')).st_uid == 200000
    assert run(env, cid, 'echo x > /written')[0] == 0
    st = os.stat(os.path.join(env.d.root, 'containers', cid, 'upper', 'written'))
    assert (st.st_uid, st.st_gid) == (200000, 200000)
    layers = os.path.join(env.d.root, 'layers')
    owners = {os.stat(os.path.join(layers, d, 'diff', 'bin', 'busybox')).st_uid
              for d in os.listdir(layers) if os.path.exists(os.path.join(layers, d, 'diff', 'bin', 'busybox'))}
    assert owners == {0}
    # Root inside is nobody to the host: a host root file stays closed.
    rc, _, err = run(env, cid, 'cat /secret/key')
    assert rc != 0 and 'Permission denied' in err
    assert run(env, cid, 'ls -ln /secret/key')[1].split()[2] == '65534'

    # The pod survives a restart of ocid: the container keeps running (the
    # same init, by its start time), exec works in it, and a new container
    # joins its user namespace (with a PID namespace of its own, made
    # inside it).
    started = run(env, cid, 'cat /proc/1/stat')[1].split()[21]
    assert env.d.stop() == 0
    env.d.start()
    assert env.status(cid).status.state == pb.CONTAINER_RUNNING
    assert run(env, cid, 'cat /proc/1/stat')[1].split()[21] == started
    st = env.d.runtime('PodSandboxStatus', pb.PodSandboxStatusRequest(pod_sandbox_id=env.pod_id))
    assert st.status.state == pb.SANDBOX_READY
    cid2 = uns_ctr(env, 'uns2', pid=pb.CONTAINER)
    assert run(env, cid2, 'ps -o pid,comm')[1].split()[2:4] == ['1', 'sleep']
    assert run(env, cid2, 'cat /proc/self/uid_map')[1].split() == ['0', '200000', '65536']
    assert run(env, cid, 'id -u')[1] == '0\n'
    userns = os.path.join(env.d.runroot, 'pods', env.pod_id, 'ns', 'user')
    assert os.path.exists(userns)
    env.d.runtime('StopPodSandbox', pb.StopPodSandboxRequest(pod_sandbox_id=env.pod_id),
                  timeout=60)
    assert not os.path.exists(userns)


@pytest.mark.parametrize('opts,words', [
    ({'mode': 'POD', 'uids': [(0, 1000, 100000)], 'pid': 'NODE'}, "host's network, IPC or PID"),
    ({'mode': 'POD', 'uids': [(0, 1000, 100000)], 'ipc': 'NODE'}, "host's network, IPC or PID"),
    ({'mode': 'CONTAINER'}, 'mode CONTAINER is not supported'),
    ({'mode': 'TARGET'}, 'mode TARGET is not supported'),
    ({'mode': 'POD', 'uids': [(0, 1000, 100000), (0, 2000, 100000)]}, 'exactly one uid'),
    ({'mode': 'POD', 'uids': [(1, 1000, 100000)]}, 'container id 0'),
    ({'mode': 'POD', 'uids': [(0, 0, 65536)]}, "overlaps the host's root"),
    ({'mode': 'POD', 'uids': [(0, 4294967000, 65536)]}, 'out of range'),
    ({'mode': 'NODE', 'uids': [(0, 1000, 100000)]}, 'takes no mappings'),
    ({'mode': 'POD', 'uids': [(0, 1000, 100000)], 'network': 'NODE'}, "host's network"),
])
def test_userns_refused(uns_env, opts, words):
    env, pb = uns_env, uns_env.pb
    maps = [pb.IDMapping(container_id=c, host_id=h, length=n) for c, h, n in opts.get('uids', [])]
    uo = pb.UserNamespace(mode=getattr(pb, opts['mode']), uids=maps, gids=maps)
    ns = pb.NamespaceOption(network=getattr(pb, opts.get('network', 'POD')),
                            pid=getattr(pb, opts.get('pid', 'CONTAINER')),
                            ipc=getattr(pb, opts.get('ipc', 'POD')), userns_options=uo)
    cfg = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name='bad', namespace='default', uid='uid-bad'),
        linux=pb.LinuxPodSandboxConfig(
            security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))
    with pytest.raises(grpc.RpcError) as e:
        env.d.runtime('RunPodSandbox', pb.RunPodSandboxRequest(config=cfg), timeout=60)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert words in e.value.details()
    assert len(env.d.runtime('ListPodSandbox', pb.ListPodSandboxRequest()).items) == 0


def test_userns_node_mode(uns_env):
    env, pb = uns_env, uns_env.pb
    ns = pb.NamespaceOption(network=pb.POD, pid=pb.CONTAINER, ipc=pb.POD,
                            userns_options=pb.UserNamespace(mode=pb.NODE))
    env.pod_cfg = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name='node', namespace='default', uid='uid-node'),
        log_directory=env.logs,
        linux=pb.LinuxPodSandboxConfig(
            security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))
    env.pod_id = env.d.runtime('RunPodSandbox', pb.RunPodSandboxRequest(config=env.pod_cfg),
                               timeout=60).pod_sandbox_id
    cid = uns_ctr(env, 'node')
    with open('/proc/self/uid_map') as f:
        assert run(env, cid, 'cat /proc/self/uid_map')[1].split() == f.read().split()


def test_userns_unsupported_here(env):
    """The daemon's root is under a 0700 directory: the root of a
    pod's user namespace could not reach a rootfs there, so the feature is
    not reported and mode POD is refused, saying where to look."""
    pb = env.pb
    got, _ = handlers(env)
    assert not got[''].user_namespaces
    assert 'not searchable by others' in env.d.read_log()
    with pytest.raises(grpc.RpcError) as e:
        uns_pod(env)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert 'user namespaces' in e.value.details() and 'not supported' in e.value.details()


@pytest.mark.parametrize('kind', ['network', 'ipc', 'pid'])
def test_userns_container_host_namespace_refused(uns_env, kind):
    """A container of a user-namespaced pod asking for a host namespace of
    its own is refused too, before anything is made."""
    env, pb = uns_env, uns_env.pb
    uns_pod(env)
    sc = pb.LinuxContainerSecurityContext(
        namespace_options=env.pod_cfg.linux.security_context.namespace_options)
    setattr(sc.namespace_options, kind, pb.NODE)
    msg = create(env, 'hostns', sc=sc, expect=grpc.StatusCode.INVALID_ARGUMENT)
    word = {'network': 'network', 'ipc': 'IPC', 'pid': 'PID'}[kind]
    assert f"cannot use the host's {word} namespace" in msg, msg
    assert env.list() == []


def test_userns_cannot_signal_host_root(uns_env):
    """Root of a pod's user namespace sees a host-root process put into the
    pod's PID namespace from the host, and cannot signal it; its own
    processes it can. Without a user namespace the kill would work."""
    env, pb = uns_env, uns_env.pb
    uns_pod(env)
    cid = uns_ctr(env, 'killer')
    pidns = os.path.join(env.d.runroot, 'pods', env.pod_id, 'ns', 'pid')
    host = subprocess.Popen(['nsenter', f'--pid={pidns}', '--', 'sleep', '4242'])
    try:
        # nsenter forks the sleep into the pod's PID namespace: wait until
        # the container sees it (no fixed delay).
        pid = None
        for _ in range(200):
            out = run(env, cid, 'ps -o pid,user,args')[1]
            rows = [r.split() for r in out.splitlines() if r.split()[2:] == ['sleep', '4242']]
            if rows:
                pid, user = rows[0][0], rows[0][1]
                break
            subprocess.run(['sleep', '0.05'])
        assert pid, out
        assert user == '65534'  # the host's root is nobody here
        rc, _, err = run(env, cid, f'kill -KILL {pid}')
        assert rc != 0 and 'Operation not permitted' in err, err
        assert host.poll() is None
        # Its own process it may kill.
        assert run(env, cid, 'sleep 600 & p=$!; kill -KILL $p; wait $p; echo $?')[1] == '137\n'
    finally:
        host.kill()
        host.wait()


def test_userns_idmapped_mount(uns_env, tmp_path):
    """A hostPath volume with uid/gid mappings in a user-namespaced pod is an
    idmapped bind: the host's root files are root's inside, and what the
    container writes lands with the mapped owner on the host (its root
    writes as the host's root, its 1234 as 1234). The same directory
    without mappings stays closed."""
    env, pb = uns_env, uns_env.pb
    d = tmp_path / 'vol'
    d.mkdir()
    (d / 'key').write_text('host only\n')
    os.chmod(d / 'key', 0o600)
    os.chmod(d, 0o755)
    (tmp_path / 'file').write_text('single file\n')
    os.chmod(tmp_path / 'file', 0o600)
    uns_pod(env)
    m = [pb.IDMapping(container_id=0, host_id=200000, length=65536)]
    cid = uns_ctr(env, 'idm', [
        pb.Mount(container_path='/data', host_path=str(d), uidMappings=m, gidMappings=m),
        pb.Mount(container_path='/ro', host_path=str(d), readonly=True, uidMappings=m,
                 gidMappings=m),
        pb.Mount(container_path='/f', host_path=str(tmp_path / 'file'), uidMappings=m,
                 gidMappings=m),
        pb.Mount(container_path='/plain', host_path=str(d))])
    assert run(env, cid, 'cat /data/key /f') == (0, 'host only\nsingle file\n', '')
    assert run(env, cid, 'ls -ln /data/key')[1].split()[2:4] == ['0', '0']
    rc, _, err = run(env, cid, 'cat /plain/key')
    assert rc != 0 and 'Permission denied' in err
    script = 'echo x > /data/new; echo y > /data/u; busybox chown 1234:1234 /data/u'
    assert run(env, cid, script)[0] == 0
    assert [(os.stat(d / n).st_uid, os.stat(d / n).st_gid) for n in ('new', 'u')] == \
        [(0, 0), (1234, 1234)]
    rc, _, err = run(env, cid, 'echo z > /ro/z')
    assert rc != 0 and 'Read-only file system' in err
    # The idmapped mounts are ocid's, on the container's vol/ directory;
    # they outlive a restart of ocid and go with the container.
    assert env.d.stop() == 0
    env.d.start()
    assert run(env, cid, 'cat /data/key')[1] == 'host only\n'
    vdir = os.path.join(env.d.root, 'containers', cid, 'vol')
    with open('/proc/self/mountinfo') as f:
        points = [line.split()[4] for line in f]
    assert os.path.join(vdir, '0') in points and os.path.join(vdir, '2') in points
    env.d.runtime('RemoveContainer', pb.RemoveContainerRequest(container_id=cid), timeout=30)
    assert not os.path.exists(vdir)
    assert (d / 'key').read_text() == 'host only\n'


@pytest.mark.parametrize('uids,gids,words', [
    ([(0, 100000, 65536)], None, "outside the pod's user namespace"),
    ([(0, 200000, 65537)], None, "outside the pod's user namespace"),
    ([(0, 200000, 0)], None, 'empty or out of range'),
    ([(4294967000, 200000, 65536)], None, 'empty or out of range'),
    ([(0, 200000, 1000), (1000, 201000, 1000)], None, 'exactly one uid and one gid'),
    ([(0, 200000, 65536)], [], 'exactly one uid and one gid'),
])
def test_userns_idmapped_mount_refused(uns_env, tmp_path, uids, gids, words):
    env, pb = uns_env, uns_env.pb
    uns_pod(env)
    um = [pb.IDMapping(container_id=c, host_id=h, length=n) for c, h, n in uids]
    gm = um if gids is None else [pb.IDMapping(container_id=c, host_id=h, length=n)
                                  for c, h, n in gids]
    sc = pb.LinuxContainerSecurityContext(
        namespace_options=env.pod_cfg.linux.security_context.namespace_options)
    mt = pb.Mount(container_path='/data', host_path=str(tmp_path), uidMappings=um,
                  gidMappings=gm)
    msg = create(env, 'badmap', [mt], sc=sc, expect=grpc.StatusCode.INVALID_ARGUMENT)
    assert words in msg and "'/data'" in msg, msg
    assert env.list() == []


def test_idmapped_mount_needs_userns(env, tmp_path):
    pb = env.pb
    env.pod_id = env.pod()
    m = [pb.IDMapping(container_id=0, host_id=200000, length=65536)]
    mt = pb.Mount(container_path='/data', host_path=str(tmp_path), uidMappings=m, gidMappings=m)
    msg = create(env, 'nouns', [mt], expect=grpc.StatusCode.INVALID_ARGUMENT)
    assert 'need a pod with its own user namespace' in msg
