"""ImageService against a real docker-registry on loopback."""
import json
import os
import subprocess
import threading
import time

import grpc
import pytest

from conftest import sanitizer_report
from registry import (APPLETS, Layer, Registry, busybox_entries, busybox_image, make_config,
                      push_image, sha256)


@pytest.fixture
def registry(tmp_path):
    r = Registry(tmp_path / 'registry').start()
    yield r
    r.stop()


def write_conf(tmp_path, registries='', policy=None):
    d = tmp_path / 'etc'
    d.mkdir(exist_ok=True)
    rc = d / 'registries.conf'
    rc.write_text(registries)
    pol = d / 'policy.json'
    pol.write_text(json.dumps(policy or {'default': [{'type': 'insecureAcceptAnything'}]}))
    return ['--registries-conf', str(rc), '--signature-policy', str(pol),
            '--global-auth-file', str(d / 'auth.json')]


def insecure(reg):
    return f'[[registry]]\nlocation = "{reg.host}"\ninsecure = true\n'


@pytest.fixture
def started(make_daemon, registry, tmp_path):
    """(daemon, registry) with the registry marked insecure."""
    d = make_daemon(extra_args=write_conf(tmp_path, insecure(registry))).start()
    yield d, registry
    finish(d)


def finish(d):
    """SIGTERM must exit 0, with no sanitizer report in the log."""
    rc = d.stop()
    log = d.read_log()
    assert rc == 0, log[-3000:]
    assert sanitizer_report(log) is None, log[-8000:]


def pull(d, name, auth=None, timeout=60, namespace=None):
    req = d.pb.PullImageRequest(image=d.pb.ImageSpec(image=name))
    if auth:
        req.auth.CopyFrom(auth)
    if namespace:
        req.sandbox_config.metadata.namespace = namespace
    return d.image('PullImage', req, timeout=timeout).image_ref


def status(d, name, verbose=False):
    return d.image('ImageStatus', d.pb.ImageStatusRequest(image=d.pb.ImageSpec(image=name),
                                                          verbose=verbose))


def list_images(d, name=None):
    req = d.pb.ListImagesRequest()
    if name:
        req.filter.image.image = name
    return d.image('ListImages', req).images


def remove(d, name):
    d.image('RemoveImage', d.pb.RemoveImageRequest(image=d.pb.ImageSpec(image=name)))


def layer_dirs(d):
    p = os.path.join(d.root, 'layers')
    return sorted(x for x in os.listdir(p) if x != 'l') if os.path.isdir(p) else []


def test_pull_list_status_remove(started):
    d, reg = started
    img = busybox_image(reg, 'test/busybox', 'v1', user='1003:1004')
    name = f'{reg.host}/test/busybox:v1'
    ref = pull(d, name)
    assert ref == img['id']
    imgs = list_images(d)
    assert len(imgs) == 1
    i = imgs[0]
    assert i.id == img['id']
    assert list(i.repo_tags) == [name]
    assert list(i.repo_digests) == [f'{reg.host}/test/busybox@{img["digest"]}']
    assert i.uid.value == 1003 and i.username == ''
    assert i.size > 100000
    assert not i.pinned
    # the layer is on disk with busybox's hardlinks intact
    dirs = layer_dirs(d)
    assert len(dirs) == 1
    diff = os.path.join(d.root, 'layers', dirs[0], 'diff')
    st_bb = os.stat(os.path.join(diff, 'bin/busybox'))
    assert os.stat(os.path.join(diff, 'bin/sh')).st_ino == st_bb.st_ino
    assert st_bb.st_nlink == 1 + len(APPLETS)
    # status by tag, id, id prefix, digest reference; verbose info
    for n in (name, img['id'], img['id'][7:19], f'{reg.host}/test/busybox@{img["digest"]}'):
        s = status(d, n)
        assert s.image.id == img['id'], n
    s = status(d, name, verbose=True)
    info = json.loads(s.info['info'])
    assert info['manifestDigest'] == img['digest']
    assert info['platform']['architecture'] == 'amd64'
    assert info['layers'][0]['digest'] == img['layers'][0].digest
    assert info['layers'][0]['size'] == len(img['layers'][0].blob)
    assert info['configDigest'] == img['id'] and info['size'] == i.size
    # unknown: empty status, filtered list empty
    assert not status(d, f'{reg.host}/test/nothing:v1').HasField('image')
    assert list(list_images(d, f'{reg.host}/test/nothing:v1')) == []
    assert len(list_images(d, name)) == 1
    # fs info counts the layer
    fs = d.image('ImageFsInfo').image_filesystems[0]
    assert fs.used_bytes.value > 500000 and fs.inodes_used.value > 5
    assert fs.fs_id.mountpoint.endswith('/layers')
    again = d.image('ImageFsInfo').image_filesystems[0]
    assert again.used_bytes.value == fs.used_bytes.value
    remove(d, name)
    assert list(list_images(d)) == []
    assert layer_dirs(d) == []
    remove(d, name)  # idempotent


