"""Derived backbone graphs kept across processes: a hit is the bytes a build gives, a damaged or
stale file is never used."""

from __future__ import annotations

import os

from fakerek.ml import graph_cache


def test_a_hit_returns_what_the_build_returned(tmp_path):
    builds = []

    def build() -> bytes:
        builds.append(1)
        return b"graph bytes"

    release = graph_cache.use(str(tmp_path))
    try:
        first = graph_cache.cached([b"a", b"b"], build, ".onnx")
        again = graph_cache.cached([b"a", b"b"], build, ".onnx")
        other = graph_cache.cached([b"ab"], build, ".onnx")  # other inputs: another file
    finally:
        release()
    assert first == again == other == b"graph bytes"
    assert len(builds) == 2
    assert len(os.listdir(tmp_path)) == 2


def test_a_damaged_file_is_built_again(tmp_path):
    release = graph_cache.use(str(tmp_path))
    try:
        graph_cache.cached([b"k"], lambda: b"whole", ".onnx")
        [name] = os.listdir(tmp_path)
        with open(tmp_path / name, "r+b") as stored:
            stored.seek(40)
            stored.write(b"X")
        assert graph_cache.cached([b"k"], lambda: b"rebuilt", ".onnx") == b"rebuilt"
        assert graph_cache.cached([b"k"], lambda: b"unused", ".onnx") == b"rebuilt"
    finally:
        release()


def test_no_directory_builds_every_time():
    release = graph_cache.use("")
    assert graph_cache.cached([b"k"], lambda: b"built", ".onnx") == b"built"
    assert graph_cache.cached([b"k"], lambda: b"again", ".onnx") == b"again"
    release()


def test_each_open_application_directory_gets_the_graph_until_it_closes(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    release_first = graph_cache.use(str(first))
    release_second = graph_cache.use(str(second))
    try:
        assert graph_cache.cached([b"both"], lambda: b"graph", ".onnx") == b"graph"
        assert len(os.listdir(first)) == len(os.listdir(second)) == 1
        release_first()
        release_first()  # releasing twice is harmless
        assert graph_cache.cached([b"second"], lambda: b"graph", ".onnx") == b"graph"
        assert len(os.listdir(first)) == 1 and len(os.listdir(second)) == 2
    finally:
        release_second()


def test_the_int8_backbone_from_the_cache_is_the_one_built(tmp_path):
    from fakerek.ml import features

    release = graph_cache.use(str(tmp_path))
    try:
        built = features._graph_bytes.__wrapped__("features", "int8")
        read = features._graph_bytes.__wrapped__("features", "int8")
    finally:
        release()
    assert built == read and len(os.listdir(tmp_path)) == 1
