"""A small SPDY/3.1 client for the streaming-server tests, written from the
SPDY/3 draft and independent of ocid's C framing (it shares no code or
tables with src/stream/spdy.c: even the header dictionary is rebuilt here
from its words and checked against the draft's length and Adler-32).

It speaks what Kubernetes' spdystream speaks: the HTTP/1.1 upgrade to
SPDY/3.1, odd client stream ids opened with SYN_STREAM, DATA with FIN for
half close, RST_STREAM, PING (echoing the server's), GOAWAY, and no flow
control.

    c = SpdyClient('127.0.0.1', port)
    status, headers, body = c.upgrade('/exec/TOKEN', ['v4.channel.k8s.io'])
    err = c.open_stream({'streamtype': 'error'})
    out = c.open_stream({'streamtype': 'stdout'})
    c.wait_reply(out)
    c.wait_fin(out)
    print(c.data(out), c.data(err))
    c.close()
"""
import select
import socket
import ssl
import struct
import threading
import zlib

# Frame types and flags (SPDY/3 draft, section 2.6).
DATA = 0
SYN_STREAM = 1
SYN_REPLY = 2
RST_STREAM = 3
SETTINGS = 4
PING = 6
GOAWAY = 7
HEADERS = 8
WINDOW_UPDATE = 9
FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02

# RST_STREAM status codes.
PROTOCOL_ERROR = 1
INVALID_STREAM = 2
REFUSED_STREAM = 3
CANCEL = 5
INTERNAL_ERROR = 6


def _dictionary():
    """The SPDY/3 zlib dictionary (draft 3, section 2.6.10.1): length-prefixed
    header names and tokens, then a run of common status and date text."""
    words = ('options head post put delete trace accept accept-charset accept-encoding '
             'accept-language accept-ranges age allow authorization cache-control connection '
             'content-base content-encoding content-language content-length content-location '
             'content-md5 content-range content-type date etag expect expires from host if-match '
             'if-modified-since if-none-match if-range if-unmodified-since last-modified location '
             'max-forwards pragma proxy-authenticate proxy-authorization range referer '
             'retry-after server te trailer transfer-encoding upgrade user-agent vary via warning '
             'www-authenticate method get status').split()
    words += ['200 OK', 'version', 'HTTP/1.1', 'url', 'public', 'set-cookie', 'keep-alive',
              'origin']
    tail = ('100101201202205206300302303304305306307402405406407408409410411412413414415416417'
            '502504505203 Non-Authoritative Information204 No Content301 Moved Permanently'
            '400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error'
            '501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct '
            'Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,'
            'image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,'
            'text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8'
            'charset=iso-8859-1,utf-,*,enq=0.')
    d = b''.join(struct.pack('>I', len(w)) + w.encode() for w in words) + tail.encode()
    assert len(d) == 1423 and zlib.adler32(d) == 0xe3c6a7c2
    return d


DICTIONARY = _dictionary()


def header_block(pairs):
    """Uncompressed name/value block: 32-bit count, then 32-bit-length-prefixed
    name and value per pair. `pairs` is a dict or a list of (name, value);
    bytes are sent as they are, str as UTF-8 (so tests can send bad names)."""
    items = list(pairs.items()) if isinstance(pairs, dict) else list(pairs)
    out = [struct.pack('>I', len(items))]
    for name, value in items:
        for s in (name, value):
            b = s if isinstance(s, bytes) else s.encode()
            out.append(struct.pack('>I', len(b)) + b)
    return b''.join(out)


def parse_header_block(b):
    """Decode an uncompressed block into a dict of name -> value (str)."""
    (count,), pos, out = struct.unpack_from('>I', b), 4, {}
    for _ in range(count):
        vals = []
        for _ in range(2):
            (n,) = struct.unpack_from('>I', b, pos)
            vals.append(b[pos + 4:pos + 4 + n].decode())
            pos += 4 + n
        out[vals[0]] = vals[1]
    if pos != len(b):
        raise ValueError('%d bytes after the header block' % (len(b) - pos))
    return out


class Compressor:
    """One direction's header zlib stream: primed with the dictionary, one
    sync flush per block, kept for the whole connection."""

    def __init__(self, level=9, wbits=15):
        self.z = zlib.compressobj(level, zlib.DEFLATED, wbits, 8, zlib.Z_DEFAULT_STRATEGY,
                                  DICTIONARY)

    def block(self, pairs, raw=None):
        """Compressed block for `pairs` (or for the raw bytes `raw`)."""
        data = header_block(pairs) if raw is None else raw
        return self.z.compress(data) + self.z.flush(zlib.Z_SYNC_FLUSH)


class Decompressor:
    def __init__(self):
        self.z = zlib.decompressobj(zdict=DICTIONARY)

    def block(self, data):
        return parse_header_block(self.z.decompress(data))


def control(ftype, payload, flags=0, version=3):
    return struct.pack('>HHI', 0x8000 | version, ftype, flags << 24 | len(payload)) + payload


