#!/usr/bin/python3
"""Container benchmark: CreateContainer+StartContainer latency (p50/p90 over
N, default 50) through ocid against a floor measured in the same run and
under the same load: `runc create` + `runc start` by hand of a bundle copied
from one of ocid's (same spec, same rootfs, a cgroup of its own). The two
are interleaved in pairs of alternating order, and the floor's containers
keep running like ocid's, so the i-th of each starts beside 2i others.
Also ListContainers and ContainerStatus latency with those N containers
plus BENCH_LIST_N created but not started ones (default 0), and ocid's RSS
with exactly N running containers. Prints milliseconds, a per-step split
and ratios (targets: create+start p50 <= 1.15 x floor; ListContainers p50
<= 5 ms with 1,000 containers: BENCH_N=100 BENCH_LIST_N=900), then
RemoveContainer of each (stopped) against `runc delete` + umount + rm of
the floor's (target p50 <= floor + 5 ms). Never fails
on a figure; every container (ocid's and the floor's) is removed at the end.

Environment: OCID_BUILD (default <repo>/build), BENCH_N (default 50),
BENCH_LIST_N (default 0), BENCH_LOG_LEVEL (ocid's, default warn; its log
is <tmp>/ocid.log), BENCH_KEEP=1 keeps the temp dir. Run as root; a
registry runs on 127.0.0.1 only.
"""
import ctypes
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, 'tests', 'integration'))
import grpc  # noqa: E402
from benchlib import finish_tmp, pb_module, pct, start_ocid  # noqa: E402
from registry import Registry, busybox_image  # noqa: E402

RUNC = shutil.which('runc') or '/usr/sbin/runc'
FLOOR_CGROUP = 'ocid-bench-floor'
LIBC = ctypes.CDLL(None, use_errno=True)
MOUNT_LOCK = threading.Lock()


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


