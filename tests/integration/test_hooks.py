"""OCI hooks (issue 12): oci-hooks(5) files in hooks_dir reach config.json
when their conditions hold, and runc runs them at their stages -- a script
records the state it reads on stdin."""
import json
import os
import stat
import time

from conftest import EXITED, RUNNING

SCRIPT = """#!/bin/sh
# $1: a name for this run; the OCI state arrives on stdin.
cat > "{out}/$1.$$.tmp" && mv "{out}/$1.$$.tmp" "{out}/$1-$(date +%s%N).json"
"""


def hook(path, args, when, stages):
    return json.dumps({'version': '1.0.0', 'hook': {'path': path, 'args': args},
                       'when': when, 'stages': stages})


def records(out, name):
    """The states recorded under `name`, oldest first."""
    files = sorted(f for f in os.listdir(out) if f.startswith(name + '-'))
    res = []
    for f in files:
        with open(os.path.join(out, f)) as fh:
            res.append(json.load(fh))
    return res


def wait_record(out, name, n=1):
    deadline = time.monotonic() + 30
    while len(records(out, name)) < n:
        assert time.monotonic() < deadline, (name, os.listdir(out))
        time.sleep(0.05)
    return records(out, name)


def create(env, pod, name, cmd, annotations=None, mounts=()):
    pb = env.pb
    cfg = pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name=name), image=pb.ImageSpec(image=env.image),
        command=cmd, log_path=f'{name}.log', annotations=annotations or {},
        mounts=[pb.Mount(container_path=c, host_path=h) for c, h in mounts])
    return env.d.runtime('CreateContainer', pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=cfg, sandbox_config=env.pod_cfg), timeout=60).container_id


def test_hooks(make_env, tmp_path):
    hooks_a, hooks_b, out = tmp_path / 'hooks-a', tmp_path / 'hooks-b', tmp_path / 'out'
    for d in (hooks_a, hooks_b, out):
        d.mkdir()
    script = tmp_path / 'record.sh'
    script.write_text(SCRIPT.format(out=out))
    script.chmod(0o755)
    s = str(script)
    (hooks_a / '10-always.json').write_text(hook(
        s, [s, 'always-create'], {'always': True}, ['createRuntime']))
    (hooks_a / '11-always-post.json').write_text(hook(
        s, [s, 'always-poststart'], {'always': True}, ['poststart']))
    (hooks_a / '12-poststop.json').write_text(hook(
        s, [s, 'poststop'], {'always': True}, ['poststop']))
    (hooks_a / '20-gpu.json').write_text(hook(
        s, [s, 'gpu'], {'annotations': {r'^example\.com/gpu$': '^(yes|true)$'}}, ['prestart']))
    (hooks_a / '30-sleep.json').write_text(hook(
        s, [s, 'sleep-cmd'], {'commands': ['/sleep$']}, ['createRuntime']))
    (hooks_a / '40-mounts.json').write_text(hook(
        s, [s, 'mounts'], {'hasBindMounts': True}, ['createRuntime']))
    # The packaged hook is replaced by the administrator's of the same name.
    (hooks_a / '50-override.json').write_text(hook(
        s, [s, 'packaged'], {'always': True}, ['createRuntime']))
    (hooks_b / '50-override.json').write_text(hook(
        s, [s, 'admin'], {'always': True}, ['createRuntime']))
    # Broken files are skipped with a warning, never fatal.
    (hooks_b / '60-broken.json').write_text('{"version": "1.0.0", "hook": ')
    (hooks_b / '61-relative.json').write_text(hook('record.sh', [], {'always': True},
                                                   ['poststop']))

    env = make_env(['--hooks-dir', f'{hooks_a}:{hooks_b}:{tmp_path / "absent"}'])
    d, pb = env.d, env.pb
    pod = env.pod()

    # A: every condition but the gpu annotation and the mount.
    a = create(env, pod, 'a', ['/bin/sleep', '600'])
    always = wait_record(out, 'always-create')
    assert always[0]['id'] == a and always[0]['status'] == 'creating'
    assert always[0]['pid'] > 0 and always[0]['bundle']
    assert wait_record(out, 'sleep-cmd')[0]['id'] == a
    assert wait_record(out, 'admin')[0]['id'] == a
    with open(os.path.join(always[0]['bundle'], 'config.json')) as f:
        spec = json.load(f)
    assert sorted(spec['hooks']) == ['createRuntime', 'poststart', 'poststop']
    assert [h['args'][1] for h in spec['hooks']['createRuntime']] == [
        'always-create', 'sleep-cmd', 'admin']
    env.start(a)
    post = wait_record(out, 'always-poststart')
    assert post[0]['id'] == a and post[0]['status'] in ('created', 'running')

    # B: the gpu annotation and a bind mount, another command.
    src = tmp_path / 'data'
    src.mkdir()
    b = create(env, pod, 'b', ['/bin/sh', '-c', 'sleep 600'],
               annotations={'example.com/gpu': 'yes'}, mounts=[('/data', str(src))])
    gpu = wait_record(out, 'gpu')
    assert len(gpu) == 1 and gpu[0]['id'] == b
    assert gpu[0]['annotations']['example.com/gpu'] == 'yes'
    assert wait_record(out, 'mounts')[0]['id'] == b
    assert [r['id'] for r in records(out, 'sleep-cmd')] == [a]  # /bin/sh is not /sleep
    assert records(out, 'packaged') == []
    assert len(records(out, 'always-create')) == 2

    log = d.read_log()
    assert 'hook file skipped' in log and '60-broken.json' in log
    assert '61-relative.json: hook.path: an absolute path is required' in log

    # poststop runs when the container is removed (runc delete).
    d.runtime('StopContainer', pb.StopContainerRequest(container_id=a, timeout=1), timeout=30)
    assert env.status(a).status.state == EXITED
    assert records(out, 'poststop') == []
    d.runtime('RemoveContainer', pb.RemoveContainerRequest(container_id=a), timeout=30)
    stop = wait_record(out, 'poststop')
    assert stop[0]['id'] == a and stop[0]['status'] == 'stopped'


def test_no_hooks_dir(make_env, tmp_path):
    """Hook directories that do not exist (the default on this machine)
    leave config.json without hooks."""
    env = make_env(['--hooks-dir', str(tmp_path / 'none')])
    pod = env.pod()
    cid = env.create(pod, 'plain', ['/bin/true'])
    bundle = os.path.join(env.d.runroot, 'containers', cid)
    with open(os.path.join(bundle, 'config.json')) as f:
        assert 'hooks' not in json.load(f)
    assert 'hook file skipped' not in env.d.read_log()
