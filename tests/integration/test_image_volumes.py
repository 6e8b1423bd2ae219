"""Image volumes (KEP-4639, issue 15): CRI Mount.image with image_sub_path
mounts an image of the store read-only at the container path, an overlay of
its layers (nothing copied); a missing image or sub path, or one leading
out of the image, is refused; RemoveImage refuses the image while a
container mounts it, also after a restart of ocid, and RemoveContainer
takes the mounts down. Real ocid, runc, overlayfs and a loopback registry."""
import os

import grpc
import pytest

from registry import Layer, busybox_entries, make_config, push_image
from test_isolation import create, handlers, run, searchable, uns_ctr, uns_pod  # noqa: F401

DATA1 = [('data', 'dir', None, {}), ('data/a.txt', 'file', b'one\n', {}),
         ('data/sub', 'dir', None, {}), ('data/sub/b.txt', 'file', b'bee\n', {}),
         ('data/owned', 'file', b'x\n', {'uid': 1000, 'gid': 1000}),
         ('inside', 'symlink', 'data/sub', {}),
         ('out', 'symlink', '../../../../../../../../etc', {}),
         ('abs', 'symlink', '/etc', {})]
DATA2 = [('data', 'dir', None, {}), ('data/a.txt', 'file', b'two\n', {}),
         ('data/c.txt', 'file', b'sea\n', {})]


@pytest.fixture
def tmp_path(open_tmp_path):
    """Pods here have user namespaces: see open_tmp_path."""
    return open_tmp_path


def pull(env, repo, layers):
    push_image(env.reg, repo, 'v1', layers, config=make_config(layers))
    ref = f'{env.reg.host}/{repo}:v1'
    r = env.d.image('PullImage', env.pb.PullImageRequest(image=env.pb.ImageSpec(image=ref)),
                    timeout=60)
    return ref, r.image_ref


@pytest.fixture
def images(env):
    """A two-layer data image (the upper layer overrides a file) and a
    one-layer one, pulled: {name: (reference, image id)}."""
    return {'data': pull(env, 'test/data', [Layer(DATA1), Layer(DATA2)]),
            'single': pull(env, 'test/single', [Layer(DATA2)])}


def vol(pb, path, image, sub=''):
    return pb.Mount(container_path=path, image=pb.ImageSpec(image=image), image_sub_path=sub)


def mounts_under(path):
    """(mount point, fs type) of every mount at or below `path`."""
    out = []
    with open('/proc/self/mountinfo') as f:
        for line in f:
            a = line.split()
            point = a[4]
            fstype = a[a.index('-') + 1]
            if point == path or point.startswith(path + '/'):
                out.append((point, fstype))
    return out


def remove_image(env, image):
    env.d.image('RemoveImage', env.pb.RemoveImageRequest(image=env.pb.ImageSpec(image=image)),
                timeout=30)


def image_ids(env):
    return {i.id for i in env.d.image('ListImages', env.pb.ListImagesRequest()).images}


