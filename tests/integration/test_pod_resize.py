"""In-place pod resize (issue 15): UpdatePodSandboxResources records the
pod's overhead and resources and sets the limits of the pod cgroup ocid made
(cgroupfs driver), up and down, while a container runs on; bad input is
INVALID_ARGUMENT, an unknown pod NOT_FOUND."""
import json
import os

import grpc
import pytest

V1 = '/sys/fs/cgroup'


def cgroup_dirs(path):
    """{kind: dir} of the pod cgroup: 'memory' and 'cpu' v1 hierarchies, or
    'v2' for a unified mount whose controllers it has."""
    out = {}
    with open('/proc/self/mountinfo') as f:
        for line in f:
            pre, post = line.split(' - ')
            mnt = pre.split()[4]
            fstype, _, opts = post.split()[:3]
            d = mnt + path
            if not os.path.isdir(d):
                continue
            if fstype == 'cgroup':
                for c in ('memory', 'cpu'):
                    if c in opts.split(','):
                        out[c] = d
            elif fstype == 'cgroup2' and os.path.exists(os.path.join(d, 'memory.max')):
                out['v2'] = d
    return out


def read(d, name):
    with open(os.path.join(d, name)) as f:
        return f.read().strip()


def limits(dirs):
    """(memory bytes or None, shares or weight, quota or None, period)."""
    if 'memory' in dirs:
        mem = int(read(dirs['memory'], 'memory.limit_in_bytes'))
        quota = int(read(dirs['cpu'], 'cpu.cfs_quota_us'))
        return (None if mem >= 1 << 62 else mem, int(read(dirs['cpu'], 'cpu.shares')),
                None if quota < 0 else quota, int(read(dirs['cpu'], 'cpu.cfs_period_us')))
    mem = read(dirs['v2'], 'memory.max')
    q, p = read(dirs['v2'], 'cpu.max').split()
    return (None if mem == 'max' else int(mem), int(read(dirs['v2'], 'cpu.weight')),
            None if q == 'max' else int(q), int(p))


def resize(env, pod, res=None, ovh=None):
    pb = env.pb
    env.d.runtime('UpdatePodSandboxResources', pb.UpdatePodSandboxResourcesRequest(
        pod_sandbox_id=pod,
        resources=pb.LinuxContainerResources(**res) if res is not None else None,
        overhead=pb.LinuxContainerResources(**ovh) if ovh is not None else None))


def pod_info(env, pod):
    st = env.d.runtime('PodSandboxStatus', env.pb.PodSandboxStatusRequest(
        pod_sandbox_id=pod, verbose=True))
    return json.loads(st.info['info'])


def test_resize_up_and_down_while_running(env):
    pb = env.pb
    pod = env.pod('resize')
    cid = env.create(pod, 'c', ['/bin/sleep', '600'])
    env.start(cid)
    started = env.status(cid).status.started_at
    info = pod_info(env, pod)
    if ':' in info['runtime']['cgroup']:
        pytest.skip('systemd cgroup driver: the pod cgroup is not ocid\'s')
    dirs = cgroup_dirs(info['runtime']['cgroup'])
    assert ('memory' in dirs and 'cpu' in dirs) or 'v2' in dirs, dirs
    v2 = 'v2' in dirs

    def shares(s):
        return 1 + ((s - 2) * 9999) // 262142 if v2 else s

    steps = [
        # (resources, overhead) -> (memory, shares, quota, period) on the pod cgroup
        (dict(memory_limit_in_bytes=256 << 20, cpu_shares=512, cpu_quota=50000,
              cpu_period=100000),
         dict(memory_limit_in_bytes=16 << 20, cpu_shares=10, cpu_quota=5000),
         ((256 + 16) << 20, shares(522), 55000, 100000)),
        # up
        (dict(memory_limit_in_bytes=512 << 20, cpu_shares=2048, cpu_quota=200000,
              cpu_period=100000), None,
         ((512 + 16) << 20, shares(2058), 205000, 100000)),
        # down, another period
        (dict(memory_limit_in_bytes=128 << 20, cpu_shares=256, cpu_quota=25000,
              cpu_period=50000), dict(),
         (128 << 20, shares(256), 25000, 50000)),
        # no limits at all
        (dict(cpu_shares=1024), None, (None, shares(1024), None, 50000 if not v2 else 100000)),
    ]
    for res, ovh, want in steps:
        resize(env, pod, res, ovh)
        assert limits(dirs) == want, (res, ovh)
        st = env.status(cid).status
        assert st.state == pb.CONTAINER_RUNNING
        # The container still answers.
        r = env.d.runtime('ExecSync', pb.ExecSyncRequest(container_id=cid, cmd=['echo', 'ok'],
                                                         timeout=10))
        assert r.exit_code == 0 and r.stdout == b'ok\n'
    assert env.status(cid).status.started_at == started

    # Recorded: the pod's config shows what was last given.
    cfg = pod_info(env, pod)['config']
    assert cfg['resources']['cpu_shares'] == 1024
    assert cfg['resources']['memory_limit_in_bytes'] == 0
    assert cfg['overhead']['memory_limit_in_bytes'] == 0


def test_resize_recorded_across_restart(env):
    pod = env.pod('resize-restart')
    resize(env, pod, dict(memory_limit_in_bytes=64 << 20), dict(memory_limit_in_bytes=1 << 20))
    env.d.stop()
    env.d.start()
    cfg = pod_info(env, pod)['config']
    assert cfg['resources']['memory_limit_in_bytes'] == 64 << 20
    assert cfg['overhead']['memory_limit_in_bytes'] == 1 << 20


@pytest.mark.parametrize('res,words', [
    (dict(memory_limit_in_bytes=-1), 'memory_limit_in_bytes'),
    (dict(cpu_shares=-5), 'cpu_shares'),
    (dict(cpu_period=10), 'cpu_period'),
    (dict(cpu_quota=5), 'cpu_quota'),
    (dict(cpu_quota=-7), 'cpu_quota'),
])
def test_resize_bad_input(env, res, words):
    pod = env.pod('resize-bad')
    with pytest.raises(grpc.RpcError) as e:
        resize(env, pod, res)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert words in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        resize(env, pod, dict(cpu_shares=2), res)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert 'overhead' in e.value.details()
    # Nothing recorded.
    assert 'resources' not in pod_info(env, pod)['config']


def test_resize_unknown_or_empty_pod(env):
    with pytest.raises(grpc.RpcError) as e:
        resize(env, 'f' * 64, dict(memory_limit_in_bytes=1 << 30))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert 'not found' in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        resize(env, '', dict(memory_limit_in_bytes=1 << 30))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
