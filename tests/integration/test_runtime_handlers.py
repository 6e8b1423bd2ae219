"""Runtime handlers (issue 12): the [runtimes.<name>] table of ocid.conf,
default_runtime, what RunPodSandbox says of a handler it cannot run pods
under, Status's runtime_handlers, a pod's handler across a restart, and
Debian's crun as the default handler on this host."""
import json
import os
import shutil
import signal
import stat
import subprocess
import time

import grpc
import pytest

from conftest import ocid_bin, RUNNING
from test_stream import Rc, exec_url

RUNC = shutil.which('runc')
CRUN = shutil.which('crun')


def conf_d(tmp_path, text, subdir='d'):
    d = tmp_path / subdir / 'conf.d'
    d.mkdir(parents=True, exist_ok=True)
    (d / 'runtimes.conf').write_text(text)


TABLE = f'''
[runtimes.runc]
path = "{RUNC}"
exec_fifo_start = true

# the same program under another name (as a RuntimeClass may name it)
[runtimes.plain]
path = "runc"
exec_fifo_start = true

[runtimes.crun]
path = "{CRUN}"
args = ["--debug"]
'''


def pod_cfg(env, name, network=None):
    pb = env.pb
    ns = pb.NamespaceOption(network=pb.NODE if network is None else network,
                            pid=pb.CONTAINER, ipc=pb.POD)
    env.pod_cfg = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=name, namespace='default', uid='uid-' + name),
        log_directory=env.logs, hostname=name,
        linux=pb.LinuxPodSandboxConfig(
            security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))
    return env.pod_cfg


def run_pod(env, name, handler, network=None):
    return env.d.runtime('RunPodSandbox', env.pb.RunPodSandboxRequest(
        config=pod_cfg(env, name, network), runtime_handler=handler),
        timeout=60).pod_sandbox_id


def test_ocid_config_prints_table(tmp_path):
    conf = tmp_path / 'ocid.conf'
    conf.write_text(TABLE + '\n[runtimes.runsc]\npath = "/usr/bin/runsc"\n'
                    'args = ["--ignore-cgroups", "--network=host"]\n')
    out = subprocess.run([ocid_bin(), 'config', '--config', str(conf), '--config-dir',
                          str(tmp_path / 'none')], capture_output=True, text=True, check=True)
    assert 'default_runtime = "runc"' in out.stdout
    assert '[runtimes.runsc]\npath = "/usr/bin/runsc"' in out.stdout
    assert 'args = ["--ignore-cgroups", "--network=host"]' in out.stdout
    # Without a table, runtime is the one handler (shown as comments).
    out = subprocess.run([ocid_bin(), 'config', '--config', str(tmp_path / 'none.conf'),
                          '--config-dir', str(tmp_path / 'none')],
                         capture_output=True, text=True, check=True)
    assert '# (implied by runtime)\n# [runtimes.runc]\n' in out.stdout


def test_bad_table_refused_at_start(tmp_path):
    conf = tmp_path / 'ocid.conf'
    conf.write_text('default_runtime = "kata"\n[runtimes.runc]\n')
    p = subprocess.run([ocid_bin(), 'config', '--config', str(conf), '--config-dir',
                        str(tmp_path / 'none')], capture_output=True, text=True)
    assert p.returncode != 0
    assert "default_runtime 'kata' is not a configured handler ('runc')" in p.stderr
    conf.write_text('[runtimes.gvisor]\ntype = "vm"\n')
    p = subprocess.run([ocid_bin(), 'config', '--config', str(conf), '--config-dir',
                        str(tmp_path / 'none')], capture_output=True, text=True)
    assert p.returncode != 0
    assert 'runtimes.gvisor.type: \'vm\' is not supported (only "oci")' in p.stderr


def test_status_and_unknown_handlers(make_env, tmp_path, pb):
    conf_d(tmp_path, TABLE + '\n[runtimes.nodev]\npath = "runc"\n'
           'privileged_without_host_devices = true\n')
    env = make_env()
    st = env.d.runtime('Status', pb.StatusRequest())
    got = {h.name: h.features for h in st.runtime_handlers}
    # The default and every handler pods can run under.
    assert set(got) == {'', 'runc', 'plain', 'crun', 'nodev'}
    assert got['plain'].recursive_read_only_mounts == got[''].recursive_read_only_mounts

    with pytest.raises(grpc.RpcError) as ei:
        run_pod(env, 'u', 'kata')
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ei.value.details() == \
        "unknown runtime handler 'kata' (this node has 'runc', 'plain', 'crun', 'nodev')"
    assert not env.d.runtime('ListPodSandbox', pb.ListPodSandboxRequest()).items


