"""CRI mounts end to end: read-write and read-only binds, a missing host path
created as a directory, mount propagation (private, HostToContainer,
Bidirectional) with the host-side checks it needs, and the mounts echoed in
ContainerStatus. Real ocid, runc and kernel mounts; host pods."""
import json
import os
import signal
import subprocess
import time

import grpc
import pytest

from conftest import RUNNING
from registry import Layer, busybox_entries, make_config, push_image


def sh(*args):
    subprocess.run(args, check=True)


@pytest.fixture
def hostdirs(tmp_path):
    """<tmp>/shared is a shared mount point, <tmp>/private a private one."""
    made = []
    for name, prop in (('shared', '--make-rshared'), ('private', '--make-rprivate')):
        p = str(tmp_path / name)
        os.makedirs(p)
        sh('mount', '--bind', p, p)
        made.append(p)
        sh('mount', prop, p)
    yield str(tmp_path)
    for p in reversed(made):
        subprocess.run(['umount', '-R', '-l', p])


def create(env, name, mounts, privileged=False, image=None):
    pb = env.pb
    cfg = pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name=name), image=pb.ImageSpec(image=image or env.image),
        command=['/bin/sleep', '600'], log_path=f'{name}.log', mounts=mounts)
    if privileged:
        cfg.linux.security_context.privileged = True
    return env.d.runtime('CreateContainer', pb.CreateContainerRequest(
        pod_sandbox_id=env.pod_id, config=cfg, sandbox_config=env.pod_cfg),
        timeout=60).container_id


def run(env, cid, script):
    r = env.d.runtime('ExecSync', env.pb.ExecSyncRequest(
        container_id=cid, cmd=['/bin/sh', '-c', script], timeout=10))
    return r.exit_code, r.stdout.decode(), r.stderr.decode()


def test_bind_mounts_ro_rw_and_missing_source(env, hostdirs):
    pb = env.pb
    env.pod_id = env.pod()
    rw, ro = os.path.join(hostdirs, 'rw'), os.path.join(hostdirs, 'ro')
    missing = os.path.join(hostdirs, 'not', 'yet')
    for p in (rw, ro):
        os.makedirs(p)
    with open(os.path.join(ro, 'f'), 'w') as f:
        f.write('host data\n')
    mounts = [pb.Mount(container_path='/rw', host_path=rw),
              pb.Mount(container_path='/ro', host_path=ro, readonly=True),
              pb.Mount(container_path='/made', host_path=missing)]
    cid = create(env, 'binds', mounts)
    assert os.path.isdir(missing)  # created as a directory, as Docker does
    env.start(cid)

    assert run(env, cid, 'echo from-ctr > /rw/out') == (0, '', '')
    with open(os.path.join(rw, 'out')) as f:
        assert f.read() == 'from-ctr\n'
    rc, _, err = run(env, cid, 'cat /ro/f; echo x > /ro/g')
    assert rc != 0 and 'Read-only' in err
    assert not os.path.exists(os.path.join(ro, 'g'))
    assert run(env, cid, 'cat /ro/f')[1] == 'host data\n'
    assert run(env, cid, 'touch /made/m')[0] == 0 and os.path.exists(os.path.join(missing, 'm'))

    got = {m.container_path: m for m in env.status(cid).status.mounts}
    assert set(got) == {'/rw', '/ro', '/made'}
    assert (got['/ro'].host_path, got['/ro'].readonly) == (ro, True)
    assert (got['/rw'].host_path, got['/rw'].readonly) == (rw, False)
    assert got['/made'].host_path == missing


