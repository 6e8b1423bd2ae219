"""HTTP/1.1 on the CRI socket: /info, /config, 404."""
import json
import tomllib


def test_info(daemon):
    status, hdrs, body = daemon.http('GET', '/info')
    assert status == 200
    assert 'json' in hdrs.get('content-type', '')
    info = json.loads(body)
    for key in ('version', 'root', 'runroot', 'storage_driver', 'cgroup_driver',
                'default_runtime'):
        assert key in info, (key, info)
    assert info['root'] == daemon.root
    assert info['runroot'] == daemon.runroot


def test_config_is_toml(daemon):
    status, hdrs, body = daemon.http('GET', '/config')
    assert status == 200
    cfg = tomllib.loads(body.decode())
    flat = flatten(cfg)
    assert flat.get('root') == daemon.root
    assert flat.get('runroot') == daemon.runroot
    assert flat.get('listen') == daemon.socket


def test_unknown_path_404_json(daemon):
    for target in ('/nope', '/info/x', '/'):
        status, hdrs, body = daemon.http('GET', target)
        assert status == 404, (target, status)
        err = json.loads(body)
        assert isinstance(err, dict) and err


def test_http_and_grpc_interleave(daemon, pb):
    for _ in range(5):
        assert daemon.http('GET', '/info')[0] == 200
        assert daemon.runtime('Version').runtime_name == 'ocid'


def flatten(d):
    """All keys of a TOML document, last wins, tables merged (keys are unique here)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v))
        else:
            out[k] = v
    return out
