"""ocic image import (OCI layout dir, oci-archive, docker save), hostile
archives, /images/pulls and ocic's pull progress line, ocic image fsinfo."""
import io
import json
import os
import subprocess
import tarfile

import pytest

from conftest import http_unix, ocic_bin
from registry import (OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, Layer, Registry,
                      SlowProxy, busybox_entries, busybox_image, make_config, sha256)


def ocic(daemon, args, timeout=60):
    assert os.access(ocic_bin(), os.X_OK), f'{ocic_bin()} is not built'
    return subprocess.run([ocic_bin(), '--socket', daemon.socket] + args, capture_output=True,
                          text=True, timeout=timeout)


def tar_of(files):
    """A tar of {name: bytes}, or of (name, TarInfo-tweak) for hostile cases."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.PAX_FORMAT) as t:
        for name, data in files:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            if isinstance(data, tuple):  # ('symlink', target)
                ti.type = tarfile.SYMTYPE
                ti.linkname = data[1]
                t.addfile(ti)
                continue
            ti.size = len(data)
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def busybox_layers(extra=None, compression='gzip'):
    layers = [Layer(busybox_entries(), compression)]
    if extra:
        layers.append(Layer(extra, compression))
    return layers


def oci_files(layers, name=None, containerd_name=None, cfg=None):
    """The files of an OCI image layout for one image: (files, id, manifest digest)."""
    cfg = cfg or make_config(layers)
    m = {'schemaVersion': 2, 'mediaType': OCI_MANIFEST,
         'config': {'mediaType': OCI_CONFIG, 'digest': sha256(cfg), 'size': len(cfg)},
         'layers': [{'mediaType': OCI_LAYER[l.compression], 'digest': l.digest,
                     'size': len(l.blob)} for l in layers]}
    mb = json.dumps(m).encode()
    desc = {'mediaType': OCI_MANIFEST, 'digest': sha256(mb), 'size': len(mb)}
    ann = {}
    if name:
        ann['org.opencontainers.image.ref.name'] = name
    if containerd_name:
        ann['io.containerd.image.name'] = containerd_name
    if ann:
        desc['annotations'] = ann
    index = {'schemaVersion': 2, 'mediaType': OCI_INDEX, 'manifests': [desc]}
    files = [('oci-layout', b'{"imageLayoutVersion":"1.0.0"}'),
             ('index.json', json.dumps(index).encode())]
    blobs = {sha256(cfg): cfg, sha256(mb): mb}
    for l in layers:
        blobs[l.digest] = l.blob
    files += [('blobs/sha256/' + d.split(':')[1], b) for d, b in blobs.items()]
    return files, sha256(cfg), sha256(mb)


def docker_save_files(layers, repo_tags):
    """A `docker save` archive (legacy layout: <id>/layer.tar, <config>.json)."""
    cfg = make_config(layers)
    cfg_name = sha256(cfg).split(':')[1] + '.json'
    files = [(cfg_name, cfg)]
    paths = []
    for i, l in enumerate(layers):
        d = sha256(l.diff_id.encode() + bytes([i])).split(':')[1]
        files += [(f'{d}/VERSION', b'1.0'), (f'{d}/json', b'{}'), (f'{d}/layer.tar', l.tar)]
        paths.append(f'{d}/layer.tar')
    manifest = [{'Config': cfg_name, 'RepoTags': repo_tags, 'Layers': paths}]
    files.append(('manifest.json', json.dumps(manifest).encode()))
    repos = {}
    for t in repo_tags:
        r, _, tag = t.rpartition(':')
        repos.setdefault(r, {})[tag] = paths[-1].split('/')[0]
    files.append(('repositories', json.dumps(repos).encode()))
    return files, sha256(cfg)


def write_dir(root, files):
    for name, data in files:
        p = os.path.join(root, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, 'wb') as f:
            f.write(data)


def image_status(daemon, ref):
    pb = daemon.pb
    return daemon.image('ImageStatus', pb.ImageStatusRequest(image=pb.ImageSpec(image=ref))).image


def listed(daemon):
    return {i.id: list(i.repo_tags) for i in daemon.image('ListImages').images}


def final_line(out):
    lines = [json.loads(l) for l in out.splitlines() if l.strip()]
    assert lines, out
    return lines[-1]


def leftovers(daemon):
    tmp = os.listdir(os.path.join(daemon.root, 'tmp'))
    layers = [n for n in os.listdir(os.path.join(daemon.root, 'layers')) if n != 'l']
    return tmp, layers


def test_import_oci_layout_dir(daemon, tmp_path):
    layers = busybox_layers(extra=[('hello', 'file', b'hi\n', {})])
    files, img_id, mdigest = oci_files(layers, name='localhost/demo/bb:1.0')
    write_dir(str(tmp_path / 'layout'), files)
    p = ocic(daemon, ['image', 'import', str(tmp_path / 'layout')])
    assert p.returncode == 0, p.stderr
    assert img_id in p.stdout
    assert listed(daemon) == {img_id: ['localhost/demo/bb:1.0']}
    st = image_status(daemon, 'localhost/demo/bb:1.0')
    assert st.id == img_id
    assert list(st.repo_digests) == ['localhost/demo/bb@' + mdigest]
    assert st.size > 900000


def test_import_layout_through_a_symlink(daemon, tmp_path):
    """Issue 18: PATH may be a symlink to the layout directory; links inside
    it are still refused (a layout holds files and directories only)."""
    layers = busybox_layers()
    files, img_id, _ = oci_files(layers, name='localhost/demo/link:1.0')
    write_dir(str(tmp_path / 'layout'), files)
    os.symlink(tmp_path / 'layout', tmp_path / 'link')
    p = ocic(daemon, ['image', 'import', str(tmp_path / 'link')])
    assert p.returncode == 0, p.stderr
    assert listed(daemon) == {img_id: ['localhost/demo/link:1.0']}
    os.symlink('/etc/passwd', tmp_path / 'layout' / 'stray')
    p = ocic(daemon, ['image', 'import', str(tmp_path / 'link')])
    assert p.returncode != 0 and 'only files and directories' in p.stderr, p.stderr


def test_import_oci_archive_json_progress(daemon, tmp_path):
    layers = busybox_layers(compression='zstd')
    files, img_id, _ = oci_files(layers, name='latest',
                                 containerd_name='docker.io/library/busybox:latest')
    path = tmp_path / 'bb.oci.tar'
    path.write_bytes(tar_of(files))
    p = ocic(daemon, ['-o', 'json', 'image', 'import', str(path), '--tag', 'mybox:v2'])
    assert p.returncode == 0, p.stderr
    lines = [json.loads(l) for l in p.stdout.splitlines()]
    assert any(l.get('state') == 'done' for l in lines), lines
    last = lines[-1]
    assert last['id'] == img_id
    assert sorted(last['repo_tags']) == ['docker.io/library/busybox:latest',
                                        'docker.io/library/mybox:v2']
    assert image_status(daemon, 'busybox').id == img_id
    assert image_status(daemon, 'mybox:v2').id == img_id


def test_import_docker_save(daemon, tmp_path):
    layers = busybox_layers(extra=[('etc/motd', 'file', b'saved\n', {})], compression='none')
    files, img_id = docker_save_files(layers, ['busybox:saved', 'example.com/x/y:1'])
    path = tmp_path / 'save.tar'
    path.write_bytes(tar_of(files))
    p = ocic(daemon, ['image', 'import', str(path)])
    assert p.returncode == 0, p.stderr
    assert sorted(listed(daemon)[img_id]) == ['docker.io/library/busybox:saved',
                                              'example.com/x/y:1']
    st = image_status(daemon, 'example.com/x/y:1')
    assert st.id == img_id and list(st.repo_digests) == []
    # Importing again is idempotent and keeps the layers shared.
    p = ocic(daemon, ['image', 'import', str(path)])
    assert p.returncode == 0, p.stderr
    assert len(listed(daemon)) == 1


def test_import_unnamed_gets_only_id(daemon, tmp_path):
    files, img_id, _ = oci_files(busybox_layers())
    path = tmp_path / 'anon.tar'
    path.write_bytes(tar_of(files))
    p = ocic(daemon, ['image', 'import', str(path)])
    assert p.returncode == 0, p.stderr
    assert listed(daemon) == {img_id: []}
    assert image_status(daemon, img_id).id == img_id


def hostile_archives():
    layers = busybox_layers()
    good, _, _ = oci_files(layers, name='localhost/h:1')
    blob = [n for n, _ in good if n.startswith('blobs/') and len(_) > 100000][0]

    def replace(name, data):
        return [(n, data if n == name else d) for n, d in good]

    yield 'dotdot', good + [('../evil', b'x')]
    yield 'absolute', good + [('/etc/evil', b'x')]
    yield 'symlink-blob', [(n, ('symlink', '/etc/passwd') if n == blob else d) for n, d in good]
    mid = len(layers[0].blob) // 2
    flipped = layers[0].blob[:mid] + bytes([layers[0].blob[mid] ^ 1]) + layers[0].blob[mid + 1:]
    yield 'digest-mismatch', replace(blob, flipped)
    yield 'size-mismatch', replace(blob, layers[0].blob + b'\0')
    yield 'duplicate', good + [(blob, b'x')]
    bad_layer = Layer([('../../escape', 'file', b'x', {})])
    evil, _, _ = oci_files([layers[0], bad_layer], name='localhost/h:2')
    yield 'hostile-layer', evil
    dfiles, _ = docker_save_files(layers, ['h:1'])
    m = json.loads(dict(dfiles)['manifest.json'])
    m[0]['Layers'] = ['../../etc/shadow']
    yield 'docker-dotdot', [(n, json.dumps(m).encode() if n == 'manifest.json' else d)
                            for n, d in dfiles]
    yield 'neither', [('hello', b'x')]


@pytest.mark.parametrize('case', [c for c, _ in hostile_archives()] + ['truncated'])
def test_import_hostile_refused(daemon, tmp_path, case):
    path = tmp_path / 'bad.tar'
    if case == 'truncated':
        good = tar_of(oci_files(busybox_layers())[0])
        path.write_bytes(good[:len(good) * 2 // 3])
    else:
        path.write_bytes(tar_of(dict(hostile_archives())[case]))
    p = ocic(daemon, ['image', 'import', str(path)])
    assert p.returncode == 1, (case, p.stdout, p.stderr)
    assert p.stderr.startswith('ocic: '), p.stderr
    assert listed(daemon) == {}
    assert leftovers(daemon) == ([], []), case


def dechunk(data):
    out = b''
    while data:
        size, _, rest = data.partition(b'\r\n')
        n = int(size, 16)
        if n == 0:
            break
        out += rest[:n]
        data = rest[n + 2:]
    return out


def test_import_http_errors(daemon):
    status, _, body = daemon.http('POST', '/images/import', b'not a tar at all')
    assert status == 400, body
    assert 'error' in json.loads(dechunk(body))
    status, _, body = daemon.http('POST', '/images/import?tag=Bad%20Name', b'x')
    assert status == 400, body
    assert 'Bad Name' in json.loads(dechunk(body))['error']
    status, _, body = daemon.http('GET', '/images/import')
    assert status == 405, body
    status, _, body = daemon.http('GET', '/images/pulls')
    assert status == 200 and json.loads(body) == []
    assert leftovers(daemon) == ([], [])


def test_import_missing_path(daemon, tmp_path):
    p = ocic(daemon, ['image', 'import', str(tmp_path / 'absent.tar')])
    assert p.returncode == 1 and 'absent.tar' in p.stderr, p.stderr


@pytest.fixture
def registry(tmp_path):
    reg = Registry(str(tmp_path / 'reg'))
    reg.start()
    yield reg
    reg.stop()


def pull_daemon(make_daemon, tmp_path, host):
    conf = tmp_path / 'registries.conf'
    conf.write_text(f'[[registry]]\nlocation = "{host}"\ninsecure = true\n')
    pol = tmp_path / 'policy.json'
    pol.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    return make_daemon(extra_args=['--registries-conf', str(conf),
                                   '--signature-policy', str(pol)]).start()


def test_pull_progress_summary_line(make_daemon, registry, tmp_path):
    d = pull_daemon(make_daemon, tmp_path, f'127.0.0.1:{registry.port}')
    img = busybox_image(registry, 'test/progress', 'v1',
                        extra=[('big', 'file', os.urandom(2 << 20), {})])
    ref = f'127.0.0.1:{registry.port}/test/progress:v1'
    p = ocic(d, ['image', 'pull', ref])
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 1, p.stdout
    assert lines[0].startswith(img['id']), lines
    assert '2 layers' in lines[0] and 'MB' in lines[0], lines
    p = ocic(d, ['-o', 'json', 'image', 'pull', ref])
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)['imageRef'] == img['id']


def import_busybox(daemon, tmp_path):
    files, _, _ = oci_files(busybox_layers())
    path = tmp_path / 'a.tar'
    path.write_bytes(tar_of(files))
    assert ocic(daemon, ['image', 'import', str(path)]).returncode == 0


def fsinfo_json(daemon):
    p = ocic(daemon, ['-o', 'json', 'image', 'fsinfo'])
    assert p.returncode == 0, p.stderr
    fs = json.loads(p.stdout)['imageFilesystems'][0]
    assert fs['fsId']['mountpoint'] == os.path.join(daemon.root, 'layers')
    return int(fs['usedBytes'].get('value', 0))


def test_fsinfo(daemon, tmp_path):
    import_busybox(daemon, tmp_path)
    p = ocic(daemon, ['image', 'fsinfo'])
    assert p.returncode == 0, p.stderr
    rows = [l.split() for l in p.stdout.splitlines()]
    assert rows[0] == ['FILESYSTEM', 'MOUNTPOINT', 'USED', 'INODES'], p.stdout
    assert rows[1][:2] == ['image', os.path.join(daemon.root, 'layers')], p.stdout
    assert rows[1][2].endswith('MB'), p.stdout
    assert rows[2][0] == 'container', p.stdout


def test_fsinfo_json_asked_twice(daemon, tmp_path):
    """Each ImageFsInfo walks the store afresh: the second answer counts the
    layers too (storage_usage must rewind the shared directory offset)."""
    import_busybox(daemon, tmp_path)
    first = fsinfo_json(daemon)
    assert first > 900000
    assert fsinfo_json(daemon) == first


def test_pull_progress_bar_on_tty(make_daemon, registry, tmp_path):
    """Through a 2 MB/s proxy, under script(1): the bar is redrawn with
    bytes, rate and ETA, then the summary line."""
    img = busybox_image(registry, 'test/tty', 'v1',
                        extra=[('big', 'file', os.urandom(3 << 20), {})])
    proxy = SlowProxy(registry.port, rate=2 << 20)
    try:
        d = pull_daemon(make_daemon, tmp_path, proxy.host)
        cmd = f'{ocic_bin()} --socket {d.socket} image pull {proxy.host}/test/tty:v1'
        p = subprocess.run(['script', '-qec', cmd, '/dev/null'], capture_output=True,
                           timeout=60)
    finally:
        proxy.stop()
    out = p.stdout.decode()
    assert p.returncode == 0, out
    assert '\x1b[2A' in out, out  # redrawn in place
    assert 'downloading' in out and 'ETA' in out and '/s' in out, out
    assert '[' + '=' * 24 + ']' in out, out
    assert out.rstrip().splitlines()[-1].startswith(img['id']), out


def test_mkimage_busybox_tool_imports(daemon, tmp_path):
    """The README demo's first steps: tools/mkimage-busybox, then import."""
    tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tools',
                        'mkimage-busybox')
    subprocess.run([tool, str(tmp_path / 'bb')], check=True, capture_output=True)
    p = ocic(daemon, ['image', 'import', str(tmp_path / 'bb')])
    assert p.returncode == 0, p.stderr
    st = image_status(daemon, 'localhost/ocid-test/busybox:latest')
    assert list(st.repo_tags) == ['localhost/ocid-test/busybox:latest']