def test_index_oci_zstd_tags_and_user(started):
    d, reg = started
    extra = [('www', 'dir', None, {}), ('www/index.html', 'file', b'hi\n', {}),
             ('bin/.wh.env', 'file', b'', {})]
    img = busybox_image(reg, 'test/oci', 'a', kind='oci', index=True, compression='zstd',
                        user='www-data:1004', extra=extra)
    reg.push_manifest('test/oci', 'b', *_manifest_of(reg, 'test/oci', 'a'))
    reg.push_manifest('test/oci', 'c', *_manifest_of(reg, 'test/oci', 'a'))
    for t in 'abc':
        assert pull(d, f'{reg.host}/test/oci:{t}') == img['id']
    imgs = list_images(d)
    assert len(imgs) == 1
    assert sorted(imgs[0].repo_tags) == [f'{reg.host}/test/oci:{t}' for t in 'abc']
    # the index digest is what was pulled
    assert f'{reg.host}/test/oci@{img["digest"]}' in imgs[0].repo_digests
    assert imgs[0].username == 'www-data' and not imgs[0].HasField('uid')
    # whiteout in overlay form in the top layer
    top = [x for x in layer_dirs(d)]
    assert len(top) == 2
    found = [os.path.join(d.root, 'layers', x, 'diff/bin/env') for x in top
             if os.path.lexists(os.path.join(d.root, 'layers', x, 'diff/bin/env'))]
    wh = [p for p in found if os.stat(p, follow_symlinks=False).st_rdev == 0
          and (os.stat(p, follow_symlinks=False).st_mode & 0o170000) == 0o020000]
    assert len(wh) == 1
    # an overlay of the layers (top first) shows exactly the merged image
    info = json.loads(status(d, img['id'], verbose=True).info['info'])
    lowers = [os.path.join(d.root, 'layers', l['chainID'].split(':')[1], 'diff')
              for l in reversed(info['layers'])]
    mnt = os.path.join(d.tmp, 'mnt')
    os.makedirs(mnt)
    subprocess.run(['mount', '-t', 'overlay', 'overlay', '-o', 'ro,lowerdir=' + ':'.join(lowers),
                    mnt], check=True)
    try:
        assert os.path.isfile(os.path.join(mnt, 'bin/busybox'))
        assert os.path.exists(os.path.join(mnt, 'bin/sh'))
        assert not os.path.lexists(os.path.join(mnt, 'bin/env'))
        assert open(os.path.join(mnt, 'www/index.html')).read() == 'hi\n'
        out = subprocess.run(['chroot', mnt, '/bin/sh', '-c', 'echo ok; ls /bin'],
                             capture_output=True, text=True, check=True).stdout.split()
        assert out[0] == 'ok' and len(out) - 1 == len(APPLETS) and 'env' not in out, out
    finally:
        subprocess.run(['umount', mnt], check=True)
    # removing by one tag removes all tags
    remove(d, f'{reg.host}/test/oci:b')
    assert list(list_images(d)) == []


def _manifest_of(reg, repo, tag):
    st, hdrs, body = reg.request('GET', f'/v2/{repo}/manifests/{tag}', headers={
        'Accept': 'application/vnd.oci.image.index.v1+json'})
    assert st == 200
    return body, hdrs['Content-Type']


def test_not_found_and_bad_reference(started):
    d, reg = started
    with pytest.raises(grpc.RpcError) as e:
        pull(d, f'{reg.host}/test/missing:v1')
    assert e.value.code() == grpc.StatusCode.NOT_FOUND, e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        pull(d, 'library/BusyBox')
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as e:
        pull(d, 'busybox@sha256:1234')
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_unreachable_registry_fails_fast(make_daemon, tmp_path):
    from registry import free_port
    host = f'127.0.0.1:{free_port()}'
    d = make_daemon(extra_args=write_conf(
        tmp_path, f'[[registry]]\nlocation = "{host}"\ninsecure = true\n')).start()
    with pytest.raises(grpc.RpcError) as e:
        pull(d, f'{host}/x/y:1', timeout=15)
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE, e.value.details()
    finish(d)


def test_mirror_keeps_name_and_blocked(make_daemon, registry, tmp_path):
    img = busybox_image(registry, 'mirrored/app', 'v2')
    conf = (f'[[registry]]\nprefix = "registry.example.test/mirrored"\n'
            f'location = "registry.example.test/mirrored"\n'
            f'[[registry.mirror]]\nlocation = "{registry.host}/mirrored"\ninsecure = true\n'
            f'[[registry]]\nlocation = "blocked.example.test"\nblocked = true\n')
    d = make_daemon(extra_args=write_conf(tmp_path, conf)).start()
    assert pull(d, 'registry.example.test/mirrored/app:v2') == img['id']
    i = list_images(d)[0]
    assert list(i.repo_tags) == ['registry.example.test/mirrored/app:v2']
    with pytest.raises(grpc.RpcError) as e:
        pull(d, 'blocked.example.test/x:1')
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert 'blocked' in e.value.details()
    finish(d)