class Floor:
    """`runc create` + `runc start` of copies of one ocid bundle (same spec,
    same rootfs, a cgroup of its own, stdio on /dev/null); its containers
    stay running, like ocid's, until delete_all()."""

    def __init__(self, bundle_src, tmp):
        self.spec = json.load(open(os.path.join(bundle_src, 'config.json')))
        self.spec['process']['terminal'] = False
        self.spec['process']['args'] = ['/bin/sleep', '600']
        self.root = os.path.join(tmp, 'floor-runc')
        self.tmp = tmp
        self.names = []
        self.mounts = []
        self.layers = os.path.join(tmp, 'root', 'layers')
        self.lower = overlay_lower(self.spec['root']['path'])

    def mount(self, d):
        """A fresh overlay of the same layers, as each ocid container has
        (its first run copies up the mount points runc creates)."""
        for sub in ('upper', 'work', 'merged'):
            os.makedirs(os.path.join(d, sub))
        opts = f'lowerdir={self.lower},upperdir={d}/upper,workdir={d}/work'
        with MOUNT_LOCK:  # the working directory is the process's, not a thread's
            cwd = os.getcwd()
            os.chdir(self.layers)  # the short lower paths are relative to layers/
            try:
                r = LIBC.mount(b'overlay', f'{d}/merged'.encode(), b'overlay', 0, opts.encode())
            finally:
                os.chdir(cwd)
        if r < 0:
            raise OSError(ctypes.get_errno(), 'mount overlay on ' + d)
        self.mounts.append(f'{d}/merged')
        return f'{d}/merged'

    def one(self, i, spec=None):
        spec = spec or self.spec
        b = os.path.join(self.tmp, f'floor{i}')
        os.makedirs(b)
        s = dict(spec)
        s['linux'] = dict(spec['linux'],
                          cgroupsPath=f'/{FLOOR_CGROUP}/f{os.getpid()}-{i}')
        name = f'floor{i}'
        t0 = time.monotonic()
        s['root'] = dict(spec['root'], path=self.mount(b))
        with open(os.path.join(b, 'config.json'), 'w') as f:
            json.dump(s, f)
        # A file, not a pipe: the container's init keeps runc's stdio.
        with open(os.path.join(b, 'runc.err'), 'w+b') as err:
            r = subprocess.run([RUNC, '--root', self.root, 'create', '--bundle', b, name],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
            if r.returncode != 0:
                err.seek(0)
                raise SystemExit(f'runc create {name}: {err.read().decode(errors="replace")}')
        self.names.append(name)
        t1 = time.monotonic()
        subprocess.run([RUNC, '--root', self.root, 'start', name], check=True)
        t2 = time.monotonic()
        return t1 - t0, t2 - t0

    def stop(self, i):
        """SIGKILL, then wait until runc sees the container stopped."""
        name = f'floor{i}'
        subprocess.run([RUNC, '--root', self.root, 'kill', name, 'KILL'], check=True)
        while json.loads(subprocess.run([RUNC, '--root', self.root, 'state', name],
                                        capture_output=True, check=True).stdout)['status'] != 'stopped':
            time.sleep(0.005)

    def remove(self, i):
        """What RemoveContainer has to do at least: `runc delete`, unmount
        the rootfs, delete the container's directory. Seconds."""
        name, b = f'floor{i}', os.path.join(self.tmp, f'floor{i}')
        t0 = time.monotonic()
        subprocess.run([RUNC, '--root', self.root, 'delete', name], check=True)
        if LIBC.umount2(f'{b}/merged'.encode(), 0) < 0:
            raise OSError(ctypes.get_errno(), 'umount ' + b)
        shutil.rmtree(b)
        t = time.monotonic() - t0
        self.names.remove(name)
        self.mounts.remove(f'{b}/merged')
        return t

    def delete_all(self):
        for name in self.names:
            subprocess.run([RUNC, '--root', self.root, 'delete', '--force', name],
                           stderr=subprocess.DEVNULL)
        self.names = []
        for m in self.mounts:
            LIBC.umount2(m.encode(), 2)  # MNT_DETACH
        self.mounts = []
        for d in glob.glob(f'/sys/fs/cgroup/*/{FLOOR_CGROUP}') + \
                glob.glob(f'/sys/fs/cgroup/{FLOOR_CGROUP}'):
            try:
                os.rmdir(d)
            except OSError:
                pass


def overlay_lower(merged):
    """The lowerdir option of the overlay mounted on `merged`."""
    with open('/proc/self/mountinfo') as f:
        for line in f:
            fields = line.split()
            if fields[4] == merged:
                for opt in fields[-1].split(','):
                    if opt.startswith('lowerdir='):
                        return opt[len('lowerdir='):]
    raise SystemExit('no overlay mounted on ' + merged)


def rss_kb(pid):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


def pull(c, pb, image):
    isvc = pb.DESCRIPTOR.services_by_name['ImageService'].methods_by_name['PullImage']
    stub = c.ch.unary_unary('/runtime.v1.ImageService/PullImage',
                            request_serializer=lambda r: r.SerializeToString(),
                            response_deserializer=getattr(pb, isvc.output_type.name).FromString)
    stub(pb.PullImageRequest(image=pb.ImageSpec(image=image)), timeout=60)


def run_pod(c, pb, tmp):
    logs = os.path.join(tmp, 'logs')
    os.makedirs(logs)
    pod_cfg = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name='bench', namespace='bench', uid='bench'),
        log_directory=logs, linux=pb.LinuxPodSandboxConfig(
            security_context=pb.LinuxSandboxSecurityContext(
                namespace_options=pb.NamespaceOption(network=pb.NODE))))
    pod = c.call('RunPodSandbox', pb.RunPodSandboxRequest(config=pod_cfg)).pod_sandbox_id
    return pod, pod_cfg


def measure(c, pb, tmp, n, create):
    """N ocid create+start and N floor create+start, interleaved in pairs
    whose order alternates (ocid first, then floor first, ...), so both see
    the same number of running containers and the same machine state. The
    first pair is ocid first: the floor copies its bundle."""
    o = {'create': [], 'total': []}
    f = {'create': [], 'total': []}
    ids, fl = [], None

    def ocid_one(i):
        t0 = time.monotonic()
        cid = create(f'c{i}')
        t1 = time.monotonic()
        c.call('StartContainer', pb.StartContainerRequest(container_id=cid))
        t2 = time.monotonic()
        ids.append(cid)
        o['create'].append(t1 - t0)
        o['total'].append(t2 - t0)

    def floor_one(i):
        cr, tot = fl.one(i)
        f['create'].append(cr)
        f['total'].append(tot)

    for i in range(n):
        if i % 2 == 0:
            ocid_one(i)
            if fl is None:
                fl = Floor(os.path.join(tmp, 'run', 'containers', ids[0]), tmp)
            floor_one(i)
        else:
            floor_one(i)
            ocid_one(i)
    return o, f, ids, fl


def measure_remove(c, pb, ids, fl):
    """Each container stopped (not timed), then RemoveContainer against
    the floor's remove, in pairs of alternating order."""
    o, f = [], []
    for i, cid in enumerate(ids):
        c.call('StopContainer', pb.StopContainerRequest(container_id=cid, timeout=0))
        fl.stop(i)

        def ocid_one():
            t0 = time.monotonic()
            c.call('RemoveContainer', pb.RemoveContainerRequest(container_id=cid))
            o.append(time.monotonic() - t0)
        for step in ((ocid_one, lambda: f.append(fl.remove(i))) if i % 2 == 0 else
                     (lambda: f.append(fl.remove(i)), ocid_one)):
            step()
    ms = lambda v: v * 1000  # noqa: E731
    print(f'RemoveContainer (stopped) over {len(o)}: p50 {ms(pct(o, 50)):.1f} ms  '
          f'p90 {ms(pct(o, 90)):.1f} ms; floor runc delete + umount + rm: p50 '
          f'{ms(pct(f, 50)):.1f} ms  p90 {ms(pct(f, 90)):.1f} ms; '
          f'p50 {ms(pct(o, 50) - pct(f, 50)):+.1f} ms over the floor (target <= +5)')