def host_devices():
    """Device nodes of the host's /dev beyond the default set every
    container gets (null, zero, full, random, urandom, tty, ptmx, console)."""
    dflt = {'null', 'zero', 'full', 'random', 'urandom', 'tty', 'ptmx', 'console'}
    out = set()
    for n in os.listdir('/dev'):
        try:
            mode = os.lstat(os.path.join('/dev', n)).st_mode
        except OSError:
            continue
        if (stat.S_ISBLK(mode) or stat.S_ISCHR(mode)) and n not in dflt:
            out.add(n)
    return out


def privileged_devices(env, handler, name):
    """The device nodes directly under /dev of a privileged container of a
    privileged pod of `handler`."""
    pb = env.pb
    cfg = pod_cfg(env, name)
    cfg.linux.security_context.privileged = True
    pod = env.d.runtime('RunPodSandbox', pb.RunPodSandboxRequest(
        config=cfg, runtime_handler=handler), timeout=60).pod_sandbox_id
    ccfg = pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name=name), image=pb.ImageSpec(image=env.image),
        command=['sleep', '600'], log_path=f'{name}/0.log')
    ccfg.linux.security_context.privileged = True
    cid = env.d.runtime('CreateContainer', pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=ccfg, sandbox_config=cfg), timeout=60).container_id
    env.start(cid)
    env.wait_state(cid, RUNNING)
    r = env.d.runtime('ExecSync', pb.ExecSyncRequest(
        container_id=cid, timeout=10,
        cmd=['sh', '-c', 'for f in /dev/*; do [ -b "$f" -o -c "$f" ] && echo "${f#/dev/}"; '
             'done; true']), timeout=30)
    assert r.exit_code == 0, r.stderr
    # Still privileged: every capability the host has.
    caps = env.d.runtime('ExecSync', pb.ExecSyncRequest(
        container_id=cid, timeout=10,
        cmd=['sh', '-c', 'while read k v; do [ "$k" = CapEff: ] && echo $v; done '
             '</proc/self/status']), timeout=30)
    assert int(caps.stdout, 16) & (1 << 21), caps  # CAP_SYS_ADMIN
    return set(r.stdout.decode().split())


def test_privileged_without_host_devices(make_env, tmp_path):
    """A privileged container gets the host's devices; under a handler with
    privileged_without_host_devices only the default ones (as CRI-O and
    containerd do), still with every capability."""
    conf_d(tmp_path, TABLE + '\n[runtimes.nodev]\npath = "runc"\n'
           'privileged_without_host_devices = true\n')
    env = make_env()
    host = host_devices()
    assert host, 'the host has no device nodes beyond the default set'
    with_devs = privileged_devices(env, 'runc', 'withdevs')
    assert host <= with_devs, host - with_devs
    without = privileged_devices(env, 'nodev', 'nodevs')
    assert not (host & without), host & without
    assert {'null', 'zero', 'urandom'} <= without


def test_pod_keeps_handler_across_restart(make_env, tmp_path, pb):
    conf_d(tmp_path, TABLE)
    env = make_env()
    pod = run_pod(env, 'p', 'plain')
    c1 = env.create(pod, 'c1', ['sleep', '600'])
    env.start(c1)
    env.wait_state(c1, RUNNING)
    env.d.stop()
    env.d.start()
    st = env.d.runtime('PodSandboxStatus', pb.PodSandboxStatusRequest(pod_sandbox_id=pod))
    assert st.status.runtime_handler == 'plain'
    items = env.d.runtime('ListPodSandbox', pb.ListPodSandboxRequest()).items
    assert [(p.id, p.runtime_handler) for p in items] == [(pod, 'plain')]
    c2 = env.create(pod, 'c2', ['sh', '-c', 'echo after-restart; sleep 600'])
    env.start(c2)
    env.wait_state(c2, RUNNING)
    r = env.d.runtime('ExecSync', pb.ExecSyncRequest(container_id=c2, cmd=['echo', 'hi'],
                                                      timeout=10), timeout=30)
    assert r.exit_code == 0 and r.stdout == b'hi\n'


def runc_list(root):
    out = subprocess.run([RUNC, '--root', str(root), 'list', '-q'], capture_output=True,
                         text=True)
    return out.stdout.split() if out.returncode == 0 else []


