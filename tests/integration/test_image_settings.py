"""The image settings ocid gives the image service at start and on SIGHUP:
a reload changes what the next pull and ImageStatus use."""
import base64
import json
import re
import signal
import time

import grpc
import pytest

from registry import Registry, busybox_image
from test_image import finish, pull


def _wait_log(d, pattern, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not re.search(pattern, d.read_log()):
        assert time.monotonic() < deadline, f'no log line matches {pattern!r}'
        time.sleep(0.05)


def test_reload_changes_auth_file_and_pins(make_daemon, tmp_path):
    """global_auth_file and pinned_images come from the config file; after
    SIGHUP the next pull reads the new credentials file and ImageStatus
    reports the new pins."""
    reg = Registry(tmp_path / 'authreg', htpasswd={'alice': 's3cret'}).start()
    try:
        img = busybox_image(reg, 'priv/app', 'v1')
        name = f'{reg.host}/priv/app:v1'
        etc = tmp_path / 'etc'
        etc.mkdir()
        (etc / 'registries.conf').write_text(
            f'[[registry]]\nlocation = "{reg.host}"\ninsecure = true\n')
        (etc / 'policy.json').write_text(
            json.dumps({'default': [{'type': 'insecureAcceptAnything'}]}))
        (etc / 'wrong.json').write_text(json.dumps({'auths': {reg.host: {
            'auth': base64.b64encode(b'alice:wrong').decode()}}}))
        (etc / 'right.json').write_text(json.dumps({'auths': {reg.host: {
            'auth': base64.b64encode(b'alice:s3cret').decode()}}}))
        conf = tmp_path / 'ocid.conf'
        base = (f'registries_conf = "{etc}/registries.conf"\n'
                f'signature_policy = "{etc}/policy.json"\n')
        conf.write_text(base + f'global_auth_file = "{etc}/wrong.json"\n')
        d = make_daemon(config=str(conf)).start()
        with pytest.raises(grpc.RpcError) as e:
            pull(d, name)
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED, e.value.details()

        conf.write_text(base + f'global_auth_file = "{etc}/right.json"\n'
                        f'pinned_images = ["{reg.host}/priv/*"]\n')
        d.proc.send_signal(signal.SIGHUP)
        _wait_log(d, 'configuration reloaded.*global_auth_file')
        assert pull(d, name) == img['id']
        st = d.image('ImageStatus', d.pb.ImageStatusRequest(image=d.pb.ImageSpec(image=name)))
        assert st.image.pinned
        assert 's3cret' not in d.read_log()

        conf.write_text(base + f'global_auth_file = "{etc}/wrong.json"\n')
        d.proc.send_signal(signal.SIGHUP)
        _wait_log(d, 'configuration reloaded.*pinned_images')
        st = d.image('ImageStatus', d.pb.ImageStatusRequest(image=d.pb.ImageSpec(image=name)))
        assert not st.image.pinned
        d.image('RemoveImage', d.pb.RemoveImageRequest(image=d.pb.ImageSpec(image=name)))
        with pytest.raises(grpc.RpcError) as e:
            pull(d, name)
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED, e.value.details()
        finish(d)
    finally:
        reg.stop()