def report(n, o, f):
    ms = lambda v: v * 1000  # noqa: E731
    start_o = [t - c for t, c in zip(o['total'], o['create'])]
    start_f = [t - c for t, c in zip(f['total'], f['create'])]
    print(f'ocid create+start over {n}: p50 {ms(pct(o["total"], 50)):.1f} ms  '
          f'p90 {ms(pct(o["total"], 90)):.1f} ms  (CreateContainer p50 '
          f'{ms(pct(o["create"], 50)):.1f}, StartContainer p50 {ms(pct(start_o, 50)):.1f})')
    print(f'floor runc create+start:   p50 {ms(pct(f["total"], 50)):.1f} ms  '
          f'p90 {ms(pct(f["total"], 90)):.1f} ms  (runc create p50 '
          f'{ms(pct(f["create"], 50)):.1f}, runc start p50 {ms(pct(start_f, 50)):.1f})')
    print(f'ratio p50 {pct(o["total"], 50) / pct(f["total"], 50):.2f}  '
          f'p90 {pct(o["total"], 90) / pct(f["total"], 90):.2f} (target p50 <= 1.15)')


def main():
    n = int(os.environ.get('BENCH_N', '50'))
    list_n = int(os.environ.get('BENCH_LIST_N', '0'))
    tmp = tempfile.mkdtemp(prefix='ocid-bench-ctr-')
    pb = pb_module(tmp)
    reg = Registry(os.path.join(tmp, 'registry')).start()
    proc, fl, c, pod = None, None, None, None
    try:
        busybox_image(reg, 'bench/busybox')
        image = f'{reg.host}/bench/busybox:latest'
        proc, sock, _ = start_ocid(tmp, reg, log_level=os.environ.get('BENCH_LOG_LEVEL', 'warn'))
        c = Client(pb, sock)
        pull(c, pb, image)
        pod, pod_cfg = run_pod(c, pb, tmp)

        def create(name):
            cfg = pb.ContainerConfig(metadata=pb.ContainerMetadata(name=name),
                                     image=pb.ImageSpec(image=image),
                                     command=['/bin/sleep', '600'], log_path=f'{name}.log')
            return c.call('CreateContainer', pb.CreateContainerRequest(
                pod_sandbox_id=pod, config=cfg, sandbox_config=pod_cfg)).container_id

        o, f, ids, fl = measure(c, pb, tmp, n, create)
        running = len(c.call('ListContainers', pb.ListContainersRequest(
            filter=pb.ContainerFilter(state=pb.ContainerStateValue(
                state=pb.CONTAINER_RUNNING)))).containers)
        rss = rss_kb(proc.pid)
        for i in range(list_n):
            create(f'l{i}')
        lst, st = [], []
        listed = len(c.call('ListContainers', pb.ListContainersRequest()).containers)
        for _ in range(200):
            t0 = time.monotonic()
            c.call('ListContainers', pb.ListContainersRequest())
            lst.append(time.monotonic() - t0)
            t0 = time.monotonic()
            c.call('ContainerStatus', pb.ContainerStatusRequest(container_id=ids[0]))
            st.append(time.monotonic() - t0)
        ms = lambda v: v * 1000  # noqa: E731
        report(n, o, f)
        print(f'ListContainers with {listed} ({n} running, {list_n} created): '
              f'p50 {ms(pct(lst, 50)):.2f} ms  p90 {ms(pct(lst, 90)):.2f} ms '
              f'(target p50 <= 5 ms at 1,000)')
        print(f'ContainerStatus: p50 {ms(pct(st, 50)):.2f} ms')
        print(f'ocid RSS with {running} running containers: {rss} KB')
        measure_remove(c, pb, ids, fl)
    finally:
        if fl:
            fl.delete_all()
        if pod:  # ocid's containers, even when the run broke off (they outlive ocid)
            c.call('StopPodSandbox', pb.StopPodSandboxRequest(pod_sandbox_id=pod), timeout=300)
            c.call('RemovePodSandbox', pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=300)
        if proc:
            proc.terminate()
            proc.wait(10)
        reg.stop()
        finish_tmp(tmp)


if __name__ == '__main__':
    main()
