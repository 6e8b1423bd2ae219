"""What ContainerStatus reports of a container's config (its mounts and
resources) is stored as ctr's JSON (containers.config, schema 5) and
survives restarts; a database from before (schema 4, the CRI
ContainerConfig as a protobuf BLOB in containers.cri_config) is upgraded:
its containers report the same mounts and resources, and an
UpdateContainerResources moves the row to the JSON, kept across the next
restart. Real ocid, runc and SQLite."""
import json
import os
import signal
import sqlite3

from conftest import RUNNING


def kill(d):
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.log.close()


def db_path(d):
    return os.path.join(d.root, 'ocid.db')


def create(env, pod, name, host):
    pb = env.pb
    cfg = pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name=name), image=pb.ImageSpec(image=env.image),
        command=['/bin/sleep', '600'], log_path=f'{name}.log',
        mounts=[pb.Mount(container_path='/rw', host_path=host),
                pb.Mount(container_path='/ro', host_path=host, readonly=True,
                         selinux_relabel=True)])
    cfg.linux.resources.cpu_shares = 512
    cfg.linux.resources.memory_limit_in_bytes = 64 << 20
    cfg.linux.resources.cpuset_cpus = '0'
    cid = env.d.runtime('CreateContainer', pb.CreateContainerRequest(
        pod_sandbox_id=pod, config=cfg, sandbox_config=env.pod_cfg),
        timeout=60).container_id
    return cid, cfg


def check(env, cid, host, memory):
    st = env.status(cid).status
    assert st.state == RUNNING
    got = [(m.container_path, m.host_path, m.readonly, m.selinux_relabel, m.propagation)
           for m in st.mounts]
    assert got == [('/rw', host, False, False, env.pb.PROPAGATION_PRIVATE),
                   ('/ro', host, True, True, env.pb.PROPAGATION_PRIVATE)], st.mounts
    res = st.resources.linux
    assert (res.cpu_shares, res.memory_limit_in_bytes) == (512, memory), res
    assert res.cpuset_cpus == '0'


def row(d, cid):
    db = sqlite3.connect(db_path(d))
    try:
        return db.execute('SELECT config, cri_config FROM containers WHERE id = ?',
                          (cid,)).fetchone()
    finally:
        db.close()


def schema(d):
    db = sqlite3.connect(db_path(d))
    try:
        return db.execute('SELECT MAX(version) FROM schema_version').fetchone()[0]
    finally:
        db.close()


def update_memory(env, cid, memory):
    pb = env.pb
    env.d.runtime('UpdateContainerResources', pb.UpdateContainerResourcesRequest(
        container_id=cid, linux=pb.LinuxContainerResources(
            cpu_shares=512, memory_limit_in_bytes=memory, cpuset_cpus='0')))


def test_status_config_is_json_and_kept(env, tmp_path):
    d = env.d
    pod = env.pod()
    host = str(tmp_path)
    cid, _ = create(env, pod, 'kept', host)
    env.start(cid)
    check(env, cid, host, 64 << 20)
    config, blob = row(d, cid)
    assert blob is None
    stored = json.loads(config)
    assert [m['container_path'] for m in stored['mounts']] == ['/rw', '/ro']
    assert stored['resources']['memory_limit_in_bytes'] == 64 << 20
    update_memory(env, cid, 96 << 20)
    kill(d)
    d.start()
    check(env, cid, host, 96 << 20)


def test_schema4_rows_upgrade(env, tmp_path):
    """A row written by an ocid of schema 4 (made here from a running ocid's
    row: the config column dropped, the CRI config as a BLOB) reports its
    mounts and resources after the upgrade; an update then rewrites it as
    JSON, which the next restart keeps."""
    d = env.d
    pod = env.pod()
    host = str(tmp_path)
    cid, cfg = create(env, pod, 'old', host)
    env.start(cid)
    kill(d)
    db = sqlite3.connect(db_path(d))
    db.execute('UPDATE containers SET cri_config = ? WHERE id = ?',
               (cfg.SerializeToString(), cid))
    db.execute('ALTER TABLE containers DROP COLUMN config')
    db.execute('DELETE FROM schema_version WHERE version >= 5')
    db.commit()
    db.close()
    assert schema(d) == 4

    d.start()
    assert schema(d) == 5
    assert row(d, cid) == (None, cfg.SerializeToString())
    check(env, cid, host, 64 << 20)
    # Listed as any container.
    assert [c.id for c in env.list()] == [cid]
    update_memory(env, cid, 128 << 20)
    check(env, cid, host, 128 << 20)
    config, blob = row(d, cid)
    assert blob is None
    assert json.loads(config)['resources']['memory_limit_in_bytes'] == 128 << 20

    kill(d)
    d.start()
    check(env, cid, host, 128 << 20)
