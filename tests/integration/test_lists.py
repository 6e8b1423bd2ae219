"""The Stream* lists of KEP-5825: the unary list's content and filters, in
batches below the send limit, where the unary answer would pass it."""
import grpc
import pytest


def stream(d, svc, method, req, resp_t):
    stub = d.channel().unary_stream(f'/runtime.v1.{svc}/{method}',
                                    request_serializer=lambda r: r.SerializeToString(),
                                    response_deserializer=resp_t.FromString)
    return list(stub(req, timeout=30))


def test_stream_lists(make_env):
    """--max-send-msg-size 64 KiB, 24 containers of ~4 KiB each: the unary
    ListContainers is too large, StreamContainers sends them all in several
    batches each within the limit; filters and content match the unary
    calls; the other five Stream* lists match theirs."""
    env = make_env(['--max-send-msg-size', '65536'])
    pb, d = env.pb, env.d
    pod = env.pod()
    # Pod-level lists first, while one pod's item (its containers' stats
    # within) stays below the limit.
    small = env.create(pod, 'small', ['/bin/sleep', '600'])
    env.start(small)
    pods = [p for b in stream(d, 'RuntimeService', 'StreamPodSandboxes',
                              pb.StreamPodSandboxesRequest(), pb.StreamPodSandboxesResponse)
            for p in b.pod_sandboxes]
    assert [p.SerializeToString() for p in pods] == [
        p.SerializeToString() for p in d.runtime('ListPodSandbox').items]
    imgs = [i for b in stream(d, 'ImageService', 'StreamImages', pb.StreamImagesRequest(),
                              pb.StreamImagesResponse) for i in b.images]
    assert [i.SerializeToString() for i in imgs] == [
        i.SerializeToString() for i in d.image('ListImages').images]
    pstats = [s.attributes.id for b in stream(
        d, 'RuntimeService', 'StreamPodSandboxStats', pb.StreamPodSandboxStatsRequest(),
        pb.StreamPodSandboxStatsResponse) for s in b.pod_sandbox_stats]
    assert pstats == [pod]
    metrics = [m.pod_sandbox_id for b in stream(
        d, 'RuntimeService', 'StreamPodSandboxMetrics', pb.StreamPodSandboxMetricsRequest(),
        pb.StreamPodSandboxMetricsResponse) for m in b.pod_sandbox_metrics]
    assert metrics == [m.pod_sandbox_id for m in d.runtime('ListPodSandboxMetrics').pod_metrics]
    ids = [small]
    for i in range(24):
        cid = env.create(pod, f'c{i}', ['/bin/sleep', '600'],
                         labels={'blob': 'x' * 4096, 'grp': 'even' if i % 2 == 0 else 'odd'})
        if i < 4:
            env.start(cid)
        ids.append(cid)
    with pytest.raises(grpc.RpcError) as e:
        d.runtime('ListContainers', pb.ListContainersRequest())
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, e.value

    batches = stream(d, 'RuntimeService', 'StreamContainers', pb.StreamContainersRequest(),
                     pb.StreamContainersResponse)
    assert len(batches) > 1
    assert all(b.ByteSize() <= 65536 for b in batches)
    got = [c for b in batches for c in b.containers]
    assert sorted(c.id for c in got) == sorted(ids)
    # The same content as the unary call where that fits (a filtered list).
    flt = pb.ContainerFilter(label_selector={'grp': 'odd'}, state=pb.ContainerStateValue(
        state=pb.CONTAINER_CREATED))
    unary = d.runtime('ListContainers', pb.ListContainersRequest(filter=flt)).containers
    streamed = [c for b in stream(d, 'RuntimeService', 'StreamContainers',
                                  pb.StreamContainersRequest(filter=flt),
                                  pb.StreamContainersResponse) for c in b.containers]
    assert len(unary) == 10
    assert sorted(c.SerializeToString() for c in streamed) == \
        sorted(c.SerializeToString() for c in unary)
    # Nothing matches: no batch at all, status OK.
    none = pb.ContainerFilter(label_selector={'grp': 'none'})
    assert stream(d, 'RuntimeService', 'StreamContainers',
                  pb.StreamContainersRequest(filter=none), pb.StreamContainersResponse) == []

    cstats = [s.attributes.id for b in stream(
        d, 'RuntimeService', 'StreamContainerStats',
        pb.StreamContainerStatsRequest(filter=pb.ContainerStatsFilter(
            label_selector={'grp': 'even'})), pb.StreamContainerStatsResponse)
        for s in b.container_stats]
    assert sorted(cstats) == sorted(ids[1::2])
    # The unary list is too large for the fixture's clean-up: remove them here.
    for cid in ids:
        d.runtime('RemoveContainer', pb.RemoveContainerRequest(container_id=cid), timeout=30)
