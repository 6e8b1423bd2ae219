#!/usr/bin/python3
"""Container benchmark: CreateContainer+StartContainer latency (p50/p90 over
N, default 50) through ocid against a floor measured in the same run:
`runc create` + `runc start` by hand of a bundle copied from one of ocid's
(same spec, same rootfs, a cgroup of its own). Also ListContainers and
ContainerStatus latency with those N containers (plus BENCH_LIST_N created
but not started ones, default 0), and ocid's RSS with N running containers.
Prints milliseconds and ratios (target: create+start <= 1.15 x floor,
ListContainers p50 <= 5 ms with 1,000 containers). Never fails on a figure.

Environment: OCID_BUILD (default <repo>/build), BENCH_N (default 50),
BENCH_LIST_N (default 0). Run as root; a registry runs on 127.0.0.1 only.
"""
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, 'tests', 'integration'))
import grpc  # noqa: E402
from registry import Registry, busybox_image  # noqa: E402

RUNC = shutil.which('runc') or '/usr/sbin/runc'


def pb_module(tmp):
    proto = os.path.join(TOP, 'api', 'runtime', 'v1', 'api.proto')
    subprocess.run(['protoc', '--proto_path=' + os.path.dirname(proto), '--python_out=' + tmp,
                    proto], check=True)
    sys.path.insert(0, tmp)
    return importlib.import_module('api_pb2')


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


class Client:
    def __init__(self, pb, sock):
        self.pb = pb
        self.ch = grpc.insecure_channel('unix:' + sock)

    def call(self, method, req, timeout=60):
        svc = self.pb.DESCRIPTOR.services_by_name['RuntimeService']
        m = svc.methods_by_name[method]
        resp_t = getattr(self.pb, m.output_type.name)
        stub = self.ch.unary_unary(f'/runtime.v1.RuntimeService/{method}',
                                   request_serializer=lambda r: r.SerializeToString(),
                                   response_deserializer=resp_t.FromString)
        return stub(req, timeout=timeout)


def start_daemon(tmp, reg):
    build = os.path.abspath(os.environ.get('OCID_BUILD', os.path.join(TOP, 'build')))
    etc = os.path.join(tmp, 'etc')
    os.makedirs(etc)
    with open(os.path.join(etc, 'registries.conf'), 'w') as f:
        f.write(f'[[registry]]\nlocation = "{reg.host}"\ninsecure = true\n')
    with open(os.path.join(etc, 'policy.json'), 'w') as f:
        json.dump({'default': [{'type': 'insecureAcceptAnything'}]}, f)
    sock = os.path.join(tmp, 'run', 'ocid.sock')
    args = [os.path.join(build, 'src', 'cmd', 'ocid', 'ocid'), '--root', os.path.join(tmp, 'root'),
            '--runroot', os.path.join(tmp, 'run'), '--listen', sock,
            '--config', os.path.join(tmp, 'none.conf'), '--config-dir', os.path.join(tmp, 'c.d'),
            '--registries-conf', os.path.join(etc, 'registries.conf'),
            '--signature-policy', os.path.join(etc, 'policy.json'), '--log-level', os.environ.get('BENCH_LOG_LEVEL', 'warn')]
    log = open(os.path.join(tmp, 'ocid.log'), 'wb')
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while not os.path.exists(sock):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit('ocid did not start; see ' + log.name)
        time.sleep(0.02)
    return proc, sock


