"""What inference and pseudo-label generation write, pixel by pixel.

The scripts run on toy videos with seeded weights; each written PNG is compared with the
model's output for that frame computed here, independently of the pipeline: the model built
in the test with the same weights, frames decoded with PIL, resized (bilinear, antialiased)
and ImageNet-normalised by hand, one clip at a time, the clips written out by hand:

- inference (DESIGN.md, "The pipeline users run", 5): non-overlapping clips of ``--clip_len``,
  the last one aligned to the end of the video, the last prediction of a frame wins; the
  probability resized bilinearly to the frame's size and rounded to 0..255;
- generation: the FGPLG called as ``generate_pseudo_label(frame, left key frame, right key
  frame, left label, right label)`` on the published positions (DESIGN.md, "The
  semi-supervised protocol").

Every pixel must agree within 1/255 (the pipeline folds BatchNorm and uses channels_last,
which moves float32 results by ~1e-6, enough to flip a rounding). The test also checks that
the maps it compares are far apart from frame to frame and from clip to clip, and that the
FGPLG's two neighbours swapped give another pseudo-label, so that a frame mix-up, a first
write winning, or swapped neighbours cannot pass.
"""
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import generate_pseudo_labels
import inference
from libs.datasets.toy import make_toy_data
from libs.networks import FGPLG, VideoModel
from libs.pipeline.fgplg_training import fgplg_logits
from libs.utils.reference_weights import fill_reference_weights

SIZE = 32  # --size
CLIP = 3  # --clip_len
H, W = 40, 56  # toy frame size: not square, not SIZE, so the maps are resized
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # ImageNet
# Inference clips written out by hand for the two val videos (7 and 5 frames, neither a multiple
# of 3): non-overlapping, the last aligned to the end.
CLIPS = {"video_01": [[0, 1, 2], [3, 4, 5], [4, 5, 6]], "video_02": [[0, 1, 2], [2, 3, 4]]}
LENGTHS = {"video_01": 7, "video_02": 5}


def run(module, argv, capsys):
    rc = module.main([str(a) for a in argv])
    out = capsys.readouterr()
    assert rc == 0, out.err[-3000:]
    return out.out


def seeded(model, seed):
    """Variance-preserving seeded weights (logits of order 1), the last 1x1 conv scaled by 20 so
    that the maps span much of 0..255 and differ clearly from frame to frame, and (video model)
    the bidirectional ConvGRU's output conv by 3 so that a frame's map depends clearly on the
    other frames of its clip."""
    state = fill_reference_weights(model, seed=seed).state_dict()
    scale = {"backbone.decoder.conv2.": 20.0, "bidirection_conv.": 3.0}
    for key in state:
        for prefix, factor in scale.items():
            if key.startswith(prefix):
                state[key] = state[key] * factor
    return state


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """Toy data (train video_00: 7 frames; val video_01: 7, video_02: 5), every frame annotated,
    and seeded VideoModel / FGPLG (OpenCV flow) weights saved as bare state dicts."""
    root = tmp_path_factory.mktemp("written")
    data = root / "toy"
    make_toy_data(data, train_videos=1, val_videos=2, test_videos=0, frames=7, train_images=0, val_images=0,
                  height=H, width=W)
    for i in (5, 6):  # video_02 keeps 5 frames
        (data / "TOY_VIDEO" / "JPEGImages" / "video_02" / f"{i:05d}.jpg").unlink()
        (data / "TOY_VIDEO" / "Annotations" / "video_02" / f"{i:05d}.png").unlink()
    torch.save(seeded(VideoModel(), seed=11), root / "video.pth")
    torch.save(seeded(FGPLG(flow="opencv"), seed=12), root / "fgplg.pth")
    yield root
    for checkpoint in root.glob("*.pth"):
        checkpoint.unlink()


# ----------------------------------------------------------------------------- independent processing

