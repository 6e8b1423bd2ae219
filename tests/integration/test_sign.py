"""Image trust (containers-policy.json signedBy and sigstoreSigned) with
signatures made by independent tools: GPG simple signatures by Debian's
skopeo (copy --sign-by, standalone-sign) with keys from gpg --batch, kept in
a lookaside directory served over http on loopback; sigstore attachments in
cosign's format made here with openssl keys. Each refused pull checks the
message and that nothing was stored."""
import base64
import functools
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import threading

import grpc
import pytest

from registry import Registry, busybox_image, sha256
from test_image import finish, list_images, pull, status

COSIGN_LAYER = 'application/vnd.dev.cosign.simplesigning.v1+json'


def run(cmd, env=None, **kw):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, **kw)
    assert p.returncode == 0, (cmd, p.stdout, p.stderr)
    return p.stdout


class Gpg:
    """A key made by gpg --batch in a GNUPGHOME of its own."""

    def __init__(self, d, name, subkey=False):
        """subkey: the primary key only certifies; a subkey signs."""
        self.home = str(d / f'gnupg-{name}')
        os.makedirs(self.home, mode=0o700)
        self.env = dict(os.environ, GNUPGHOME=self.home)
        gpg = ['gpg', '--batch', '--pinentry-mode', 'loopback', '--passphrase', '']
        run(gpg + ['--quick-gen-key', f'{name} <{name}@example.test>', 'ed25519',
                   'cert' if subkey else 'sign', 'never'], self.env)
        out = run(['gpg', '--batch', '--with-colons', '--list-keys'], self.env)
        self.fpr = next(l.split(':')[9] for l in out.splitlines() if l.startswith('fpr:'))
        if subkey:
            run(gpg + ['--quick-add-key', self.fpr, 'ed25519', 'sign', 'never'], self.env)
        self.pub = str(d / f'{name}.gpg')
        run(['gpg', '--batch', '--armor', '--output', self.pub, '--export', self.fpr], self.env)

    def stop(self):
        subprocess.run(['gpgconf', '--kill', 'gpg-agent'], env=self.env, capture_output=True)


class Files:
    """A directory served over http on loopback."""

    def __init__(self, root):
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *a):
                pass

        handler = functools.partial(Quiet, directory=root)
        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}'

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class World:
    """A registry with images signed by skopeo, a lookaside on http."""

    def __init__(self, d):
        self.d = d
        self.reg = Registry(d / 'registry').start()
        self.host = self.reg.host
        self.good = Gpg(d, 'signer')
        self.other = Gpg(d, 'stranger')
        self.sigs = str(d / 'sigs')
        os.makedirs(self.sigs)
        self.files = Files(self.sigs)
        # skopeo writes signatures to the lookaside staging directory
        self.skopeo_rd = d / 'skopeo-registries.d'
        self.skopeo_rd.mkdir()
        (self.skopeo_rd / 'sigs.yaml').write_text(
            f'docker:\n  {self.host}:\n    sigstore-staging: file://{self.sigs}\n')
        self.skopeo_policy = d / 'skopeo-policy.json'
        self.skopeo_policy.write_text('{"default":[{"type":"insecureAcceptAnything"}]}')
        self.src = busybox_image(self.reg, 'src/app', 'v1')
        self.other_src = busybox_image(self.reg, 'src/other', 'v1',
                                       extra=[('etc/x', 'file', b'x', {})])

    def skopeo(self, *args, gpg=None):
        run(['skopeo', '--policy', str(self.skopeo_policy), '--registries.d',
             str(self.skopeo_rd), *args], gpg.env if gpg else None)

    def copy(self, src, dst, gpg=None, identity=None):
        """skopeo copy (signed by `gpg` when given); returns the digest."""
        args = ['copy', '--src-tls-verify=false', '--dest-tls-verify=false']
        if gpg:
            args += ['--sign-by', gpg.fpr]
        if identity:
            args += ['--sign-identity', identity]
        self.skopeo(*args, f'docker://{self.host}/{src}', f'docker://{self.host}/{dst}', gpg=gpg)
        return self.digest(dst)

    def digest(self, name):
        repo, tag = name.rsplit(':', 1)
        st, hdrs, body = self.reg.request(
            'GET', f'/v2/{repo}/manifests/{tag}',
            headers={'Accept': 'application/vnd.docker.distribution.manifest.v2+json'})
        assert st == 200, st
        return sha256(body)

    def sigdir(self, repo, digest):
        return os.path.join(self.sigs, f'{repo}@sha256={digest[7:]}')

    def stop(self):
        self.files.stop()
        self.reg.stop()
        self.good.stop()
        self.other.stop()


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp('sign'))
    # accept/reject/keys: signed where it is pushed
    w.signed = w.copy('src/app:v1', 'signed/app:v1', w.good)
    yield w
    w.stop()