def data_frame(sid, data, flags=0):
    return struct.pack('>II', sid & 0x7fffffff, flags << 24 | len(data)) + data


def syn_stream(comp, sid, pairs, flags=0, priority=0):
    return control(SYN_STREAM, struct.pack('>IIBB', sid, 0, priority << 5, 0) + comp.block(pairs),
                   flags)


def rst_stream(sid, status):
    return control(RST_STREAM, struct.pack('>II', sid, status))


def ping(pid):
    return control(PING, struct.pack('>I', pid))


def goaway(last_good, status=0):
    return control(GOAWAY, struct.pack('>II', last_good, status))


def window_update(sid, delta):
    return control(WINDOW_UPDATE, struct.pack('>II', sid, delta))


def parse_frame(buf):
    """(frame dict, bytes taken) for the first whole frame in buf, or None.
    Control frames: type, flags, version, payload; DATA: type 0, sid, data."""
    if len(buf) < 8:
        return None
    w0, w1 = struct.unpack_from('>II', buf)
    n = w1 & 0xffffff
    if len(buf) < 8 + n:
        return None
    payload = bytes(buf[8:8 + n])
    f = {'flags': w1 >> 24}
    if w0 & 0x80000000:
        f.update(type=w0 & 0xffff, version=(w0 >> 16) & 0x7fff, payload=payload)
    else:
        f.update(type=DATA, sid=w0 & 0x7fffffff, data=payload)
    return f, 8 + n


class Stream:
    def __init__(self, sid, headers):
        self.sid = sid
        self.headers = headers      # what SYN_STREAM carried
        self.reply = None           # SYN_REPLY headers once it came
        self.data = bytearray()
        self.fin = False            # the server half-closed
        self.rst = None             # RST_STREAM status from the server


