#!/usr/bin/python3
"""Pod start and stop against the floor (issue 14), three parts, each with
its floor measured in the same run, interleaved round by round so both see
the same machine:

1. Pod alone, BENCH_N rounds (default 20): RunPodSandbox, StopPodSandbox
   and RemovePodSandbox on ocid's built-in network, against `ip netns add`
   + the same CNI chain (bridge with host-local: a pod without host ports
   needs no portmap) run by hand on a bridge and subnet of the script's
   own, and CNI DEL + `ip netns delete` for the stop. ocid runs with
   --log-level debug and its per-step durations ("pod run steps", "pod stop
   steps", "pod remove steps", "cni plugin") are printed as p50s.
2. Pod + container, BENCH_N rounds: RunPodSandbox + CreateContainer +
   StartContainer of busybox `sleep`, against netns + bridge + a fresh
   overlay of the same layers + `runc create` + `runc start` of ocid's own
   spec (bench/ctr.py's floor). Also StopPodSandbox with the container
   running and RemoveContainer.
3. Node boot: BENCH_BOOT pods (default 30; 0 skips) of one container each,
   started by as many concurrent clients: wall time and p50/p99 of one
   pod's start, against BENCH_BOOT x the single-pod floor of part 2 / cores;
   then as many floor pods of part 2 from as many threads at once, to show
   what the machine itself does with that many at a time, and as many of
   the floor's containers alone (overlay + runc create + start, no
   network): what runc alone costs at that many at once.

Prints milliseconds and the issue's targets as ratios; never fails on a
figure. Environment: OCID_BUILD (default <repo>/build), BENCH_N, BENCH_BOOT,
BENCH_KEEP=1 keeps the temp dir. Run as root; traffic stays on bridges,
namespaces and a registry on 127.0.0.1 made here.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, 'tests', 'integration'))
sys.path.insert(0, os.path.join(TOP, 'bench'))
import grpc  # noqa: E402
from benchlib import cpu_busy, drop_masq, finish_tmp, pb_module, pct, start_ocid  # noqa: E402
from ctr import Floor as CtrFloor, RUNC, FLOOR_CGROUP  # noqa: E402
from registry import Registry, busybox_image  # noqa: E402

PLUGINS = next((d for d in ('/usr/lib/cni', '/opt/cni/bin')
                if os.path.exists(os.path.join(d, 'bridge'))), '/usr/lib/cni')
TAG = os.getpid() % 0xffff
SUBNET_BASE = 40 + os.getpid() % 20


def ms(v):
    return v * 1000


def bridge_conf(bridge, subnet, data_dir):
    """The built-in network's bridge plugin, as ocid's cni_default_conflist
    (no ipMasq: ocid masquerades the subnet with one chain made at its
    first pod, not one per pod)."""
    return {'cniVersion': '1.0.0', 'name': 'bench-floor', 'type': 'bridge', 'bridge': bridge,
            'isGateway': True, 'ipMasq': False, 'hairpinMode': True,
            'ipam': {'type': 'host-local', 'routes': [{'dst': '0.0.0.0/0'}],
                     'ranges': [[{'subnet': subnet}]], 'dataDir': data_dir}}


def cni(cmd, conf, cid, netns, prev=None):
    conf = dict(conf, prevResult=prev) if prev else conf
    env = {'CNI_COMMAND': cmd, 'CNI_CONTAINERID': cid, 'CNI_NETNS': netns, 'CNI_IFNAME': 'eth0',
           'CNI_PATH': PLUGINS,
           'CNI_ARGS': f'IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME={cid}',
           'PATH': '/usr/sbin:/usr/bin:/sbin:/bin'}
    out = subprocess.run([os.path.join(PLUGINS, conf['type'])], input=json.dumps(conf),
                         capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f'{conf["type"]} {cmd}: {out.stdout} {out.stderr}')
    return json.loads(out.stdout) if cmd == 'ADD' else None


class NetFloor:
    """netns + bridge ADD, and bridge DEL + netns delete, by hand."""

    def __init__(self, tmp):
        self.bridge = f'ocbf{TAG:x}'
        self.conf = bridge_conf(self.bridge, f'10.{SUBNET_BASE}.1.0/24',
                                os.path.join(tmp, 'floor-ipam'))
        self.n = 0
        self.lock = threading.Lock()

    def up(self):
        """Returns (netns path, cid, result, netns s, ADD s)."""
        with self.lock:
            self.n += 1
            k = self.n
        name, cid = f'ocidbench{os.getpid()}-{k}', f'floor{k}'
        t0 = time.monotonic()
        subprocess.run(['ip', 'netns', 'add', name], check=True)
        t1 = time.monotonic()
        res = cni('ADD', self.conf, cid, f'/run/netns/{name}')
        t2 = time.monotonic()
        return name, cid, res, t1 - t0, t2 - t1

    def down(self, name, cid, res):
        """Returns (DEL s, netns delete s)."""
        t0 = time.monotonic()
        cni('DEL', self.conf, cid, f'/run/netns/{name}', res)
        t1 = time.monotonic()
        subprocess.run(['ip', 'netns', 'delete', name], check=True)
        return t1 - t0, time.monotonic() - t1

    def close(self):
        subprocess.run(['ip', 'link', 'del', self.bridge], capture_output=True)


class Ocid:
    def __init__(self, tmp, reg, log_level='debug'):
        self.bridge, self.subnet = f'ocbo{TAG:x}', f'10.{SUBNET_BASE}.2.0/24'
        self.proc, self.sock, self.log_path = start_ocid(
            tmp, reg, ['--cni-config-dir', os.path.join(tmp, 'net.d'),
                       '--cni-default-bridge', self.bridge,
                       '--cni-default-subnet', self.subnet], log_level)
        self.ch = grpc.insecure_channel('unix:' + self.sock)

    def call(self, pb, method, req, svc='RuntimeService', timeout=120):
        m = pb.DESCRIPTOR.services_by_name[svc].methods_by_name[method]
        stub = self.ch.unary_unary(f'/runtime.v1.{svc}/{method}',
                                   request_serializer=lambda r: r.SerializeToString(),
                                   response_deserializer=getattr(pb, m.output_type.name).FromString)
        return stub(req, timeout=timeout)

    def per_pod(self):
        """{pod id: (pin s + CNI ADD s, CNI DEL s + unpin s)} from the debug log."""
        add, dele, pin, unpin = {}, {}, {}, {}
        with open(self.log_path, errors='replace') as f:
            for line in f:
                m = re.search(r'msg="?(pod (run|stop) steps|cni plugin)"? (.*)', line)
                if not m:
                    continue
                kv = dict(x.split('=', 1) for x in m.group(3).split() if '=' in x)
                if m.group(1) == 'cni plugin':
                    d = add if kv['cmd'] == 'ADD' else dele
                    d[kv['id']] = d.get(kv['id'], 0) + int(kv['us']) / 1e6
                elif m.group(2) == 'run':
                    pin[kv['id']] = int(kv.get('pin_us', 0)) / 1e6
                else:
                    unpin[kv['id']] = int(kv.get('unpin_us', 0)) / 1e6
        return {k: (pin[k] + add.get(k, 0), dele.get(k, 0) + unpin.get(k, 0))
                for k in pin if k in unpin}

    def steps(self):
        """p50 per step of the debug log's step lines, keyed 'run pin' etc."""
        out = {}
        with open(self.log_path, errors='replace') as f:
            for line in f:
                m = re.search(r'msg="?(pod (run|stop|remove) steps|cni plugin)"? (.*)', line)
                if not m:
                    continue
                kv = dict(x.split('=', 1) for x in m.group(3).split() if '=' in x)
                if m.group(1) == 'cni plugin':
                    out.setdefault(f'cni {kv["cmd"]} {kv["type"]}', []).append(int(kv['us']))
                    continue
                for k, v in kv.items():
                    if k.endswith('_us'):
                        out.setdefault(f'{m.group(2)} {k[:-3]}', []).append(int(v))
        return {k: pct(v, 50) / 1000 for k, v in out.items()}

    def close(self):
        self.proc.terminate()
        self.proc.wait(20)
        subprocess.run(['ip', 'link', 'del', self.bridge], capture_output=True)
        drop_masq(self.subnet)


