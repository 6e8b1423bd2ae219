"""A minimal raw HTTP/2 (h2c prior knowledge) client for what grpcio hides:
exact grpc-timeout headers, RST_STREAM, the compressed flag, odd sizes."""
import socket
import struct
import time

import h2.config
import h2.connection
import h2.events


def grpc_frame(payload, compressed=False):
    return struct.pack('>BI', 1 if compressed else 0, len(payload)) + payload


class RawH2:
    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.conn.increment_flow_control_window(1 << 30)
        self.flush()
        self.streams = {}  # id -> dict(headers, trailers, data, ended, reset, t_end)

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def start(self, path, body=b'', extra_headers=(), end=True, authority='localhost',
              method='POST', content_type='application/grpc'):
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(':method', method), (':scheme', 'http'), (':path', path),
                (':authority', authority), ('content-type', content_type),
                ('te', 'trailers')] + list(extra_headers)
        self.conn.send_headers(sid, hdrs, end_stream=(end and not body))
        self.streams[sid] = {'headers': None, 'trailers': None, 'data': b'', 'ended': False,
                             'reset': None, 't_end': None}
        if body:
            self.send_data(sid, body, end)
        self.flush()
        return sid

    def send_data(self, sid, body, end=True):
        off = 0
        while off < len(body) or (off == 0 and not body):
            window = min(self.conn.local_flow_control_window(sid),
                         self.conn.max_outbound_frame_size)
            if window <= 0:
                self.pump(0.5)
                if self.streams[sid]['ended'] or self.streams[sid]['reset'] is not None:
                    return
                continue
            chunk = body[off:off + window]
            off += len(chunk)
            self.conn.send_data(sid, chunk, end_stream=(end and off >= len(body)))
            self.flush()
            if not body:
                break

    def reset(self, sid, code=8):
        self.conn.reset_stream(sid, code)
        self.flush()

    def pump(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            return True
        if not data:
            return False
        for ev in self.conn.receive_data(data):
            st = self.streams.get(getattr(ev, 'stream_id', 0))
            if isinstance(ev, h2.events.ResponseReceived):
                st['headers'] = dict((k.decode(), v.decode()) for k, v in ev.headers)
            elif isinstance(ev, h2.events.TrailersReceived):
                st['trailers'] = dict((k.decode(), v.decode()) for k, v in ev.headers)
            elif isinstance(ev, h2.events.DataReceived):
                st['data'] += ev.data
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                st['ended'] = True
                st['t_end'] = time.monotonic()
            elif isinstance(ev, h2.events.StreamReset):
                if st is not None:
                    st['reset'] = ev.error_code
                    st['t_end'] = time.monotonic()
        self.flush()
        return True

    def wait(self, sid, timeout=10.0):
        deadline = time.monotonic() + timeout
        st = self.streams[sid]
        while not st['ended'] and st['reset'] is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f'stream {sid} did not finish')
            if not self.pump(min(left, 0.5)):
                raise ConnectionError('server closed the connection')
        return st

    def status(self, sid, timeout=10.0):
        """(grpc-status int, grpc-message) from trailers or a trailers-only reply."""
        st = self.wait(sid, timeout)
        t = st['trailers'] or st['headers'] or {}
        code = t.get('grpc-status')
        if code is None and st['reset'] is not None:
            return None, f'stream reset with RST_STREAM error {st["reset"]}, no grpc-status'

        return (int(code) if code is not None else None), t.get('grpc-message', '')

    def close(self):
        try:
            self.conn.close_connection()
            self.flush()
        except OSError:
            pass
        self.sock.close()
