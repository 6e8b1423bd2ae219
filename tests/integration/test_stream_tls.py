"""The streaming server over TLS: https URLs, an exec through TLS, plain
HTTP refused, client certificates required with stream_tls_ca."""
import json
import ssl
import urllib.parse

import pytest

from registry import make_ca, make_cert
from spdy import SpdyClient


@pytest.fixture
def pki(tmp_path):
    """A CA, a server certificate for 127.0.0.1 and a client certificate
    signed by it, and a client certificate of another CA."""
    d = tmp_path / 'pki'
    d.mkdir()
    ca = make_ca(d)
    other = make_ca(d, 'other')
    return {'ca': ca[0], 'server': make_cert(d, ca, 'server'),
            'client': make_cert(d, ca, 'client', client=True),
            'stranger': make_cert(d, other, 'stranger', client=True)}


def running(env, cmd=('sleep', '1000')):
    pod = env.pod()
    cid = env.create(pod, 'c', list(cmd))
    env.start(cid)
    return cid


def exec_url(env, cid, cmd):
    pb = env.pb
    return env.d.runtime('Exec', pb.ExecRequest(container_id=cid, cmd=cmd, stdout=True,
                                                 stderr=True)).url


def tls_client(url, ctx):
    u = urllib.parse.urlsplit(url)
    c = SpdyClient(u.hostname, u.port)
    c.sock = ctx.wrap_socket(c.sock, server_hostname=u.hostname)
    return c, u.path


def context(pki, cert=None):
    ctx = ssl.create_default_context(cafile=pki['ca'])
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        ctx.load_cert_chain(*pki[cert])
    return ctx


def run_exec(c, path):
    status, _, _ = c.upgrade(path, ['v4.channel.k8s.io'])
    assert status == 101
    err = c.open_stream({'streamtype': 'error'})
    out = c.open_stream({'streamtype': 'stdout'})
    errout = c.open_stream({'streamtype': 'stderr'})
    c.wait_fin(out)
    c.wait_fin(errout)
    c.wait_fin(err)
    assert c.data(err), (c.eof, c.recv_error, c.error, c.data(out), c.data(errout))
    return c.data(out), c.data(errout), json.loads(c.data(err))


def test_exec_over_tls(make_env, pki):
    env = make_env(['--stream-tls-cert', pki['server'][0], '--stream-tls-key', pki['server'][1]])
    cid = running(env)
    url = exec_url(env, cid, ['sh', '-c', 'echo -n hello'])
    assert url.startswith('https://127.0.0.1:')
    info = json.loads(env.d.http('GET', '/info')[2])
    assert url.startswith(info['stream_url'] + '/exec/')
    c, path = tls_client(url, context(pki))
    try:
        out, errout, st = run_exec(c, path)
    finally:
        c.close()
    assert (out, errout) == (b'hello', b'')
    assert st['status'] == 'Success'
    # Plain HTTP on the TLS port gets no answer, only a closed connection.
    u = urllib.parse.urlsplit(exec_url(env, cid, ['true']))
    plain = SpdyClient(u.hostname, u.port)
    with pytest.raises((ConnectionError, OSError)):
        plain.upgrade(u.path)
    plain.close()


def test_client_certificates(make_env, pki):
    env = make_env(['--stream-tls-cert', pki['server'][0], '--stream-tls-key', pki['server'][1],
                    '--stream-tls-ca', pki['ca']])
    cid = running(env)
    for cert in (None, 'stranger'):
        c, path = tls_client(exec_url(env, cid, ['true']), context(pki, cert))
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            # TLS 1.3 reports the refused certificate at the first read.
            c.upgrade(path)
        c.close()
    c, path = tls_client(exec_url(env, cid, ['sh', '-c', 'echo -n ok']), context(pki, 'client'))
    try:
        out, _, st = run_exec(c, path)
    finally:
        c.close()
    assert out == b'ok' and st['status'] == 'Success'


def test_tls_settings_checked(make_daemon, pki):
    d = make_daemon(extra_args=['--stream-tls-cert', pki['server'][0]])
    d.start(wait=False)
    assert d.proc.wait(timeout=20) != 0
    assert 'stream_tls_cert and stream_tls_key go together' in d.read_log()
    d = make_daemon(extra_args=['--stream-tls-cert', pki['server'][0],
                                '--stream-tls-key', pki['stranger'][1]], subdir='d2')
    d.start(wait=False)
    assert d.proc.wait(timeout=20) != 0
    assert 'stream_tls_key' in d.read_log() and 'mismatch' in d.read_log()