def pod_config(pb, name, logs=None):
    return pb.PodSandboxConfig(metadata=pb.PodSandboxMetadata(name=name, namespace='bench',
                                                              uid='u-' + name),
                               hostname=name, log_directory=logs)


def part_pod(pb, o, fl, n):
    t = {k: [] for k in ('run', 'stop', 'rm', 'f_ns', 'f_add', 'f_del', 'f_nsdel', 'ids')}

    def ocid_one(i):
        t0 = time.monotonic()
        pid = o.call(pb, 'RunPodSandbox', pb.RunPodSandboxRequest(
            config=pod_config(pb, f'p{i}'))).pod_sandbox_id
        t1 = time.monotonic()
        o.call(pb, 'StopPodSandbox', pb.StopPodSandboxRequest(pod_sandbox_id=pid))
        t2 = time.monotonic()
        o.call(pb, 'RemovePodSandbox', pb.RemovePodSandboxRequest(pod_sandbox_id=pid))
        t3 = time.monotonic()
        t['run'].append(t1 - t0)
        t['stop'].append(t2 - t1)
        t['rm'].append(t3 - t2)
        t['ids'].append(pid)

    def floor_one(i):
        name, cid, res, a, b = fl.up()
        c, d = fl.down(name, cid, res)
        for k, v in zip(('f_ns', 'f_add', 'f_del', 'f_nsdel'), (a, b, c, d)):
            t[k].append(v)

    for i in range(n):
        order = (ocid_one, floor_one) if i % 2 == 0 else (floor_one, ocid_one)
        for f in order:
            f(i)
    return t


