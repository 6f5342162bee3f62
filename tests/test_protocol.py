"""The semi-supervised protocol's index rules, against positions written by hand.

The published rules (DESIGN.md, "The semi-supervised protocol"): the budget keeps
``labels[::l]``; FGPLG trains on triplets of consecutive kept labels; pseudo-labels go to
the frames ``k + j * (l*d)//(m+1)``, j = 1..m, after every kept label ``k`` but the last,
counted in the full frame list. Every expected list below is written out by hand.
"""
import numpy as np
import pytest
from PIL import Image

from libs.datasets import (
    DatasetError,
    PseudoLabelDataset,
    TripletDataset,
    check_frame_between_label_num,
    kept_indices,
    load_dataset_config,
    pseudo_label_positions,
    pseudo_label_step,
    triplet_indices,
)

H, W = 6, 8


def _positions(kept, l, d, m):
    return [p for _, p, _ in pseudo_label_positions(kept, l, d, m)]


def test_vos_like_positions_fall_between_annotations():
    # VOS: GT on every 15th frame; l = 5 keeps frames 0, 75, 150, 225.
    kept = [0, 75, 150, 225]
    assert pseudo_label_step(5, 15, 1) == 37
    assert _positions(kept, 5, 15, 1) == [37, 112, 187]
    assert _positions(kept, 5, 15, 2) == [25, 50, 100, 125, 175, 200]
    assert _positions(kept, 5, 15, 4) == [15, 30, 45, 60, 90, 105, 120, 135, 165, 180, 195, 210]
    assert _positions(kept, 5, 15, 0) == []
    assert pseudo_label_positions([0, 75], 5, 15, 1) == [(0, 37, 75)]  # neighbours: the kept labels around


def test_davis_like_positions_follow_the_published_step():
    kept = [0, 5, 10]  # GT on every frame, l = 5
    assert _positions(kept, 5, 1, 1) == [2, 7]
    assert _positions(kept, 5, 1, 2) == [1, 2, 6, 7]  # step 5 // 3 = 1, as published (not evenly spread)
    assert _positions(kept, 5, 1, 4) == [1, 2, 3, 4, 6, 7, 8, 9]
    assert _positions([0], 5, 1, 1) == []  # no gap after the last kept label


def test_budget_keeps_every_lth_label_of_the_label_list():
    assert kept_indices(11, 5) == [0, 5, 10]
    assert kept_indices(10, 5) == [0, 5]
    assert kept_indices(3, 1) == [0, 1, 2]


def test_triplets_are_consecutive_kept_labels_sharing_one():
    assert triplet_indices(3) == [[0, 1, 2]]
    assert triplet_indices(5) == [[0, 1, 2], [2, 3, 4]]
    assert triplet_indices(6) == [[0, 1, 2], [2, 3, 4], [3, 4, 5]]
    assert triplet_indices(2) == [] and triplet_indices(0) == []


@pytest.mark.parametrize("m, l, d", [(75, 5, 15), (5, 5, 1), (-1, 5, 1), (1, 0, 1)])
def test_frame_between_label_num_limit_names_the_flag(m, l, d):
    with pytest.raises(DatasetError) as err:
        check_frame_between_label_num(m, l, d, "VOS")
    assert "--frame_between_label_num" in str(err.value) or "--label_interval" in str(err.value)
    assert "\n" not in str(err.value)


# --------------------------------------------------------------- datasets on disk
def _frame(path, code):
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.zeros((H, W, 3), np.uint8)
    arr[..., 0] = code
    Image.fromarray(arr).save(path)


def _label(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((H, W), value, np.uint8), mode="L").save(path)


def sparse_dataset(root, n_frames, every, l, videos=("v",)):
    """Frames 0..n-1 (red = frame index), GT on every ``every``-th frame (gray = index);
    every GT file outside the budget ``labels[::l]`` is replaced by bytes that are no image."""
    poisoned = []
    for video in videos:
        annotated = list(range(0, n_frames, every))
        for i in range(n_frames):
            _frame(root / "D" / "JPEGImages" / video / f"{i:05d}.png", i)
        for k, i in enumerate(annotated):
            path = root / "D" / "Annotations" / video / f"{i:05d}.png"
            if k % l == 0:
                _label(path, i)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"not an image: outside the label budget")
                poisoned.append(path)
    cfg = root / "d.yaml"
    cfg.write_text(f'D:\n  image_dir: "JPEGImages"\n  label_dir: "Annotations"\n  image_ext: ".png"\n'
                   f'  label_ext: ".png"\n  default_label_interval: {every}\n'
                   f'  video_split:\n    train: [{", ".join(videos)}]\n')
    return load_dataset_config(cfg), poisoned