class SpdyClient:
    """A SPDY/3.1 client over one TCP connection; a reader thread collects
    frames per stream after the upgrade."""

    def __init__(self, host, port, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.comp = Compressor()
        self.decomp = Decompressor()
        self.streams = {}
        self.next_sid = 1
        self.next_ping = 1
        self.pongs = set()          # ids of our pings the server echoed
        self.server_pings = 0       # server pings we echoed
        self.goaway = None          # (last_good, status) once received
        self.eof = False
        self.recv_error = None      # what ended the connection, if not a clean close
        self.error = None           # reader failure (bad frame, header block)
        self.other = []             # SETTINGS, WINDOW_UPDATE, HEADERS, unknown frames
        self.cond = threading.Condition()
        self.wlock = threading.Lock()
        self.reader = None

    # ---- HTTP/1.1 upgrade ----

    def upgrade(self, path, versions=('v4.channel.k8s.io',), headers=(), host='localhost'):
        """Send the upgrade request, read the response head. Returns (status,
        headers as a list of (lower-case name, value), body bytes). On 101 the
        reader thread starts and the body is b''."""
        lines = ['GET %s HTTP/1.1' % path, 'Host: %s' % host, 'Connection: Upgrade',
                 'Upgrade: SPDY/3.1']
        lines += ['X-Stream-Protocol-Version: %s' % v for v in versions]
        lines += ['%s: %s' % h for h in headers]
        self.sock.sendall(('\r\n'.join(lines) + '\r\n\r\n').encode())
        buf = b''
        while b'\r\n\r\n' not in buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError('connection closed in the response head: %r' % buf)
            buf += chunk
        head, rest = buf.split(b'\r\n\r\n', 1)
        status_line, *hlines = head.decode('latin-1').split('\r\n')
        status = int(status_line.split()[1])
        hdrs = [(n.strip().lower(), v.strip()) for n, v in (h.split(':', 1) for h in hlines)]
        if status == 101:
            self._rbuf = bytearray(rest)
            self.reader = threading.Thread(target=self._read_loop, daemon=True)
            self.reader.start()
            return status, hdrs, b''
        length = next((int(v) for n, v in hdrs if n == 'content-length'), None)
        body = rest
        while length is None or len(body) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, hdrs, body[:length] if length is not None else body

    # ---- sending ----

    def send_raw(self, b):
        with self.wlock:
            self.sock.sendall(b)

    def open_stream(self, headers, fin=False):
        """SYN_STREAM with `headers` (dict, lower-case names); returns its id."""
        with self.wlock:
            sid = self.next_sid
            self.next_sid += 2
            with self.cond:
                self.streams[sid] = Stream(sid, dict(headers))
            self.sock.sendall(syn_stream(self.comp, sid, headers, FLAG_FIN if fin else 0))
        return sid

    def send(self, sid, data, fin=False):
        """DATA on sid, split in 32 KiB frames as spdystream's io.Copy does."""
        data = bytes(data)
        chunks = [data[i:i + 32768] for i in range(0, len(data), 32768)] or [b'']
        for i, c in enumerate(chunks):
            last = i == len(chunks) - 1
            self.send_raw(data_frame(sid, c, FLAG_FIN if fin and last else 0))

    def close_stream(self, sid):
        """Half close: an empty DATA frame with FIN."""
        self.send_raw(data_frame(sid, b'', FLAG_FIN))

    def reset(self, sid, status=CANCEL):
        self.send_raw(rst_stream(sid, status))

    def ping(self, timeout=None):
        """Send a PING (odd id) and wait for its echo; True when it came."""
        pid = self.next_ping
        self.next_ping += 2
        self.send_raw(ping(pid))
        return self.wait(lambda: pid in self.pongs, timeout)

    def send_goaway(self, last_good=0, status=0):
        self.send_raw(goaway(last_good, status))

    # ---- receiving ----

    def _read_loop(self):
        try:
            while True:
                parsed = parse_frame(self._rbuf)
                if parsed is None:
                    try:
                        chunk = self._recv()
                    except socket.timeout:
                        continue
                    except OSError as e:
                        self.recv_error = e
                        chunk = b''
                    if not chunk:
                        break
                    self._rbuf += chunk
                    continue
                f, n = parsed
                del self._rbuf[:n]
                echo = self._handle(f)
                if echo:
                    self.send_raw(echo)
        except Exception as e:  # noqa: BLE001 -- reported to the waiting test
            with self.cond:
                self.error = e
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def _recv(self):
        """Up to 64 KiB; socket.timeout when nothing came for a while.

        An OpenSSL connection is not for two threads at once: Python's
        SSLSocket reads and writes with the GIL released, and a read racing
        a write corrupts the session (bad record MAC, then EOF). Over TLS,
        wait for bytes outside the lock, then read without blocking under
        the writers' lock."""
        if not isinstance(self.sock, ssl.SSLSocket):
            return self.sock.recv(65536)
        if not self.sock.pending():
            ready, _, _ = select.select([self.sock], [], [], 0.2)
            if not ready:
                raise socket.timeout
        with self.wlock:
            timeout = self.sock.gettimeout()
            self.sock.settimeout(0)
            try:
                return self.sock.recv(65536)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                raise socket.timeout from None  # a partial record, or a ticket only
            finally:
                self.sock.settimeout(timeout)

    def _handle(self, f):
        """Record one frame; returns a frame to send back (a PING echo), sent
        once the state lock is released."""
        t, p, echo = f['type'], f.get('payload', b''), None
        if t != DATA and f['version'] != 3:
            raise ValueError('control frame of version %d' % f['version'])
        with self.cond:
            if t == DATA:
                s = self.streams.get(f['sid'])
                if s is None:
                    raise ValueError('DATA on unknown stream %d' % f['sid'])
                if s.reply is None:
                    raise ValueError('DATA on stream %d before SYN_REPLY' % f['sid'])
                s.data += f['data']
                s.fin = s.fin or bool(f['flags'] & FLAG_FIN)
            elif t == SYN_REPLY:
                (sid,) = struct.unpack_from('>I', p)
                s = self.streams[sid & 0x7fffffff]
                s.reply = self.decomp.block(p[4:])
                s.fin = s.fin or bool(f['flags'] & FLAG_FIN)
            elif t == RST_STREAM:
                sid, status = struct.unpack('>II', p)
                if sid in self.streams:
                    self.streams[sid].rst = status
            elif t == PING:
                (pid,) = struct.unpack('>I', p)
                if pid % 2 == 1:
                    self.pongs.add(pid)
                else:
                    self.server_pings += 1
                    echo = ping(pid)
            elif t == GOAWAY:
                self.goaway = struct.unpack('>II', p)
            elif t in (SYN_STREAM, HEADERS):
                # Keep the shared zlib stream in step even for frames we ignore.
                off = 10 if t == SYN_STREAM else 4
                self.other.append(dict(f, headers=self.decomp.block(p[off:])))
            else:
                self.other.append(f)
            self.cond.notify_all()
        return echo

    def wait(self, pred, timeout=None):
        """Wait until pred() (called under the lock) holds, the connection
        ends or the timeout passes; returns pred()."""
        with self.cond:
            self.cond.wait_for(lambda: pred() or self.eof,
                               self.timeout if timeout is None else timeout)
            return pred()

    def wait_reply(self, sid, timeout=None):
        """Wait for SYN_REPLY or RST_STREAM on sid; returns the reply headers
        (None if the stream was reset or nothing came)."""
        s = self.streams[sid]
        self.wait(lambda: s.reply is not None or s.rst is not None, timeout)
        return s.reply

    def wait_fin(self, sid, timeout=None):
        """Wait for the server's FIN (or RST_STREAM) on sid; True on FIN."""
        s = self.streams[sid]
        self.wait(lambda: s.fin or s.rst is not None, timeout)
        return s.fin

    def data(self, sid):
        with self.cond:
            return bytes(self.streams[sid].data)

    def wait_eof(self, timeout=None):
        """Wait for the server to close the connection."""
        return self.wait(lambda: self.eof, timeout)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        if self.reader:
            self.reader.join(timeout=5)