def daemon(make_daemon, tmp_path, world, policy, registries='', lookaside=None, rd=None,
           subdir='d'):
    etc = tmp_path / 'etc'
    etc.mkdir(exist_ok=True)
    (etc / 'registries.conf').write_text(registries)
    (etc / 'policy.json').write_text(json.dumps(policy))
    rdir = etc / 'registries.d'
    rdir.mkdir(exist_ok=True)
    (rdir / 'default.yaml').write_text(
        rd if rd is not None else
        f'default-docker:\n  lookaside: {lookaside or world.files.url}\n')
    return make_daemon(extra_args=[
        '--registries-conf', str(etc / 'registries.conf'),
        '--signature-policy', str(etc / 'policy.json'),
        '--registries-d', str(rdir),
        '--global-auth-file', str(etc / 'auth.json')], subdir=subdir).start()


def signed_by(key, **kw):
    return dict({'type': 'signedBy', 'keyType': 'GPGKeys', 'keyPath': key}, **kw)


def policy_for(scope, req):
    return {'default': [{'type': 'insecureAcceptAnything'}],
            'transports': {'docker': {scope: [req]}}}


def refused(d, name, *texts):
    with pytest.raises(grpc.RpcError) as e:
        pull(d, name)
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED, e.value.details()
    for t in texts:
        assert t in e.value.details(), e.value.details()
    assert list(list_images(d)) == []
    # nothing of the image was fetched into the store either
    layers = os.path.join(d.root, 'layers')
    assert not os.path.isdir(layers) or [x for x in os.listdir(layers) if x != 'l'] == []
    return e.value.details()


def test_skopeo_signature_accepted(make_daemon, tmp_path, world):
    name = f'{world.host}/signed/app:v1'
    pol = policy_for(f'{world.host}/signed', signed_by(world.good.pub))
    d = daemon(make_daemon, tmp_path, world, pol)
    assert pull(d, name) == world.src['id']
    finish(d)


def test_signing_subkey(make_daemon, tmp_path, world):
    sub = Gpg(tmp_path, 'subsigner', subkey=True)
    try:
        world.copy('src/app:v1', 'subkey/app:v1', sub)
        pol = policy_for(f'{world.host}/subkey', signed_by(sub.pub))
        d = daemon(make_daemon, tmp_path, world, pol)
        name = f'{world.host}/subkey/app:v1'
        assert pull(d, name) == world.src['id']
        t = json.loads(status(d, name, verbose=True).info['info'])['trust']
        assert f'signedBy by key {sub.fpr}' in t['acceptedBy'], t
        finish(d)
    finally:
        sub.stop()


def test_reject_and_unsigned(make_daemon, tmp_path, world):
    pol = {'default': [{'type': 'insecureAcceptAnything'}],
           'transports': {'docker': {
               f'{world.host}/src/app': [{'type': 'reject'}],
               f'{world.host}/src/other': [signed_by(world.good.pub)]}}}
    d = daemon(make_daemon, tmp_path, world, pol)
    refused(d, f'{world.host}/src/app:v1', 'rejected', f'"{world.host}/src/app"')
    # not signed at all: where it looked is named
    refused(d, f'{world.host}/src/other:v1', f'scope "{world.host}/src/other"',
            'requires signedBy', 'no signature found at', world.files.url)
    finish(d)


