"""What the Python benchmarks share: the CRI protobuf module built from the
vendored proto, percentiles, an ocid of their own beside a loopback
registry, the end of a run's temp directory."""
import importlib
import json
import os
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pb_module(tmp):
    """Generate api_pb2 from api/runtime/v1/api.proto into `tmp`; import it."""
    proto = os.path.join(TOP, 'api', 'runtime', 'v1', 'api.proto')
    subprocess.run(['protoc', '--proto_path=' + os.path.dirname(proto), '--python_out=' + tmp,
                    proto], check=True)
    sys.path.insert(0, tmp)
    return importlib.import_module('api_pb2')


def pct(v, p):
    """The p-th percentile of v (nearest rank)."""
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


def cpu_busy():
    """Seconds the whole machine's CPUs have been busy (not idle or waiting
    for I/O) since boot, from /proc/stat (10 ms ticks)."""
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf('SC_CLK_TCK')


def drop_masq(subnet):
    """Remove the masquerade chain ocid made for a built-in network on
    `subnet` and its POSTROUTING jump (kept by ocid for running pods)."""
    subprocess.run(['/bin/sh', '-c', f"""
for c in $(iptables -t nat -S POSTROUTING | grep -- '-s {subnet} ' | grep -o 'OCID-MASQ-[0-9a-f]*' | sort -u); do
  iptables -t nat -S POSTROUTING | grep -- "-j $c" | sed 's/^-A /-D /' | while read -r l; do eval iptables -t nat $l; done
  iptables -t nat -F $c; iptables -t nat -X $c; done"""], capture_output=True, timeout=60)


def start_ocid(tmp, reg, extra_args=(), log_level='warn'):
    """ocid (OCID_BUILD's, default <repo>/build) with its root, runroot and
    socket under `tmp`, pulling from `reg` over plain http with an
    accept-all policy. Returns (process, socket path, log path) once the
    socket exists."""
    build = os.path.abspath(os.environ.get('OCID_BUILD', os.path.join(TOP, 'build')))
    etc = os.path.join(tmp, 'etc')
    os.makedirs(etc)
    with open(os.path.join(etc, 'registries.conf'), 'w') as f:
        f.write(f'[[registry]]\nlocation = "{reg.host}"\ninsecure = true\n')
    with open(os.path.join(etc, 'policy.json'), 'w') as f:
        json.dump({'default': [{'type': 'insecureAcceptAnything'}]}, f)
    sock = os.path.join(tmp, 'run', 'ocid.sock')
    log_path = os.path.join(tmp, 'ocid.log')
    args = [os.path.join(build, 'src', 'cmd', 'ocid', 'ocid'),
            '--root', os.path.join(tmp, 'root'), '--runroot', os.path.join(tmp, 'run'),
            '--listen', sock, '--config', os.path.join(tmp, 'none.conf'),
            '--config-dir', os.path.join(tmp, 'c.d'),
            '--registries-conf', os.path.join(etc, 'registries.conf'),
            '--signature-policy', os.path.join(etc, 'policy.json'),
            '--log-level', log_level] + list(extra_args)
    with open(log_path, 'wb') as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while not os.path.exists(sock):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit('ocid did not start; see ' + log_path)
        time.sleep(0.02)
    return proc, sock, log_path


def finish_tmp(tmp):
    """Remove a run's temp directory, or keep it with BENCH_KEEP=1."""
    if os.environ.get('BENCH_KEEP'):
        print('kept', tmp)
    else:
        subprocess.run(['rm', '-rf', tmp])