def test_handler_root_kept_across_restart(make_env, tmp_path, pb):
    """A second handler, runc under a root of its own: its pod's containers
    live in that root (not ocid's default one), also after a restart:
    ExecSync, stop and remove find them there."""
    root = tmp_path / 'other-root'
    conf_d(tmp_path, TABLE + f'\n[runtimes.other]\npath = "{RUNC}"\nroot = "{root}"\n'
           'monitor_env = ["OCID_TEST_ENV=1"]\n')
    env = make_env()
    default_root = tmp_path / 'd' / 'run' / 'runtime'
    pod = run_pod(env, 'o', 'other')
    c1 = env.create(pod, 'c1', ['sh', '-c', 'echo in-other-root; sleep 600'])
    env.start(c1)
    env.wait_state(c1, RUNNING)
    assert c1 in runc_list(root)
    assert c1 not in runc_list(default_root)
    # A pod of the default handler keeps the default root.
    dpod = run_pod(env, 'dflt', '')
    c0 = env.create(dpod, 'c0', ['sleep', '600'])
    env.start(c0)
    assert c0 in runc_list(default_root) and c0 not in runc_list(root)

    env.d.stop()
    env.d.start()
    env.wait_state(c1, RUNNING)
    r = env.d.runtime('ExecSync', pb.ExecSyncRequest(container_id=c1, cmd=['echo', 'hi'],
                                                      timeout=10), timeout=30)
    assert r.exit_code == 0 and r.stdout == b'hi\n'
    c2 = env.create(pod, 'c2', ['sleep', '600'])
    env.start(c2)
    assert c2 in runc_list(root)
    env.d.runtime('StopContainer', pb.StopContainerRequest(container_id=c1, timeout=5),
                  timeout=30)
    env.wait_state(c1, 2)
    env.d.runtime('RemoveContainer', pb.RemoveContainerRequest(container_id=c1), timeout=30)
    assert c1 not in runc_list(root)
    assert 'in-other-root' in env.log('c1')


@pytest.mark.skipif(not CRUN, reason='crun is not installed (apt-get install crun)')
def test_crun_handler_error_surfaces(make_env, tmp_path, pb):
    """A pod under the crun handler: its containers are crun's. On this
    host's hybrid cgroup hierarchy crun refuses to create one; the client
    gets UNKNOWN (the runtime failed, not ocid) with crun's own words and
    the handler named."""
    conf_d(tmp_path, TABLE)
    env = make_env()
    pod = run_pod(env, 'cr', 'crun')
    try:
        cid = env.create(pod, 'c', ['echo', 'hello-from-crun'])
        env.start(cid)
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.UNKNOWN, (e.code(), e.details())
        assert 'cgroups in hybrid mode not supported' in e.details(), e.details()
        assert e.details().startswith(
            f"create container c: runtime handler 'crun' ({CRUN}) create: "), e.details()
        return
    # A host where crun works (cgroup v2): the container ran under crun.
    env.wait_state(cid, 2, timeout=30)
    assert 'hello-from-crun' in env.log('c')


RUNSC = shutil.which('runsc')


@pytest.mark.skipif(not RUNSC, reason='runsc is not installed (apt-get install runsc)')
def test_runsc_handler(make_env, tmp_path, pb):
    """A pod under gVisor: runsc (with this node's flags as handler args)
    runs busybox in its own kernel; logs, ExecSync and stop work."""
    conf_d(tmp_path, TABLE + f'\n[runtimes.runsc]\npath = "{RUNSC}"\n'
           'args = ["--ignore-cgroups", "--network=host"]\n')
    env = make_env()
    pod = run_pod(env, 'g', 'runsc')
    cid = env.create(pod, 'g', ['sh', '-c', 'echo hello-from-gvisor; exec sleep 600'])
    env.start(cid)
    env.wait_state(cid, RUNNING, timeout=30)
    r = env.d.runtime('ExecSync', pb.ExecSyncRequest(container_id=cid, cmd=['busybox', 'dmesg'],
                                                      timeout=20), timeout=40)
    assert r.exit_code == 0, r.stderr
    assert b'gVisor' in r.stdout, r.stdout
    exec_ends_in_sandbox(env, pb, cid)
    deadline = time.monotonic() + 20
    while 'hello-from-gvisor' not in env.log('g') and time.monotonic() < deadline:
        time.sleep(0.05)
    assert 'stdout F hello-from-gvisor' in env.log('g')
    # The stop signal goes through `runsc kill` (the pid is the sandbox's,
    # outside any cgroup of the container's); the sandbox exits with the
    # container's status.
    env.d.runtime('StopContainer', pb.StopContainerRequest(container_id=cid, timeout=10),
                  timeout=40)
    st = env.wait_state(cid, 2, timeout=30)
    assert st.exit_code == 143, (st.exit_code, st.reason, st.message)
    assert st.finished_at > st.started_at > 0
    assert not env.d.runtime('ListContainers', pb.ListContainersRequest(
        filter=pb.ContainerFilter(state=pb.ContainerStateValue(state=RUNNING)))).containers
    env.d.runtime('RemoveContainer', pb.RemoveContainerRequest(container_id=cid), timeout=40)
    out = subprocess.run([RUNSC, '--root', str(tmp_path / 'd' / 'run' / 'runtime-runsc'),
                          'list', '-q'], capture_output=True, text=True)
    assert cid not in out.stdout.split(), out


