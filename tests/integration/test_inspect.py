"""The inspect API on the CRI socket (issue 12): GET /containers/<id>,
POST /pause/<id> and /unpause/<id> (the runtime's cgroup freezer), and
ocic inspect, pause, unpause."""
import json
import os
import subprocess

from conftest import EXITED, RUNNING, ocic_bin
from test_ocic_stream import netns_pod


def ocic(d, *args):
    return subprocess.run([ocic_bin(), '--socket', d.socket] + list(args),
                          capture_output=True, text=True, timeout=60)


def get(d, cid):
    status, _, body = d.http('GET', f'/containers/{cid}')
    return status, json.loads(body)


def frozen(pid):
    """The container's freezer state, from its cgroup (v1 freezer or v2)."""
    with open(f'/proc/{pid}/cgroup') as f:
        lines = f.read().splitlines()
    for line in lines:
        _, ctrls, path = line.split(':', 2)
        if 'freezer' in ctrls.split(','):
            with open(f'/sys/fs/cgroup/freezer{path}/freezer.state') as f:
                return f.read().strip() == 'FROZEN'
    for line in lines:
        if line.startswith('0::'):
            with open(f'/sys/fs/cgroup{line[3:]}/cgroup.freeze') as f:
                return f.read().strip() == '1'
    raise AssertionError(f'no freezer in {lines}')


def test_inspect_pause_unpause(env):
    d, pb = env.d, env.pb
    pod = netns_pod(env)
    cid = env.create(pod, 'web', ['/bin/sleep', '600'])
    env.start(cid)
    env.wait_state(cid, RUNNING)

    status, j = get(d, cid)
    assert status == 200, j
    assert j['id'] == cid and j['name'] == 'web' and j['sandbox'] == pod
    assert j['image'] == env.image and j['image_id'].startswith('sha256:')
    assert j['state'] == 'running' and j['paused'] is False
    pod_ip = d.runtime('PodSandboxStatus', pb.PodSandboxStatusRequest(
        pod_sandbox_id=pod)).status.network.ip
    assert pod_ip and j['ip'] == pod_ip
    assert j['log_path'] == os.path.join(env.logs, 'web/0.log')
    with open(f"/proc/{j['pid']}/cmdline", 'rb') as f:
        assert f.read().split(b'\0')[0] == b'/bin/sleep'
    assert os.path.isfile(os.path.join(j['root'], 'bin', 'busybox'))
    # A unique prefix works as for the CRI.
    assert get(d, cid[:12]) == (200, j)

    status, _, body = d.http('POST', f'/pause/{cid}')
    assert status == 200, body
    assert frozen(j['pid'])
    status, j2 = get(d, cid)
    assert j2['paused'] is True and j2['runtime_status'] == 'paused'
    assert env.status(cid).status.state == RUNNING  # the CRI has no paused state
    status, _, body = d.http('POST', f'/pause/{cid}')
    assert status == 409 and b'already paused' in body

    status, _, body = d.http('POST', f'/unpause/{cid}')
    assert status == 200, body
    assert not frozen(j['pid'])
    assert get(d, cid)[1]['paused'] is False
    status, _, body = d.http('POST', f'/unpause/{cid}')
    assert status == 409 and b'is not paused' in body

    # ocic: the same through the CLI.
    p = ocic(d, 'pause', cid)
    assert p.returncode == 0 and p.stdout.strip() == cid, p.stderr
    p = ocic(d, '-o', 'json', 'inspect', cid)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)['paused'] is True
    p = ocic(d, 'inspect', cid)
    assert p.returncode == 0 and f'pid        {j["pid"]}' in p.stdout
    assert 'paused     true' in p.stdout and f'ip         {pod_ip}' in p.stdout
    p = ocic(d, 'pause', cid)
    assert p.returncode == 1
    assert p.stderr.strip() == f'ocic: container {cid} is already paused (HTTP 409)'

    # A paused container still stops (thawed first), within the call.
    d.runtime('StopContainer', pb.StopContainerRequest(container_id=cid, timeout=2),
              timeout=30)
    assert env.status(cid).status.state == EXITED
    status, j3 = get(d, cid)
    assert status == 200 and j3['state'] == 'exited' and j3['pid'] == 0
    status, _, body = d.http('POST', f'/pause/{cid}')
    assert status == 409
    assert json.loads(body)['error'] == (
        f'container {cid} is EXITED; only a running container can be paused')
    p = ocic(d, 'unpause', cid)
    assert p.returncode == 1 and 'only a running container can be resumed' in p.stderr