def test_policy_reject_and_signed_by(make_daemon, registry, tmp_path):
    busybox_image(registry, 'pol/app', 'v1')
    busybox_image(registry, 'pol/signed', 'v1')
    policy = {'default': [{'type': 'insecureAcceptAnything'}],
              'transports': {'docker': {
                  f'{registry.host}/pol/app': [{'type': 'reject'}],
                  f'{registry.host}/pol/signed': [{'type': 'signedBy', 'keyType': 'GPGKeys',
                                                   'keyPath': '/dev/null'}]}}}
    d = make_daemon(extra_args=write_conf(tmp_path, insecure(registry), policy)).start()
    with pytest.raises(grpc.RpcError) as e:
        pull(d, f'{registry.host}/pol/app:v1')
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as e:
        pull(d, f'{registry.host}/pol/signed:v1')
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # /dev/null holds no key: refused, saying which requirement failed
    assert 'requires signedBy' in e.value.details(), e.value.details()
    assert f'scope "{registry.host}/pol/signed"' in e.value.details(), e.value.details()
    assert list(list_images(d)) == []
    finish(d)


def test_basic_auth(make_daemon, tmp_path):
    reg = Registry(tmp_path / 'authreg', htpasswd={'alice': 's3cret'}).start()
    try:
        img = busybox_image(reg, 'priv/app', 'v1')
        d = make_daemon(extra_args=write_conf(tmp_path, insecure(reg))).start()
        name = f'{reg.host}/priv/app:v1'
        with pytest.raises(grpc.RpcError) as e:
            pull(d, name)
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED, e.value.details()
        with pytest.raises(grpc.RpcError) as e:
            pull(d, name, d.pb.AuthConfig(username='alice', password='wrong'))
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert 'wrong' not in d.read_log()
        assert pull(d, name, d.pb.AuthConfig(username='alice', password='s3cret')) == img['id']
        remove(d, name)
        # the auth file works too
        import base64
        (tmp_path / 'etc' / 'auth.json').write_text(json.dumps({'auths': {reg.host: {
            'auth': base64.b64encode(b'alice:s3cret').decode()}}}))
        assert pull(d, name) == img['id']
        assert 's3cret' not in d.read_log()
        finish(d)
    finally:
        reg.stop()