class PodCtrFloor(CtrFloor):
    """ctr.py's floor with the container in a floor network namespace."""

    def one_in(self, i, netns):
        nss = [dict(x, path=netns) if x['type'] == 'network' else x
               for x in self.spec['linux']['namespaces']]
        return self.one(i, dict(self.spec, linux=dict(self.spec['linux'], namespaces=nss)))

    def delete(self, name):
        subprocess.run([RUNC, '--root', self.root, 'delete', '--force', name],
                       stderr=subprocess.DEVNULL)
        self.names.remove(name)


def part_ctr(pb, o, fl, n, image, logs):
    t = {k: [] for k in ('run', 'create', 'start', 'stop', 'rmctr', 'rmpod', 'f_net', 'f_ctr',
                         'f_cpu', 'cpu')}
    cf = None

    def ocid_one(i):
        cfg = pod_config(pb, f'c{i}', logs)
        c0, t0 = cpu_busy(), time.monotonic()
        pid = o.call(pb, 'RunPodSandbox', pb.RunPodSandboxRequest(config=cfg)).pod_sandbox_id
        t1 = time.monotonic()
        cc = pb.ContainerConfig(metadata=pb.ContainerMetadata(name='c'),
                                image=pb.ImageSpec(image=image),
                                command=['/bin/sleep', '600'], log_path=f'c{i}.log')
        cid = o.call(pb, 'CreateContainer', pb.CreateContainerRequest(
            pod_sandbox_id=pid, config=cc, sandbox_config=cfg)).container_id
        t2 = time.monotonic()
        o.call(pb, 'StartContainer', pb.StartContainerRequest(container_id=cid))
        t3 = time.monotonic()
        t['cpu'].append(cpu_busy() - c0)
        o.call(pb, 'StopPodSandbox', pb.StopPodSandboxRequest(pod_sandbox_id=pid))
        t4 = time.monotonic()
        o.call(pb, 'RemoveContainer', pb.RemoveContainerRequest(container_id=cid))
        t5 = time.monotonic()
        o.call(pb, 'RemovePodSandbox', pb.RemovePodSandboxRequest(pod_sandbox_id=pid))
        t6 = time.monotonic()
        for k, a, b in (('run', t0, t1), ('create', t1, t2), ('start', t2, t3),
                        ('stop', t3, t4), ('rmctr', t4, t5), ('rmpod', t5, t6)):
            t[k].append(b - a)
        return cid, pid

    def floor_one(i):
        c0 = cpu_busy()
        name, cid, res, a, b = fl.up()
        _, total = cf.one_in(1000 + i, f'/run/netns/{name}')
        t['f_cpu'].append(cpu_busy() - c0)
        t['f_net'].append(a + b)
        t['f_ctr'].append(total)
        cf.delete(f'floor{1000 + i}')
        fl.down(name, cid, res)

    for i in range(n):
        if i % 2 == 0:
            cid, pid = ocid_one(i)
            if cf is None:
                # The first container's bundle is gone with its pod: make
                # one more to copy the spec from, and remove it after.
                cfg = pod_config(pb, 'spec', logs)
                spid = o.call(pb, 'RunPodSandbox',
                              pb.RunPodSandboxRequest(config=cfg)).pod_sandbox_id
                cc = pb.ContainerConfig(metadata=pb.ContainerMetadata(name='c'),
                                        image=pb.ImageSpec(image=image),
                                        command=['/bin/sleep', '600'], log_path='spec.log')
                scid = o.call(pb, 'CreateContainer', pb.CreateContainerRequest(
                    pod_sandbox_id=spid, config=cc, sandbox_config=cfg)).container_id
                cf = PodCtrFloor(os.path.join(o.tmp, 'run', 'containers', scid), o.tmp)
                o.spec_pod = spid
            floor_one(i)
        else:
            floor_one(i)
            ocid_one(i)
    return t, cf