def test_import_nested_index_gzipped_archive(daemon, tmp_path):
    """index.json -> an image index (amd64 + an arm64 decoy) -> manifest, in a
    gzip-compressed tar (as `docker save | gzip` or skopeo multi-arch copies)."""
    import gzip
    layers = busybox_layers()
    files, img_id, mdigest = oci_files(layers)
    files = [f for f in files if f[0] != 'index.json']
    man = dict(files)['blobs/sha256/' + mdigest.split(':')[1]]
    decoy_cfg = make_config(layers, arch='arm64')
    decoy = json.dumps({'schemaVersion': 2, 'mediaType': OCI_MANIFEST,
                        'config': {'mediaType': OCI_CONFIG, 'digest': sha256(decoy_cfg),
                                   'size': len(decoy_cfg)},
                        'layers': []}).encode()
    idx = json.dumps({'schemaVersion': 2, 'mediaType': OCI_INDEX, 'manifests': [
        {'mediaType': OCI_MANIFEST, 'digest': sha256(decoy), 'size': len(decoy),
         'platform': {'os': 'linux', 'architecture': 'arm64'}},
        {'mediaType': OCI_MANIFEST, 'digest': mdigest, 'size': len(man),
         'platform': {'os': 'linux', 'architecture': 'amd64'}}]}).encode()
    top = {'schemaVersion': 2, 'manifests': [
        {'mediaType': OCI_INDEX, 'digest': sha256(idx), 'size': len(idx),
         'annotations': {'io.containerd.image.name': 'localhost/multi:2'}}]}
    files += [('blobs/sha256/' + sha256(idx)[7:], idx),
              ('blobs/sha256/' + sha256(decoy)[7:], decoy),
              ('blobs/sha256/' + sha256(decoy_cfg)[7:], decoy_cfg),
              ('index.json', json.dumps(top).encode())]
    path = tmp_path / 'multi.tar.gz'
    path.write_bytes(gzip.compress(tar_of(files)))
    p = ocic(daemon, ['image', 'import', str(path)])
    assert p.returncode == 0, p.stderr
    st = image_status(daemon, 'localhost/multi:2')
    assert st.id == img_id
    assert list(st.repo_digests) == ['localhost/multi@' + sha256(idx)]