def test_tampered_and_hostile_layers_leave_nothing(started):
    d, reg = started
    # layers escaping with .., an absolute path, a symlink, a hardlink
    hostile = {
        'dotdot': [('../escape', 'file', b'x', {})],
        'abs': [('/escape', 'file', b'x', {})],
        'symlink': [('evil', 'symlink', '/', {}), ('evil/tmp/escape', 'file', b'x', {})],
        'hardlink': [('ok', 'file', b'x', {}), ('link', 'hardlink', '../../../etc/passwd', {})],
    }
    busybox = Layer(busybox_entries()).digest
    for repo, entries in hostile.items():
        push_image(reg, f'bad/{repo}', 'v1', [Layer(busybox_entries()), Layer(entries)])
    # a tampered blob in the registry's storage (the busybox layer is fine)
    img = busybox_image(reg, 'bad/tampered', 'v1', extra=[('t', 'file', b't' * 5000, {})])
    path = reg.blob_path(img['layers'][1].digest)
    data = bytearray(open(path, 'rb').read())
    data[len(data) // 2] ^= 0xff
    open(path, 'wb').write(bytes(data))
    for name in [f'bad/{r}:v1' for r in hostile] + ['bad/tampered:v1']:
        with pytest.raises(grpc.RpcError) as e:
            pull(d, f'{reg.host}/{name}')
        assert e.value.code() in (grpc.StatusCode.INVALID_ARGUMENT,
                                  grpc.StatusCode.INTERNAL), e.value.details()
        # refused for the bad layer, not the busybox one
        assert busybox not in e.value.details(), e.value.details()
    assert reg.blob_gets(busybox) >= 1
    assert list(list_images(d)) == []
    # the busybox layer each pull committed before failing is taken back
    assert layer_dirs(d) == []
    assert os.listdir(os.path.join(d.root, 'tmp')) == []
    assert not os.path.exists(os.path.join(d.root, 'escape'))
    assert not os.path.exists('/escape') and not os.path.exists('/tmp/escape')


def test_concurrent_pulls_share(started):
    d, reg = started
    extra = [('data', 'dir', None, {})] + [
        (f'data/f{i}', 'file', os.urandom(200000), {}) for i in range(20)]
    img = busybox_image(reg, 'conc/app', 'v1', extra=extra)
    name = f'{reg.host}/conc/app:v1'
    results, errors = [], []

    # Pods of namespaces without policy files of their own (under
    # signature_policy_dir) share a pull as pods of one namespace do.
    def go(ns):
        try:
            results.append(pull(d, name, namespace=ns))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
    ts = [threading.Thread(target=go, args=(ns,))
          for ns in (None, None, 'ns-a', 'ns-a', 'ns-b', 'ns-c')]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    assert results == [img['id']] * 6
    # each layer was fetched once
    for l in img['layers']:
        assert reg.blob_gets(l.digest) == 1, reg.blob_gets(l.digest)
    # and the manifest: pulls share it across namespaces (four pulls of
    # their own, one per namespace, would each GET it; a thread the machine
    # held back past the shared pull's end makes a second)
    gets = [ln for ln in reg.read_log().splitlines()
            if 'http.request.method=GET' in ln and '/v2/conc/app/manifests/' in ln
            and 'response completed' in ln]
    assert len(gets) < 4, len(gets)
    assert len(list_images(d)) == 1
    assert len(layer_dirs(d)) == 2


def test_shared_layers_fetched_once(started):
    d, reg = started
    a = busybox_image(reg, 'share/a', 'v1', extra=[('a', 'file', b'a', {})])
    b = busybox_image(reg, 'share/b', 'v1', extra=[('b', 'file', b'b', {})])
    pull(d, f'{reg.host}/share/a:v1')
    assert len(layer_dirs(d)) == 2
    pull(d, f'{reg.host}/share/b:v1')
    assert len(layer_dirs(d)) == 3
    assert reg.blob_gets(a['layers'][0].digest) == 1  # busybox, shared
    remove(d, a['id'])
    assert len(layer_dirs(d)) == 2  # busybox stays for b
    remove(d, b['id'][7:20])
    assert layer_dirs(d) == []


def _tree(top):
    out = set()
    for dirpath, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            if n != 'ocid.log':
                st = os.lstat(p)
                out.add((os.path.relpath(p, top), st.st_mode,
                         0 if os.path.isdir(p) else st.st_size))
    return out


def test_remove_of_what_names_nothing_answers_ok(started):
    """RemoveImage is idempotent: a full id no image has (critest sends 64
    zeros), a UUID, a path answer OK and remove nothing; an ambiguous id
    prefix names two images and stays an error."""
    d, reg = started
    layer = Layer(busybox_entries())
    # Two configs whose digests share their first hex digit (17 tries at most).
    seen = {}
    for i in range(17):
        cfg = make_config([layer], user=str(i))
        first = sha256(cfg)[7]
        if first in seen:
            break
        seen[first] = cfg
    a = push_image(reg, 'twins/a', 'v1', [layer], config=seen[first])
    b = push_image(reg, 'twins/b', 'v1', [layer], config=cfg)
    assert a['id'][7] == b['id'][7] and a['id'] != b['id']
    pull(d, f'{reg.host}/twins/a:v1')
    pull(d, f'{reg.host}/twins/b:v1')
    sentinel = os.path.join(d.tmp, 'etc')  # <root>/layers/../../etc
    os.makedirs(sentinel, exist_ok=True)
    open(os.path.join(sentinel, 'keep'), 'w').close()
    before = _tree(d.tmp)
    for bad in ('0' * 64, 'sha256:' + '0' * 64, '56d052c7-a050-411a-8fd0-4e745e97c28e',
                '../../etc', '/etc', f'{reg.host}/twins/c:v1', 'UPPER:case'):
        remove(d, bad)
    for unknown in ('0' * 64, 'sha256:' + '0' * 64, f'{reg.host}/twins/c:v1'):
        assert not status(d, unknown).HasField('image'), unknown
    assert _tree(d.tmp) == before
    assert len(list_images(d)) == 2
    with pytest.raises(grpc.RpcError) as e:
        remove(d, a['id'][7])
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and 'ambiguous' in e.value.details()
    assert len(list_images(d)) == 2
    with pytest.raises(grpc.RpcError) as e:
        remove(d, '')
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_pinned(make_daemon, registry, tmp_path):
    img = busybox_image(registry, 'pin/pause', '3.9')
    busybox_image(registry, 'pin/other', '1', user='1')  # another config: another image
    conf = tmp_path / 'ocid.conf'
    conf.write_text(f'pinned_images = ["{registry.host}/pin/pause*"]\n')
    d = make_daemon(extra_args=write_conf(tmp_path, insecure(registry)),
                    config=str(conf)).start()
    pull(d, f'{registry.host}/pin/pause:3.9')
    pull(d, f'{registry.host}/pin/other:1')
    pins = {i.repo_tags[0]: i.pinned for i in list_images(d)}
    assert pins == {f'{registry.host}/pin/pause:3.9': True, f'{registry.host}/pin/other:1': False}
    assert status(d, img['id']).image.pinned
    finish(d)


def test_short_name_search_registry(make_daemon, registry, tmp_path):
    img = busybox_image(registry, 'library/busybox', 'latest')
    conf = insecure(registry) + f'unqualified-search-registries = ["{registry.host}"]\n'
    conf = f'unqualified-search-registries = ["{registry.host}"]\n' + insecure(registry)
    d = make_daemon(extra_args=write_conf(tmp_path, conf)).start()
    assert pull(d, 'library/busybox') == img['id']
    assert list(list_images(d)[0].repo_tags) == [f'{registry.host}/library/busybox:latest']
    assert status(d, 'library/busybox').image.id == img['id']
    remove(d, 'library/busybox')
    assert list(list_images(d)) == []
    finish(d)


def test_restart_keeps_images(make_daemon, registry, tmp_path):
    img = busybox_image(registry, 'keep/app', 'v1')
    args = write_conf(tmp_path, insecure(registry))
    d = make_daemon(extra_args=args).start()
    pull(d, f'{registry.host}/keep/app:v1')
    finish(d)
    d.kill()
    d2 = make_daemon(extra_args=args).start()
    assert list_images(d2)[0].id == img['id']
    finish(d2)


def test_busybox_entries_have_applets():
    names = [e[0] for e in busybox_entries()]
    assert 'bin/sh' in names and 'bin/busybox' in names


def test_tls_with_certs_d_and_client_cert(make_daemon, tmp_path):
    import shutil
    import ssl
    from registry import make_ca, make_cert
    pki = tmp_path / 'pki'
    pki.mkdir()
    ca = make_ca(pki)
    server = make_cert(pki, ca, 'server')
    client_ca = make_ca(pki, 'clientca')
    client = make_cert(pki, client_ca, 'client', client=True)
    reg = Registry(tmp_path / 'tlsreg', htpasswd={'bob': 'pw'}, tls=server,
                   client_ca=client_ca[0])
    ctx = ssl.create_default_context(cafile=ca[0])
    ctx.load_cert_chain(client[0], client[1])
    reg.ssl_context = ctx
    reg.start()
    # certs.d is per host:port, so this test owns its directory
    certs = f'/etc/containers/certs.d/{reg.host}'
    try:
        img = busybox_image(reg, 'tls/app', 'v1')
        d = make_daemon(extra_args=write_conf(tmp_path, '')).start()
        name = f'{reg.host}/tls/app:v1'
        creds = d.pb.AuthConfig(username='bob', password='pw')
        # not insecure and no CA for it: refused, never downgraded to http
        with pytest.raises(grpc.RpcError) as e:
            pull(d, name, creds)
        assert 'certificate' in e.value.details().lower(), e.value.details()
        os.makedirs(certs, exist_ok=True)
        shutil.copy(ca[0], os.path.join(certs, 'ca.crt'))
        # the CA alone is not enough: the registry wants a client certificate
        with pytest.raises(grpc.RpcError):
            pull(d, name, creds)
        shutil.copy(client[0], os.path.join(certs, 'client.cert'))
        shutil.copy(client[1], os.path.join(certs, 'client.key'))
        assert pull(d, name, creds) == img['id']
        finish(d)
    finally:
        shutil.rmtree(certs, ignore_errors=True)
        reg.stop()


def test_bearer_token_flow(make_daemon, tmp_path):
    from registry import TokenServer
    ts = TokenServer(tmp_path / 'token', users={'carol': 'tok-pw'})
    reg = Registry(tmp_path / 'tokreg', token=ts).start()
    try:
        img = busybox_image(reg, 'tok/app', 'v1', extra=[('x', 'file', b'x', {})])
        busybox_image(reg, 'tok/other', 'v1', user='7')
        d = make_daemon(extra_args=write_conf(tmp_path, insecure(reg))).start()
        ts.requests.clear()
        name = f'{reg.host}/tok/app:v1'
        with pytest.raises(grpc.RpcError) as e:
            pull(d, name)
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED, e.value.details()
        creds = d.pb.AuthConfig(username='carol', password='tok-pw', server_address=reg.host)
        ts.requests.clear()
        assert pull(d, name, creds) == img['id']
        # one token for the repository's pull scope, reused for every request
        scopes = [q.get('scope') for q, _ in ts.requests]
        assert scopes == [['repository:tok/app:pull']], scopes
        assert all(q.get('service') == ['test-registry'] for q, _ in ts.requests)
        # another repository: another scope, another token
        pull(d, f'{reg.host}/tok/other:v1', creds)
        assert len(ts.requests) == 2
        # the same scope again: from the cache
        remove(d, name)
        pull(d, name, creds)
        assert len(ts.requests) == 2
        assert 'tok-pw' not in d.read_log()
        # cached tokens serve only the credentials that got them
        for bad in (d.pb.AuthConfig(username='carol', password='bad', server_address=reg.host),
                    None):
            with pytest.raises(grpc.RpcError) as e:
                pull(d, name, bad)
            assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED, e.value.details()
        remove(d, name)
        # a registry token is sent as is: the token server is not asked
        n = len(ts.requests)
        tok = ts.sign('test-registry', ['repository:tok/app:pull'])
        assert pull(d, name, d.pb.AuthConfig(registry_token=tok)) == img['id']
        assert len(ts.requests) == n
        remove(d, name)
        # an identity token is traded (OAuth2 refresh_token grant, POST)
        assert pull(d, name, d.pb.AuthConfig(identity_token=ts.refresh_token)) == img['id']
        q, auth = ts.requests[-1]
        assert q['grant_type'] == ['refresh_token'] and auth == ''
        assert ts.refresh_token not in d.read_log()
        finish(d)
    finally:
        reg.stop()
        ts.stop()


def big_layer_image(reg, repo, mb):
    extra = [('big', 'dir', None, {})] + [
        (f'big/f{i}', 'file', os.urandom(1 << 20), {}) for i in range(mb)]
    return busybox_image(reg, repo, 'v1', extra=extra)


def test_kill_during_pull_then_restart(make_daemon, registry, tmp_path):
    import signal
    import time
    from registry import SlowProxy
    img = big_layer_image(registry, 'kill/app', 8)
    proxy = SlowProxy(registry.port, rate=2 << 20)
    try:
        args = write_conf(tmp_path, f'[[registry]]\nlocation = "{proxy.host}"\n'
                                    'insecure = true\n')
        d = make_daemon(extra_args=args).start()
        name = f'{proxy.host}/kill/app:v1'
        errors = []
        t = threading.Thread(target=lambda: errors.append(
            pytest.raises(grpc.RpcError, pull, d, name)))
        t.start()
        tmp = os.path.join(d.root, 'tmp')
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not os.listdir(tmp):
            time.sleep(0.01)
        assert os.listdir(tmp), 'the pull never started unpacking'
        # kill once the busybox layer is in place and the big one is under way
        while time.monotonic() < deadline and not layer_dirs(d):
            time.sleep(0.01)
        time.sleep(0.2)
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        t.join()
        assert len(errors) == 1  # the pull was cut off, not finished
        d.kill()
        proxy.rate = None
        committed = layer_dirs(d)
        assert committed  # the busybox layer was in place when ocid died
        d2 = make_daemon(extra_args=args).start()
        assert os.listdir(os.path.join(d2.root, 'tmp')) == []
        assert list(list_images(d2)) == []
        # layers the killed pull had committed are gone too
        assert layer_dirs(d2) == [], committed
        assert pull(d2, name) == img['id']
        assert list_images(d2)[0].id == img['id']
        finish(d2)
    finally:
        proxy.stop()


def test_progress_timeout(make_daemon, registry, tmp_path):
    import time
    from registry import SlowProxy
    big_layer_image(registry, 'stall/app', 4)
    proxy = SlowProxy(registry.port, stall_after=1 << 20)
    try:
        args = write_conf(tmp_path, f'[[registry]]\nlocation = "{proxy.host}"\n'
                                    'insecure = true\n') + ['--pull-progress-timeout', '2s']
        d = make_daemon(extra_args=args).start()
        t0 = time.monotonic()
        with pytest.raises(grpc.RpcError) as e:
            pull(d, f'{proxy.host}/stall/app:v1', timeout=60)
        assert time.monotonic() - t0 < 30
        assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, e.value.details()
        assert 'no progress' in e.value.details()
        assert list(list_images(d)) == []
        assert os.listdir(os.path.join(d.root, 'tmp')) == []
        proxy.closed = True  # unblock the stalled pumps
        finish(d)
    finally:
        proxy.stop()


def test_credentials_not_sent_on_redirect_elsewhere(make_daemon, registry, tmp_path):
    from registry import RedirectingFront
    img = busybox_image(registry, 'redir/app', 'v1')
    front = RedirectingFront(registry, 'dave', 'pw-dave')
    try:
        d = make_daemon(extra_args=write_conf(
            tmp_path, f'[[registry]]\nlocation = "{front.host}"\ninsecure = true\n')).start()
        creds = d.pb.AuthConfig(username='dave', password='pw-dave')
        assert pull(d, f'{front.host}/redir/app:v1', creds) == img['id']
        # config and layer came from the other origin, without credentials
        assert len(front.blob_auth) == 2
        assert front.blob_auth == [None, None]
        finish(d)
    finally:
        front.stop()


def test_artifact_refused(started):
    d, reg = started
    cfg = b'{}'
    cd = reg.push_blob('art/chart', cfg)
    blob = b'not a layer'
    bd = reg.push_blob('art/chart', blob)
    m = json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.manifest.v1+json',
                    'config': {'mediaType': 'application/vnd.cncf.helm.config.v1+json',
                               'digest': cd, 'size': len(cfg)},
                    'layers': [{'mediaType': 'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
                                'digest': bd, 'size': len(blob)}]}).encode()
    reg.push_manifest('art/chart', '1', m, 'application/vnd.oci.image.manifest.v1+json')
    with pytest.raises(grpc.RpcError) as e:
        pull(d, f'{reg.host}/art/chart:1')
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED, e.value.details()
    assert 'not' in e.value.details() and 'image' in e.value.details(), e.value.details()
    assert list(list_images(d)) == []


