"""What an installation puts on a machine, and the installed programs run
from where they were installed: the layout, the unit, the commented default
configuration, bash completion; then the installed ocid (its compiled-in
paths, its installed /etc/ocid/ocid.conf) answers ocic's Version, and runs a
pod with a shared PID namespace (ocid-pause) and a container (ocimon) from
the installed libexec directory.

The installed tree comes from `meson install --destdir` of OCID_BUILD (which
must write nothing outside the destdir), or, with OCID_INSTALL_DEB=PATH, from
that Debian package (tools/check-package), unpacked with dpkg -x. It is run
in a private mount namespace with the tree's usr/ and etc/ laid over the
host's (read-only overlays), so ocid finds its files at their real paths.
"""
import json
import os
import re
import shlex
import subprocess
import time
import tomllib

import pytest

from conftest import TOP, Daemon, build_dir, cleanup_net, sanitizer_report, wait_for_socket

DEB = os.environ.get('OCID_INSTALL_DEB')

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='needs root (mounts, containers)')


class Installed:
    """An installed tree: destdir, and the paths the build configured."""

    def __init__(self, destdir, prefix, bindir, libexecdir, mandir, datadir, unitdir):
        self.destdir = destdir
        self.prefix = prefix
        self.bindir = os.path.join(prefix, bindir)
        self.helperdir = os.path.join(prefix, libexecdir, 'ocid')
        self.mandir = os.path.join(prefix, mandir)
        self.datadir = os.path.join(prefix, datadir)
        self.unitdir = unitdir
        self.write_log = None  # meson install only: the writes strace saw

    def d(self, path):
        """path (absolute, as installed) inside the destdir."""
        return os.path.join(self.destdir, path.lstrip('/'))

    def run(self, argv, **kw):
        """argv in a private mount namespace where the tree's usr/ and etc/
        lie over the host's."""
        mounts = ''.join(
            f'mount -t overlay -o ro,lowerdir={shlex.quote(self.d(top))}:/{top} '
            f'ocid-install /{top} && ' for top in ('usr', 'etc'))
        return ['unshare', '--mount', '--propagation', 'private', '/bin/sh', '-c',
                mounts + 'exec "$@"', 'sh'] + argv


# Write-type system calls, and which of their string arguments name a path
# written (symlink's first is the link's text).
WRITES = {'open': [0], 'openat': [0], 'creat': [0], 'mkdir': [0], 'mkdirat': [0],
          'rename': [0, 1], 'renameat': [0, 1], 'renameat2': [0, 1], 'unlink': [0],
          'unlinkat': [0], 'rmdir': [0], 'symlink': [1], 'symlinkat': [1], 'link': [1],
          'linkat': [1], 'chmod': [0], 'fchmodat': [0], 'chown': [0], 'fchownat': [0],
          'lchown': [0], 'truncate': [0], 'utimensat': [0], 'mknod': [0], 'mknodat': [0]}


def written_paths(strace_log):
    """The paths an strace -f -y log shows written (or meant to be); those
    relative to a directory fd joined to its path, others as given."""
    out = []
    for line in strace_log.splitlines():
        m = re.match(r'^\d+\s+(\w+)\((.*)', line)
        if not m or m.group(1) not in WRITES:
            continue
        args = m.group(2)
        if m.group(1) in ('open', 'openat') and not re.search(r'O_WRONLY|O_RDWR|O_CREAT|O_TRUNC',
                                                               args):
            continue
        # A string argument, with the directory fd before it if any (-y
        # prints "3</dir>", and "AT_FDCWD</cwd>").
        strings = [os.path.join(d, p) if d else p for d, p in
                   re.findall(r'(?:(?:\d+|AT_FDCWD)<([^>]*)>, )?"((?:[^"\\]|\\.)*)"', args)]
        out += [strings[i] for i in WRITES[m.group(1)] if i < len(strings)]
    return out


