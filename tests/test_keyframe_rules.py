"""The index rules of key-frame labelling (:mod:`libs.datasets.keyframes`), the walk order of the
engine, and the forward-only video reader, against expectations written out by hand."""
import doctest

import numpy as np
import pytest
from keyframe_toys import make_video_file

import libs.datasets.keyframes as keyframes
import libs.pipeline.keyframes.engine as engine
from libs.datasets import pseudo_label_positions
from libs.datasets.keyframes import gap_positions, holdout_jobs, label_jobs, nearer_key, segments
from libs.datasets.video_files import VideoFileCursor, iter_video_file


@pytest.mark.parametrize("module", [keyframes, engine])
def test_docstring_examples(module):
    assert doctest.testmod(module).failed == 0


def test_every_interior_frame_once_and_nothing_for_adjacent_key_frames():
    jobs = label_jobs([0, 3, 11, 12, 20], 21)
    assert [p for _, p, _ in jobs] == [1, 2] + list(range(4, 11)) + list(range(13, 20))
    assert all(a < p < b for a, p, b in jobs)
    assert gap_positions(11, 12) == [] and gap_positions(11, 12, 3) == []


@pytest.mark.parametrize("l, d, m", [(5, 15, 1), (5, 1, 1), (2, 3, 4), (3, 5, 14), (4, 1, 0)])
def test_regular_key_frames_give_the_published_positions(l, d, m):
    keys = list(range(0, 200, l * d))
    ours = label_jobs(keys, 200, m)
    assert ours == pseudo_label_positions(keys, l, d, m)


@pytest.mark.parametrize("a, b, m, expected", [(0, 10, 1, [5]), (0, 10, 2, [3, 6]), (0, 10, 4, [2, 4, 6, 8]),
                                               (0, 3, 5, [1, 2]), (7, 9, 1, [8]), (7, 9, 2, [8])])
def test_m_spacing_and_gaps_too_small_for_m(a, b, m, expected):
    positions = gap_positions(a, b, m)
    assert positions == expected and len(set(positions)) == len(positions)


def test_extrapolation_uses_the_one_key_frame_on_both_sides():
    assert label_jobs([2, 5], 8) == [(2, 3, 5), (2, 4, 5)]
    assert label_jobs([2, 5], 8, extrapolate=True) == [(2, 0, 2), (2, 1, 2), (2, 3, 5), (2, 4, 5), (5, 6, 5),
                                                        (5, 7, 5)]
    assert label_jobs([2, 5], 8, m=0, extrapolate=True) == [(2, 0, 2), (2, 1, 2), (5, 6, 5), (5, 7, 5)]


def test_nearer_key_frame_and_holdout_pairs():
    assert [nearer_key((3, p, 11)) for p in range(4, 11)] == [3, 3, 3, 3, 11, 11, 11]  # 7: a tie, the left one
    assert holdout_jobs([0, 2, 5, 6, 9, 13, 14, 20], 2) == [(2, 5, 6), (6, 9, 13), (13, 14, 20)]
    assert holdout_jobs([0, 9], 1) == []


def test_walk_needs_key_frames_in_order_and_frames_in_increasing_order():
    keys = [2, 5, 6, 9]
    jobs = label_jobs(keys, 12, extrapolate=True)
    steps = engine.timeline(keys, jobs, with_keys=True)
    key_reads, frame_reads = [], []
    for kind, what in steps:
        if kind == "key":
            key_reads.append(what)
        else:
            key_reads += [what[0], what[1]]
            frame_reads += what[2]
    assert key_reads == sorted(key_reads) and frame_reads == sorted(frame_reads) == [0, 1, 3, 4, 7, 8, 10, 11]
    assert [w for k, w in steps if k == "key"] == keys
    assert segments(jobs)[0] == (2, 2, [0, 1])


def test_video_cursor_reads_forward_only(tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (6, 48, 64, 3), dtype=np.uint8)
    path = tmp_path / "v.avi"
    make_video_file(path, frames)
    decoded = dict(iter_video_file(path))
    with VideoFileCursor(path) as cursor:
        assert np.array_equal(cursor.read(1), decoded[1])
        assert np.array_equal(cursor.read(4), decoded[4])  # skips 2 and 3
        with pytest.raises(ValueError, match="only reads forward"):
            cursor.read(2)
        with pytest.raises(Exception, match="cannot decode frame 00009"):
            cursor.read(9)