def test_schema1_and_oversized_manifest_refused(make_daemon, tmp_path):
    from registry import StaticRegistry
    schema1 = json.dumps({'schemaVersion': 1, 'name': 'old/app', 'tag': 'v1',
                          'architecture': 'amd64', 'fsLayers': [], 'history': []}).encode()
    huge = b'{"schemaVersion": 2, "x": "' + b'a' * (5 << 20) + b'"}'
    fake = StaticRegistry({
        '/v2/': (200, 'application/json', b'{}'),
        '/v2/old/app/manifests/v1': (200, 'application/vnd.docker.distribution.manifest.v1+prettyjws',
                                     schema1),
        '/v2/big/app/manifests/v1': (200, 'application/vnd.oci.image.manifest.v1+json', huge),
    })
    try:
        d = make_daemon(extra_args=write_conf(
            tmp_path, f'[[registry]]\nlocation = "{fake.host}"\ninsecure = true\n')).start()
        with pytest.raises(grpc.RpcError) as e:
            pull(d, f'{fake.host}/old/app:v1')
        assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED, e.value.details()
        assert 'schema 1' in e.value.details() or 'schema1' in e.value.details(), \
            e.value.details()
        with pytest.raises(grpc.RpcError) as e:
            pull(d, f'{fake.host}/big/app:v1')
        assert 'larger than' in e.value.details(), e.value.details()
        finish(d)
    finally:
        fake.stop()


