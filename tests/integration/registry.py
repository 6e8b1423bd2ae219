"""A real registry on loopback and test images built from busybox-static.

Registry(tmpdir, htpasswd=None).start() runs Debian's docker-registry on a
free 127.0.0.1 port; push_image() uploads an image through the registry
HTTP API (plain urllib). Image content is built here: layers are tar
streams made with tarfile (busybox applets as hardlinks), gzip or zstd
compressed (zstd through the `zstd` CLI).
"""
import base64
import gzip
import hashlib
import io
import json
import os
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request

BUSYBOX = '/bin/busybox'
DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json'
DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json'
DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json'
DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip'
OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
OCI_CONFIG = 'application/vnd.oci.image.config.v1+json'
OCI_LAYER = {'gzip': 'application/vnd.oci.image.layer.v1.tar+gzip',
             'zstd': 'application/vnd.oci.image.layer.v1.tar+zstd',
             'none': 'application/vnd.oci.image.layer.v1.tar'}


def sha256(data):
    return 'sha256:' + hashlib.sha256(data).hexdigest()


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Registry:
    """docker-registry serving from `tmpdir`; htpasswd: {user: password}."""

    def __init__(self, tmpdir, htpasswd=None, tls=None, client_ca=None, token=None):
        """tls: (cert_path, key_path) to serve https; client_ca: a CA file
        whose certificates clients must present."""
        self.dir = str(tmpdir)
        self.token = token  # a TokenServer: bearer auth
        self.tls = tls
        self.client_ca = client_ca
        self.scheme = 'https' if tls else 'http'
        self.ssl_context = None
        self.port = free_port()
        self.host = f'127.0.0.1:{self.port}'
        self.users = htpasswd or {}
        self.proc = None
        self.log_path = os.path.join(self.dir, 'registry.log')
        self.storage = os.path.join(self.dir, 'storage')

    def start(self):
        os.makedirs(self.storage, exist_ok=True)
        auth = ''
        if self.users:
            pw = os.path.join(self.dir, 'htpasswd')
            open(pw, 'w').close()
            for u, p in self.users.items():
                subprocess.run(['htpasswd', '-B', '-b', pw, u, p], check=True,
                               capture_output=True)
            auth = f'auth:\n  htpasswd:\n    realm: test\n    path: {pw}\n'
        if self.token:
            auth = self.token.registry_auth()
        tls = ''
        if self.tls:
            tls = f'  tls:\n    certificate: {self.tls[0]}\n    key: {self.tls[1]}\n'
            if self.client_ca:
                tls += f'    clientcas:\n      - {self.client_ca}\n'
        cfg = os.path.join(self.dir, 'config.yml')
        with open(cfg, 'w') as f:
            f.write('version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n'
                    f'  filesystem:\n    rootdirectory: {self.storage}\n'
                    '  delete:\n    enabled: true\n'
                    f'http:\n  addr: {self.host}\n{tls}{auth}')
        self.log = open(self.log_path, 'ab')
        self.proc = subprocess.Popen(['/usr/bin/docker-registry', 'serve', cfg],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError('docker-registry exited:\n' + self.read_log())
            try:
                socket.create_connection(('127.0.0.1', self.port), 0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError('docker-registry did not come up:\n' + self.read_log())

    def read_log(self):
        with open(self.log_path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    def blob_gets(self, digest):
        """How many GETs of blob `digest` the registry has answered."""
        return sum(1 for line in self.read_log().splitlines()
                   if 'http.request.method=GET' in line and f'/blobs/{digest}' in line
                   and 'response completed' in line)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    # -- HTTP API ---------------------------------------------------------
    def _auth_header(self):
        if self.token:
            return {'Authorization': 'Bearer ' + self.token.sign('test-registry', [
                'repository:' + r + ':pull,push' for r in self._repos])}
        if not self.users:
            return {}
        u, p = next(iter(self.users.items()))
        return {'Authorization': 'Basic ' + base64.b64encode(f'{u}:{p}'.encode()).decode()}

    _repos = []

    def request(self, method, path, data=None, headers=None):
        if path.startswith('/v2/') and self.token:
            repo = path[4:].split('/blobs/')[0].split('/manifests/')[0]
            self._repos = [repo]
        url = path if path.startswith('http') else f'{self.scheme}://{self.host}{path}'
        h = dict(self._auth_header(), **(headers or {}))
        req = urllib.request.Request(url, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=30, context=self.ssl_context) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def push_blob(self, repo, data):
        digest = sha256(data)
        st, _, _ = self.request('HEAD', f'/v2/{repo}/blobs/{digest}')
        if st == 200:
            return digest
        st, hdrs, body = self.request('POST', f'/v2/{repo}/blobs/uploads/')
        assert st == 202, (st, body)
        loc = hdrs['Location']
        if not loc.startswith('http'):
            loc = f'{self.scheme}://{self.host}{loc}'
        sep = '&' if '?' in loc else '?'
        st, _, body = self.request('PUT', f'{loc}{sep}digest={digest}', data,
                                   {'Content-Type': 'application/octet-stream'})
        assert st == 201, (st, body)
        return digest

    def push_manifest(self, repo, ref, data, media_type):
        st, _, body = self.request('PUT', f'/v2/{repo}/manifests/{ref}', data,
                                   {'Content-Type': media_type})
        assert st == 201, (st, body)
        return sha256(data)

    def blob_path(self, digest):
        hexd = digest.split(':', 1)[1]
        return os.path.join(self.storage, 'docker/registry/v2/blobs/sha256', hexd[:2], hexd,
                            'data')


# -- image content ---------------------------------------------------------

APPLETS = ['sh', 'ls', 'cat', 'echo', 'id', 'true', 'sleep', 'env', 'ps', 'top']


def tar_bytes(entries):
    """entries: list of (name, kind, arg, opts). kind: file (arg bytes),
    dir, symlink (arg target), hardlink (arg target), char (arg (maj, min)),
    fifo. opts: mode, uid, gid, mtime."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.PAX_FORMAT) as t:
        for name, kind, arg, opts in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = opts.get('mtime', 1700000000)
            ti.uid = opts.get('uid', 0)
            ti.gid = opts.get('gid', 0)
            data = None
            if kind == 'file':
                ti.type = tarfile.REGTYPE
                ti.mode = opts.get('mode', 0o644)
                ti.size = len(arg)
                data = io.BytesIO(arg)
            elif kind == 'dir':
                ti.type = tarfile.DIRTYPE
                ti.mode = opts.get('mode', 0o755)
            elif kind == 'symlink':
                ti.type = tarfile.SYMTYPE
                ti.linkname = arg
                ti.mode = 0o777
            elif kind == 'hardlink':
                ti.type = tarfile.LNKTYPE
                ti.linkname = arg
                ti.mode = opts.get('mode', 0o755)
            elif kind == 'char':
                ti.type = tarfile.CHRTYPE
                ti.devmajor, ti.devminor = arg
                ti.mode = opts.get('mode', 0o666)
            elif kind == 'fifo':
                ti.type = tarfile.FIFOTYPE
                ti.mode = opts.get('mode', 0o644)
            else:
                raise ValueError(kind)
            t.addfile(ti, data)
    return buf.getvalue()


def busybox_entries():
    with open(BUSYBOX, 'rb') as f:
        bb = f.read()
    e = [('bin', 'dir', None, {}), ('bin/busybox', 'file', bb, {'mode': 0o755})]
    e += [(f'bin/{a}', 'hardlink', 'bin/busybox', {}) for a in APPLETS]
    e += [('etc', 'dir', None, {}),
          ('etc/passwd', 'file', b'root:x:0:0:root:/root:/bin/sh\n'
           b'www-data:x:33:33:www-data:/var/www:/bin/sh\n', {}),
          ('etc/group', 'file', b'root:x:0:\nwww-data:x:33:\n', {}),
          ('tmp', 'dir', None, {'mode': 0o1777})]
    return e


def compress(data, kind):
    if kind == 'gzip':
        return gzip.compress(data, compresslevel=1, mtime=0)
    if kind == 'zstd':
        return subprocess.run(['zstd', '-q', '-c', '-3'], input=data, check=True,
                              capture_output=True).stdout
    if kind == 'none':
        return data
    raise ValueError(kind)


class Layer:
    def __init__(self, entries, compression='gzip'):
        self.tar = tar_bytes(entries)
        self.compression = compression
        self.blob = compress(self.tar, compression)
        self.diff_id = sha256(self.tar)
        self.digest = sha256(self.blob)


def make_config(layers, user='', env=None, cmd=None, arch='amd64', labels=None):
    return json.dumps({
        'architecture': arch, 'os': 'linux', 'created': '2024-01-01T00:00:00Z',
        'config': {'User': user, 'Env': env or ['PATH=/bin'], 'Cmd': cmd or ['/bin/sh'],
                   'Labels': labels or {}},
        'rootfs': {'type': 'layers', 'diff_ids': [l.diff_id for l in layers]},
    }, sort_keys=True).encode()


def push_image(reg, repo, tag, layers, kind='docker', index=False, config=None, user=''):
    """Push `layers` + config under repo:tag. kind 'docker' (schema 2) or
    'oci'; index=True wraps the manifest in a list/index with an arm64
    decoy entry. Returns dict(manifest=..., digest=pulled digest, config
    digest=id, manifest_digest=platform manifest digest)."""
    cfg = config or make_config(layers, user=user)
    cfg_digest = reg.push_blob(repo, cfg)
    for l in layers:
        reg.push_blob(repo, l.blob)
    oci = kind == 'oci'
    m = {'schemaVersion': 2,
         'mediaType': OCI_MANIFEST if oci else DOCKER_MANIFEST,
         'config': {'mediaType': OCI_CONFIG if oci else DOCKER_CONFIG,
                    'digest': cfg_digest, 'size': len(cfg)},
         'layers': [{'mediaType': OCI_LAYER[l.compression] if oci else DOCKER_LAYER,
                     'digest': l.digest, 'size': len(l.blob)} for l in layers]}
    mbytes = json.dumps(m, sort_keys=True).encode()
    mt = m['mediaType']
    if not index:
        d = reg.push_manifest(repo, tag, mbytes, mt)
        return {'id': cfg_digest, 'digest': d, 'manifest_digest': d}
    md = reg.push_manifest(repo, sha256(mbytes), mbytes, mt)
    # A decoy for another platform: a different config, same layers.
    decoy_cfg = make_config(layers, arch='arm64')
    dcd = reg.push_blob(repo, decoy_cfg)
    dm = dict(m, config=dict(m['config'], digest=dcd, size=len(decoy_cfg)))
    dbytes = json.dumps(dm, sort_keys=True).encode()
    dd = reg.push_manifest(repo, sha256(dbytes), dbytes, mt)
    idx = {'schemaVersion': 2, 'mediaType': OCI_INDEX if oci else DOCKER_LIST,
           'manifests': [
               {'mediaType': mt, 'digest': dd, 'size': len(dbytes),
                'platform': {'os': 'linux', 'architecture': 'arm64', 'variant': 'v8'}},
               {'mediaType': mt, 'digest': md, 'size': len(mbytes),
                'platform': {'os': 'linux', 'architecture': 'amd64'}}]}
    ibytes = json.dumps(idx, sort_keys=True).encode()
    d = reg.push_manifest(repo, tag, ibytes, idx['mediaType'])
    return {'id': cfg_digest, 'digest': d, 'manifest_digest': md}


def busybox_image(reg, repo, tag='latest', kind='docker', index=False, compression='gzip',
                  user='', extra=None):
    """busybox (hardlinked applets) plus an optional second layer of
    `extra` entries. Returns push_image's dict plus 'layers'."""
    layers = [Layer(busybox_entries(), compression)]
    if extra:
        layers.append(Layer(extra, compression))
    out = push_image(reg, repo, tag, layers, kind=kind, index=index, user=user)
    out['layers'] = layers
    return out


def make_ca(d, name='ca'):
    """A CA (key + cert) in directory d; returns (cert, key)."""
    d = str(d)
    key, crt = os.path.join(d, f'{name}.key'), os.path.join(d, f'{name}.crt')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key,
                    '-out', crt, '-days', '2', '-subj', f'/CN=ocid test {name}'],
                   check=True, capture_output=True)
    return crt, key


def make_cert(d, ca, name, ip='127.0.0.1', client=False):
    """A certificate for `ip` (or a client certificate) signed by ca."""
    d = str(d)
    key, csr, crt = (os.path.join(d, f'{name}.{x}') for x in ('key', 'csr', 'crt'))
    subprocess.run(['openssl', 'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key,
                    '-out', csr, '-subj', f'/CN={name}'], check=True, capture_output=True)
    ext = os.path.join(d, f'{name}.ext')
    with open(ext, 'w') as f:
        f.write('extendedKeyUsage=clientAuth\n' if client
                else f'subjectAltName=IP:{ip}\nextendedKeyUsage=serverAuth\n')
    subprocess.run(['openssl', 'x509', '-req', '-in', csr, '-CA', ca[0], '-CAkey', ca[1],
                    '-CAcreateserial', '-out', crt, '-days', '2', '-extfile', ext],
                   check=True, capture_output=True)
    return crt, key


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


class TokenServer:
    """A bearer-token server for docker-registry's `token` auth: answers
    GET /token?service=..&scope=.. with a JWT signed (RS256, x5c) by a key
    whose certificate is the registry's root bundle. Counts requests and
    checks Basic credentials when `users` is set."""

    def __init__(self, tmpdir, users=None):
        import http.server
        import threading
        self.dir = str(tmpdir)
        os.makedirs(self.dir, exist_ok=True)
        self.cert, self.key = make_ca(self.dir, 'token')
        der = subprocess.run(['openssl', 'x509', '-in', self.cert, '-outform', 'DER'],
                             check=True, capture_output=True).stdout
        self.x5c = base64.b64encode(der).decode()
        self.users = users or {}
        self.requests = []
        self.port = free_port()
        self.realm = f'http://127.0.0.1:{self.port}/token'
        srv = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                import urllib.parse
                u = urllib.parse.urlparse(self.path)
                q = urllib.parse.parse_qs(u.query)
                auth = self.headers.get('Authorization', '')
                srv.requests.append((q, auth))
                if srv.users:
                    ok = any(auth == 'Basic ' + base64.b64encode(f'{k}:{v}'.encode()).decode()
                             for k, v in srv.users.items())
                    if not ok:
                        self.send_response(401)
                        self.end_headers()
                        return
                scopes = q.get('scope', [])
                body = json.dumps({'token': srv.sign(q.get('service', [''])[0], scopes),
                                   'expires_in': 300}).encode()
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                import urllib.parse
                n = int(self.headers.get('Content-Length', '0'))
                q = urllib.parse.parse_qs(self.rfile.read(n).decode())
                srv.requests.append((q, self.headers.get('Authorization', '')))
                if q.get('grant_type') != ['refresh_token'] or \
                        q.get('refresh_token') != [srv.refresh_token]:
                    self.send_response(401)
                    self.send_header('Content-Length', '0')
                    self.end_headers()
                    return
                body = json.dumps({'access_token': srv.sign(q.get('service', [''])[0],
                                                            q.get('scope', [])),
                                   'expires_in': 300}).encode()
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.refresh_token = 'refresh-' + os.urandom(6).hex()
        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', self.port), H)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def sign(self, service, scopes):
        access = []
        for sc in scopes:
            typ, name, actions = sc.split(':')[0], ':'.join(sc.split(':')[1:-1]), \
                sc.split(':')[-1]
            access.append({'type': typ, 'name': name, 'actions': actions.split(',')})
        now = int(time.time())
        head = {'typ': 'JWT', 'alg': 'RS256', 'x5c': [self.x5c]}
        claims = {'iss': 'ocid-test', 'sub': 'tester', 'aud': service, 'exp': now + 300,
                  'nbf': now - 10, 'iat': now, 'jti': os.urandom(8).hex(), 'access': access}
        signing = _b64url(json.dumps(head).encode()) + '.' + \
            _b64url(json.dumps(claims).encode())
        sig = subprocess.run(['openssl', 'dgst', '-sha256', '-sign', self.key],
                             input=signing.encode(), check=True, capture_output=True).stdout
        return signing + '.' + _b64url(sig)

    def registry_auth(self):
        """The auth: section of a docker-registry config using this server."""
        return (f'auth:\n  token:\n    realm: {self.realm}\n    service: test-registry\n'
                f'    issuer: ocid-test\n    rootcertbundle: {self.cert}\n')

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class SlowProxy:
    """A TCP proxy on loopback in front of `port`: answers flow back at most
    `rate` bytes/s (None: unlimited); after `stall_after` bytes of answers
    nothing more is forwarded (the connection stays open)."""

    def __init__(self, port, rate=None, stall_after=None, cut_after=None):
        """cut_after: the first answer connection that passes this many
        bytes is closed there (once)."""
        import threading
        self.target = port
        self.cut_after = cut_after
        self.cuts = 0
        self.requests = []  # request lines seen ("GET /v2/...")
        self.rate = rate
        self.stall_after = stall_after
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.host = f'127.0.0.1:{self.port}'
        self.sent = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import threading
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            u = socket.create_connection(('127.0.0.1', self.target))
            threading.Thread(target=self._pump, args=(c, u, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c, True), daemon=True).start()

    def _pump(self, src, dst, answers):
        try:
            while not self.closed:
                data = src.recv(16384)
                if not data:
                    break
                if not answers and data[:4] in (b'GET ', b'HEAD'):
                    self.requests.append(data.split(b'\r\n', 1)[0].decode('latin-1'))
                if answers:
                    while self.stall_after is not None and \
                            self.sent + len(data) > self.stall_after and not self.closed:
                        time.sleep(0.05)
                    self.sent += len(data)
                    if self.cut_after is not None and self.sent > self.cut_after \
                            and not self.cuts:
                        self.cuts += 1
                        break
                    if self.rate:
                        time.sleep(len(data) / self.rate)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self):
        self.closed = True
        self.sock.close()