def all_at_once(fn, n):
    """fn(0) .. fn(n - 1) on n threads (fn waits on a barrier of n). The
    monotonic time they were started at, and the CPU seconds the whole
    machine was busy until the last one ended."""
    threads = [threading.Thread(target=fn, args=(i,)) for i in range(n)]
    c0, start = cpu_busy(), time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return start, cpu_busy() - c0


def part_boot(pb, o, n, image, logs):
    times, errors = [None] * n, []
    barrier = threading.Barrier(n)

    def client(i):
        ch = grpc.insecure_channel('unix:' + o.sock)

        def call(method, req):
            m = pb.DESCRIPTOR.services_by_name['RuntimeService'].methods_by_name[method]
            return ch.unary_unary(f'/runtime.v1.RuntimeService/{method}',
                                  request_serializer=lambda r: r.SerializeToString(),
                                  response_deserializer=getattr(pb, m.output_type.name).FromString
                                  )(req, timeout=300)
        cfg = pod_config(pb, f'boot{i}', logs)
        barrier.wait()
        t0 = time.monotonic()
        try:
            pid = call('RunPodSandbox', pb.RunPodSandboxRequest(config=cfg)).pod_sandbox_id
            cc = pb.ContainerConfig(metadata=pb.ContainerMetadata(name='c'),
                                    image=pb.ImageSpec(image=image),
                                    command=['/bin/sleep', '600'], log_path=f'boot{i}.log')
            cid = call('CreateContainer', pb.CreateContainerRequest(
                pod_sandbox_id=pid, config=cc, sandbox_config=cfg)).container_id
            call('StartContainer', pb.StartContainerRequest(container_id=cid))
            times[i] = (time.monotonic() - t0, time.monotonic())
        except grpc.RpcError as e:
            errors.append(f'{e.code()}: {e.details()}')
        ch.close()

    start, cpu = all_at_once(client, n)
    done = [x for x in times if x]
    wall = max(x[1] for x in done) - start if done else 0
    pods = o.call(pb, 'ListPodSandbox', pb.ListPodSandboxRequest()).items
    for p in (p for p in pods if p.id != o.spec_pod):
        o.call(pb, 'StopPodSandbox', pb.StopPodSandboxRequest(pod_sandbox_id=p.id))
        o.call(pb, 'RemovePodSandbox', pb.RemovePodSandboxRequest(pod_sandbox_id=p.id))
    return wall, [x[0] for x in done], errors, cpu


def part_boot_floor(fl, cf, n):
    """The floor of part 3: n floor pods (netns + ADD + overlay + runc
    create + start) from n threads at once. Wall and busy CPU seconds."""
    barrier, up, ends = threading.Barrier(n), [None] * n, [0.0] * n

    failed = []

    def one(i):
        barrier.wait()
        try:
            name, cid, res, _, _ = fl.up()
            up[i] = (name, cid, res, None)
            cf.one_in(3000 + i, f'/run/netns/{name}')
            ends[i] = time.monotonic()
            up[i] = (name, cid, res, 3000 + i)
        except (Exception, SystemExit) as e:  # noqa: B902 (a thread's SystemExit is silent)
            failed.append(str(e))

    start, cpu = all_at_once(one, n)
    for u in up:
        if u:
            if u[3] is not None:
                cf.delete(f'floor{u[3]}')
            fl.down(*u[:3])
    if failed:
        raise SystemExit(f'{len(failed)} floor pods of part 3 failed: {failed[0]}')
    return max(ends) - start, cpu