def meson_install(build, destdir, log):
    opts = {o['name']: o['value'] for o in json.loads(subprocess.run(
        ['meson', 'introspect', '--buildoptions', build], check=True, capture_output=True,
        text=True).stdout)}
    prefix = opts['prefix']
    unitdir = opts['systemdunitdir'] or (
        os.path.join(prefix, 'lib/systemd/system') if prefix != '/usr' else None)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE='1')
    env.pop('DESTDIR', None)
    p = subprocess.run(['strace', '-f', '-qq', '-y', '-s', '4096', '-o', log, '-e',
                        'trace=' + ','.join(WRITES), 'meson', 'install', '-C', build,
                        '--destdir', destdir, '--no-rebuild'],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    inst = Installed(destdir, prefix, opts['bindir'], opts['libexecdir'], opts['mandir'],
                     opts['datadir'], unitdir)
    with open(log) as f:
        inst.write_log = f.read()
    return inst


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    top = tmp_path_factory.mktemp('install')
    destdir = str(top / 'root')
    if DEB:
        subprocess.run(['dpkg', '-x', DEB, destdir], check=True)
        return Installed(destdir, '/usr', 'bin', 'libexec', 'share/man', 'share',
                         '/lib/systemd/system')
    return meson_install(build_dir(), destdir, str(top / 'strace.log'))


def test_install_writes_only_destdir(installed):
    if DEB:
        pytest.skip('a package is unpacked, not installed')
    build = build_dir()
    outside = []
    for p in written_paths(installed.write_log):
        if p.startswith('/proc/self/fd/') or p == '/dev/null':
            continue
        if not p.startswith('/'):  # no directory known
            outside.append(p)
            continue
        full = os.path.normpath(p)
        # The destdir and its parents are made (mkdir -p) like what is in it.
        if not (full.startswith(installed.destdir + '/') or full.startswith(build + '/') or
                installed.destdir.startswith(full.rstrip('/') + '/') or
                full == installed.destdir):
            outside.append(p)
    assert outside == [], outside


def test_install_layout(installed):
    i = installed
    for path, mode in [(f'{i.bindir}/ocid', 0o755), (f'{i.bindir}/ocic', 0o755),
                       (f'{i.helperdir}/ocimon', 0o755), (f'{i.helperdir}/ocid-pause', 0o755),
                       ('/etc/ocid/ocid.conf', 0o644)]:
        st = os.stat(i.d(path))
        assert st.st_mode & 0o7777 == mode, (path, oct(st.st_mode))
    assert os.listdir(i.d('/etc/ocid/ocid.conf.d')) == []
    man = sorted(os.listdir(i.d(f'{i.mandir}/man1')) + os.listdir(i.d(f'{i.mandir}/man5')) +
                 os.listdir(i.d(f'{i.mandir}/man8')))
    assert [m.split('.gz')[0] for m in man] == ['ocic.1', 'ocid.8', 'ocid.conf.5', 'ocimon.8']
    assert os.path.isfile(i.d(f'{i.datadir}/bash-completion/completions/ocic'))
    units = [os.path.join(dp, f) for dp, _, fs in os.walk(i.destdir) for f in fs
             if f == 'ocid.service']
    assert len(units) == 1, units
    if i.unitdir:
        assert units[0] == i.d(f'{i.unitdir}/ocid.service')
    with open(units[0]) as f:
        unit = f.read()
    assert f'\nExecStart={i.bindir}/ocid\n' in unit, unit


def test_installed_config_is_all_comments(installed):
    """Every key of `ocid config` is in ocid.conf, commented out: the file
    changes nothing."""
    with open(installed.d('/etc/ocid/ocid.conf')) as f:
        text = f.read()
    assert tomllib.loads(text) == {}
    p = subprocess.run(installed.run([f'{installed.bindir}/ocid', 'config']),
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    # It read the installed file (no "not found, using defaults").
    assert 'not found' not in p.stderr, p.stderr
    keys = tomllib.loads(p.stdout).keys()
    assert len(keys) > 20
    for k in keys:
        assert re.search(rf'^# {k} = ', text, re.M), k
    cfg = tomllib.loads(p.stdout)
    assert cfg['root'] == '/var/lib/ocid' and cfg['listen'] == '/run/ocid/ocid.sock'
    assert cfg['runtime'].endswith('runc')


def test_installed_ocid_finds_installed_helpers(installed):
    """ocid's compiled-in helper directory is the installed one."""
    p = subprocess.run(installed.run([f'{installed.bindir}/ocid', 'version']),
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert f'\nocimon {installed.helperdir}/ocimon\n' in p.stdout, p.stdout
    assert f'\nocid-pause {installed.helperdir}/ocid-pause\n' in p.stdout, p.stdout


def test_bash_completion(installed):
    comp = installed.d(f'{installed.datadir}/bash-completion/completions/ocic')
    ocic = installed.d(f'{installed.bindir}/ocic')

    def complete(*words):
        script = (f'source {shlex.quote(comp)}; COMP_WORDS=({shlex.quote(ocic)} '
                  + ' '.join(shlex.quote(w) for w in words)
                  + f'); COMP_CWORD={len(words)}; _ocic; printf "%s\\n" "${{COMPREPLY[@]}}"')
        p = subprocess.run(['bash', '-c', script], capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        return sorted(p.stdout.split())

    assert complete('') == ['ctr', 'events', 'image', 'info', 'inspect', 'pause', 'pod',
                            'unpause', 'version']
    assert complete('ctr', 'e') == ['exec']
    assert '--pod-config' in complete('ctr', 'create', '--')
    assert complete('pod', 'list', '--state', '') == ['notready', 'ready']
    assert complete('-o', '') == ['json', 'table']


def test_package_metadata(installed):
    if not DEB:
        pytest.skip('OCID_INSTALL_DEB not set')
    f = subprocess.run(['dpkg-deb', '-f', DEB, 'Package', 'Depends'], check=True,
                       capture_output=True, text=True).stdout
    for dep in ('runc', 'containernetworking-plugins', 'iptables', 'iproute2', 'libc6'):
        assert re.search(rf'\b{dep}\b', f), f
    ctrl = subprocess.run(['dpkg-deb', '--ctrl-tarfile', DEB], check=True,
                          capture_output=True).stdout
    import io
    import tarfile
    with tarfile.open(fileobj=io.BytesIO(ctrl)) as t:
        files = {m.name.lstrip('./'): t.extractfile(m).read().decode()
                 for m in t.getmembers() if m.isfile()}
    assert files['conffiles'].split() == ['/etc/ocid/ocid.conf']
    post = files['postinst']
    assert "deb-systemd-helper enable 'ocid.service'" in post
    # Enabled, not started: an upgrade restarts it only if it runs.
    assert 'deb-systemd-invoke start' not in post and '_dh_action=start' not in post, post
    assert 'try-restart' in post
    assert 'deb-systemd-invoke stop ocid.service' in files['prerm']


def test_installed_ocid_runs_pod_and_container(installed, pb, tmp_path):
    """The installed ocid with its compiled-in defaults (but state, socket and
    pod network in temp dirs) answers ocic version and runs a pod with
    ocid-pause and a container under ocimon, both from the installed tree."""
    i = installed
    d = Daemon(pb, str(tmp_path))
    # Daemon's own arguments but the build's ocid and the config files: the
    # installed ocid reads the installed /etc/ocid/ocid.conf.
    args = d.args[1:]
    for flag in ('--config', '--config-dir', '--enable-debug-rpc'):
        k = args.index(flag)
        del args[k:k + (1 if flag == '--enable-debug-rpc' else 2)]
    d.args = i.run([f'{i.bindir}/ocid'] + args)
    try:
        d.log = open(d.log_path, 'ab')
        d.proc = subprocess.Popen(d.args, stdout=d.log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)
        assert wait_for_socket(d.socket, d.proc), d.read_log()
        assert f'ocimon={i.helperdir}/ocimon' in d.read_log()

        def ocic(*a, timeout=60):
            p = subprocess.run(i.run([f'{i.bindir}/ocic', '--socket', d.socket] + list(a)),
                               capture_output=True, text=True, timeout=timeout)
            assert p.returncode == 0, p.stdout + p.stderr
            return p.stdout

        out = json.loads(ocic('-o', 'json', 'version'))
        assert out['runtimeName'] == 'ocid', out
        subprocess.run([os.path.join(TOP, 'tools', 'mkimage-busybox'), str(tmp_path / 'bb')],
                       check=True, capture_output=True)
        ocic('image', 'import', str(tmp_path / 'bb'))

        ns = pb.NamespaceOption(network=pb.NODE, pid=pb.POD)
        logs = tmp_path / 'logs'
        logs.mkdir()
        pod_cfg = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name='inst', namespace='default', uid='uid-inst'),
            log_directory=str(logs), hostname='inst',
            linux=pb.LinuxPodSandboxConfig(
                security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))
        pod = d.runtime('RunPodSandbox', pb.RunPodSandboxRequest(config=pod_cfg),
                        timeout=60).pod_sandbox_id
        st = d.runtime('PodSandboxStatus', pb.PodSandboxStatusRequest(pod_sandbox_id=pod,
                                                                        verbose=True))
        pause = json.loads(st.info['info'])['runtime']['pause_pid']
        assert os.readlink(f'/proc/{pause}/exe') == f'{i.helperdir}/ocid-pause'

        cfg = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name='c'),
            image=pb.ImageSpec(image='localhost/ocid-test/busybox:latest'),
            command=['sleep', '600'], log_path='c.log')
        cid = d.runtime('CreateContainer', pb.CreateContainerRequest(
            pod_sandbox_id=pod, config=cfg, sandbox_config=pod_cfg), timeout=60).container_id
        d.runtime('StartContainer', pb.StartContainerRequest(container_id=cid), timeout=30)
        cs = d.runtime('ContainerStatus', pb.ContainerStatusRequest(container_id=cid,
                                                                     verbose=True))
        assert cs.status.state == 1  # RUNNING
        pid = json.loads(cs.info['info'])['pid']
        # The container's parent is its monitor: the installed ocimon.
        deadline = time.monotonic() + 5
        while True:
            with open(f'/proc/{pid}/status') as f:
                ppid = int(re.search(r'^PPid:\s+(\d+)', f.read(), re.M).group(1))
            exe = os.readlink(f'/proc/{ppid}/exe')
            if exe.endswith('/ocimon') or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert exe == f'{i.helperdir}/ocimon'

        d.runtime('RemoveContainer', pb.RemoveContainerRequest(container_id=cid), timeout=30)
        d.runtime('RemovePodSandbox', pb.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)
        assert d.stop() == 0, d.read_log()[-3000:]
        if os.environ.get('OCID_ASAN'):
            assert sanitizer_report(d.read_log()) is None, d.read_log()[-8000:]
    finally:
        d.kill()
        cleanup_net(d.bridge, d.net_prefix, d.tmp)