def test_layer_cut_by_network_is_fetched_again(make_daemon, registry, tmp_path):
    from registry import SlowProxy
    img = big_layer_image(registry, 'cut/app', 4)
    proxy = SlowProxy(registry.port, cut_after=2 << 20)
    try:
        d = make_daemon(extra_args=write_conf(
            tmp_path, f'[[registry]]\nlocation = "{proxy.host}"\ninsecure = true\n')).start()
        assert pull(d, f'{proxy.host}/cut/app:v1') == img['id']
        assert proxy.cuts == 1
        # the layer that was cut was fetched twice, the other once
        gets = [r for r in proxy.requests if '/blobs/' in r and 'sha256' in r]
        layer_gets = [r for r in gets for l in img['layers'] if l.digest in r]
        assert len(layer_gets) == 3, proxy.requests
        finish(d)
    finally:
        proxy.stop()


def test_reference_forms(started):
    d, reg = started
    img = busybox_image(reg, 'forms/app', 'v1', index=True)
    base = f'{reg.host}/forms/app'
    # by digest only: no tag, the digest name
    assert pull(d, f'{base}@{img["digest"]}') == img['id']
    i = list_images(d)[0]
    assert list(i.repo_tags) == [] and list(i.repo_digests) == [f'{base}@{img["digest"]}']
    # by the platform manifest's digest: another repo digest, same image
    assert pull(d, f'{base}@{img["manifest_digest"]}') == img['id']
    assert len(list_images(d)[0].repo_digests) == 2
    # name:tag@digest: the digest decides, the tag is recorded
    assert pull(d, f'{base}:other@{img["digest"]}') == img['id']
    assert list(list_images(d)[0].repo_tags) == [f'{base}:other']
    # a digest that does not match the content is refused
    bad = 'sha256:' + '0' * 64
    with pytest.raises(grpc.RpcError) as e:
        pull(d, f'{base}@{bad}')
    assert e.value.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT)
    # no tag means :latest
    with pytest.raises(grpc.RpcError) as e:
        pull(d, base)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert 'latest' in e.value.details()
    remove(d, f'{base}@{img["manifest_digest"]}')
    assert list(list_images(d)) == []