def frame_tensor(path):
    """A frame file -> ``(1, 3, SIZE, SIZE)``: PIL RGB, [0, 1], bilinear antialiased resize, ImageNet."""
    rgb = torch.from_numpy(np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0)
    x = F.interpolate(rgb.permute(2, 0, 1)[None], size=(SIZE, SIZE), mode="bilinear", align_corners=False,
                      antialias=True).clamp(0, 1)
    return (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


def label_tensor(path):
    """A 0/255 GT file -> ``(1, 1, SIZE, SIZE)`` in [0, 1] (soft after the resize)."""
    mask = torch.from_numpy(np.asarray(Image.open(path).convert("L"), dtype=np.float32) / 255.0)
    return F.interpolate(mask[None, None], size=(SIZE, SIZE), mode="bilinear", align_corners=False,
                         antialias=True).clamp(0, 1)


def to_map(logits):
    """``(1, 1, SIZE, SIZE)`` logits -> uint8 ``(H, W)``: sigmoid, bilinear to the frame size, round."""
    prob = F.interpolate(torch.sigmoid(logits.float()), size=(H, W), mode="bilinear", align_corners=False)
    return torch.round(prob[0, 0] * 255).clamp(0, 255).to(torch.uint8).numpy()


def read_png(path):
    return np.asarray(Image.open(path), dtype=np.int16)


def max_diff(a, b):
    return int(np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).max())


@pytest.fixture(scope="module")
def video_model(toy):
    model = VideoModel()
    model.load_state_dict(torch.load(toy / "video.pth", weights_only=True), strict=True)
    return model.eval()


def clip_maps(model, frames):
    """One clip (paths) through the video model -> a map per frame."""
    with torch.no_grad():
        logits = model([frame_tensor(f) for f in frames])
    return [to_map(x) for x in logits]


@pytest.fixture(scope="module")
def expected(toy, video_model):
    """``{video: {index: map}}`` (the last clip's prediction of a frame wins) and every clip's maps."""
    final, per_clip = {}, {}
    for video, clips in CLIPS.items():
        folder = toy / "toy" / "TOY_VIDEO" / "JPEGImages" / video
        final[video] = {}
        for clip in clips:
            maps = clip_maps(video_model, [folder / f"{i:05d}.jpg" for i in clip])
            per_clip[(video, tuple(clip))] = dict(zip(clip, maps))
            final[video].update(zip(clip, maps))
    return final, per_clip


def test_the_comparison_can_tell_frames_and_clips_apart(expected):
    # Without this, a map written for another frame of the clip, or the first of two predictions
    # of a frame winning, could still agree within 1/255.
    final, per_clip = expected
    for (video, clip), maps in per_clip.items():
        for a in clip:
            for b in clip:
                if a != b:
                    assert max_diff(maps[a], maps[b]) > 8, (video, clip, a, b)
    overlaps = [(v, i) for v, clips in CLIPS.items() for i in range(LENGTHS[v])
                if sum(i in c for c in clips) > 1]
    assert overlaps == [("video_01", 4), ("video_01", 5), ("video_02", 2)]
    for video, i in overlaps:
        first = next(maps[i] for (v, c), maps in per_clip.items() if v == video and i in c)
        assert max_diff(first, final[video][i]) > 4, (video, i)


# ----------------------------------------------------------------------------- inference

def test_inference_on_a_dataset_split_writes_each_frames_own_map(toy, expected, tmp_path, one_thread, capsys):
    data, out = toy / "toy", tmp_path / "results"
    run(inference, ["--data", data, "--dataset-config", data / "datasets.yaml", "--dataset", "TOY_VIDEO",
                    "--split", "val", "--checkpoint", toy / "video.pth", "--results-folder", out,
                    "--clip_len", CLIP, "--size", SIZE, "--batch-size", 2, "-j", 0, "--device", "cpu"], capsys)
    final, _ = expected
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert written == sorted(f"TOY_VIDEO/{v}/{i:05d}.png" for v, n in LENGTHS.items() for i in range(n))
    for video, maps in final.items():
        for i, want in maps.items():
            got = read_png(out / "TOY_VIDEO" / video / f"{i:05d}.png")
            assert got.shape == (H, W)
            assert max_diff(got, want) <= 1, (video, i)


def test_inference_on_a_folder_of_frames_writes_each_frames_own_map(toy, expected, tmp_path, one_thread, capsys):
    # The frames of video_01 renamed f8 .. f14: natural order (f8 before f10), names not positions.
    folder = tmp_path / "my_clip"
    folder.mkdir()
    source = toy / "toy" / "TOY_VIDEO" / "JPEGImages" / "video_01"
    for i in range(LENGTHS["video_01"]):
        shutil.copy(source / f"{i:05d}.jpg", folder / f"f{i + 8}.jpg")
    out = tmp_path / "results"
    run(inference, ["--input", folder, "--checkpoint", toy / "video.pth", "--results-folder", out,
                    "--clip_len", CLIP, "--size", SIZE, "-j", 0, "--device", "cpu"], capsys)
    final, _ = expected
    assert sorted(p.name for p in (out / "my_clip").iterdir()) == sorted(f"f{i + 8}.png" for i in range(7))
    for i, want in final["video_01"].items():
        assert max_diff(read_png(out / "my_clip" / f"f{i + 8}.png"), want) <= 1, i