def floor(n, bundle_src, tmp):
    """runc create + start of copies of one ocid bundle."""
    spec = json.load(open(os.path.join(bundle_src, 'config.json')))
    spec['process']['terminal'] = False
    spec['process']['args'] = ['/bin/sleep', '600']
    root = os.path.join(tmp, 'floor-runc')
    times = []
    for i in range(n):
        b = os.path.join(tmp, f'floor{i}')
        os.makedirs(b)
        s = dict(spec)
        s['linux'] = dict(spec['linux'], cgroupsPath=f'/ocid-bench-floor/f{os.getpid()}-{i}')
        with open(os.path.join(b, 'config.json'), 'w') as f:
            json.dump(s, f)
        t0 = time.monotonic()
        subprocess.run([RUNC, '--root', root, 'create', '--bundle', b, f'floor{i}'], check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        subprocess.run([RUNC, '--root', root, 'start', f'floor{i}'], check=True)
        times.append(time.monotonic() - t0)
    for i in range(n):
        subprocess.run([RUNC, '--root', root, 'delete', '--force', f'floor{i}'],
                       stderr=subprocess.DEVNULL)
    return times


def main():
    n = int(os.environ.get('BENCH_N', '50'))
    list_n = int(os.environ.get('BENCH_LIST_N', '0'))
    tmp = tempfile.mkdtemp(prefix='ocid-bench-ctr-')
    pb = pb_module(tmp)
    reg = Registry(os.path.join(tmp, 'registry')).start()
    proc = None
    try:
        busybox_image(reg, 'bench/busybox')
        image = f'{reg.host}/bench/busybox:latest'
        proc, sock = start_daemon(tmp, reg)
        c = Client(pb, sock)
        isvc = pb.DESCRIPTOR.services_by_name['ImageService'].methods_by_name['PullImage']
        pull = c.ch.unary_unary('/runtime.v1.ImageService/PullImage',
                                request_serializer=lambda r: r.SerializeToString(),
                                response_deserializer=getattr(pb, isvc.output_type.name).FromString)
        pull(pb.PullImageRequest(image=pb.ImageSpec(image=image)), timeout=60)
        logs = os.path.join(tmp, 'logs')
        os.makedirs(logs)
        pod_cfg = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name='bench', namespace='bench', uid='bench'),
            log_directory=logs, linux=pb.LinuxPodSandboxConfig(
                security_context=pb.LinuxSandboxSecurityContext(
                    namespace_options=pb.NamespaceOption(network=pb.NODE))))
        pod = c.call('RunPodSandbox', pb.RunPodSandboxRequest(config=pod_cfg)).pod_sandbox_id

        def create(name):
            cfg = pb.ContainerConfig(metadata=pb.ContainerMetadata(name=name),
                                     image=pb.ImageSpec(image=image),
                                     command=['/bin/sleep', '600'], log_path=f'{name}.log')
            return c.call('CreateContainer', pb.CreateContainerRequest(
                pod_sandbox_id=pod, config=cfg, sandbox_config=pod_cfg)).container_id

        times, ids, ct = [], [], []
        for i in range(n):
            t0 = time.monotonic()
            cid = create(f'c{i}')
            ct.append(time.monotonic() - t0)
            c.call('StartContainer', pb.StartContainerRequest(container_id=cid))
            times.append(time.monotonic() - t0)
            ids.append(cid)
        for i in range(list_n):
            create(f'l{i}')
        fl = floor(n, os.path.join(tmp, 'run', 'containers', ids[0]), tmp)
        lst, st = [], []
        for _ in range(200):
            t0 = time.monotonic()
            c.call('ListContainers', pb.ListContainersRequest())
            lst.append(time.monotonic() - t0)
            t0 = time.monotonic()
            c.call('ContainerStatus', pb.ContainerStatusRequest(container_id=ids[0]))
            st.append(time.monotonic() - t0)
        rss = 0
        with open(f'/proc/{proc.pid}/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    rss = int(line.split()[1])
        ms = lambda v: v * 1000  # noqa: E731
        print(f'create+start over {n}: p50 {ms(pct(times, 50)):.1f} ms  '
              f'p90 {ms(pct(times, 90)):.1f} ms')
        print(f'floor runc create+start:  p50 {ms(pct(fl, 50)):.1f} ms  '
              f'p90 {ms(pct(fl, 90)):.1f} ms')
        print(f'  of which CreateContainer p50 {ms(pct(ct, 50)):.1f} ms')
        print(f'ratio p50 {pct(times, 50) / pct(fl, 50):.2f} (target <= 1.15)')
        print(f'ListContainers with {n + list_n}: p50 {ms(pct(lst, 50)):.2f} ms  '
              f'p90 {ms(pct(lst, 90)):.2f} ms (target p50 <= 5 ms at 1,000)')
        print(f'ContainerStatus: p50 {ms(pct(st, 50)):.2f} ms')
        print(f'ocid RSS with {n} running containers: {rss} KB')
        c.call('StopPodSandbox', pb.StopPodSandboxRequest(pod_sandbox_id=pod), timeout=300)
        c.call('RemovePodSandbox', pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=300)
    finally:
        if proc:
            proc.terminate()
            proc.wait(10)
        reg.stop()
        if not os.environ.get('BENCH_KEEP'):
            subprocess.run(['rm', '-rf', tmp])
        else:
            print('kept', tmp)


if __name__ == '__main__':
    main()