def test_wrong_key(make_daemon, tmp_path, world):
    pol = policy_for(world.host, signed_by(world.other.pub))
    d = daemon(make_daemon, tmp_path, world, pol)
    refused(d, f'{world.host}/signed/app:v1', f'scope "{world.host}"', 'requires signedBy',
            'signed by an unknown key', world.good.fpr[-16:])
    finish(d)


def test_right_key_among_several_and_key_data(make_daemon, tmp_path, world):
    data = base64.b64encode(open(world.good.pub, 'rb').read()).decode()
    pol = {'default': [{'type': 'reject'}],
           'transports': {'docker': {
               f'{world.host}/signed/app:v1': [{'type': 'signedBy', 'keyType': 'GPGKeys',
                                                'keyPaths': [world.other.pub,
                                                             world.good.pub]}],
               f'{world.host}/signed': [{'type': 'signedBy', 'keyType': 'GPGKeys',
                                         'keyData': data}]}}}
    d = daemon(make_daemon, tmp_path, world, pol)
    assert pull(d, f'{world.host}/signed/app:v1') == world.src['id']
    assert pull(d, f'{world.host}/signed/app@{world.signed}') == world.src['id']
    finish(d)


def test_wrong_identity_and_remapped(make_daemon, tmp_path, world):
    # signed as ident/app, then the same manifest pushed as moved/app with
    # the signature beside it
    dig = world.copy('src/app:v1', 'ident/app:v1', world.good)
    assert world.copy('src/app:v1', 'moved/app:v1') == dig
    os.makedirs(world.sigdir('moved/app', dig), exist_ok=True)
    shutil.copy(os.path.join(world.sigdir('ident/app', dig), 'signature-1'),
                world.sigdir('moved/app', dig))
    pol = {'default': [{'type': 'insecureAcceptAnything'}],
           'transports': {'docker': {
               f'{world.host}/moved': [signed_by(world.good.pub)],
               f'{world.host}/moved/remapped': [signed_by(world.good.pub)]}}}
    d = daemon(make_daemon, tmp_path, world, pol)
    refused(d, f'{world.host}/moved/app:v1',
            f"identity '{world.host}/ident/app:v1' does not match '{world.host}/moved/app:v1'",
            'matchRepoDigestOrExact')
    (tmp_path / 'etc' / 'policy.json').write_text(json.dumps(policy_for(
        f'{world.host}/moved', signed_by(world.good.pub, signedIdentity={
            'type': 'remapIdentity', 'prefix': f'{world.host}/moved',
            'signedPrefix': f'{world.host}/ident'}))))
    assert pull(d, f'{world.host}/moved/app:v1') == world.src['id']
    finish(d)