def exec_ends_in_sandbox(env, pb, cid):
    """runsc's --pid-file holds runsc's own pid, not the program's (which
    runs on the sandbox's kernel): an ExecSync past its timeout, and an
    exec session whose client left, end the program inside the sandbox."""
    def args():
        return env.d.runtime('ExecSync', pb.ExecSyncRequest(
            container_id=cid, cmd=['ps', '-o', 'args'], timeout=20), timeout=40).stdout.decode()

    def gone(what):
        deadline = time.monotonic() + 10
        while what in args():
            assert time.monotonic() < deadline, f'{what!r} outlived its exec: {args()}'
            time.sleep(0.2)

    assert 'sleep 600' in args()  # ps sees the sandbox's processes
    secs = str(300 + os.getpid() % 100)
    with pytest.raises(grpc.RpcError) as e:
        env.d.runtime('ExecSync', pb.ExecSyncRequest(container_id=cid, cmd=['sleep', secs],
                                                      timeout=1), timeout=40)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, e.value
    gone(f'sleep {secs}')
    secs = str(400 + os.getpid() % 100)
    rc = Rc(exec_url(env, cid, ['sleep', secs]))
    try:
        deadline = time.monotonic() + 20
        while f'sleep {secs}' not in args():
            assert time.monotonic() < deadline, 'the exec session did not start its program'
            time.sleep(0.2)
    finally:
        rc.close()
    gone(f'sleep {secs}')


def spec_of(env, cid):
    info = env.status(cid, verbose=True).info
    return json.loads(info['info'])['runtimeSpec']


def test_allowed_annotations(make_env, tmp_path):
    """Annotations something acts on -- CDI's cdi.k8s.io/ (ocid adds the
    device), crun's run.oci., gVisor's dev.gvisor., Kata's
    io.katacontainers. (the runtime reads them from its spec) -- reach a
    container only where its pod's handler allows a prefix of their key;
    by default CDI's only. Other annotations always pass."""
    cdi = tmp_path / 'cdi'
    cdi.mkdir()
    (cdi / 'fake.json').write_text(json.dumps({
        'cdiVersion': '0.6.0', 'kind': 'example.com/fake',
        'devices': [{'name': 'x', 'containerEdits': {'env': ['FAKE_CDI=x']}}]}))
    conf_d(tmp_path, TABLE + '\n[runtimes.gvisorish]\npath = "runc"\n'
           'allowed_annotations = ["dev.gvisor.", "run.oci.keep_original_groups"]\n')
    env = make_env(['--cdi-spec-dirs', str(cdi)])
    pb = env.pb
    ann = {'dev.gvisor.spec.mount.x.share': 'pod', 'run.oci.keep_original_groups': '1',
           'run.oci.handler': 'krun', 'io.katacontainers.config.hypervisor.path': '/x',
           'cdi.k8s.io/fake': 'example.com/fake=x', 'note': 'free'}
    got = {}
    for handler in ('runc', 'gvisorish'):
        pod = run_pod(env, 'a-' + handler, handler)
        cfg = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name='c'), image=pb.ImageSpec(image=env.image),
            command=['sleep', '600'], log_path=f'c-{handler}/0.log', annotations=ann)
        cid = env.d.runtime('CreateContainer', pb.CreateContainerRequest(
            pod_sandbox_id=pod, config=cfg, sandbox_config=env.pod_cfg),
            timeout=60).container_id
        spec = spec_of(env, cid)
        got[handler] = (spec['annotations'], spec['process']['env'])
    annots, envs = got['runc']
    assert {k: v for k, v in annots.items() if k in ann} == {
        'cdi.k8s.io/fake': 'example.com/fake=x', 'note': 'free'}
    assert 'FAKE_CDI=x' in envs
    annots, envs = got['gvisorish']
    assert {k: v for k, v in annots.items() if k in ann} == {
        'dev.gvisor.spec.mount.x.share': 'pod', 'run.oci.keep_original_groups': '1',
        'note': 'free'}
    assert 'FAKE_CDI=x' not in envs


