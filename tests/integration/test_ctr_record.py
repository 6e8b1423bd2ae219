"""What ContainerStatus reports of a container's config (its mounts and
resources) is stored as ctr's JSON (containers.config) and survives
restarts; a database from before (schema 4, the CRI ContainerConfig as a
protobuf BLOB in containers.cri_config) is converted when ocid opens it,
before any call (schema 6): each row gets its JSON, the BLOB column goes,
its containers report the same mounts and resources; a BLOB that does not
decode leaves the container with an empty record, named in the log; an
ocid killed during the upgrade leaves the database as it was, and the next
start does it. Real ocid, runc and SQLite."""
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


def sql(d, query, args=()):
    db = sqlite3.connect(db_path(d))
    try:
        return db.execute(query, args).fetchall()
    finally:
        db.close()


def row(d, cid):
    return sql(d, 'SELECT config FROM containers WHERE id = ?', (cid,))[0][0]


def columns(d):
    return [r[1] for r in sql(d, "SELECT * FROM pragma_table_info('containers')")]


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
    stored = json.loads(row(d, cid))
    assert [m['container_path'] for m in stored['mounts']] == ['/rw', '/ro']
    assert stored['resources']['memory_limit_in_bytes'] == 64 << 20
    update_memory(env, cid, 96 << 20)
    kill(d)
    d.start()
    check(env, cid, host, 96 << 20)


def make_schema4(d, blobs):
    """Turn a stopped ocid's database into one of schema 4: the config
    column dropped, each container's CRI config a BLOB (as that ocid wrote
    them)."""
    db = sqlite3.connect(db_path(d))
    db.execute('ALTER TABLE containers ADD COLUMN cri_config BLOB')
    for cid, blob in blobs.items():
        db.execute('UPDATE containers SET cri_config = ? WHERE id = ?', (blob, cid))
    db.execute('ALTER TABLE containers DROP COLUMN config')
    db.execute('DELETE FROM schema_version WHERE version >= 5')
    db.commit()
    db.close()
    assert schema(d) == 4
    assert 'cri_config' in columns(d) and 'config' not in columns(d)


def converted(d, cid, host, memory):
    """After the upgrade, before any call: the row is ctr's JSON, the BLOB
    column is gone."""
    assert schema(d) == 6
    assert 'cri_config' not in columns(d)
    stored = json.loads(row(d, cid))
    assert [(m['container_path'], m['host_path'], m['readonly'], m['selinux_relabel'])
            for m in stored['mounts']] == [('/rw', host, False, False),
                                           ('/ro', host, True, True)], stored
    res = stored['resources']
    assert (res['cpu_shares'], res['memory_limit_in_bytes'], res['cpuset_cpus']) == \
        (512, memory, '0'), res


def test_schema4_rows_upgrade(env, tmp_path):
    """A row written by an ocid of schema 4 (made here from a running ocid's
    row) is converted to JSON when ocid starts, before any call; its status
    reports the same mounts and resources, and an update and the next
    restart keep them."""
    d = env.d
    pod = env.pod()
    host = str(tmp_path)
    cid, cfg = create(env, pod, 'old', host)
    env.start(cid)
    kill(d)
    make_schema4(d, {cid: cfg.SerializeToString()})

    d.start()
    converted(d, cid, host, 64 << 20)
    assert 'container records converted from the CRI protobuf to JSON' in d.read_log()
    check(env, cid, host, 64 << 20)
    # Listed as any container.
    assert [c.id for c in env.list()] == [cid]
    update_memory(env, cid, 128 << 20)
    check(env, cid, host, 128 << 20)
    assert json.loads(row(d, cid))['resources']['memory_limit_in_bytes'] == 128 << 20

    kill(d)
    d.start()
    check(env, cid, host, 128 << 20)


def test_schema4_undecodable_blob(env, tmp_path):
    """A BLOB that does not decode (a field's length past its end) neither
    stops ocid nor loses the container: it gets an empty record, is listed
    and running, its status lacks mounts, and the log names it."""
    d = env.d
    pod = env.pod()
    host = str(tmp_path)
    cid, cfg = create(env, pod, 'bad', host)
    env.start(cid)
    good, _ = create(env, pod, 'good', host)
    env.start(good)
    kill(d)
    make_schema4(d, {cid: b'\x0a\x05ab', good: cfg.SerializeToString()})

    d.start()
    assert schema(d) == 6
    assert json.loads(row(d, cid)) == {'mounts': []}
    assert json.loads(row(d, good))['mounts']
    log = [line for line in d.read_log().splitlines() if 'cannot be converted' in line]
    assert len(log) == 1 and f'id={cid}' in log[0], log
    assert sorted(c.id for c in env.list()) == sorted([cid, good])
    st = env.status(cid).status
    assert st.state == RUNNING
    assert list(st.mounts) == []
    assert len(env.status(good).status.mounts) == 2
    # It still takes an update, which the status then reports.
    update_memory(env, cid, 96 << 20)
    assert env.status(cid).status.resources.linux.memory_limit_in_bytes == 96 << 20


def db_open_by(pid, path):
    """Whether process `pid` has `path` open."""
    fds = f'/proc/{pid}/fd'
    for fd in os.listdir(fds):
        try:
            if os.readlink(os.path.join(fds, fd)) == path:
                return True
        except FileNotFoundError:
            pass
    return False


def test_schema4_upgrade_killed(env, tmp_path):
    """An ocid killed during the upgrade (held at its write lock by a
    transaction of ours once it has the database open) changed nothing: the
    database is still of schema 4 with its BLOB; the next start converts
    it; one killed right after that starts again as usual."""
    d = env.d
    pod = env.pod()
    host = str(tmp_path)
    cid, cfg = create(env, pod, 'killed', host)
    env.start(cid)
    kill(d)
    blob = cfg.SerializeToString()
    make_schema4(d, {cid: blob})

    lock = sqlite3.connect(db_path(d), isolation_level=None)
    lock.execute('BEGIN IMMEDIATE')
    d.start(wait=False)
    # ocid waits on the lock (up to its busy timeout of 5 s) inside the
    # upgrade: kill it there.
    while not db_open_by(d.proc.pid, db_path(d)):
        assert d.proc.poll() is None, d.read_log()
    assert d.proc.poll() is None
    kill(d)
    lock.execute('ROLLBACK')
    lock.close()
    assert schema(d) == 4
    assert sql(d, 'SELECT cri_config FROM containers WHERE id = ?', (cid,)) == [(blob,)]

    d.start()
    converted(d, cid, host, 64 << 20)
    kill(d)
    d.start()
    converted(d, cid, host, 64 << 20)
    check(env, cid, host, 64 << 20)