def _codes(images):
    from libs.datasets import denormalize

    return [round(float(v) * 255) for v in denormalize(images)[:, 0].mean(dim=(-2, -1))]


def _label_codes(labels):
    return [round(float(v) * 255) for v in labels[:, 0].mean(dim=(-2, -1))]


def test_fgplg_triplets_read_kept_labels_only(tmp_path):
    # GT on frames 0, 3, ..., 30 (11 labels); l = 2 keeps frames 0, 6, 12, 18, 24, 30.
    config, poisoned = sparse_dataset(tmp_path, 31, 3, 2)
    ds = TripletDataset(tmp_path, config, [("D", "train")], label_interval=2)
    assert [t[1][1].stem for t in ds.triplets] == ["00006", "00018", "00024"]
    assert [[f.stem for f in t[1]] for t in ds.triplets] == [
        ["00000", "00006", "00012"], ["00012", "00018", "00024"], ["00018", "00024", "00030"]]
    assert ds.validate() == 9
    item = ds[1]
    assert _codes(item["images"]) == [12, 18, 24] and _label_codes(item["labels"]) == [12, 18, 24]
    assert poisoned  # the budget really discarded labels, and none of them was read above


def test_fgplg_triplets_play_backwards_half_the_time(tmp_path):
    import torch

    config, _ = sparse_dataset(tmp_path, 31, 3, 2)
    ds = TripletDataset(tmp_path, config, [("D", "train")], label_interval=2, random_reverse=True)
    seen = set()
    for seed in range(16):
        torch.manual_seed(seed)
        item = ds[0]
        order = [12, 6, 0] if item["reversed"] else [0, 6, 12]
        assert _codes(item["images"]) == order and _label_codes(item["labels"]) == order
        seen.add(item["reversed"])
    assert seen == {True, False}


def test_videos_with_fewer_than_three_kept_labels_give_no_triplet(tmp_path):
    config, _ = sparse_dataset(tmp_path, 31, 3, 2, videos=("long", "short"))
    for i in range(7, 31):  # "short" keeps only frames 0 and 6
        (tmp_path / "D" / "JPEGImages" / "short" / f"{i:05d}.png").unlink()
        (tmp_path / "D" / "Annotations" / "short" / f"{i:05d}.png").unlink(missing_ok=True)
    ds = TripletDataset(tmp_path, config, [("D", "train")], label_interval=2)
    assert ds.skipped == [("D", "short")] and len(ds) == 3


@pytest.mark.parametrize("m, expected", [(0, []), (1, [3, 9, 15, 21, 27]),
                                         (2, [2, 4, 8, 10, 14, 16, 20, 22, 26, 28])])
def test_generation_jobs_at_the_published_positions(tmp_path, m, expected):
    # d = 3, l = 2: kept frames 0, 6, ..., 30; step (2*3)//(m+1).
    config, _ = sparse_dataset(tmp_path, 31, 3, 2)
    ds = PseudoLabelDataset(tmp_path, config, [("D", "train")], 2, m)
    assert [job[1] for _, job in ds.items] == expected
    assert [f.name for f in ds.plans[0].kept_files()] == [f"{i:05d}.png" for i in (0, 6, 12, 18, 24, 30)]
    assert ds.validate() == 6 + len(expected)
    if expected:
        item = ds[0]
        left, right = expected[0] - expected[0] % 6, expected[0] - expected[0] % 6 + 6
        assert _codes(item["images"]) == [left, expected[0], right]
        assert _label_codes(item["labels"]) == [left, right]


def test_generation_limit_uses_the_dataset_interval(tmp_path):
    config, _ = sparse_dataset(tmp_path, 31, 3, 2)
    PseudoLabelDataset(tmp_path, config, [("D", "train")], 2, 5)  # m < l*d = 6
    with pytest.raises(DatasetError) as err:
        PseudoLabelDataset(tmp_path, config, [("D", "train")], 2, 6)
    assert "2 x 3 = 6" in str(err.value) and "'D'" in str(err.value)


# --------------------------------------------------------------- irregular annotation, names not positions
# Frames a_0003, a_0005, ..., a_0057 (28 frames: position p is named a_{3 + 2p}), GT on the
# irregular positions below, the first not at position 0. Everything expected is written out by
# hand from the published rules, in positions and in file names.
IRREGULAR_GT = [2, 4, 9, 11, 12, 18, 25, 26]  # positions; names a_0007, a_0011, a_0021, ...


def _name(p):
    return f"a_{3 + 2 * p:04d}"


