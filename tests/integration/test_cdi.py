"""CDI devices (issue 12): CDIDevices and cdi.k8s.io/ annotations resolved
against CDI spec files in cdi_spec_dirs -- a fake device backed by
/dev/null, a mounted file and an environment variable reach the container;
an unknown device is INVALID_ARGUMENT naming it. Specs in JSON and YAML."""
import json

import grpc
import pytest

from conftest import RUNNING


def spec(info):
    return json.dumps({
        'cdiVersion': '0.6.0', 'kind': 'example.com/fake',
        'containerEdits': {'env': ['FAKE_VENDOR=example']},
        'devices': [{'name': 'null0', 'containerEdits': {
            'deviceNodes': [{'path': '/dev/fake0', 'hostPath': '/dev/null',
                             'permissions': 'rw'}],
            'mounts': [{'hostPath': str(info), 'containerPath': '/fake/info',
                        'options': ['ro', 'bind']}],
            'env': ['FAKE_DEVICE=null0']}}]})


def create(env, pod, name, cdi=(), annotations=None):
    pb = env.pb
    cfg = pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name=name), image=pb.ImageSpec(image=env.image),
        command=['/bin/sleep', '600'], log_path=f'{name}.log', annotations=annotations or {},
        CDI_devices=[pb.CDIDevice(name=n) for n in cdi])
    return env.d.runtime('CreateContainer', pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=cfg, sandbox_config=env.pod_cfg), timeout=60).container_id


def run(env, cid, cmd):
    r = env.d.runtime('ExecSync', env.pb.ExecSyncRequest(container_id=cid, cmd=cmd, timeout=20),
                      timeout=30)
    return r.exit_code, r.stdout.decode(), r.stderr.decode()


def test_cdi_devices(make_env, tmp_path):
    cdi_a, cdi_b = tmp_path / 'cdi-a', tmp_path / 'cdi-b'
    cdi_a.mkdir()
    cdi_b.mkdir()
    info = tmp_path / 'info'
    info.write_text('fake device 0\n')
    (cdi_a / 'fake.json').write_text(spec(info))
    (cdi_b / 'broken.json').write_text('{"cdiVersion": "0.6.0", "kind": ')
    # YAML, as most vendor tools write it.
    (cdi_b / 'yfake.yaml').write_text(
        'cdiVersion: 0.5.0\nkind: example.com/yfake\ndevices:\n  - name: y0\n'
        '    containerEdits:\n      env: ["YAML_DEVICE=y0"]\n'
        '      deviceNodes:\n        - path: /dev/yfake\n          hostPath: /dev/null\n')
    env = make_env(['--cdi-spec-dirs', f'{cdi_a}:{cdi_b}'])
    d, pb = env.d, env.pb
    pod = env.pod()

    for name, kw in (('by-field', {'cdi': ['example.com/fake=null0']}),
                     ('by-annotation', {'annotations': {
                         'cdi.k8s.io/fake': 'example.com/fake=null0,example.com/yfake=y0'}})):
        cid = create(env, pod, name, **kw)
        env.start(cid)
        env.wait_state(cid, RUNNING)
        code, out, err = run(env, cid, ['/bin/sh', '-c',
                                        'stat -c "%t:%T %F" /dev/fake0; cat /fake/info; '
                                        'echo "$FAKE_DEVICE $FAKE_VENDOR"; '
                                        'echo x > /dev/fake0 && echo written; '
                                        'echo y > /fake/info || echo read-only'])
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0] == '1:3 character special file', out  # /dev/null's numbers
        assert lines[1:4] == ['fake device 0', 'null0 example', 'written'], out
        assert lines[4] == 'read-only', out
        code, out, _ = run(env, cid, ['/bin/sh', '-c', 'echo "$YAML_DEVICE"; ls /dev/yfake'])
        want = 'y0\n/dev/yfake\n' if name == 'by-annotation' else '\n'
        assert out.startswith(want), out
    assert info.read_text() == 'fake device 0\n'
    assert 'CDI spec file skipped' in d.read_log() and 'broken.json' in d.read_log()

    # Without the device, nothing of it.
    plain = create(env, pod, 'plain')
    env.start(plain)
    code, out, _ = run(env, plain, ['/bin/sh', '-c', 'ls /dev/fake0 || echo none'])
    assert out.strip().endswith('none')

    # An unknown device: a clear INVALID_ARGUMENT, nothing created.
    before = len(env.list())
    for kw in ({'cdi': ['example.com/fake=gpu9']},
               {'annotations': {'cdi.k8s.io/x': 'example.com/fake=null0,example.com/fake=gpu9'}}):
        with pytest.raises(grpc.RpcError) as e:
            create(env, pod, 'bad', **kw)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "CDI device 'example.com/fake=gpu9' is not defined" in e.value.details()
    assert len(env.list()) == before
