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
