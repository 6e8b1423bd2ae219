"""ocic skeleton: version, info, -o json, --socket / OCID_SOCKET, errors."""
import json
import os
import subprocess


from conftest import ocic_bin


def ocic(args, env=None, timeout=20):
    assert os.access(ocic_bin(), os.X_OK), f'{ocic_bin()} is not built'
    e = dict(os.environ)
    e.pop('OCID_SOCKET', None)
    e.update(env or {})
    return subprocess.run([ocic_bin()] + args, capture_output=True, text=True, env=e,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_version_table(daemon):
    p = ocic(['--socket', daemon.socket, 'version'])
    assert p.returncode == 0, p.stderr
    assert 'ocid' in p.stdout
    assert 'v1' in p.stdout


def test_version_json(daemon):
    p = ocic(['--socket', daemon.socket, '-o', 'json', 'version'])
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert 'ocid' in json.dumps(doc)


def test_info_json(daemon):
    p = ocic(['--socket', daemon.socket, '-o', 'json', 'info'])
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert 'RuntimeReady' in json.dumps(doc)


def test_info_table(daemon):
    p = ocic(['--socket', daemon.socket, 'info'])
    assert p.returncode == 0, p.stderr
    assert 'RuntimeReady' in p.stdout


def test_ocid_socket_env(daemon):
    p = ocic(['version'], env={'OCID_SOCKET': daemon.socket})
    assert p.returncode == 0, p.stderr
    assert 'ocid' in p.stdout


def test_missing_socket_fails(tmp_path):
    p = ocic(['--socket', str(tmp_path / 'absent.sock'), 'version'])
    assert p.returncode != 0
    assert p.stderr.strip(), 'an error must be printed'
    assert str(tmp_path / 'absent.sock') in p.stderr or 'UNAVAILABLE' in p.stderr.upper() \
        or 'connect' in p.stderr.lower(), p.stderr
