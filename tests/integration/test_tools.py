"""The repository's own checkers: tools/check-layering must catch bad includes."""
import os
import shutil
import subprocess

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECK = os.path.join(TOP, 'tools', 'check-layering')


def copy_tree(tmp_path):
    dst = tmp_path / 'tree'
    for sub in ('src', 'tools'):
        shutil.copytree(os.path.join(TOP, sub), dst / sub)
    return dst


def run(tree):
    return subprocess.run([CHECK, str(tree)], capture_output=True, text=True)


def test_tree_is_clean():
    p = subprocess.run([CHECK], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


@pytest.mark.parametrize('path,line,offence', [
    ('src/base/zz_bad.c', '#include "rpc/rpc.h"\n', 'rpc/rpc.h'),
    ('src/ev/zz_bad.h', '#include "config/config.h"\n', 'config/config.h'),
    ('src/rpc/zz_bad.c', '#include "api.pb-c.h"\n', 'api.pb-c.h'),
    ('src/db/zz_bad.c', '#include <protobuf-c/protobuf-c.h>\n', 'protobuf-c'),
    ('src/cmd/ocimon/zz_bad.c', '#include "db/db.h"\n', 'db/db.h'),
    ('tests/unit/base/zz_bad.c', '#include "cri/cri.h"\n', 'cri/cri.h'),
    # a module's private header, from a module above it or from cmd/
    ('src/cri/zz_bad.c', '#include "oci/oci_int.h"\n', 'private to module oci'),
    ('src/cmd/ocid/zz_bad.c', '#include "ctr/ctr_int.h"\n', 'private to module ctr'),
    ('tests/unit/cri/zz_bad.c', '#include "rpc/rpc_int.h"\n', 'private to module rpc'),
])
def test_planted_bad_include_fails(tmp_path, path, line, offence):
    tree = copy_tree(tmp_path)
    f = tree / path
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text('/* planted */\n#include <stdio.h>\n' + line)
    p = run(tree)
    assert p.returncode == 1, p.stdout + p.stderr
    assert f'{path}:3:' in p.stdout and offence in p.stdout, p.stdout


@pytest.mark.parametrize('path,line', [
    ('src/rpc/zz_ok.c', '#include "ev/ev.h"\n'),
    ('src/rpc/zz_ok2.c', '#include "rpc/rpc_int.h"\n'),
    ('src/cri/zz_ok.c', '#include "api.pb-c.h"\n'),
    ('src/cmd/ocid/zz_ok.c', '#include "cri/cri.h"\n'),
    ('src/cmd/ocimon/zz_ok.c', '#include "mon/mon.h"\n'),
    ('tests/unit/oci/zz_ok.c', '#include "oci/oci_int.h"\n'),
    ('fuzz/zz/zz_ok.c', '#include "stream/stream_int.h"\n'),
])
def test_allowed_include_passes(tmp_path, path, line):
    tree = copy_tree(tmp_path)
    f = tree / path
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(line)
    p = run(tree)
    assert p.returncode == 0, p.stdout + p.stderr


def test_unlisted_module_fails(tmp_path):
    tree = copy_tree(tmp_path)
    (tree / 'src' / 'zzmod').mkdir()
    (tree / 'src' / 'zzmod' / 'a.c').write_text('#include "base/base.h"\n')
    p = run(tree)
    assert p.returncode == 1
    assert 'src/zzmod/a.c:1:' in p.stdout and 'modules.txt' in p.stdout, p.stdout