def test_image_volume(env, images):
    pb = env.pb
    env.pod_id = env.pod()
    data_ref, data_id = images['data']
    single_ref, single_id = images['single']
    cid = create(env, 'vols', [vol(pb, '/vol', data_ref), vol(pb, '/sub', data_id, 'data/sub'),
                               vol(pb, '/one', single_ref), vol(pb, '/link', data_ref, 'inside'),
                               vol(pb, '/file', data_ref, 'data/a.txt')])
    env.start(cid)
    # The layers merged as for a rootfs: the upper layer's a.txt wins.
    assert run(env, cid, 'cat /vol/data/a.txt /vol/data/c.txt /vol/data/sub/b.txt') == \
        (0, 'two\nsea\nbee\n', '')
    assert run(env, cid, 'ls /sub; cat /link/b.txt; cat /one/data/c.txt; cat /file') == \
        (0, 'b.txt\nbee\nsea\ntwo\n', '')
    assert run(env, cid, 'ls -ln /vol/data/owned')[1].split()[2:4] == ['1000', '1000']
    for p in ('/vol/new', '/vol/data/a.txt', '/one/x', '/sub/b.txt'):
        rc, _, err = run(env, cid, f'echo w > {p}')
        assert rc != 0 and 'Read-only file system' in err, (p, err)
    # From the layer store, not a copy: overlays (and a bind of the one
    # layer) on the container's vol/ directory.
    vdir = os.path.join(env.d.root, 'containers', cid, 'vol')
    types = sorted(t for _, t in mounts_under(vdir))
    assert types == ['ext4', 'overlay', 'overlay', 'overlay', 'overlay'], types
    # ContainerStatus echoes the mounts with their image and sub path.
    got = {m.container_path: m for m in env.status(cid).status.mounts}
    assert got['/vol'].image.image == data_ref and got['/sub'].image.image == data_id
    assert got['/sub'].image_sub_path == 'data/sub' and got['/vol'].image_sub_path == ''

    # Neither image can go while the container mounts it, by either name.
    for name, want in ((data_ref, '/vol'), (data_id, '/vol'), (single_ref, '/one')):
        with pytest.raises(grpc.RpcError) as e:
            remove_image(env, name)
        assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert 'in use' in e.value.details() and cid in e.value.details()
        assert want in e.value.details()
    assert {data_id, single_id} <= image_ids(env)

    # Across a restart of ocid: still mounted, still in use.
    assert env.d.stop() == 0
    env.d.start()
    assert run(env, cid, 'cat /vol/data/a.txt')[1] == 'two\n'
    with pytest.raises(grpc.RpcError) as e:
        remove_image(env, data_ref)
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    # RemoveContainer takes the mounts down; then the images can go.
    env.d.runtime('RemoveContainer', pb.RemoveContainerRequest(container_id=cid), timeout=30)
    assert mounts_under(vdir) == [] and not os.path.exists(vdir)
    remove_image(env, data_ref)
    remove_image(env, single_ref)
    assert not {data_id, single_id} & image_ids(env)


@pytest.mark.parametrize('image,sub,host,code,words', [
    ('nosuch', '', '', 'NOT_FOUND', 'image volume\'s image must be pulled first'),
    ('data', 'data/nosuch', '', 'NOT_FOUND', "'data/nosuch' does not exist"),
    ('data', '../etc', '', 'INVALID_ARGUMENT', "must not contain '..'"),
    ('data', '/data', '', 'INVALID_ARGUMENT', 'must be relative'),
    ('data', 'out', '', 'INVALID_ARGUMENT', 'leads out of image'),
    ('data', 'abs', '', 'INVALID_ARGUMENT', 'leads out of image'),
    ('data', 'abs/passwd', '', 'INVALID_ARGUMENT', 'leads out of image'),
    ('data', '', '/tmp', 'INVALID_ARGUMENT', 'exclude each other'),
    ('', 'data', '/tmp', 'INVALID_ARGUMENT', 'without an image'),
])
def test_image_volume_refused(env, images, image, sub, host, code, words):
    pb = env.pb
    env.pod_id = env.pod()
    name = images[image][0] if image in images else image
    m = pb.Mount(container_path='/vol', host_path=host, image_sub_path=sub)
    if name:
        m.image.image = name
    msg = create(env, 'bad', [m], expect=getattr(grpc.StatusCode, code))
    assert words in msg and "'/vol'" in msg, msg
    # Nothing left behind: no container, no mount.
    assert env.list() == []
    assert mounts_under(os.path.join(env.d.root, 'containers')) == []


def test_image_volume_userns(tmp_path, make_env):
    """In a pod with its own user namespace the image's layers are idmapped
    like the rootfs's: its files are root's (and 1000's) inside."""
    searchable(tmp_path)
    env = make_env()
    pb = env.pb
    ref, _ = pull(env, 'test/data', [Layer(DATA1), Layer(DATA2)])
    uns_pod(env)
    cid = uns_ctr(env, 'uvol', [vol(pb, '/vol', ref), vol(pb, '/sub', ref, 'data/sub')])
    assert run(env, cid, 'cat /vol/data/a.txt /sub/b.txt') == (0, 'two\nbee\n', '')
    assert run(env, cid, 'ls -ln /vol/data/a.txt')[1].split()[2:4] == ['0', '0']
    assert run(env, cid, 'ls -ln /vol/data/owned')[1].split()[2:4] == ['1000', '1000']
    rc, _, err = run(env, cid, 'echo w > /vol/x')
    assert rc != 0 and 'Read-only file system' in err