def test_import_client_goes_away_mid_upload(daemon, tmp_path):
    """Half an upload, then the client closes: nothing is kept, the daemon
    goes on serving (and a full import afterwards works)."""
    import socket
    import time
    files, img_id, _ = oci_files(busybox_layers(), name='localhost/half:1')
    data = tar_of(files)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(daemon.socket)
    s.sendall(f'POST /images/import HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n'
              f'\r\n'.encode() + data[:len(data) // 2])
    time.sleep(0.3)
    s.close()
    time.sleep(0.5)
    assert listed(daemon) == {}
    assert leftovers(daemon) == ([], [])
    path = tmp_path / 'full.tar'
    path.write_bytes(data)
    p = ocic(daemon, ['image', 'import', str(path)])
    assert p.returncode == 0, p.stderr
    assert listed(daemon) == {img_id: ['localhost/half:1']}


def test_import_larger_than_free_space(daemon):
    """A declared upload larger than the root's free space: 507 before any byte is read."""
    import socket
    st = os.statvfs(daemon.root)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(daemon.socket)
    s.sendall(f'POST /images/import HTTP/1.1\r\nHost: x\r\nContent-Length: '
              f'{st.f_bavail * st.f_frsize + (1 << 30)}\r\n\r\n'.encode())
    head = s.recv(4096)
    s.close()
    assert head.startswith(b'HTTP/1.1 507'), head
    assert leftovers(daemon) == ([], [])


def test_import_big_layer_reports_bytes(daemon, tmp_path):
    layers = [Layer([('blob', 'file', os.urandom(20 << 20), {})], 'none')]
    files, img_id, _ = oci_files(layers, name='localhost/big:1')
    path = tmp_path / 'big.tar'
    path.write_bytes(tar_of(files))
    p = ocic(daemon, ['-o', 'json', 'image', 'import', str(path)])
    assert p.returncode == 0, p.stderr
    lines = [json.loads(l) for l in p.stdout.splitlines()]
    done = [l['done'] for l in lines if 'done' in l]
    assert done and done[0] >= 16 << 20 and all(d <= len(layers[0].blob) for d in done), lines
    assert lines[-1]['id'] == img_id
    p = ocic(daemon, ['image', 'import', str(path)])  # not a terminal: no byte lines
    assert p.returncode == 0 and '...' not in p.stdout, p.stdout
    # On a terminal: upload progress, then the layer's bytes, redrawn in place.
    assert ocic(daemon, ['image', 'remove', img_id]).returncode == 0
    cmd = f'{ocic_bin()} --socket {daemon.socket} image import {path}'
    p = subprocess.run(['script', '-qec', cmd, '/dev/null'], capture_output=True, timeout=60)
    out = p.stdout.decode()
    assert p.returncode == 0, out
    assert 'uploading' in out and 'MB...' in out and '\r\x1b[2K' in out, out
    assert img_id in out.splitlines()[-1], out


def test_import_kill9_mid_upload_leaves_nothing(make_daemon, tmp_path):
    """The spool file is anonymous: a daemon killed mid-upload leaves no file
    under <root>/tmp, and comes back with no image and no layer."""
    import socket
    import time
    d = make_daemon().start()
    files, _, _ = oci_files(busybox_layers(), name='localhost/k:1')
    data = tar_of(files)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(d.socket)
    s.sendall(f'POST /images/import HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n'
              f'\r\n'.encode() + data[:len(data) // 2])
    time.sleep(0.3)
    d.kill()
    s.close()
    assert leftovers(d) == ([], [])
    d.start()
    try:
        assert listed(d) == {}
        assert leftovers(d) == ([], [])
    finally:
        assert d.stop() == 0
        d.kill()


def read_chunked_lines(sock):
    """Lines of a chunked HTTP response until the final chunk; (status, lines)."""
    data = b''
    while b'\r\n\r\n' not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b'\r\n\r\n')
    status = int(head.split(b' ', 2)[1])
    while not rest.endswith(b'0\r\n\r\n'):
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, [json.loads(l) for l in dechunk(rest).splitlines() if l.strip()]


def test_pull_watch_feed(make_daemon, registry, tmp_path):
    import socket
    import threading
    busybox_image(registry, 'test/watch', 'v1', extra=[('big', 'file', os.urandom(3 << 20), {})])
    proxy = SlowProxy(registry.port, rate=2 << 20)
    try:
        d = pull_daemon(make_daemon, tmp_path, proxy.host)
        ref = f'{proxy.host}/test/watch:v1'
        pb = d.pb
        t = threading.Thread(target=lambda: d.image(
            'PullImage', pb.PullImageRequest(image=pb.ImageSpec(image=ref)), timeout=60))
        t.start()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(d.socket)
        s.sendall(f'GET /images/pulls/watch?ref={ref} HTTP/1.1\r\nHost: x\r\n\r\n'.encode())
        status, lines = read_chunked_lines(s)
        s.close()
        t.join()
    finally:
        proxy.stop()
    assert status == 200
    assert lines[-1] == {'status': 'ended'}, lines
    assert all(l['name'] == ref for l in lines[:-1]), lines
    done = [sum(x['done'] for x in l['layers']) for l in lines[:-1] if l['layers']]
    assert len(done) >= 3 and done == sorted(done), done
    assert any(x['state'] == 'downloading' for l in lines[:-1] for x in l['layers']), lines
    status, _, body = http_unix(d.socket, 'GET', '/images/pulls/watch?ref=nothing:here',
                                timeout=20)
    assert status == 200 and b'no such pull' in body
    status, _, body = d.http('GET', '/images/pulls/watch?ref=Bad%20Ref')
    assert status == 400, body


def test_imported_image_runs(daemon, tmp_path):
    """An image from a docker-save archive runs: its two layers are the
    container's rootfs (a file of the top layer is read by busybox of the
    bottom one)."""
    from test_ctr import EXITED, Env
    layers = busybox_layers(extra=[('etc/motd', 'file', b'imported and running\n', {})],
                            compression='none')
    files, img_id = docker_save_files(layers, ['localhost/run/me:1'])
    path = tmp_path / 'save.tar'
    path.write_bytes(tar_of(files))
    p = ocic(daemon, ['image', 'import', str(path)])
    assert p.returncode == 0, p.stderr
    logs = tmp_path / 'logs'
    logs.mkdir()
    env = Env(daemon, 'localhost/run/me:1', str(logs))
    pod = env.pod('imp')
    cid = env.create(pod, 'motd', ['/bin/cat', '/etc/motd'])
    env.start(cid)
    st = env.wait_state(cid, EXITED)
    assert st.exit_code == 0, st
    assert st.image_ref == img_id or st.image.image in ('localhost/run/me:1', img_id), st
    assert 'stdout F imported and running' in env.log('motd')
    pb = daemon.pb
    daemon.runtime('RemoveContainer', pb.RemoveContainerRequest(container_id=cid), timeout=30)
    daemon.runtime('StopPodSandbox', pb.StopPodSandboxRequest(pod_sandbox_id=pod), timeout=60)
    daemon.runtime('RemovePodSandbox', pb.RemovePodSandboxRequest(pod_sandbox_id=pod),
                   timeout=60)


def test_import_one_image_many_names(daemon, tmp_path):
    """index.json naming one manifest three times: one image, three tags."""
    files, img_id, mdigest = oci_files(busybox_layers())
    files = dict(files)
    desc = json.loads(files['index.json'])['manifests'][0]
    names = ['localhost/multi/a:1', 'localhost/multi/a:2', 'localhost/multi/b:latest']
    files['index.json'] = json.dumps({'schemaVersion': 2, 'manifests': [
        dict(desc, annotations={'org.opencontainers.image.ref.name': n}) for n in names]}).encode()
    path = tmp_path / 'multi.tar'
    path.write_bytes(tar_of(list(files.items())))
    p = ocic(daemon, ['-o', 'json', 'image', 'import', str(path)])
    assert p.returncode == 0, p.stderr
    last = json.loads(p.stdout.splitlines()[-1])
    assert len(last['images']) == 1 and sorted(last['repo_tags']) == names, last
    assert {k: sorted(v) for k, v in listed(daemon).items()} == {img_id: names}
