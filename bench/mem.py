#!/usr/bin/python3
"""ocid's memory after work (issue 14): VmRSS and RssAnon of the daemon
idle, after BENCH_PODS pods (default 20) of one busybox container each were
started (and then removed), after pulls of two images of BENCH_MB MB
(default 80: busybox-static plus four layers of random data, pushed to a
docker-registry on 127.0.0.1), and BENCH_SETTLE s (default 10) later.
Target: back within 2 MB (RSS) of the idle figure. Also lists the shared
libraries the daemon maps. Never fails on a figure.

Environment: OCID_BUILD (default <repo>/build), BENCH_PODS, BENCH_MB,
BENCH_SETTLE, BENCH_KEEP=1 keeps the temp dir. Run as root.
"""
import os
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, 'tests', 'integration'))
sys.path.insert(0, os.path.join(TOP, 'bench'))
from benchlib import finish_tmp, pb_module  # noqa: E402
from pod import Ocid, pod_config  # noqa: E402
from registry import Layer, Registry, busybox_entries, busybox_image, push_image  # noqa: E402


def mem(pid):
    out = {}
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            k, _, v = line.partition(':')
            if k in ('VmRSS', 'RssAnon', 'RssFile'):
                out[k] = int(v.split()[0])
    return out


def libs(pid):
    seen = set()
    with open(f'/proc/{pid}/maps') as f:
        for line in f:
            p = line.split()[-1]
            if '.so' in p and p.startswith('/'):
                seen.add(p)
    return sorted(seen)


def big_image(reg, repo, mb):
    layers = [Layer(busybox_entries(), 'gzip')]
    for i in range(4):
        data = os.urandom(mb * (1 << 20) // 4)
        layers.append(Layer([(f'data{i}', 'dir', None, {}), (f'data{i}/blob', 'file', data, {})],
                            'gzip'))
    push_image(reg, repo, 'latest', layers)


def main():
    pods = int(os.environ.get('BENCH_PODS', '20'))
    mb = int(os.environ.get('BENCH_MB', '80'))
    settle = float(os.environ.get('BENCH_SETTLE', '10'))
    tmp = tempfile.mkdtemp(prefix='ocid-bench-mem-')
    pb = pb_module(tmp)
    reg = Registry(os.path.join(tmp, 'registry')).start()
    o = None
    rows = []
    try:
        busybox_image(reg, 'bench/busybox')
        big_image(reg, 'bench/big1', mb)
        big_image(reg, 'bench/big2', mb)
        image = f'{reg.host}/bench/busybox:latest'
        o = Ocid(tmp, reg, log_level='info')
        o.call(pb, 'PullImage', pb.PullImageRequest(image=pb.ImageSpec(image=image)),
               svc='ImageService')
        o.call(pb, 'Version', pb.VersionRequest())
        o.call(pb, 'ListPodSandbox', pb.ListPodSandboxRequest())
        time.sleep(1)
        rows.append(('idle', mem(o.proc.pid)))
        logs = os.path.join(tmp, 'logs')
        os.makedirs(logs)
        ids = []
        for i in range(pods):
            cfg = pod_config(pb, f'm{i}', logs)
            pid = o.call(pb, 'RunPodSandbox', pb.RunPodSandboxRequest(config=cfg)).pod_sandbox_id
            cc = pb.ContainerConfig(metadata=pb.ContainerMetadata(name='c'),
                                    image=pb.ImageSpec(image=image),
                                    command=['/bin/sleep', '600'], log_path=f'm{i}.log')
            cid = o.call(pb, 'CreateContainer', pb.CreateContainerRequest(
                pod_sandbox_id=pid, config=cc, sandbox_config=cfg)).container_id
            o.call(pb, 'StartContainer', pb.StartContainerRequest(container_id=cid))
            ids.append(pid)
        rows.append((f'{pods} pods running', mem(o.proc.pid)))
        for pid in ids:
            o.call(pb, 'StopPodSandbox', pb.StopPodSandboxRequest(pod_sandbox_id=pid))
            o.call(pb, 'RemovePodSandbox', pb.RemovePodSandboxRequest(pod_sandbox_id=pid))
        rows.append((f'{pods} pods removed', mem(o.proc.pid)))
        for repo in ('bench/big1', 'bench/big2'):
            o.call(pb, 'PullImage', pb.PullImageRequest(
                image=pb.ImageSpec(image=f'{reg.host}/{repo}:latest')), svc='ImageService',
                timeout=600)
        rows.append((f'after pulls of 2 x {mb} MB', mem(o.proc.pid)))
        time.sleep(settle)
        rows.append((f'{settle:.0f} s later', mem(o.proc.pid)))
        idle = rows[0][1]
        print(f'{"":28} {"VmRSS":>9} {"RssAnon":>9} {"RssFile":>9}  (kB)  RSS - idle')
        for name, m in rows:
            print(f'{name:28} {m["VmRSS"]:9} {m["RssAnon"]:9} {m["RssFile"]:9}'
                  f'        {m["VmRSS"] - idle["VmRSS"]:+6}')
        last = rows[-1][1]
        print(f'target: {settle:.0f} s after the pulls within 2048 kB of idle: '
              f'{last["VmRSS"] - idle["VmRSS"]:+d} kB RSS, '
              f'{last["RssAnon"] - idle["RssAnon"]:+d} kB anonymous')
        ls = libs(o.proc.pid)
        print(f'shared libraries mapped: {len(ls)}')
        print('  ' + ' '.join(os.path.basename(x) for x in ls))
    finally:
        if o:
            o.close()
        reg.stop()
        finish_tmp(tmp)


if __name__ == '__main__':
    main()
