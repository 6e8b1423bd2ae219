#!/usr/bin/python3
"""Pod sandbox benchmark: RunPodSandbox, StopPodSandbox and RemovePodSandbox
latency (p50/p90 over N, default 50) on ocid's built-in network, against a
floor measured in the same run: `ip netns add` plus the same CNI chain
(bridge with host-local, then portmap) ADD run by hand on a bridge and
subnet of its own. Prints milliseconds and RunPodSandbox/floor (target:
<= 1.15). Never fails on a figure.

Environment: OCID_BUILD (default <repo>/build), BENCH_N (default 50).
Run as root; traffic stays on bridges and namespaces made here.
"""
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
from benchlib import pb_module, pct  # noqa: E402

PLUGINS = '/usr/lib/cni'


def conflist(bridge, subnet, data_dir):
    return {'cniVersion': '1.0.0', 'name': 'bench-floor', 'plugins': [
        {'type': 'bridge', 'bridge': bridge, 'isGateway': True, 'ipMasq': True,
         'hairpinMode': True,
         'ipam': {'type': 'host-local', 'routes': [{'dst': '0.0.0.0/0'}],
                  'ranges': [[{'subnet': subnet}]], 'dataDir': data_dir}},
        {'type': 'portmap', 'capabilities': {'portMappings': True}, 'snat': True}]}


def run_chain(cmd, net, cid, netns, results=None):
    prev = None
    plugins = net['plugins'] if cmd == 'ADD' else list(reversed(net['plugins']))
    for p in plugins:
        conf = dict(p, name=net['name'], cniVersion=net['cniVersion'])
        if cmd == 'ADD' and prev is not None:
            conf['prevResult'] = prev
        if cmd == 'DEL' and results:
            conf['prevResult'] = results
        env = {'CNI_COMMAND': cmd, 'CNI_CONTAINERID': cid, 'CNI_NETNS': netns,
               'CNI_IFNAME': 'eth0', 'CNI_PATH': PLUGINS,
               'CNI_ARGS': 'IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=' + cid,
               'PATH': '/usr/sbin:/usr/bin:/sbin:/bin'}
        out = subprocess.run([os.path.join(PLUGINS, p['type'])], input=json.dumps(conf),
                             capture_output=True, text=True, env=env)
        if out.returncode != 0:
            raise RuntimeError(f'{p["type"]} {cmd}: {out.stdout} {out.stderr}')
        if cmd == 'ADD' and out.stdout.strip():
            prev = json.loads(out.stdout)
    return prev


def floor(n, tmp):
    bridge, subnet = f'ocbf{os.getpid() % 0xffff:x}', f'10.{40 + os.getpid() % 20}.1.0/24'
    net = conflist(bridge, subnet, os.path.join(tmp, 'floor-ipam'))
    times = []
    try:
        for i in range(n):
            ns, cid = f'ocidbench{os.getpid()}-{i}', f'floor{i}'
            t0 = time.monotonic()
            subprocess.run(['ip', 'netns', 'add', ns], check=True)
            res = run_chain('ADD', net, cid, f'/run/netns/{ns}')
            times.append((time.monotonic() - t0) * 1000)
            run_chain('DEL', net, cid, f'/run/netns/{ns}', res)
            subprocess.run(['ip', 'netns', 'del', ns], check=True)
    finally:
        subprocess.run(['ip', 'link', 'del', bridge], capture_output=True)
    return times


def ocid(n, tmp, pb, build):
    bridge, subnet = f'ocbo{os.getpid() % 0xffff:x}', f'10.{40 + os.getpid() % 20}.2.0/24'
    root, run = os.path.join(tmp, 'root'), os.path.join(tmp, 'run')
    sock = os.path.join(run, 'ocid.sock')
    netd = os.path.join(tmp, 'net.d')
    os.makedirs(netd)
    proc = subprocess.Popen([os.path.join(build, 'src', 'cmd', 'ocid', 'ocid'), '--root', root,
                             '--runroot', run, '--listen', sock, '--config',
                             os.path.join(tmp, 'none'), '--config-dir', os.path.join(tmp, 'c.d'),
                             '--cni-config-dir', netd, '--cni-default-bridge', bridge,
                             '--cni-default-subnet', subnet, '--log-level', 'warn'],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        ch = grpc.insecure_channel('unix:' + sock)

        def call(m, req, resp):
            stub = ch.unary_unary(f'/runtime.v1.RuntimeService/{m}',
                                  request_serializer=lambda r: r.SerializeToString(),
                                  response_deserializer=resp.FromString)
            return stub(req, timeout=60)

        t_run, t_stop, t_rm = [], [], []
        for i in range(n):
            cfg = pb.PodSandboxConfig(metadata=pb.PodSandboxMetadata(
                name=f'b{i}', namespace='bench', uid=f'u{i}'), hostname=f'b{i}')
            t0 = time.monotonic()
            pid = call('RunPodSandbox', pb.RunPodSandboxRequest(config=cfg),
                       pb.RunPodSandboxResponse).pod_sandbox_id
            t1 = time.monotonic()
            call('StopPodSandbox', pb.StopPodSandboxRequest(pod_sandbox_id=pid),
                 pb.StopPodSandboxResponse)
            t2 = time.monotonic()
            call('RemovePodSandbox', pb.RemovePodSandboxRequest(pod_sandbox_id=pid),
                 pb.RemovePodSandboxResponse)
            t3 = time.monotonic()
            t_run.append((t1 - t0) * 1000)
            t_stop.append((t2 - t1) * 1000)
            t_rm.append((t3 - t2) * 1000)
        ch.close()
        return t_run, t_stop, t_rm
    finally:
        proc.terminate()
        proc.wait(10)
        subprocess.run(['ip', 'link', 'del', bridge], capture_output=True)


def main():
    n = int(os.environ.get('BENCH_N', '50'))
    build = os.path.abspath(os.environ.get('OCID_BUILD', os.path.join(TOP, 'build')))
    tmp = tempfile.mkdtemp(prefix='ocid-bench-pod-')
    try:
        pb = pb_module(tmp)
        fl = floor(n, tmp)
        t_run, t_stop, t_rm = ocid(n, tmp, pb, build)
        print(f'pods: {n}')
        print(f'floor (ip netns add + CNI ADD)  p50 {pct(fl, 50):7.1f} ms  p90 {pct(fl, 90):7.1f} ms')
        print(f'RunPodSandbox                   p50 {pct(t_run, 50):7.1f} ms  p90 {pct(t_run, 90):7.1f} ms')
        print(f'StopPodSandbox                  p50 {pct(t_stop, 50):7.1f} ms  p90 {pct(t_stop, 90):7.1f} ms')
        print(f'RemovePodSandbox                p50 {pct(t_rm, 50):7.1f} ms  p90 {pct(t_rm, 90):7.1f} ms')
        print(f'RunPodSandbox/floor p50: {pct(t_run, 50) / pct(fl, 50):.2f} (target <= 1.15)')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