def part_boot_runc(cf, n):
    """The floor's containers alone: n of part 2's overlay + runc create +
    start from n threads at once, in the namespaces of the pod the spec
    came from (no network of their own). Wall and busy CPU seconds."""
    barrier, ends, failed = threading.Barrier(n), [0.0] * n, []

    def one(i):
        barrier.wait()
        try:
            cf.one(5000 + i)
            ends[i] = time.monotonic()
        except (Exception, SystemExit) as e:  # noqa: B902 (a thread's SystemExit is silent)
            failed.append(str(e))

    start, cpu = all_at_once(one, n)
    for i in (i for i in range(n) if f'floor{5000 + i}' in cf.names):
        cf.delete(f'floor{5000 + i}')
    if failed:
        raise SystemExit(f'{len(failed)} floor containers of part 3 failed: {failed[0]}')
    return max(ends) - start, cpu


def line(name, v, floor=None):
    s = f'  {name:<34} p50 {ms(pct(v, 50)):7.1f} ms  p90 {ms(pct(v, 90)):7.1f} ms'
    if floor:
        s += f'  ({pct(v, 50) / pct(floor, 50):.2f} x floor)'
    print(s)


def main():
    n = int(os.environ.get('BENCH_N', '20'))
    boot = int(os.environ.get('BENCH_BOOT', '30'))
    tmp = tempfile.mkdtemp(prefix='ocid-bench-pod-')
    pb = pb_module(tmp)
    reg = Registry(os.path.join(tmp, 'registry')).start()
    fl, o, cf = NetFloor(tmp), None, None
    try:
        busybox_image(reg, 'bench/busybox')
        image = f'{reg.host}/bench/busybox:latest'
        o = Ocid(tmp, reg)
        o.tmp, o.spec_pod = tmp, None
        o.call(pb, 'PullImage', pb.PullImageRequest(image=pb.ImageSpec(image=image)),
               svc='ImageService')
        logs = os.path.join(tmp, 'logs')
        os.makedirs(logs)
        cores = os.cpu_count()
        print(f'{n} rounds, {cores} cores, load average {os.getloadavg()[0]:.1f} at start')

        t = part_pod(pb, o, fl, n)
        floor_run = [a + b for a, b in zip(t['f_ns'], t['f_add'])]
        floor_stop = [a + b for a, b in zip(t['f_del'], t['f_nsdel'])]
        print('1. pod alone')
        line('floor: ip netns add', t['f_ns'])
        line('floor: CNI ADD (bridge)', t['f_add'])
        line('floor: netns + ADD', floor_run)
        line('RunPodSandbox', t['run'], floor_run)
        line('floor: CNI DEL (bridge)', t['f_del'])
        line('floor: ip netns delete', t['f_nsdel'])
        line('floor: DEL + netns delete', floor_stop)
        line('StopPodSandbox', t['stop'], floor_stop)
        line('RemovePodSandbox', t['rm'])
        print('  ocid steps (p50, ms; cni_wait is the CNI ADD left after the steps beside it):')
        for k, v in sorted(o.steps().items()):
            print(f'    {k:<24} {v:7.2f}')
        pp = o.per_pod()
        own_run = [r - pp[i][0] for r, i in zip(t['run'], t['ids']) if i in pp]
        own_stop = [r - pp[i][1] for r, i in zip(t['stop'], t['ids']) if i in pp]
        if own_run:
            print('  ocid beyond its own netns pinning and plugin runs (same pod, from the log):')
            line('RunPodSandbox - (pin + CNI ADD)', own_run)
            line('StopPodSandbox - (CNI DEL + unpin)', own_stop)
        d_run = ms(pct(t['run'], 50) - pct(floor_run, 50))
        d_stop = ms(pct(t['stop'], 50) - pct(floor_stop, 50))

        tc, cf = part_ctr(pb, o, fl, n, image, logs)
        whole = [a + b + c for a, b, c in zip(tc['run'], tc['create'], tc['start'])]
        floor_whole = [a + b for a, b in zip(tc['f_net'], tc['f_ctr'])]
        print('2. pod + container')
        line('floor: netns + ADD', tc['f_net'])
        line('floor: overlay + runc create+start', tc['f_ctr'])
        line('floor: all', floor_whole)
        line('RunPodSandbox', tc['run'])
        line('CreateContainer', tc['create'])
        line('StartContainer', tc['start'])
        line('Run+Create+Start', whole, floor_whole)
        line('StopPodSandbox (container running)', tc['stop'])
        line('RemoveContainer', tc['rmctr'])
        line('RemovePodSandbox', tc['rmpod'])

        print('targets:')
        print(f'  RunPodSandbox - floor(netns + chain) p50: {d_run:+.1f} ms (target <= +5)')
        print(f'  Run+Create+Start / floor p50: {pct(whole, 50) / pct(floor_whole, 50):.2f} '
              '(target <= 1.0)')
        print(f'  StopPodSandbox - floor(DEL + netns delete) p50: {d_stop:+.1f} ms '
              '(target <= +5)')
        if own_run:
            print(f'  same, ocid\'s own pin and plugin runs as the floor: Run '
                  f'{ms(pct(own_run, 50)):+.1f} ms, Stop {ms(pct(own_stop, 50)):+.1f} ms '
                  '(target <= +5)')
        f_cpu, o_cpu = (sum(v) / len(v) for v in (tc['f_cpu'], tc['cpu']))
        print(f'  one pod alone, CPU of the whole machine (mean): floor {ms(f_cpu):.0f} ms in '
              f'{ms(pct(floor_whole, 50)):.0f} ms of wall (runc and the plugins use more than '
              f'one core at times); ocid {ms(o_cpu):.0f} ms (with the client\'s)')
        if boot:
            wall, times, errors, cpu = part_boot(pb, o, boot, image, logs)
            bound = boot * pct(floor_whole, 50) / cores * 1.2
            print(f'3. node boot: {boot} pods of one container, {boot} clients at once')
            print(f'  wall {ms(wall):.0f} ms; one pod p50 {ms(pct(times, 50)):.0f} ms, '
                  f'p99 {ms(pct(times, 99)):.0f} ms; errors {len(errors)} {errors[:3]}')
            print(f'  wall / ({boot} x floor / {cores} cores x 1.2): {wall / bound:.2f} '
                  '(target <= 1.0)')
            print(f'  p99 / p50: {pct(times, 99) / pct(times, 50):.2f} (target <= 3.0)')
            fwall, fcpu = part_boot_floor(fl, cf, boot)
            print(f'  floor, {boot} at once from {boot} threads: wall {ms(fwall):.0f} ms '
                  f'({fwall / bound:.2f} x the bound above); ocid wall / floor wall '
                  f'{wall / fwall:.2f}')
            # The bound lets each pod use 1.2 x the floor's wall of CPU on
            # one core; what the machine's CPUs did says whether that can be.
            grant = bound * cores / boot
            print(f'  CPU per pod (whole machine, {boot} at once): ocid {ms(cpu / boot):.0f} ms, '
                  f'floor {ms(fcpu / boot):.0f} ms; the bound grants {ms(grant):.0f} ms: '
                  f'the floor itself needs {fcpu / boot / grant:.2f} x that')
            rwall, rcpu = part_boot_runc(cf, boot)
            print(f'  the floor\'s containers alone (overlay + runc create + start, no network), '
                  f'{boot} at once: wall {ms(rwall):.0f} ms ({rwall / bound:.2f} x the bound), '
                  f'CPU per pod {ms(rcpu / boot):.0f} ms ({rcpu / boot / grant:.2f} x the grant)')
        if o.spec_pod:  # the floor's containers join its namespaces
            o.call(pb, 'StopPodSandbox', pb.StopPodSandboxRequest(pod_sandbox_id=o.spec_pod))
            o.call(pb, 'RemovePodSandbox', pb.RemovePodSandboxRequest(pod_sandbox_id=o.spec_pod))
    finally:
        if cf:
            cf.delete_all()
        if o:
            o.close()
        fl.close()
        reg.stop()
        for d in [f'/sys/fs/cgroup/{FLOOR_CGROUP}']:
            shutil.rmtree(d, ignore_errors=True)
        finish_tmp(tmp)


if __name__ == '__main__':
    main()