# ----------------------------------------------------------------------------- pseudo-labels

L, M = 3, 2  # kept labels: frames 0, 3, 6; step (3 x 1) // (2 + 1) = 1
JOBS = [(0, 1, 3), (0, 2, 3), (3, 4, 6), (3, 5, 6)]  # (left key frame, pseudo-label, right key frame)


@pytest.fixture(scope="module")
def fgplg(toy):
    model = FGPLG(flow="opencv")
    model.load_state_dict(torch.load(toy / "fgplg.pth", weights_only=True), strict=True)
    return model.eval()


def pseudo_label(model, video_dir, label_dir, left, pos, right):
    """The published call: (frame, left key frame, right key frame, left label, right label)."""
    frame = lambda i: frame_tensor(video_dir / f"{i:05d}.jpg")  # noqa: E731
    label = lambda i: label_tensor(label_dir / f"{i:05d}.png")  # noqa: E731
    with torch.no_grad():
        return to_map(model.generate_pseudo_label(frame(pos), frame(left), frame(right), label(left), label(right)))


def test_generation_writes_the_fgplg_output_of_each_position(toy, fgplg, tmp_path, one_thread, capsys):
    data, out = toy / "toy", tmp_path / "pseudo"
    run(generate_pseudo_labels, ["--data", data, "--dataset-config", data / "datasets.yaml", "--sets",
                                 "TOY_VIDEO:train", "--checkpoint", toy / "fgplg.pth", "--label_interval", L,
                                 "--frame_between_label_num", M, "--pseudo-label-folder", out, "--size", SIZE,
                                 "--batch-size", 2, "-j", 0, "--device", "cpu"], capsys)
    folder = out / f"{M}_{L}" / "TOY_VIDEO" / "video_00"
    frames, labels = data / "TOY_VIDEO" / "JPEGImages" / "video_00", data / "TOY_VIDEO" / "Annotations" / "video_00"
    assert sorted(p.name for p in folder.iterdir()) == [f"{i:05d}.png" for i in range(7)]
    for k in (0, 3, 6):  # the kept GT, copied
        assert (folder / f"{k:05d}.png").read_bytes() == (labels / f"{k:05d}.png").read_bytes()
    for left, pos, right in JOBS:
        got = read_png(folder / f"{pos:05d}.png")
        want = pseudo_label(fgplg, frames, labels, left, pos, right)
        assert got.shape == (H, W)
        assert max_diff(got, want) <= 1, (left, pos, right)
        # The neighbours swapped (right frame and label given as the left ones) label the frame
        # differently: the order the pipeline passes them in is checked above.
        swapped = pseudo_label(fgplg, frames, labels, right, pos, left)
        assert max_diff(got, swapped) > 4, (left, pos, right)


def test_fgplg_logits_passes_the_neighbours_in_the_published_order(toy, fgplg, one_thread):
    # fgplg_logits(images [left, middle, right], labels [left, right]) is the generator's
    # generate_pseudo_label(middle, left, right, label_left, label_right), batch element by element.
    frames = toy / "toy" / "TOY_VIDEO" / "JPEGImages" / "video_00"
    labels = toy / "toy" / "TOY_VIDEO" / "Annotations" / "video_00"
    trips = [(0, 1, 3), (6, 4, 2)]  # the second one backwards
    images = torch.stack([torch.cat([frame_tensor(frames / f"{i:05d}.jpg") for i in t]) for t in trips])
    outer = torch.stack([torch.cat([label_tensor(labels / f"{i:05d}.png") for i in (t[0], t[2])]) for t in trips])
    with torch.no_grad():
        got = fgplg_logits(fgplg, images, outer)
        assert got.shape == (2, 1, SIZE, SIZE)
        for b, (left, mid, right) in enumerate(trips):
            want = fgplg.generate_pseudo_label(images[b : b + 1, 1], images[b : b + 1, 0], images[b : b + 1, 2],
                                               outer[b : b + 1, 0], outer[b : b + 1, 1])
            torch.testing.assert_close(got[b : b + 1], want, rtol=0, atol=1e-4)
            swapped = fgplg.generate_pseudo_label(images[b : b + 1, 1], images[b : b + 1, 2], images[b : b + 1, 0],
                                                  outer[b : b + 1, 1], outer[b : b + 1, 0])
            assert (got[b : b + 1] - swapped).abs().max() > 0.1, (left, mid, right)
