#!/usr/bin/python3
"""Streaming benchmark, each figure against a floor measured in the same run
(printed, never asserted):

- exec: time to the first output byte of `echo x`, through ocid (the Exec
  call, the HTTP upgrade to SPDY/3.1, the streams, the command) against a
  bare `runc exec` of the same command in the same container; BENCH_N
  rounds (default 30), interleaved. Target: p50 ratio <= 1.3.
- port-forward: BENCH_PF_MB (default 1024) MiB from a server in the pod's
  network namespace, read through `ocic pod port-forward` (SPDY, one data
  stream) against the same read straight from inside the namespace.
  Target: throughput ratio >= 0.8.
- memory: ocid's RSS growth per idle session, with BENCH_IDLE (default 100)
  exec sessions open and quiet. Target: <= 64 KiB each.

Environment: OCID_BUILD (default <repo>/build), BENCH_N, BENCH_PF_MB,
BENCH_IDLE, BENCH_KEEP=1 keeps the temp dir. Run as root; the registry and
every connection stay on loopback and in the pod's namespace.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, 'tests', 'integration'))
sys.path.insert(0, os.path.join(TOP, 'bench'))
from benchlib import pb_module, pct  # noqa: E402
from ctr import Client, pull, rss_kb, start_daemon  # noqa: E402
from registry import Registry, busybox_image  # noqa: E402
from spdy import SpdyClient  # noqa: E402

RUNC = shutil.which('runc') or '/usr/sbin/runc'
BUSYBOX = shutil.which('busybox') or '/bin/busybox'


def run_pod(c, pb, tmp):
    logs = os.path.join(tmp, 'logs')
    os.makedirs(logs)
    cfg = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name='bench', namespace='bench', uid='bench'),
        log_directory=logs, linux=pb.LinuxPodSandboxConfig())
    return c.call('RunPodSandbox', pb.RunPodSandboxRequest(config=cfg)).pod_sandbox_id, cfg


def spdy_exec(url, stdout=True):
    """Open an exec session (v4, stdout + error streams); the client."""
    u = urllib.parse.urlsplit(url)
    cl = SpdyClient(u.hostname, u.port)
    status, _, body = cl.upgrade(u.path, ['v4.channel.k8s.io'])
    if status != 101:
        raise SystemExit(f'upgrade refused: {status} {body!r}')
    cl.err = cl.open_stream({'streamtype': 'error'})
    cl.out = cl.open_stream({'streamtype': 'stdout'}) if stdout else None
    return cl


def first_byte_ocid(c, pb, cid):
    t0 = time.monotonic()
    url = c.call('Exec', pb.ExecRequest(container_id=cid, cmd=['echo', 'x'], stdout=True)).url
    cl = spdy_exec(url)
    cl.wait(lambda: len(cl.data(cl.out)) > 0, timeout=10)
    t = time.monotonic() - t0
    cl.wait_fin(cl.err)
    cl.close()
    return t


def first_byte_floor(root, cid):
    t0 = time.monotonic()
    p = subprocess.Popen([RUNC, '--root', root, 'exec', cid, 'echo', 'x'],
                         stdout=subprocess.PIPE)
    p.stdout.read(1)
    t = time.monotonic() - t0
    p.communicate()
    return t


def exec_latency(c, pb, cid, runtime_root, n):
    o, f = [], []
    for i in range(n):
        pair = [lambda: o.append(first_byte_ocid(c, pb, cid)),
                lambda: f.append(first_byte_floor(runtime_root, cid))]
        for fn in (pair if i % 2 == 0 else pair[::-1]):
            fn()
    return o, f


def read_all(sock):
    n = 0
    buf = bytearray(1 << 20)
    while True:
        k = sock.recv_into(buf)
        if k == 0:
            return n
        n += k


def serve(netns, port, nbytes):
    """A server in the pod's namespace sending nbytes to one client."""
    return subprocess.Popen(
        ['nsenter', '--net=' + netns, 'sh', '-c',
         f'head -c {nbytes} /dev/zero | {BUSYBOX} nc -l -p {port}'],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_listening(netns, port):
    for _ in range(200):
        r = subprocess.run(['nsenter', '--net=' + netns, 'sh', '-c',
                            f'grep -q ":{port:04X} 0*:0000 0A" /proc/net/tcp /proc/net/tcp6'])
        if r.returncode == 0:
            return
        time.sleep(0.01)
    raise SystemExit('the server in the pod did not listen')


def pf_floor(netns, port, nbytes):
    srv = serve(netns, port, nbytes)
    wait_listening(netns, port)
    code = ('import socket,sys,time\n'
            f'sys.path.insert(0, {os.path.join(TOP, "bench")!r})\n'
            'from stream import read_all\n'
            f's = socket.create_connection(("127.0.0.1", {port}))\n'
            't0 = time.monotonic(); n = read_all(s); print(n, time.monotonic() - t0)\n')
    out = subprocess.run(['nsenter', '--net=' + netns, sys.executable, '-c', code],
                         capture_output=True, text=True, check=True).stdout.split()
    srv.wait()
    return int(out[0]), float(out[1])


def pf_ocid(ocic, sock, pod, netns, port, local, nbytes):
    srv = serve(netns, port, nbytes)
    wait_listening(netns, port)
    fwd = subprocess.Popen([ocic, '--socket', sock, 'pod', 'port-forward', '--id', pod,
                            f'{local}:{port}'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
    fwd.stdout.readline()  # "Forwarding from ..."
    s = socket.create_connection(('127.0.0.1', local))
    t0 = time.monotonic()
    n = read_all(s)
    t = time.monotonic() - t0
    s.close()
    fwd.terminate()
    fwd.wait()
    srv.wait()
    return n, t


def idle_sessions(c, pb, pid, cid, n):
    before = rss_kb(pid)
    clients = []
    for _ in range(n):
        url = c.call('Exec', pb.ExecRequest(container_id=cid, cmd=['sleep', '600'],
                                             stdout=True)).url
        clients.append(spdy_exec(url))
    time.sleep(1)
    after = rss_kb(pid)
    for cl in clients:
        cl.close()
    return before, after


def main():
    n = int(os.environ.get('BENCH_N', '30'))
    mb = int(os.environ.get('BENCH_PF_MB', '1024'))
    idle = int(os.environ.get('BENCH_IDLE', '100'))
    build = os.path.abspath(os.environ.get('OCID_BUILD', os.path.join(TOP, 'build')))
    ocic = os.path.join(build, 'src', 'cmd', 'ocic', 'ocic')
    tmp = tempfile.mkdtemp(prefix='ocid-bench-stream-')
    reg = Registry(os.path.join(tmp, 'registry')).start()
    proc = c = pod = None
    try:
        busybox_image(reg, 'bench/busybox')
        pb = pb_module(tmp)
        proc, sock = start_daemon(tmp, reg)
        c = Client(pb, sock)
        pull(c, pb, f'{reg.host}/bench/busybox:latest')
        pod, pod_cfg = run_pod(c, pb, tmp)
        cfg = pb.ContainerConfig(metadata=pb.ContainerMetadata(name='s'),
                                 image=pb.ImageSpec(image=f'{reg.host}/bench/busybox:latest'),
                                 command=['sleep', '100000'], log_path='s.log')
        cid = c.call('CreateContainer', pb.CreateContainerRequest(
            pod_sandbox_id=pod, config=cfg, sandbox_config=pod_cfg)).container_id
        c.call('StartContainer', pb.StartContainerRequest(container_id=cid))
        runtime_root = os.path.join(tmp, 'run', 'runtime')
        netns = os.path.join(tmp, 'run', 'pods', pod, 'ns', 'net')

        o, f = exec_latency(c, pb, cid, runtime_root, n)
        print(f'exec, first output byte (N={n}): ocid p50 {pct(o, 50) * 1e3:.1f} ms '
              f'p90 {pct(o, 90) * 1e3:.1f} ms; bare runc exec p50 {pct(f, 50) * 1e3:.1f} ms '
              f'p90 {pct(f, 90) * 1e3:.1f} ms; ratio p50 {pct(o, 50) / pct(f, 50):.2f} '
              f'(target <= 1.3)')

        nbytes = mb << 20
        has_pf = subprocess.run([ocic, 'pod', 'port-forward', '--help'],
                                capture_output=True).returncode == 0
        if has_pf:
            fb, ft = pf_floor(netns, 9000, nbytes)
            ob, ot = pf_ocid(ocic, sock, pod, netns, 9000, 19000 + os.getpid() % 1000, nbytes)
            if fb != nbytes or ob != nbytes:
                print(f'port-forward: short read (floor {fb}, ocid {ob} of {nbytes} bytes)')
            print(f'port-forward, {mb} MiB: direct in the namespace {fb / ft / 2**20:.0f} MiB/s, '
                  f'through ocid {ob / ot / 2**20:.0f} MiB/s; ratio {(ob / ot) / (fb / ft):.2f} '
                  f'(target >= 0.8)')
        else:
            print('port-forward: skipped (this ocic has no pod port-forward)')

        before, after = idle_sessions(c, pb, proc.pid, cid, idle)
        print(f'idle sessions: ocid RSS {before} kB, with {idle} open {after} kB: '
              f'{(after - before) / idle:.1f} KiB per session (target <= 64)')
    finally:
        if c and pod:
            c.call('StopPodSandbox', pb.StopPodSandboxRequest(pod_sandbox_id=pod))
            c.call('RemovePodSandbox', pb.RemovePodSandboxRequest(pod_sandbox_id=pod))
        if proc:
            proc.terminate()
            proc.wait()
        reg.stop()
        subprocess.run(['sh', '-c', 'for m in $(grep ' + tmp + ' /proc/mounts | cut -d" " -f2 '
                        '| sort -r); do umount -l $m; done'], check=False)
        if not os.environ.get('BENCH_KEEP'):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