def test_tampered_signature(make_daemon, tmp_path, world):
    dig = world.copy('src/app:v1', 'tamper/app:v1', world.good)
    sig = os.path.join(world.sigdir('tamper/app', dig), 'signature-1')
    data = bytearray(open(sig, 'rb').read())
    data[len(data) // 2] ^= 0x20
    open(sig, 'wb').write(bytes(data))
    pol = policy_for(f'{world.host}/tamper', signed_by(world.good.pub))
    d = daemon(make_daemon, tmp_path, world, pol)
    msg = refused(d, f'{world.host}/tamper/app:v1', 'requires signedBy', 'signature-1')
    assert 'bad signature' in msg or 'not a valid OpenPGP signature' in msg, msg
    finish(d)


def test_signature_of_another_digest(make_daemon, tmp_path, world):
    a = world.copy('src/app:v1', 'swap/app:a', world.good)
    b = world.copy('src/other:v1', 'swap/app:b')
    os.makedirs(world.sigdir('swap/app', b))
    shutil.copy(os.path.join(world.sigdir('swap/app', a), 'signature-1'),
                world.sigdir('swap/app', b))
    pol = policy_for(f'{world.host}/swap', signed_by(world.good.pub,
                                                     signedIdentity={'type': 'matchRepository'}))
    d = daemon(make_daemon, tmp_path, world, pol)
    refused(d, f'{world.host}/swap/app:b', f'it signs manifest {a}, not the pulled {b}',
            'digest mismatch')
    finish(d)


def test_mirror_verifies_the_name_asked_for(make_daemon, tmp_path, world):
    # signed for the upstream name; the bytes come from a mirror on loopback
    upstream = 'registry.upstream.test/team/app:v1'
    world.copy('src/app:v1', 'mirror/team/app:v1', world.good, identity=upstream)
    dig = world.digest('mirror/team/app:v1')
    # the lookaside holds it under the name asked for
    os.makedirs(world.sigdir('team/app', dig), exist_ok=True)
    shutil.copy(os.path.join(world.sigdir('mirror/team/app', dig), 'signature-1'),
                world.sigdir('team/app', dig))
    conf = (f'[[registry]]\nlocation = "registry.upstream.test"\n'
            f'[[registry.mirror]]\nlocation = "{world.host}/mirror"\n')
    # the mirror's own name: the signature is for another identity
    d = daemon(make_daemon, tmp_path, world, policy_for(world.host, signed_by(world.good.pub)),
               registries=conf)
    refused(d, f'{world.host}/mirror/team/app:v1', f"identity '{upstream}' does not match")
    (tmp_path / 'etc' / 'policy.json').write_text(json.dumps(policy_for(
        'registry.upstream.test', signed_by(world.good.pub))))
    assert pull(d, upstream) == world.src['id']
    finish(d)


def test_file_lookaside_and_no_lookaside(make_daemon, tmp_path, world):
    pol = policy_for(world.host, signed_by(world.good.pub))
    d = daemon(make_daemon, tmp_path, world, pol, lookaside=f'file://{world.sigs}')
    assert pull(d, f'{world.host}/signed/app:v1') == world.src['id']
    finish(d)
    tmp2 = tmp_path / 'b'
    tmp2.mkdir()
    d = daemon(make_daemon, tmp2, world, pol, rd='', subdir='d2')
    refused(d, f'{world.host}/signed/app:v1', 'registries.d names none')
    finish(d)


def test_bad_registries_d_is_invalid_argument(make_daemon, tmp_path, world):
    pol = policy_for(world.host, signed_by(world.good.pub))
    d = daemon(make_daemon, tmp_path, world, pol, rd='default-docker:\n  lookaside: ftp://x\n')
    with pytest.raises(grpc.RpcError) as e:
        pull(d, f'{world.host}/signed/app:v1')
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value.details()
    assert 'default.yaml' in e.value.details() and 'ftp://x' in e.value.details()
    finish(d)


# ---------------------------------------------------------- sigstore --

def openssl_key(d, kind):
    key = str(d / f'{kind}.key')
    if kind == 'ecdsa':
        run(['openssl', 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256',
             '-out', key])
    elif kind == 'rsa':
        run(['openssl', 'genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048',
             '-out', key])
    else:
        run(['openssl', 'genpkey', '-algorithm', 'ED25519', '-out', key])
    pub = key + '.pub'
    run(['openssl', 'pkey', '-in', key, '-pubout', '-out', pub])
    return key, pub


def cosign_sign(d, kind, key, payload):
    p = str(d / 'payload.json')
    s = str(d / 'payload.sig')
    open(p, 'wb').write(payload)
    if kind == 'ed25519':
        run(['openssl', 'pkeyutl', '-sign', '-rawin', '-inkey', key, '-in', p, '-out', s])
    else:
        run(['openssl', 'dgst', '-sha256', '-sign', key, '-out', s, p])
    return base64.b64encode(open(s, 'rb').read()).decode()


def attach(reg, repo, digest, payload, sig):
    """cosign's layout: tag sha256-<hex>.sig, an OCI manifest whose layer is
    the payload with the signature in an annotation."""
    cfg = b'{"architecture":"","config":{},"os":"","rootfs":{"type":"layers","diff_ids":[]}}'
    reg.push_blob(repo, cfg)
    reg.push_blob(repo, payload)
    m = {'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.manifest.v1+json',
         'config': {'mediaType': 'application/vnd.oci.image.config.v1+json',
                    'digest': sha256(cfg), 'size': len(cfg)},
         'layers': [{'mediaType': COSIGN_LAYER, 'digest': sha256(payload),
                     'size': len(payload),
                     'annotations': {'dev.cosignproject.cosign/signature': sig}}]}
    reg.push_manifest(repo, f'sha256-{digest[7:]}.sig', json.dumps(m).encode(),
                      m['mediaType'])


def cosign_payload(ref, digest):
    return json.dumps({'critical': {'identity': {'docker-reference': ref},
                                    'image': {'docker-manifest-digest': digest},
                                    'type': 'cosign container image signature'},
                       'optional': None}).encode()


SIGSTORE_RD = 'default-docker:\n  use-sigstore-attachments: true\n'


def sigstore(pub, **kw):
    # cosign signs the repository, not the tag: matchRepository, as
    # containers-policy.json(5) advises for its signatures
    return dict({'type': 'sigstoreSigned', 'keyPath': pub,
                 'signedIdentity': {'type': 'matchRepository'}}, **kw)


@pytest.mark.parametrize('kind', ['ecdsa', 'rsa', 'ed25519'])
def test_sigstore_signed(make_daemon, tmp_path, world, kind):
    key, pub = openssl_key(tmp_path, kind)
    repo = f'cosign-{kind}/app'
    img = busybox_image(world.reg, repo, 'v1')
    dig = img['digest']
    payload = cosign_payload(f'{world.host}/{repo}', dig)
    attach(world.reg, repo, dig, payload, cosign_sign(tmp_path, kind, key, payload))
    pol = policy_for(f'{world.host}/{repo}', sigstore(pub))
    d = daemon(make_daemon, tmp_path, world, pol, rd=SIGSTORE_RD)
    assert pull(d, f'{world.host}/{repo}:v1') == img['id']
    finish(d)


def test_sigstore_refusals(make_daemon, tmp_path, world):
    key, pub = openssl_key(tmp_path, 'ecdsa')
    _, other = openssl_key(tmp_path, 'rsa')
    repo = 'cosign-bad/app'
    img = busybox_image(world.reg, repo, 'v1')
    dig = img['digest']
    payload = cosign_payload(f'{world.host}/{repo}', dig)
    attach(world.reg, repo, dig, payload, cosign_sign(tmp_path, 'ecdsa', key, payload))
    name = f'{world.host}/{repo}:v1'
    pol = policy_for(f'{world.host}/{repo}', sigstore(other))
    d = daemon(make_daemon, tmp_path, world, pol, rd=SIGSTORE_RD)
    # wrong key
    refused(d, name, 'requires sigstoreSigned', 'does not verify with key SHA256:')
    # right key, wrong identity
    etc = tmp_path / 'etc'
    (etc / 'policy.json').write_text(json.dumps(policy_for(
        f'{world.host}/{repo}', {'type': 'sigstoreSigned', 'keyPath': pub, 'signedIdentity': {
            'type': 'exactRepository', 'dockerRepository': f'{world.host}/elsewhere'}})))
    refused(d, name, f"does not match '{world.host}/elsewhere'")
    # tampered payload: the signature no longer verifies
    bad = payload.replace(b'critical', b'critical ', 1)
    attach(world.reg, repo, dig, bad, cosign_sign(tmp_path, 'ecdsa', key, payload))
    (etc / 'policy.json').write_text(json.dumps(policy_for(f'{world.host}/{repo}', sigstore(pub))))
    refused(d, name, 'does not verify')
    # a good signature of another digest
    other_img = busybox_image(world.reg, 'cosign-bad/other', 'v1',
                              extra=[('etc/y', 'file', b'y', {})])
    p2 = cosign_payload(f'{world.host}/{repo}', other_img['digest'])
    attach(world.reg, repo, dig, p2, cosign_sign(tmp_path, 'ecdsa', key, p2))
    refused(d, name, 'digest mismatch')
    # no attachments turned on: says where to turn them on
    (etc / 'registries.d' / 'default.yaml').write_text('')
    refused(d, name, 'registries.d does not turn them on')
    finish(d)


# ------------------------------------------- visibility, namespaces, create --

def test_status_verbose_and_ocic_pull_show_the_key(make_daemon, tmp_path, world):
    from conftest import ocic_bin
    name = f'{world.host}/signed/app:v1'
    pol = policy_for(f'{world.host}/signed', signed_by(world.good.pub))
    d = daemon(make_daemon, tmp_path, world, pol)
    p = subprocess.run([ocic_bin(), '--socket', d.socket, 'image', 'pull', name],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    assert f'trust: scope "{world.host}/signed": signedBy by key {world.good.fpr}' in p.stdout, \
        p.stdout
    info = json.loads(status(d, name, verbose=True).info['info'])
    t = info['trust']
    assert t['scope'] == f'"{world.host}/signed"' and t['requirements'] == ['signedBy'], t
    assert world.good.fpr in t['acceptedBy'], t
    assert t['pulledAs'] == name, t
    finish(d)


def pull_in(d, name, namespace):
    req = d.pb.PullImageRequest(
        image=d.pb.ImageSpec(image=name),
        sandbox_config=d.pb.PodSandboxConfig(metadata=d.pb.PodSandboxMetadata(
            name='p', namespace=namespace, uid='u')))
    return d.image('PullImage', req, timeout=60).image_ref


def test_per_namespace_policy(make_daemon, tmp_path, world):
    name = f'{world.host}/src/app:v1'  # not signed
    pdir = tmp_path / 'policy.d'
    pdir.mkdir()
    (pdir / 'strict.json').write_text(json.dumps(
        policy_for(world.host, signed_by(world.good.pub))))
    etc = tmp_path / 'etc'
    d = daemon(make_daemon, tmp_path, world, {'default': [{'type': 'insecureAcceptAnything'}]})
    d.stop()
    d = make_daemon(extra_args=[
        '--registries-conf', str(etc / 'registries.conf'),
        '--signature-policy', str(etc / 'policy.json'),
        '--signature-policy-dir', str(pdir),
        '--registries-d', str(etc / 'registries.d')], subdir='d2').start()
    with pytest.raises(grpc.RpcError) as e:
        pull_in(d, name, 'strict')
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED, e.value.details()
    assert str(pdir / 'strict.json') in e.value.details(), e.value.details()
    assert 'no signature found' in e.value.details(), e.value.details()
    assert list(list_images(d)) == []
    # another namespace (no file of its own) has the global policy
    assert pull_in(d, name, 'lax') == world.src['id']
    with pytest.raises(grpc.RpcError) as e:
        pull_in(d, name, 'Bad_NS')
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value.details()
    finish(d)


def test_create_container_rechecks_a_stricter_policy(make_env, tmp_path):
    env = make_env()
    pod = env.pod('trust')
    pol = tmp_path / 'etc' / 'policy.json'
    host = env.image.split('/')[0]
    pol.write_text(json.dumps(policy_for(host, {'type': 'signedBy', 'keyType': 'GPGKeys',
                                                'keyPath': '/dev/null'})))
    with pytest.raises(grpc.RpcError) as e:
        env.create(pod, 'c1', ['/bin/true'])
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED, e.value.details()
    assert 'now requires signedBy' in e.value.details(), e.value.details()
    assert 'pull it again' in e.value.details(), e.value.details()
    pol.write_text(json.dumps(policy_for(host, {'type': 'reject'})))
    with pytest.raises(grpc.RpcError) as e:
        env.create(pod, 'c1', ['/bin/true'])
    assert 'rejected' in e.value.details(), e.value.details()
    assert list(env.d.runtime('ListContainers', env.pb.ListContainersRequest()).containers) == []
    pol.write_text(json.dumps({'default': [{'type': 'insecureAcceptAnything'}]}))
    assert env.create(pod, 'c1', ['/bin/true'])