def irregular_dataset(root, l, d):
    """One video "irr": frame at position p named ``_name(p)`` (red = p); GT (gray = p) on
    IRREGULAR_GT; GT outside the budget ``labels[::l]`` is bytes that are no image."""
    for p in range(28):
        _frame(root / "D" / "JPEGImages" / "irr" / f"{_name(p)}.png", p)
    for k, p in enumerate(IRREGULAR_GT):
        path = root / "D" / "Annotations" / "irr" / f"{_name(p)}.png"
        if k % l == 0:
            _label(path, p)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"not an image: outside the label budget")
    cfg = root / "d.yaml"
    cfg.write_text(f'D:\n  image_dir: "JPEGImages"\n  label_dir: "Annotations"\n  image_ext: ".png"\n'
                   f'  label_ext: ".png"\n  default_label_interval: {d}\n  video_split:\n    train: [irr]\n')
    return load_dataset_config(cfg)


def test_irregular_annotation_lists_frames_and_kept_labels_by_position(tmp_path):
    from libs.datasets.frames import kept_labels, list_video

    config = irregular_dataset(tmp_path, 2, 3)
    vf = list_video(tmp_path, config["D"], "irr")
    assert [f.stem for f in vf.frames] == [_name(p) for p in range(28)]
    assert list(vf.labels) == IRREGULAR_GT
    # l = 2 keeps labels 0, 2, 4, 6 of the label list: positions 2, 9, 12, 25
    assert kept_labels(vf, 2) == [2, 9, 12, 25]
    assert [vf.frames[p].stem for p in kept_labels(vf, 2)] == ["a_0007", "a_0021", "a_0027", "a_0053"]
    assert kept_labels(vf, 3) == [2, 11, 25]


def test_irregular_fgplg_triplets(tmp_path):
    # 4 kept labels (positions 2, 9, 12, 25): triplets of kept labels 0-1-2 and, aligned to the
    # end, 1-2-3, i.e. positions (2, 9, 12) and (9, 12, 25).
    config = irregular_dataset(tmp_path, 2, 3)
    ds = TripletDataset(tmp_path, config, [("D", "train")], label_interval=2)
    assert [[f.stem for f in t] for _, t in ds.triplets] == [["a_0007", "a_0021", "a_0027"],
                                                             ["a_0021", "a_0027", "a_0053"]]
    assert ds.validate() == 6  # only kept labels' headers: the poisoned ones are never opened
    item = ds[1]
    assert _codes(item["images"]) == [9, 12, 25] and _label_codes(item["labels"]) == [9, 12, 25]
    assert item["frames"] == ["a_0021", "a_0027", "a_0053"]


@pytest.mark.parametrize("m, jobs, on_kept", [
    # d = 3, l = 2: step (2 x 3) // (m + 1), counted in frame positions from each kept label
    (1, [(2, 5, 9), (12, 15, 25)], [12]),  # 9 + 3 = 12 is itself a kept label: it keeps its GT
    (2, [(2, 4, 9), (2, 6, 9), (9, 11, 12), (9, 13, 12), (12, 14, 25), (12, 16, 25)], []),
])
def test_irregular_pseudo_label_positions(tmp_path, m, jobs, on_kept):
    # With m = 2, positions 4 and 11 carry GT outside the budget: they get pseudo-labels, and
    # their GT files (no image) are never read.
    config = irregular_dataset(tmp_path, 2, 3)
    ds = PseudoLabelDataset(tmp_path, config, [("D", "train")], 2, m)
    plan = ds.plans[0]
    assert plan.kept == [2, 9, 12, 25]
    assert [f.name for f in plan.kept_files()] == ["a_0007.png", "a_0021.png", "a_0027.png", "a_0053.png"]
    assert plan.jobs == jobs and plan.on_kept == on_kept
    assert plan.pseudo_names() == [f"{_name(p)}.png" for _, p, _ in jobs]
    assert ds.validate() == 4 + len(jobs)
    for index, (left, pos, right) in enumerate(jobs):
        item = ds[index]
        assert item["frames"] == [_name(left), _name(pos), _name(right)]
        assert _codes(item["images"]) == [left, pos, right]
        assert _label_codes(item["labels"]) == [left, right]


def test_irregular_position_past_the_last_frame_names_the_video(tmp_path):
    # l = 1 keeps every label; d = 6 (what the config claims), m = 1: step 3, and from the kept
    # label at 25 the position 28 is past the last frame (27).
    config = irregular_dataset(tmp_path, 1, 6)
    with pytest.raises(DatasetError) as err:
        PseudoLabelDataset(tmp_path, config, [("D", "train")], 1, 1)
    assert "position 28 (after the kept label at 25)" in str(err.value) and "'irr'" in str(err.value)
    assert "(27)" in str(err.value)
