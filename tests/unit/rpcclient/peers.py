"""Independent peers for test-rpc-client: a grpcio server on argv[1] and a
Python http.server on argv[2], both unix sockets. Prints "ready"."""
import http.server
import os
import socketserver
import sys
import threading
import time
from concurrent import futures

import grpc


def echo(req, ctx):
    return req


def sleep(req, ctx):
    time.sleep(float(req.decode() or '2'))
    return b'slept'


def fail(req, ctx):
    ctx.abort(grpc.StatusCode.NOT_FOUND, 'no such thing: \u00fc 100%')


def big(req, ctx):
    return b'x' * int(req.decode())


def count(req, ctx):
    for i in range(int(req.decode())):
        yield str(i).encode()


def die(req, ctx):
    os._exit(0)


UNARY = {'Echo': echo, 'Sleep': sleep, 'Fail': fail, 'Big': big, 'Die': die}


class Handler(grpc.GenericRpcHandler):
    def service(self, details):
        name = details.method.rsplit('/', 1)[-1]
        if not details.method.startswith('/test.Echo/'):
            return None
        if name in UNARY:
            return grpc.unary_unary_rpc_method_handler(UNARY[name])
        if name == 'Count':
            return grpc.unary_stream_rpc_method_handler(count)
        return None


class Http(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype='application/json'):
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == '/chunked':
            self.send_response(200)
            self.send_header('Transfer-Encoding', 'chunked')
            self.end_headers()
            for part in (b'hello ', b'chunked ', b'world'):
                self.wfile.write(b'%x\r\n%s\r\n' % (len(part), part))
            self.wfile.write(b'0\r\n\r\n')
        elif self.path == '/slow':
            time.sleep(3)
            self.reply(200, b'{}')
        elif self.path == '/big':
            self.reply(200, b'y' * 100000, 'text/plain')
        elif self.path == '/info':
            self.reply(200, b'{"name": "peer"}')
        else:
            self.reply(404, b'{"error": "not found"}')

    def do_POST(self):
        body = self.rfile.read(int(self.headers['Content-Length']))
        self.reply(201, body, self.headers.get('Content-Type', 'none'))


class UnixHttp(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64), handlers=[Handler()],
                         options=[('grpc.max_send_message_length', 64 << 20),
                                  ('grpc.max_receive_message_length', 64 << 20)])
    server.add_insecure_port('unix:' + sys.argv[1])
    server.start()
    threading.Thread(target=UnixHttp(sys.argv[2], Http).serve_forever, daemon=True).start()
    print('ready', flush=True)
    server.wait_for_termination()


main()