def test_cancelled_pull_is_abandoned(make_daemon, registry, tmp_path):
    import time
    from registry import SlowProxy
    img = big_layer_image(registry, 'cancel/app', 4)
    proxy = SlowProxy(registry.port, stall_after=1 << 20)
    try:
        d = make_daemon(extra_args=write_conf(
            tmp_path, f'[[registry]]\nlocation = "{proxy.host}"\ninsecure = true\n')).start()
        name = f'{proxy.host}/cancel/app:v1'
        with pytest.raises(grpc.RpcError) as e:
            pull(d, name, timeout=2)
        assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        # the daemon gives the pull up: nothing stays in tmp/
        tmp = os.path.join(d.root, 'tmp')
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and os.listdir(tmp):
            time.sleep(0.05)
        assert os.listdir(tmp) == []
        assert list(list_images(d)) == []
        proxy.stall_after = None
        assert pull(d, name) == img['id']
        finish(d)
    finally:
        proxy.closed = True
        proxy.stop()


def test_serial_downloads(make_daemon, registry, tmp_path):
    extra = [('s', 'dir', None, {}), ('s/a', 'file', b'a' * 100000, {})]
    img = busybox_image(registry, 'serial/app', 'v1', extra=extra)
    d = make_daemon(extra_args=write_conf(tmp_path, insecure(registry)) +
                    ['--max-parallel-downloads', '1']).start()
    assert pull(d, f'{registry.host}/serial/app:v1') == img['id']
    assert len(layer_dirs(d)) == 2
    finish(d)


