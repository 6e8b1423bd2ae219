"""CRI methods of issue 2: Version, Status, RuntimeConfig; everything else UNIMPLEMENTED."""
import json

import grpc
import pytest

IMPLEMENTED = {('RuntimeService', 'Version'), ('RuntimeService', 'Status'),
               ('RuntimeService', 'RuntimeConfig')}


def host_cgroup_driver():
    with open('/proc/1/comm') as f:
        return 'SYSTEMD' if f.read().strip() == 'systemd' else 'CGROUPFS'


def test_version(daemon, pb):
    r = daemon.runtime('Version', pb.VersionRequest(version='v1'))
    assert r.runtime_name == 'ocid'
    assert r.runtime_api_version == 'v1'
    assert r.version and r.runtime_version
    assert r.runtime_version[0].isdigit(), r.runtime_version


def test_status(daemon, pb):
    r = daemon.runtime('Status', pb.StatusRequest())
    conds = {c.type: c for c in r.status.conditions}
    assert conds['RuntimeReady'].status is True
    assert 'NetworkReady' in conds
    net = conds['NetworkReady']
    if not net.status:
        assert net.reason and net.message, 'a not-ready network must say why'
    assert not r.info, 'info is only for verbose requests'


def test_status_verbose_info_is_json(daemon, pb):
    r = daemon.runtime('Status', pb.StatusRequest(verbose=True))
    assert r.info, 'verbose Status must return an info map'
    for k, v in r.info.items():
        json.loads(v)  # every value is JSON


def test_runtime_config_cgroup_driver(daemon, pb):
    r = daemon.runtime('RuntimeConfig', pb.RuntimeConfigRequest())
    name = pb.CgroupDriver.Name(r.linux.cgroup_driver)
    assert name == host_cgroup_driver()


def all_methods(pb):
    for svc in ('RuntimeService', 'ImageService'):
        for m in pb.DESCRIPTOR.services_by_name[svc].methods:
            yield svc, m


def test_every_method_is_routed(daemon, pb):
    """Every method of both services reaches ocid's CRI layer: it either
    answers (any status of a real handler, e.g. INVALID_ARGUMENT for an
    empty request) or says UNIMPLEMENTED naming the method as not yet
    implemented by ocid — never the server's 'unknown method'."""
    ch = daemon.channel()
    checked = 0
    for svc, m in all_methods(pb):
        req_t = getattr(pb, m.input_type.name)
        path = f'/runtime.v1.{svc}/{m.name}'
        if m.server_streaming:
            stub = ch.unary_stream(path, request_serializer=lambda r: r.SerializeToString(),
                                   response_deserializer=lambda b: b)
            call = lambda: list(stub(req_t(), timeout=1))
        else:
            stub = ch.unary_unary(path, request_serializer=lambda r: r.SerializeToString(),
                                  response_deserializer=lambda b: b)
            call = lambda: stub(req_t(), timeout=10)
        try:
            call()
        except grpc.RpcError as e:
            assert 'unknown method' not in e.details(), (path, e.details())
            if e.code() == grpc.StatusCode.UNIMPLEMENTED:
                assert (svc, m.name) not in IMPLEMENTED, (path, e.details())
                assert m.name in e.details() and 'not implemented' in e.details(), \
                    (path, e.details())
        checked += 1
    assert checked == 41  # the methods of k8s.io/cri-api v0.36.3


def test_unknown_method(daemon):
    ch = daemon.channel()
    for path in ('/runtime.v1.RuntimeService/NoSuchThing', '/no.such.Service/Foo'):
        stub = ch.unary_unary(path, request_serializer=lambda b: b,
                              response_deserializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as ei:
            stub(b'', timeout=10)
        assert ei.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert path.rsplit('/', 1)[1] in ei.value.details(), ei.value.details()
