#!/usr/bin/python3
"""Image pull benchmark: a five-layer image (about 100 MB unpacked) with
gzip layers and one with zstd layers, pushed to a docker-registry on
loopback, pulled by ocid (PullImage over gRPC). In the same run the floor:
fetch the same blobs with curl, decompress with the fastest tool present
(igzip, else pigz, else gzip; zstd) and untar with tar into the same file
system, all layers at once like ocid. Prints seconds and ocid/floor
(target: <= 1.3). Never fails on a figure.

Environment: OCID_BUILD (default <repo>/build), BENCH_MB (default 100).
"""
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, 'tests', 'integration'))
import grpc  # noqa: E402
from registry import Layer, Registry, busybox_entries, push_image  # noqa: E402


def pb_module(tmp):
    proto = os.path.join(TOP, 'api', 'runtime', 'v1', 'api.proto')
    subprocess.run(['protoc', '--proto_path=' + os.path.dirname(proto), '--python_out=' + tmp,
                    proto], check=True)
    sys.path.insert(0, tmp)
    return importlib.import_module('api_pb2')


def layers_for(total_mb, compression):
    """Five layers: busybox, then four of files half random, half text."""
    out = [Layer(busybox_entries(), compression)]
    per = max(1, total_mb // 4)
    for n in range(4):
        entries = [(f'd{n}', 'dir', None, {})]
        for i in range(per * 4):
            blob = os.urandom(128 << 10) + (b'ocid bench line %d\n' % i) * 7000
            entries.append((f'd{n}/f{i}', 'file', blob[:256 << 10], {}))
        out.append(Layer(entries, compression))
    return out


def decompressor(kind):
    if kind == 'zstd':
        return ['zstd', '-dc']
    for tool in ('igzip', 'pigz', 'gzip'):
        if shutil.which(tool):
            return [tool, '-dc']
    return ['gzip', '-dc']


def floor(reg, repo, layers, kind, work):
    procs = []
    t0 = time.monotonic()
    for i, l in enumerate(layers):
        d = os.path.join(work, f'floor-{kind}-{i}')
        os.makedirs(d)
        url = f'http://{reg.host}/v2/{repo}/blobs/{l.digest}'
        cmd = f'curl -sf {url} | {" ".join(decompressor(kind))} | tar -x -C {d}'
        procs.append(subprocess.Popen(['sh', '-c', cmd]))
    for p in procs:
        p.wait()
    return time.monotonic() - t0


def main():
    build = os.environ.get('OCID_BUILD', os.path.join(TOP, 'build'))
    ocid = os.path.join(build, 'src', 'cmd', 'ocid', 'ocid')
    mb = int(os.environ.get('BENCH_MB', '100'))
    tmp = tempfile.mkdtemp(prefix='ocid-bench-pull-', dir='/var/tmp')
    pb = pb_module(tmp)
    reg = Registry(os.path.join(tmp, 'registry')).start()
    daemon = None
    try:
        conf = os.path.join(tmp, 'registries.conf')
        with open(conf, 'w') as f:
            f.write(f'[[registry]]\nlocation = "{reg.host}"\ninsecure = true\n')
        sock = os.path.join(tmp, 'run', 'ocid.sock')
        daemon = subprocess.Popen([ocid, '--root', os.path.join(tmp, 'root'), '--runroot',
                                   os.path.join(tmp, 'run'), '--listen', sock,
                                   '--config', os.path.join(tmp, 'none.conf'),
                                   '--registries-conf', conf, '--log-level', 'warn'])
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        ch = grpc.insecure_channel('unix:' + sock)
        stub = ch.unary_unary('/runtime.v1.ImageService/PullImage',
                              request_serializer=lambda r: r.SerializeToString(),
                              response_deserializer=pb.PullImageResponse.FromString)
        print(f'pull benchmark: 5 layers, about {mb} MB unpacked, registry on loopback')
        for kind in ('gzip', 'zstd'):
            repo = f'bench/{kind}'
            layers = layers_for(mb, kind)
            push_image(reg, repo, 'v1', layers, kind='oci')
            size = sum(len(l.blob) for l in layers) / 1e6
            t0 = time.monotonic()
            stub(pb.PullImageRequest(image=pb.ImageSpec(image=f'{reg.host}/{repo}:v1')),
                 timeout=600)
            t_ocid = time.monotonic() - t0
            t_floor = floor(reg, repo, layers, kind, tmp)
            print(f'  {kind}: {size:.0f} MB compressed  ocid {t_ocid:.2f}s  '
                  f'floor ({decompressor(kind)[0]}) {t_floor:.2f}s  '
                  f'ocid/floor {t_ocid / t_floor:.2f} (target <= 1.3)')
        ch.close()
    finally:
        if daemon:
            daemon.terminate()
            daemon.wait()
        reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
