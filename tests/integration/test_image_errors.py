"""Registry failures a person can act on: each gets a fitting gRPC code
(never INTERNAL) and a message saying what to change; loopback registries
answer over plain http without configuration (Docker's convention)."""
import grpc
import pytest

from registry import Registry, StaticRegistry, busybox_image, free_port, make_ca, make_cert
from test_image import finish, list_images, pull, write_conf


@pytest.fixture
def registry(tmp_path):
    r = Registry(tmp_path / 'registry').start()
    yield r
    r.stop()


def refused(d, name):
    with pytest.raises(grpc.RpcError) as e:
        pull(d, name, timeout=30)
    assert e.value.code() != grpc.StatusCode.INTERNAL, e.value.details()
    return e.value


def test_loopback_registry_over_plain_http_without_config(make_daemon, registry, tmp_path):
    img = busybox_image(registry, 'plain/app', 'v1')
    d = make_daemon(extra_args=write_conf(tmp_path, '')).start()
    assert pull(d, f'{registry.host}/plain/app:v1') == img['id']
    assert pull(d, f'localhost:{registry.port}/plain/app:v1') == img['id']
    finish(d)


def test_connection_refused_is_unavailable(make_daemon, tmp_path):
    d = make_daemon(extra_args=write_conf(tmp_path, '')).start()
    host = f'127.0.0.1:{free_port()}'
    e = refused(d, f'{host}/x/y:1')
    assert e.code() == grpc.StatusCode.UNAVAILABLE, e.details()
    assert 'connection refused' in e.details() and 'listening' in e.details(), e.details()
    finish(d)


def test_dns_failure_is_unavailable(make_daemon, tmp_path):
    """A registry whose name does not resolve. The daemon runs in a mount
    namespace of its own whose resolv.conf names a loopback nameserver
    where nothing listens, so no query leaves the machine."""
    resolv = tmp_path / 'resolv.conf'
    resolv.write_text('nameserver 127.0.0.1\noptions attempts:1 timeout:1\n')
    d = make_daemon(extra_args=write_conf(tmp_path, ''))
    d.args = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c',
              'mount --bind "$0" /etc/resolv.conf && exec "$@"', str(resolv)] + d.args
    d.start()
    e = refused(d, 'registry.ocid-test.invalid/x/y:1')
    assert e.code() == grpc.StatusCode.UNAVAILABLE, e.details()
    assert 'does not resolve' in e.details() and '/etc/resolv.conf' in e.details(), e.details()
    assert list(list_images(d)) == []
    finish(d)


def test_untrusted_certificate_names_certs_d(make_daemon, tmp_path):
    pki = tmp_path / 'pki'
    pki.mkdir()
    ca = make_ca(pki)
    reg = Registry(tmp_path / 'tlsreg', tls=make_cert(pki, ca, 'server')).start()
    try:
        d = make_daemon(extra_args=write_conf(tmp_path, '')).start()
        e = refused(d, f'{reg.host}/x/y:1')
        # a loopback https registry with an unknown CA is not downgraded
        assert e.code() == grpc.StatusCode.FAILED_PRECONDITION, e.details()
        assert 'not trusted' in e.details(), e.details()
        assert f'certs.d/{reg.host}/ca.crt' in e.details(), e.details()
        assert 'insecure = true' in e.details(), e.details()
        finish(d)
    finally:
        reg.stop()


def test_statuses_map_to_codes(make_daemon, tmp_path):
    fake = StaticRegistry({
        '/v2/': (200, 'application/json', b'{}'),
        '/v2/e/a/manifests/403': (403, 'application/json', b'{}'),
        '/v2/e/a/manifests/429': (429, 'application/json', b'{}'),
        '/v2/e/a/manifests/500': (500, 'text/plain', b'boom'),
        '/v2/e/a/manifests/503': (503, 'text/plain', b'later'),
        '/v2/e/a/manifests/400': (400, 'text/plain', b'what'),
        '/v2/e/a/manifests/401': (401, 'text/plain', b'who'),
    })
    want = {'403': (grpc.StatusCode.PERMISSION_DENIED, 'access denied'),
            '429': (grpc.StatusCode.RESOURCE_EXHAUSTED, 'try again later'),
            '500': (grpc.StatusCode.UNAVAILABLE, 'the registry is failing'),
            '503': (grpc.StatusCode.UNAVAILABLE, 'HTTP 503'),
            '400': (grpc.StatusCode.FAILED_PRECONDITION, 'HTTP 400'),
            '401': (grpc.StatusCode.PERMISSION_DENIED, 'unauthorized'),
            'none': (grpc.StatusCode.NOT_FOUND, 'not found')}
    try:
        d = make_daemon(extra_args=write_conf(tmp_path, '')).start()
        for tag, (code, text) in want.items():
            e = refused(d, f'{fake.host}/e/a:{tag}')
            assert e.code() == code, (tag, e.details())
            assert text in e.details(), (tag, e.details())
        assert list(list_images(d)) == []
        finish(d)
    finally:
        fake.stop()


def test_plain_http_elsewhere_says_how_to_allow_it(make_daemon, registry, tmp_path):
    """A registry that is not named as loopback (the host's name, which
    /etc/hosts maps to 127.0.0.1) is never downgraded to http silently: the
    error says it speaks plain http and names the registries.conf entry."""
    import socket
    name = socket.gethostname()
    if socket.gethostbyname(name) != '127.0.0.1' or '.' in name:
        pytest.skip(f'{name} does not resolve to 127.0.0.1')
    host = f'{name}:{registry.port}'
    busybox_image(registry, 'plain/app', 'v1')
    d = make_daemon(extra_args=write_conf(tmp_path, '')).start()
    e = refused(d, f'{host}/plain/app:v1')
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION, e.details()
    assert 'answers plain http' in e.details(), e.details()
    assert f'location = "{host}" with insecure = true' in e.details(), e.details()
    assert list(list_images(d)) == []
    finish(d)
