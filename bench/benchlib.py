"""What the Python benchmarks share: the CRI protobuf module built from the
vendored proto, percentiles."""
import importlib
import os
import subprocess
import sys

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