class RedirectingFront:
    """A registry front on loopback that wants Basic credentials, forwards
    everything to `reg` and answers blob GETs with a 307 to a second server
    on another port, which serves the blob and records the Authorization
    headers it was sent (`blob_auth`)."""

    def __init__(self, reg, user, password):
        import http.server
        import threading
        self.reg = reg
        self.blob_auth = []
        self.expected = 'Basic ' + base64.b64encode(f'{user}:{password}'.encode()).decode()
        front = self

        class Blob(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                front.blob_auth.append(self.headers.get('Authorization'))
                st, hdrs, body = front.reg.request('GET', self.path)
                self.send_response(st)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Front(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.headers.get('Authorization') != front.expected:
                    self.send_response(401)
                    self.send_header('WWW-Authenticate', 'Basic realm="front"')
                    self.send_header('Content-Length', '0')
                    self.end_headers()
                    return
                if '/blobs/' in self.path:
                    self.send_response(307)
                    self.send_header('Location', f'http://127.0.0.1:{front.blob_port}{self.path}')
                    self.send_header('Content-Length', '0')
                    self.end_headers()
                    return
                st, hdrs, body = front.reg.request('GET', self.path, headers={
                    'Accept': self.headers.get('Accept', '')})
                self.send_response(st)
                for k in ('Content-Type', 'Docker-Content-Digest'):
                    if k in hdrs:
                        self.send_header(k, hdrs[k])
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.servers = []
        for h in (Blob, Front):
            s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), h)
            threading.Thread(target=s.serve_forever, daemon=True).start()
            self.servers.append(s)
        self.blob_port = self.servers[0].server_address[1]
        self.host = f'127.0.0.1:{self.servers[1].server_address[1]}'

    def stop(self):
        for s in self.servers:
            s.shutdown()
            s.server_close()


class StaticRegistry:
    """A fake registry on loopback answering GET /v2/<path> from a dict
    {path: (status, content_type, body)}; 404 otherwise. For answers a
    real registry will not give (schema 1, odd statuses)."""

    def __init__(self, routes):
        import http.server
        import threading
        self.routes = routes
        me = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                st, ct, body = me.routes.get(self.path, (404, 'text/plain', b'not found'))
                self.send_response(st)
                self.send_header('Content-Type', ct)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.host = f'127.0.0.1:{self.httpd.server_address[1]}'

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
