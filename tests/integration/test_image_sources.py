"""Issue 18: pinned image names that hold colons, and what every pull source
answered when none had the image."""
import grpc
import pytest

from registry import Registry, busybox_image
from test_image import finish, insecure, list_images, pull, status, write_conf


@pytest.fixture
def registry(tmp_path):
    r = Registry(tmp_path / 'registry').start()
    yield r
    r.stop()


def test_pinned_names_with_ports(make_daemon, registry, tmp_path):
    """--pinned-images splits at commas (or is repeated), never at ':'."""
    img = busybox_image(registry, 'pin/pause', '3.9')
    busybox_image(registry, 'pin/other', '1', user='1')
    pause, other = f'{registry.host}/pin/pause:3.9', f'{registry.host}/pin/other:1'
    d = make_daemon(extra_args=write_conf(tmp_path, insecure(registry)) +
                    ['--pinned-images', f'{pause},registry.k8s.io/pause:3.9']).start()
    pull(d, pause)
    pull(d, other)
    pins = {i.repo_tags[0]: i.pinned for i in list_images(d)}
    assert pins == {pause: True, other: False}
    assert status(d, pause).image.pinned
    assert status(d, img['id']).image.pinned
    finish(d)

    # repeated flags add up; the TOML string form splits the same way
    conf = tmp_path / 'pins.conf'
    conf.write_text(f'pinned_images = "{other}"\n')
    d = make_daemon(extra_args=write_conf(tmp_path, insecure(registry)) +
                    ['--pinned-images', pause, '--pinned-images', other],
                    subdir='d2').start()
    pull(d, pause)
    pull(d, other)
    assert all(i.pinned for i in list_images(d))
    finish(d)
    d = make_daemon(extra_args=write_conf(tmp_path, insecure(registry)), config=str(conf),
                    subdir='d3').start()
    pull(d, other)
    assert status(d, other).image.pinned
    finish(d)


def test_mirror_answer_survives_unreachable_upstream(make_daemon, registry, tmp_path):
    """The mirror answers 'manifest unknown', the upstream cannot be resolved:
    NOT_FOUND, and the message holds both answers."""
    busybox_image(registry, 'x/app', 'v1')
    conf = (f'[[registry]]\nlocation = "registry.invalid"\n'
            f'[[registry.mirror]]\nlocation = "{registry.host}"\ninsecure = true\n')
    d = make_daemon(extra_args=write_conf(tmp_path, conf)).start()
    with pytest.raises(grpc.RpcError) as e:
        pull(d, 'registry.invalid/x/app:nosuchtag')
    msg = e.value.details()
    assert e.value.code() == grpc.StatusCode.NOT_FOUND, msg
    assert 'mirrors also failed' in msg, msg
    assert f'{registry.host}: ' in msg and 'manifest unknown' in msg, msg
    assert 'registry.invalid' in msg and 'resolve' in msg.lower(), msg
    # the tag the mirror has is still pulled through it
    pull(d, 'registry.invalid/x/app:v1')
    finish(d)


def test_mirror_and_upstream_errors_that_are_no_answer(make_daemon, registry, tmp_path):
    """Nobody answered at all (mirror refuses connections, upstream has no
    DNS): still UNAVAILABLE, with both reasons."""
    conf = ('[[registry]]\nlocation = "registry.invalid"\n'
            '[[registry.mirror]]\nlocation = "127.0.0.1:9"\ninsecure = true\n')
    d = make_daemon(extra_args=write_conf(tmp_path, conf)).start()
    with pytest.raises(grpc.RpcError) as e:
        pull(d, 'registry.invalid/x/app:v1')
    msg = e.value.details()
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE, msg
    assert '127.0.0.1:9: ' in msg and 'mirrors also failed' in msg, msg
    finish(d)