def tracer_attached(pid):
    with open(f'/proc/{pid}/status') as f:
        return any(line.startswith('TracerPid:') and line.split()[1] != '0' for line in f)


def syncfs_calls_during_pull(d, name):
    """Pull `name` with strace watching ocid's threads for syncfs(2)."""
    out = os.path.join(d.root, '..', 'strace.out')
    st = subprocess.Popen(['strace', '-f', '-qq', '-e', 'trace=syncfs', '-o', out,
                           '-p', str(d.proc.pid)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while not tracer_attached(d.proc.pid):
        assert time.monotonic() < deadline and st.poll() is None, st.stderr.read()
        time.sleep(0.05)
    pull(d, name)
    st.terminate()
    st.wait()
    with open(out) as f:
        return sum('syncfs(' in line for line in f)


def test_layer_sync_option(make_daemon, registry, tmp_path):
    """Layers are flushed to disk before they are committed unless
    layer_sync = false."""
    busybox_image(registry, 'sync/app', 'v1', extra=[('s', 'dir', None, {})])
    conf = write_conf(tmp_path, insecure(registry))
    d = make_daemon(extra_args=conf).start()
    assert syncfs_calls_during_pull(d, f'{registry.host}/sync/app:v1') >= 2  # one per layer
    finish(d)
    d = make_daemon(extra_args=conf + ['--layer-sync=false'], subdir='nosync').start()
    assert syncfs_calls_during_pull(d, f'{registry.host}/sync/app:v1') == 0
    assert len(layer_dirs(d)) == 2
    finish(d)


def test_image_content_in_overlay(started):
    d, reg = started
    l0 = Layer(busybox_entries(), 'gzip')
    l1 = Layer([('www', 'dir', None, {}), ('www/old.html', 'file', b'old', {}),
                ('usr', 'dir', None, {}), ('usr/suid', 'file', b'#!/bin/sh\n', {'mode': 0o4755}),
                ('usr/owned', 'file', b'x', {'uid': 1003, 'gid': 1004, 'mtime': 1234567890}),
                ('bin/link', 'symlink', 'busybox', {}), ('usr/fifo', 'fifo', None, {})], 'zstd')
    l2 = Layer([('www/.wh..wh..opq', 'file', b'', {}), ('www/index.html', 'file', b'new', {}),
                ('bin/.wh.env', 'file', b'', {})], 'gzip')
    img = push_image(reg, 'content/app', 'v1', [l0, l1, l2], kind='oci')
    assert pull(d, f'{reg.host}/content/app:v1') == img['id']
    info = json.loads(status(d, img['id'], verbose=True).info['info'])
    lowers = [os.path.join(d.root, 'layers', l['chainID'].split(':')[1], 'diff')
              for l in reversed(info['layers'])]
    mnt = os.path.join(d.tmp, 'mnt2')
    os.makedirs(mnt)
    subprocess.run(['mount', '-t', 'overlay', 'overlay', '-o', 'ro,lowerdir=' + ':'.join(lowers),
                    mnt], check=True)
    try:
        assert sorted(os.listdir(os.path.join(mnt, 'www'))) == ['index.html']  # opaque
        assert not os.path.lexists(os.path.join(mnt, 'bin/env'))
        st = os.stat(os.path.join(mnt, 'usr/suid'))
        assert st.st_mode & 0o7777 == 0o4755
        st = os.stat(os.path.join(mnt, 'usr/owned'))
        assert (st.st_uid, st.st_gid, int(st.st_mtime)) == (1003, 1004, 1234567890)
        assert os.readlink(os.path.join(mnt, 'bin/link')) == 'busybox'
        import stat as st_mod
        assert st_mod.S_ISFIFO(os.stat(os.path.join(mnt, 'usr/fifo')).st_mode)
    finally:
        subprocess.run(['umount', mnt], check=True)
