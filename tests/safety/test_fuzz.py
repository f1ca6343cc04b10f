"""Fuzzing the parsers that read other people's files: avatar packs, strict TOML, scene files and
the glTF/VRM loader. Any exception other than our own ``EngineError`` is a bug, and so is an
input that takes longer than ``HANG_SECONDS``.

The total budget is ``PERSONA_FUZZ_SECONDS`` (default 60, split evenly between the targets);
the issue's target is a run of at least 120 s::

    PERSONA_FUZZ_SECONDS=120 .venv/bin/python -m pytest tests/safety/test_fuzz.py -q

Hypothesis runs in rounds of ``ROUND_EXAMPLES`` until the target's share of the budget is spent,
so a failure is still shrunk to a small example.
"""

from __future__ import annotations

import copy as copy_module
import io
import json
import os
import shutil
import signal
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import EngineError
from engine.resources import PROJECT_ROOT
from tests.safety.hostile_files import glb

BUDGET_S = float(os.environ.get("PERSONA_FUZZ_SECONDS", "60"))
TARGETS = 4
HANG_SECONDS = 20  # generous: the machine is shared; a real hang is much longer
ROUND_EXAMPLES = 40
ROUND = settings(max_examples=ROUND_EXAMPLES, deadline=None, database=None,
                 suppress_health_check=list(HealthCheck))


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang(f"input took longer than {HANG_SECONDS} s")


