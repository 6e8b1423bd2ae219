#!/usr/bin/python3
"""Signature verification cost: a small image (busybox, one layer) pulled
from a docker-registry on loopback, unsigned under insecureAcceptAnything
and signed under signedBy (a skopeo --sign-by GPG signature in a lookaside
served over http on loopback) and sigstoreSigned (an ECDSA cosign
attachment made with openssl). The floor is the unsigned pull itself: the
figure is what verification adds (signed - unsigned, and signed/unsigned).
Medians of BENCH_REPS interleaved pulls, the image removed between them.
Never fails on a figure.

Environment: OCID_BUILD (default <repo>/build), BENCH_REPS (default 15).
"""
import json
import os
import pathlib
import shutil
import statistics
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, 'tests', 'integration'))
sys.path.insert(0, os.path.join(TOP, 'bench'))
from benchlib import pb_module  # noqa: E402
from pull import Daemon  # noqa: E402
from registry import busybox_image  # noqa: E402
from test_sign import (World, attach, cosign_payload, cosign_sign,  # noqa: E402
                       openssl_key)


def main():
    reps = int(os.environ.get('BENCH_REPS', '15'))
    tmp = tempfile.mkdtemp(prefix='ocid-bench-sign-', dir='/var/tmp')
    pb = pb_module(tmp)
    w = World(pathlib.Path(tmp) / 'world')
    d = None
    try:
        w.copy('src/app:v1', 'gpg/app:v1', w.good)
        key, pub = openssl_key(pathlib.Path(tmp), 'ecdsa')
        cos = busybox_image(w.reg, 'cosign/app', 'v1')
        payload = cosign_payload(f'{w.host}/cosign/app', cos['digest'])
        attach(w.reg, 'cosign/app', cos['digest'], payload,
               cosign_sign(pathlib.Path(tmp), 'ecdsa', key, payload))
        etc = os.path.join(tmp, 'etc')
        os.makedirs(os.path.join(etc, 'registries.d'))
        with open(os.path.join(etc, 'registries.conf'), 'w') as f:
            f.write('')
        with open(os.path.join(etc, 'registries.d', 'b.yaml'), 'w') as f:
            f.write(f'default-docker:\n  lookaside: {w.files.url}\n'
                    '  use-sigstore-attachments: true\n')
        with open(os.path.join(etc, 'policy.json'), 'w') as f:
            json.dump({'default': [{'type': 'insecureAcceptAnything'}],
                       'transports': {'docker': {
                           f'{w.host}/gpg': [{'type': 'signedBy', 'keyType': 'GPGKeys',
                                              'keyPath': w.good.pub}],
                           f'{w.host}/cosign': [{'type': 'sigstoreSigned', 'keyPath': pub,
                                                 'signedIdentity': {
                                                     'type': 'matchRepository'}}]}}}, f)
        d = Daemon(pb, tmp, 'd', os.path.join(etc, 'registries.conf'),
                   ['--signature-policy', os.path.join(etc, 'policy.json'),
                    '--registries-d', os.path.join(etc, 'registries.d')])
        names = {'unsigned': 'src/app:v1', 'signedBy (GPG)': 'gpg/app:v1',
                 'sigstoreSigned (ECDSA)': 'cosign/app:v1'}
        t = {k: [] for k in names}
        for _ in range(reps):
            for k, n in names.items():
                spec = pb.ImageSpec(image=f'{w.host}/{n}')
                t0 = time.monotonic()
                d.pull(pb.PullImageRequest(image=spec), timeout=120)
                t[k].append(time.monotonic() - t0)
                d.remove(pb.RemoveImageRequest(image=spec), timeout=120)
        m = {k: statistics.median(v) for k, v in t.items()}
        base = m['unsigned']
        print(f'signature verification: busybox (1 layer, ~1 MB), registry on loopback, '
              f'median of {reps}')
        for k, v in m.items():
            print(f'  {k:24s} {v * 1000:7.1f} ms  +{(v - base) * 1000:6.1f} ms  '
                  f'x{v / base:.2f} of unsigned')
    finally:
        if d:
            d.stop()
        w.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
