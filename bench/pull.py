#!/usr/bin/python3
"""Image pull benchmark: a five-layer image (about 100 MB unpacked) with
gzip layers and one with zstd layers, pushed to a docker-registry on
loopback, pulled by ocid (PullImage over gRPC). In the same run the floor:
fetch the same blobs with curl, decompress with the fastest tool present
(igzip, else pigz, else gzip; zstd) and untar with tar into the same file
system, all layers at once like ocid. ocid runs twice: with its default
layer_sync = true (each layer flushed to disk before it is committed; also
compared with the floor followed by `sync -f`, the same durability) and
with layer_sync = false. Each is run BENCH_REPS times, interleaved (the
image removed from ocid between pulls), and medians are compared. Prints
seconds and ocid/floor (target: <= 1.3). Never fails on a figure.

Environment: OCID_BUILD (default <repo>/build), BENCH_MB (default 100),
BENCH_REPS (default 5).
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, 'tests', 'integration'))
import grpc  # noqa: E402
from benchlib import pb_module  # noqa: E402
from registry import Layer, Registry, busybox_entries, push_image  # noqa: E402


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


def floor(reg, repo, layers, kind, work, sync):
    procs = []
    for i in range(len(layers)):
        d = os.path.join(work, f'floor-{kind}-{i}')
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    t0 = time.monotonic()
    for i, l in enumerate(layers):
        d = os.path.join(work, f'floor-{kind}-{i}')
        url = f'http://{reg.host}/v2/{repo}/blobs/{l.digest}'
        cmd = f'curl -sf {url} | {" ".join(decompressor(kind))} | tar -x -C {d}'
        if sync:
            cmd += f' && sync -f {d}'
        procs.append(subprocess.Popen(['sh', '-c', cmd]))
    for p in procs:
        p.wait()
    return time.monotonic() - t0


class Daemon:
    def __init__(self, pb, tmp, name, registries_conf, extra):
        build = os.environ.get('OCID_BUILD', os.path.join(TOP, 'build'))
        sock = os.path.join(tmp, name, 'run', 'ocid.sock')
        self.proc = subprocess.Popen(
            [os.path.join(build, 'src', 'cmd', 'ocid', 'ocid'),
             '--root', os.path.join(tmp, name, 'root'), '--runroot', os.path.join(tmp, name, 'run'),
             '--listen', sock, '--config', os.path.join(tmp, 'none.conf'),
             '--registries-conf', registries_conf,
             '--log-level', os.environ.get('BENCH_LOG_LEVEL', 'warn')] + extra)
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        self.ch = grpc.insecure_channel('unix:' + sock)
        self.pull = self.method(pb, 'PullImage', pb.PullImageResponse)
        self.remove = self.method(pb, 'RemoveImage', pb.RemoveImageResponse)

    def method(self, pb, name, resp):
        return self.ch.unary_unary(f'/runtime.v1.ImageService/{name}',
                                   request_serializer=lambda r: r.SerializeToString(),
                                   response_deserializer=resp.FromString)

    def stop(self):
        self.ch.close()
        self.proc.terminate()
        self.proc.wait()


def pull_time(pb, d, spec):
    t0 = time.monotonic()
    d.pull(pb.PullImageRequest(image=spec), timeout=600)
    t = time.monotonic() - t0
    d.remove(pb.RemoveImageRequest(image=spec), timeout=600)
    return t


def main():
    mb = int(os.environ.get('BENCH_MB', '100'))
    reps = int(os.environ.get('BENCH_REPS', '5'))
    tmp = tempfile.mkdtemp(prefix='ocid-bench-pull-', dir='/var/tmp')
    pb = pb_module(tmp)
    reg = Registry(os.path.join(tmp, 'registry')).start()
    daemons = []
    try:
        conf = os.path.join(tmp, 'registries.conf')
        with open(conf, 'w') as f:
            f.write(f'[[registry]]\nlocation = "{reg.host}"\ninsecure = true\n')
        synced = Daemon(pb, tmp, 'synced', conf, [])
        daemons.append(synced)
        unsynced = Daemon(pb, tmp, 'unsynced', conf, ['--layer-sync=false'])
        daemons.append(unsynced)
        print(f'pull benchmark: 5 layers, about {mb} MB unpacked, registry on loopback, '
              f'median of {reps}')
        for kind in ('gzip', 'zstd'):
            repo = f'bench/{kind}'
            layers = layers_for(mb, kind)
            push_image(reg, repo, 'v1', layers, kind='oci')
            size = sum(len(l.blob) for l in layers) / 1e6
            spec = pb.ImageSpec(image=f'{reg.host}/{repo}:v1')
            t = {k: [] for k in ('ocid', 'ocid_nosync', 'floor', 'floor_sync')}
            for _ in range(reps):
                t['ocid'].append(pull_time(pb, synced, spec))
                t['floor_sync'].append(floor(reg, repo, layers, kind, tmp, True))
                t['ocid_nosync'].append(pull_time(pb, unsynced, spec))
                t['floor'].append(floor(reg, repo, layers, kind, tmp, False))
            m = {k: statistics.median(v) for k, v in t.items()}
            tool = decompressor(kind)[0]
            print(f'  {kind}: {size:.0f} MB compressed, floor = curl | {tool} | tar')
            print(f'    ocid (layer_sync = true, the default) {m["ocid"]:.2f}s  floor {m["floor"]:.2f}s'
                  f'  ocid/floor {m["ocid"] / m["floor"]:.2f} (target <= 1.3)')
            print(f'      against the floor + sync -f {m["floor_sync"]:.2f}s'
                  f'  ocid/floor {m["ocid"] / m["floor_sync"]:.2f} (same durability)')
            print(f'    ocid (layer_sync = false)         {m["ocid_nosync"]:.2f}s  floor {m["floor"]:.2f}s'
                  f'  ocid/floor {m["ocid_nosync"] / m["floor"]:.2f} (target <= 1.3)')
    finally:
        for d in daemons:
            d.stop()
        reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