def test_propagation(env, hostdirs):
    pb = env.pb
    env.pod_id = env.pod()
    shared, private = os.path.join(hostdirs, 'shared'), os.path.join(hostdirs, 'private')
    for sub in ('a', 'b', 'c'):
        os.makedirs(os.path.join(shared, sub))
    mounts = [pb.Mount(container_path='/slave', host_path=shared,
                       propagation=pb.PROPAGATION_HOST_TO_CONTAINER),
              pb.Mount(container_path='/both', host_path=shared,
                       propagation=pb.PROPAGATION_BIDIRECTIONAL),
              pb.Mount(container_path='/priv', host_path=shared,
                       propagation=pb.PROPAGATION_PRIVATE)]
    cid = create(env, 'prop', mounts, privileged=True)
    env.start(cid)
    assert env.wait_state(cid, RUNNING)

    # Host → container: a mount made on the host after start shows in the
    # HostToContainer and Bidirectional mounts, not in the private one.
    sh('mount', '-t', 'tmpfs', '-o', 'size=1m', 'hostmade', os.path.join(shared, 'a'))
    with open(os.path.join(shared, 'a', 'marker'), 'w') as f:
        f.write('seen\n')
    assert run(env, cid, 'cat /slave/a/marker')[1] == 'seen\n'
    assert run(env, cid, 'cat /both/a/marker')[1] == 'seen\n'
    assert run(env, cid, 'test -e /priv/a/marker')[0] != 0

    # Container → host: only through the Bidirectional mount.
    assert run(env, cid, 'mount -t tmpfs ctrmade /both/b && echo up > /both/b/m')[0] == 0
    with open(os.path.join(shared, 'b', 'm')) as f:
        assert f.read() == 'up\n'
    assert run(env, cid, 'mount -t tmpfs ctrmade2 /slave/c && echo up > /slave/c/m')[0] == 0
    assert not os.path.exists(os.path.join(shared, 'c', 'm'))

    props = {m.container_path: m.propagation for m in env.status(cid).status.mounts}
    assert props == {'/slave': pb.PROPAGATION_HOST_TO_CONTAINER,
                     '/both': pb.PROPAGATION_BIDIRECTIONAL, '/priv': pb.PROPAGATION_PRIVATE}
    env.d.runtime('RemoveContainer', pb.RemoveContainerRequest(container_id=cid), timeout=30)

    # The host side must allow what is asked for; nothing is created otherwise.
    for prop, want in ((pb.PROPAGATION_HOST_TO_CONTAINER, 'HostToContainer'),
                       (pb.PROPAGATION_BIDIRECTIONAL, 'Bidirectional')):
        n = len(os.listdir(os.path.join(env.d.root, 'containers')))
        with pytest.raises(grpc.RpcError) as e:
            create(env, 'refused', [pb.Mount(container_path='/p', host_path=private,
                                             propagation=prop)])
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert want in e.value.details() and private in e.value.details()
        assert len(os.listdir(os.path.join(env.d.root, 'containers'))) == n


def test_image_volumes(env):
    """An image VOLUME not covered by a CRI mount becomes an empty directory
    (image_volumes = "mkdir", the default) or nothing ("ignore", here set by
    a drop-in and SIGHUP)."""
    pb, d = env.pb, env.d
    layers = [Layer(busybox_entries(), 'gzip')]
    cfg = json.loads(make_config(layers, cmd=['/bin/sleep', '600']))
    cfg['config']['Volumes'] = {'/data': {}, '/srv/cache': {}, '/mounted': {}}
    push_image(env.reg, 'test/volumes', 'v1', layers,
               config=json.dumps(cfg, sort_keys=True).encode())
    image = f'{env.reg.host}/test/volumes:v1'
    d.image('PullImage', pb.PullImageRequest(image=pb.ImageSpec(image=image)), timeout=60)
    env.pod_id = env.pod()
    host = os.path.join(d.tmp, 'hostvol')
    os.makedirs(host)

    with open(os.path.join(host, 'from-host'), 'w') as f:
        f.write('x')

    def volumes(name):
        c = create(env, name, [pb.Mount(container_path='/mounted', host_path=host)],
                   image=image)
        env.start(c)
        return run(env, c, 'for v in /data /srv/cache; do test -d $v && ls -A $v && echo $v;'
                           ' done; ls -A /mounted')[1].split()

    # The CRI mount wins over the VOLUME at the same path.
    assert volumes('mk') == ['/data', '/srv/cache', 'from-host']
    os.makedirs(os.path.join(d.tmp, 'conf.d'), exist_ok=True)
    with open(os.path.join(d.tmp, 'conf.d', '50-volumes.conf'), 'w') as f:
        f.write('image_volumes = "ignore"\n')
    d.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while 'image_volumes' not in d.read_log():
        assert time.monotonic() < deadline, 'no reload logged'
        time.sleep(0.05)
    assert volumes('ign') == ['from-host']