def run_guarded(call) -> None:
    """Run one input: our own errors are fine, anything else (or a hang) fails the test."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_SECONDS)
    try:
        call()
    except EngineError:
        pass
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def fuzz_for(share: float, round_test) -> int:
    """Call a ``@given`` test round after round until ``share`` of the budget is spent."""
    deadline = time.monotonic() + BUDGET_S * share
    rounds = 0
    while time.monotonic() < deadline or rounds == 0:
        round_test()
        rounds += 1
    return rounds


def mutated(seed: bytes) -> st.SearchStrategy[bytes]:
    """``seed`` with a few bytes replaced, inserted or deleted."""
    edit = st.tuples(st.sampled_from("rid"), st.integers(0, max(0, len(seed) - 1)),
                     st.binary(min_size=1, max_size=8))

    def apply(edits) -> bytes:
        data = bytearray(seed)
        for kind, at, chunk in edits:
            at = min(at, len(data))
            if kind == "r":
                data[at:at + len(chunk)] = chunk
            elif kind == "i":
                data[at:at] = chunk
            else:
                del data[at:at + len(chunk)]
        return bytes(data)

    return st.lists(edit, min_size=1, max_size=6).map(apply)


TOML_SEEDS = [path.read_bytes() for path in sorted((PROJECT_ROOT / "scenes").glob("*.toml"))]
TOML_SEEDS.append(b'model = "m.glb"\n[consent]\nlikeness = "A"\nuses = ["demo"]\n'
                  b'date = 2026-01-01\nexpires = 2027-01-01\n[expressions]\njawOpen = {aa = 0.8}\n')
HOSTILE_TOML = st.sampled_from([b"a = " + b"[" * 5000, b"a = " + b"{b=" * 3000,
                                b'a = "\\u0000"', b"[a]\n[a]\n", b"a.b = 1\na = 2\n",
                                b"x = 1e99999", b"t = 9999-99-99", b"\xff\xfe", b"a = 1\n\x00"])
TOML_INPUT = st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode),
                       st.sampled_from(TOML_SEEDS).flatmap(mutated), HOSTILE_TOML)


def test_fuzz_strict_toml(tmp_path):
    from engine.safety import strict_toml

    path = tmp_path / "fuzz.toml"

    @ROUND
    @given(TOML_INPUT)
    def one_round(data: bytes) -> None:
        path.write_bytes(data)
        run_guarded(lambda: strict_toml.load(path, max_bytes=64 * 1024))

    fuzz_for(1 / TARGETS / 2, one_round)


def test_fuzz_scene_parser():
    from engine.scenes import parse_scene

    @ROUND
    @given(TOML_INPUT)
    def one_round(data: bytes) -> None:
        text = data.decode("utf-8", errors="replace")
        run_guarded(lambda: parse_scene(Path("fuzz.toml"), text))

    fuzz_for(1 / TARGETS * 1.5, one_round)


NAMES = st.one_of(
    st.sampled_from(["a/avatar.toml", "a/m.glb", "a/../x", "../x", "/abs", "C:/x", "a\\..\\x",
                     "a/./b", "a//b", "a/", "A/AVATAR.TOML", "a/\x00", "a/" + "n" * 300]),
    st.lists(st.sampled_from(["a", "..", ".", "b", "", "é", "c:"]), min_size=1,
             max_size=4).map("/".join))
ENTRY = st.tuples(NAMES, st.binary(max_size=64), st.integers(0, 3), st.booleans())


def build_zip(entries) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore")  # duplicate names are part of the test
        for name, data, kind, compress in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            mode = (0o100644, 0o120777, 0o040755, 0o010644)[kind]  # file, symlink, dir, fifo
            info.external_attr = mode << 16
            try:
                archive.writestr(info, data)
            except ValueError:
                pass  # zipfile itself refuses some names; skip them
    return buffer.getvalue()


ZIP_SEED = build_zip([("a/avatar.toml", b'model = "m.glb"\n', 0, True),
                      ("a/m.glb", b"glTF" * 50, 0, True)])
PACK_INPUT = st.one_of(st.lists(ENTRY, max_size=8).map(build_zip), mutated(ZIP_SEED),
                       st.binary(max_size=300))


def test_fuzz_pack_importer():
    from engine.safety.packs import Limits, import_pack

    limits = Limits(entries=50, file_bytes=1 << 16, total_bytes=1 << 18)

    @ROUND
    @given(PACK_INPUT)
    def one_round(data: bytes) -> None:
        root = Path(tempfile.mkdtemp(prefix="fuzz-pack-"))
        try:
            pack = root / "pack.zip"
            pack.write_bytes(data)
            into = root / "lib" / "avatars"
            run_guarded(lambda: import_pack(pack, into, limits))
            # Whatever happened, nothing was written outside the library folder, and the library
            # holds either nothing or exactly one avatar folder with its avatar.toml.
            outside = {p for p in root.rglob("*") if not p.is_relative_to(into)}
            assert outside <= {pack, root / "lib"}, outside
            if into.exists():
                folders = list(into.iterdir())
                assert len(folders) <= 1, folders
                for folder in folders:
                    assert (folder / "avatar.toml").is_file() and not folder.is_symlink()
        finally:
            shutil.rmtree(root, ignore_errors=True)

    fuzz_for(1 / TARGETS, one_round)


VRM_SEED = "vrm/VRMC_vrm_expressions_isBinary_Overrides.vrm"  # in ../shared/assets
HOSTILE_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40),
                           st.floats(allow_nan=True), st.text(max_size=10),
                           st.lists(st.integers(-5, 5), max_size=4), st.just({}),
                           st.just([[[[]]]]))


def json_paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from json_paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node[:8]):
            yield from json_paths(value, prefix + (index,))


def test_fuzz_gltf_loader(tmp_path, shared_asset):
    from engine.avatar import gltf

    seed_path = shared_asset(VRM_SEED)
    seed = seed_path.read_bytes()
    text, binary = gltf.split_glb(seed_path, seed)
    document = json.loads(text)
    paths = list(json_paths(document))[1:]
    path = tmp_path / "fuzz.vrm"

    def replaced(choices) -> bytes:
        copy = json.loads(text)
        for where, value in choices:
            node = copy
            for key in where[:-1]:  # an earlier change may have removed part of this path
                if isinstance(node, dict) and key in node:
                    node = node[key]
                elif isinstance(node, list) and isinstance(key, int) and key < len(node):
                    node = node[key]
                else:
                    node = None
                    break
            last = where[-1]
            if isinstance(node, dict) or (isinstance(node, list) and isinstance(last, int)
                                          and last < len(node)):
                # A copy: hypothesis may hand the same list to a later change, which would then
                # write it into itself.
                node[last] = copy_module.deepcopy(value)
        return glb(copy, binary)

    # Structural changes are drawn as readable (json path, value) pairs, so a failure reports
    # what was changed rather than 20 kB of bytes.
    structural = st.lists(st.tuples(st.sampled_from(paths), HOSTILE_VALUES), min_size=1,
                          max_size=3)

    @ROUND
    @given(st.one_of(structural, mutated(seed)))
    def one_round(change) -> None:
        path.write_bytes(change if isinstance(change, bytes) else replaced(change))
        run_guarded(lambda: gltf.load_model(path))

    fuzz_for(1 / TARGETS, one_round)
