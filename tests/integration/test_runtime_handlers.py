"""Runtime handlers (issue 12): the [runtimes.<name>] table of ocid.conf,
default_runtime, what RunPodSandbox says of a handler it cannot run pods
under, Status's runtime_handlers, a pod's handler across a restart, and
Debian's crun as the default handler on this host."""
import shutil
import subprocess

import grpc
import pytest

from conftest import ocid_bin, RUNNING

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


def test_status_unknown_and_unrunnable_handlers(make_env, tmp_path, pb):
    conf_d(tmp_path, TABLE)
    env = make_env()
    st = env.d.runtime('Status', pb.StatusRequest())
    got = {h.name: h.features for h in st.runtime_handlers}
    # The default, its name and its alias; crun (another program) is not
    # listed: pods cannot run under it here (yet).
    assert set(got) == {'', 'runc', 'plain'}
    assert got['plain'].recursive_read_only_mounts == got[''].recursive_read_only_mounts

    with pytest.raises(grpc.RpcError) as ei:
        run_pod(env, 'u', 'kata')
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ei.value.details() == \
        "unknown runtime handler 'kata' (this node has 'runc', 'plain', 'crun')"

    with pytest.raises(grpc.RpcError) as ei:
        run_pod(env, 'c', 'crun')
    assert ei.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "runtime handler 'crun' (/usr/bin/crun) is configured" in ei.value.details()
    assert not env.d.runtime('ListPodSandbox', pb.ListPodSandboxRequest()).items


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


@pytest.mark.skipif(not CRUN, reason='crun is not installed (apt-get install crun)')
def test_crun_default_handler_error_surfaces(make_env, tmp_path, pb):
    """crun as default_runtime: every container is crun's. On this host's
    hybrid cgroup hierarchy crun refuses to create one; the client gets
    crun's own words as the gRPC status, not an INTERNAL without them."""
    conf_d(tmp_path, f'default_runtime = "crun"\n[runtimes.crun]\npath = "{CRUN}"\n'
           f'[runtimes.runc]\npath = "{RUNC}"\nexec_fifo_start = true\n')
    env = make_env()
    st = env.d.runtime('Status', pb.StatusRequest())
    assert {h.name for h in st.runtime_handlers} == {'', 'crun'}
    pod = run_pod(env, 'cr', '')
    try:
        cid = env.create(pod, 'c', ['echo', 'hello-from-crun'])
        env.start(cid)
    except grpc.RpcError as e:
        # crun's own sentence reaches the client as the status message.
        # (The code is INTERNAL, as for any runtime create failure: ctr maps
        # the monitor's report of it to EIO.)
        assert 'cgroups in hybrid mode not supported' in e.details(), e.details()
        assert e.details().startswith('create container c: '), e.details()
        return
    # A host where crun works (cgroup v2): the container ran under crun.
    env.wait_state(cid, 2, timeout=30)
    assert 'hello-from-crun' in env.log('c')



def test_runsc_handler():
    pytest.skip('runsc (gVisor, Debian 0.0~20221219) is installed here, but ocid cannot run '
                'pods under it yet: ocimon takes the one process a create leaves behind as '
                'the container (runsc leaves its sandbox and gofer: "the runtime left several '
                'processes behind"), and a non-default handler\'s path and args are not '
                'passed to the container manager; see ocid.conf(5) RUNTIME HANDLERS')