def test_paused_across_restart(env):
    """A freeze outlives ocid: after a restart the container is still paused
    (found from its runtime's state), unpause thaws it, and a paused one
    still stops (thawed first)."""
    d, pb = env.d, env.pb
    pod = netns_pod(env, 'restart')
    cid = env.create(pod, 'frozen', ['/bin/sleep', '600'])
    env.start(cid)
    env.wait_state(cid, RUNNING)
    other = env.create(pod, 'thawed', ['/bin/sleep', '600'])
    env.start(other)
    env.wait_state(other, RUNNING)
    status, _, body = d.http('POST', f'/pause/{cid}')
    assert status == 200, body
    pid = get(d, cid)[1]['pid']
    d.stop()
    assert frozen(pid)
    d.start()
    env.wait_state(cid, RUNNING)
    status, j = get(d, cid)
    assert status == 200 and j['paused'] is True and j['runtime_status'] == 'paused'
    assert env.status(cid).status.state == RUNNING  # the CRI has no paused state
    status, _, body = d.http('POST', f'/pause/{cid}')
    assert status == 409 and b'already paused' in body, body
    status, _, body = d.http('POST', f'/unpause/{other}')
    assert status == 409 and b'is not paused' in body, body
    status, _, body = d.http('POST', f'/unpause/{cid}')
    assert status == 200, body
    assert not frozen(pid) and get(d, cid)[1]['paused'] is False
    # Paused again, then stopped within the call: the stop thaws it first.
    status, _, body = d.http('POST', f'/pause/{cid}')
    assert status == 200, body
    d.stop()
    d.start()
    d.runtime('StopContainer', pb.StopContainerRequest(container_id=cid, timeout=2),
              timeout=30)
    assert env.status(cid).status.state == EXITED


def test_bad_ids(daemon):
    d = daemon
    msg = 'no such container: a container id is 1 to 64 lowercase hex digits'
    for cid in ('nothex', 'ABCDEF', '..', '%2e%2e%2fetc', 'a' * 65, 'ab/cd', ''):
        for method, prefix in (('GET', '/containers/'), ('POST', '/pause/'),
                               ('POST', '/unpause/')):
            status, _, body = d.http(method, prefix + cid)
            assert status == 404, (method, prefix, cid, body)
            assert json.loads(body)['error'] == msg
    status, _, body = d.http('GET', '/containers/' + 'f' * 64)
    assert status == 404 and 'f' * 64 in json.loads(body)['error']
    status, _, body = d.http('POST', '/pause/' + 'f' * 64)
    assert status == 404
    status, _, body = d.http('POST', '/containers/' + 'f' * 64)
    assert status == 405 and b'use GET' in body
    status, _, body = d.http('GET', '/pause/' + 'f' * 64)
    assert status == 405 and b'use POST' in body

    p = ocic(d, 'inspect', 'f' * 64)
    assert p.returncode == 1
    assert p.stderr.strip() == f"ocic: container {'f' * 64} not found (HTTP 404)"
    p = ocic(d, 'inspect')
    assert p.returncode == 2 and 'a container ID is required' in p.stderr
    p = ocic(d, 'pause', '../x')
    assert p.returncode == 2 and "'../x' is not a container ID" in p.stderr
    p = ocic(d, 'unpause', 'a', 'b')
    assert p.returncode == 2 and "unexpected argument 'b'" in p.stderr