def test_status_features_per_handler(make_env, tmp_path, pb):
    """Each handler's features are its own program's (`<program> features`,
    asked at start and on reload): runc's under any name, none for a program
    without the command (a wrapper that refuses it, gVisor's runsc)."""
    wrapper = tmp_path / 'nofeatures'
    wrapper.write_text('#!/bin/sh\nfor a; do [ "$a" = features ] && exit 1; done\n'
                       f'exec {RUNC} "$@"\n')
    wrapper.chmod(0o755)
    runsc = shutil.which('runsc')
    conf_d(tmp_path, TABLE + f'\n[runtimes.wrapped]\npath = "{wrapper}"\n'
           + (f'\n[runtimes.runsc]\npath = "{runsc}"\n' if runsc else ''))
    env = make_env()

    def features():
        st = env.d.runtime('Status', pb.StatusRequest())
        return {h.name: (h.features.recursive_read_only_mounts, h.features.user_namespaces)
                for h in st.runtime_handlers}
    got = features()
    assert got[''] == got['runc'] == got['plain'] != (False, False), got
    assert got['wrapped'] == (False, False)
    if runsc:
        assert got['runsc'] == (False, False)
    # A pod asking for its own user namespace under the wrapper is refused
    # by that handler's features, not the default's.
    if got[''][1]:
        cfg = pod_cfg(env, 'userns')
        cfg.linux.security_context.namespace_options.userns_options.mode = pb.POD
        cfg.linux.security_context.namespace_options.userns_options.uids.append(
            pb.IDMapping(host_id=100000, container_id=0, length=65536))
        cfg.linux.security_context.namespace_options.userns_options.gids.append(
            pb.IDMapping(host_id=100000, container_id=0, length=65536))
        with pytest.raises(grpc.RpcError) as ei:
            env.d.runtime('RunPodSandbox', pb.RunPodSandboxRequest(
                config=cfg, runtime_handler='wrapped'), timeout=60)
        assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "(runtime handler 'wrapped')" in ei.value.details()
    # A reload asks again: the wrapper, now runc under another name, has
    # runc's features.
    wrapper.write_text(f'#!/bin/sh\nexec {RUNC} "$@"\n')
    env.d.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while features()['wrapped'] != got[''] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert features()['wrapped'] == got['']


def test_rro_per_handler(make_env, tmp_path, pb):
    """A recursive read-only mount is the handler's to make: under a
    handler whose program lacks it (a wrapper refusing `features`) it is
    refused, naming the handler; under runc its spec asks for rro."""
    wrapper = tmp_path / 'nofeatures'
    wrapper.write_text('#!/bin/sh\nfor a; do [ "$a" = features ] && exit 1; done\n'
                       f'exec {RUNC} "$@"\n')
    wrapper.chmod(0o755)
    conf_d(tmp_path, TABLE + f'\n[runtimes.wrapped]\npath = "{wrapper}"\n')
    env = make_env()
    st = env.d.runtime('Status', pb.StatusRequest())
    got = {h.name: h.features.recursive_read_only_mounts for h in st.runtime_handlers}
    assert got['runc'] and not got['wrapped'], got
    host = tmp_path / 'data'
    host.mkdir()

    def create(handler):
        pod = run_pod(env, 'rro-' + handler, handler)
        cfg = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name='c'), image=pb.ImageSpec(image=env.image),
            command=['sleep', '600'], log_path=f'c-{handler}/0.log',
            mounts=[pb.Mount(container_path='/rro', host_path=str(host), readonly=True,
                             recursive_read_only=True)])
        return env.d.runtime('CreateContainer', pb.CreateContainerRequest(
            pod_sandbox_id=pod, config=cfg, sandbox_config=env.pod_cfg),
            timeout=60).container_id

    with pytest.raises(grpc.RpcError) as ei:
        create('wrapped')
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "mount '/rro'" in ei.value.details()
    assert "runtime handler 'wrapped'" in ei.value.details(), ei.value.details()
    cid = create('runc')
    mnt = [m for m in spec_of(env, cid)['mounts'] if m['destination'] == '/rro']
    assert len(mnt) == 1 and 'rro' in mnt[0]['options'], mnt
    env.start(cid)
    assert env.status(cid).status.state == RUNNING
