"""The listing of a user's own videos (``--input FRAMES --labels MASKS``) and its bad inputs.

Toy layouts made here: frame names ``f0 .. f12`` unpadded (string order ``f0, f1, f10, f11,
f12, f2, ...`` is not frame order), a video as an ``.avi`` written with OpenCV, masks for some
frames. Expected positions are written by hand from the names the test chose.
"""
import cv2
import numpy as np
import pytest
from PIL import Image

from libs.datasets.frames import VideoFrames
from libs.datasets.indexing import DatasetError
from libs.datasets.user_videos import (
    GENERATED_EXTRAS,
    GENERATED_MANIFEST,
    INPUT_DATASET,
    check_masks,
    check_output_folder,
    enough_key_frames,
    list_user_videos,
)
from libs.datasets.video_files import VideoFileFrame
from libs.utils.errors import UserError

H, W = 32, 40
NAMES = [f"f{i}" for i in range(13)]  # natural order; as strings f10 < f2


def frames(folder, n=13, size=(H, W), ext=".jpg"):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(np.full((*size, 3), 10 * i, np.uint8)).save(folder / f"f{i}{ext}")
    return folder


def mask(path, size=(H, W), value=255):
    path.parent.mkdir(parents=True, exist_ok=True)
    m = np.zeros(size, np.uint8)
    m[4:20, 5:25] = value
    Image.fromarray(m).save(path)
    return path


def video_file(path, n=8, size=(H, W)):
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (size[1], size[0]))
    for i in range(n):
        writer.write(np.full((*size, 3), 20 * i, np.uint8))
    writer.release()
    return path


def key_stems(vf: VideoFrames):
    return [vf.frames[k].stem for k in vf.labels]


def test_folder_of_videos_in_natural_order_with_mirrored_masks(tmp_path):
    for video in ("v10", "v2"):
        frames(tmp_path / "F" / video)
    for stem in ("f12", "f2", "f10", "f0"):
        mask(tmp_path / "M" / "v2" / f"{stem}.png")
    mask(tmp_path / "M" / "v10" / "f3.png")
    (tmp_path / "F" / ".hidden").mkdir()  # not a video
    (tmp_path / "F" / "v2" / "._f3.jpg").write_bytes(b"macOS resource fork")  # not a frame
    listed = list_user_videos(tmp_path / "F", tmp_path / "M")
    assert not listed.single
    assert [vf.video for vf in listed.videos] == ["v2", "v10"]
    v2 = listed.by_name()["v2"]
    assert v2.dataset == INPUT_DATASET
    assert [f.stem for f in v2.frames] == NAMES
    assert sorted(f.stem for f in v2.frames) != NAMES  # string order would differ: the test can fail
    assert list(v2.labels) == [0, 2, 10, 12]
    assert key_stems(v2) == ["f0", "f2", "f10", "f12"]
    assert v2.frames[10].image == tmp_path / "F" / "v2" / "f10.jpg"
    assert v2.frames[10].label == tmp_path / "M" / "v2" / "f10.png"
    assert v2.frames[1].label is None
    assert key_stems(listed.by_name()["v10"]) == ["f3"]


def test_a_video_without_a_mask_folder_has_no_key_frames(tmp_path):
    frames(tmp_path / "F" / "a")
    frames(tmp_path / "F" / "b")
    mask(tmp_path / "M" / "a" / "f1.png")
    listed = list_user_videos(tmp_path / "F", tmp_path / "M")
    assert [len(vf.labels) for vf in listed.videos] == [1, 0]


@pytest.mark.parametrize("layout", ["flat", "subfolder"])
def test_single_video_folder(tmp_path, layout):
    frames(tmp_path / "F" / "kite")
    masks = tmp_path / "M"
    for stem in ("f11", "f1"):
        mask((masks / "kite" if layout == "subfolder" else masks) / f"{stem}.png")
    listed = list_user_videos(tmp_path / "F" / "kite", masks)
    assert listed.single
    (vf,) = listed.videos
    assert vf.video == "kite"
    assert key_stems(vf) == ["f1", "f11"] and list(vf.labels) == [1, 11]


def test_single_video_folder_notes_its_ignored_subfolders(tmp_path):
    frames(tmp_path / "kite")
    (tmp_path / "kite" / "thumbnails").mkdir()
    listed = list_user_videos(tmp_path / "kite")
    assert len(listed.videos) == 1 and listed.videos[0].labels == ()
    assert len(listed.notes) == 1 and "thumbnails" in listed.notes[0]


def test_single_video_file_frames_are_zero_padded_indices(tmp_path):
    clip = video_file(tmp_path / "clip.avi", n=8)
    mask(tmp_path / "M" / "00003.png")
    mask(tmp_path / "M" / "00007.png")
    listed = list_user_videos(clip, tmp_path / "M")
    (vf,) = listed.videos
    assert listed.single and vf.video == "clip"
    assert [f.stem for f in vf.frames] == [f"{i:05d}" for i in range(8)]
    assert list(vf.labels) == [3, 7]
    image = vf.frames[3].image
    assert isinstance(image, VideoFileFrame) and (image.video, image.index, image.size) == (clip, 3, (H, W))


def test_video_file_mask_with_a_frame_name_instead_of_an_index(tmp_path):
    clip = video_file(tmp_path / "clip.avi", n=8)
    bad = mask(tmp_path / "M" / "f3.png")
    with pytest.raises(DatasetError) as e:
        list_user_videos(clip, tmp_path / "M")
    assert str(bad) in str(e.value) and "00000..00007" in str(e.value)


def test_folder_of_video_files_and_frame_folders(tmp_path):
    video_file(tmp_path / "F" / "x.avi", n=5)
    video_file(tmp_path / "F" / "y10.avi", n=4)
    frames(tmp_path / "F" / "y9", n=3)
    mask(tmp_path / "M" / "x" / "00004.png")
    mask(tmp_path / "M" / "y9" / "f2.png")
    listed = list_user_videos(tmp_path / "F", tmp_path / "M")
    assert [vf.video for vf in listed.videos] == ["x", "y9", "y10"]
    x, y9, y10 = listed.videos
    assert len(x.frames) == 5 and list(x.labels) == [4]
    assert len(y10.frames) == 4 and y10.labels == ()
    assert key_stems(y9) == ["f2"]


def test_mask_without_a_matching_frame(tmp_path):
    frames(tmp_path / "F" / "a", n=5)
    bad = mask(tmp_path / "M" / "a" / "f9.png")
    with pytest.raises(DatasetError, match="mask without a matching frame") as e:
        list_user_videos(tmp_path / "F", tmp_path / "M")
    assert str(bad) in str(e.value)


def test_two_masks_for_one_frame(tmp_path):
    frames(tmp_path / "F" / "a")
    mask(tmp_path / "M" / "a" / "f3.png")
    mask(tmp_path / "M" / "a" / "f3.bmp")
    with pytest.raises(DatasetError, match="two masks") as e:
        list_user_videos(tmp_path / "F", tmp_path / "M")
    assert "f3.bmp" in str(e.value) and "f3.png" in str(e.value)


def test_mask_folder_without_a_video(tmp_path):
    frames(tmp_path / "F" / "a")
    mask(tmp_path / "M" / "a" / "f3.png")
    mask(tmp_path / "M" / "b" / "f3.png")
    with pytest.raises(DatasetError, match="mask folder without a video") as e:
        list_user_videos(tmp_path / "F", tmp_path / "M")
    assert str(tmp_path / "M" / "b") in str(e.value)


def test_masks_at_the_top_of_a_folder_of_videos(tmp_path):
    frames(tmp_path / "F" / "a")
    frames(tmp_path / "F" / "b")
    stray = mask(tmp_path / "M" / "f3.png")
    with pytest.raises(DatasetError, match="mask without a video") as e:
        list_user_videos(tmp_path / "F", tmp_path / "M")
    assert str(stray) in str(e.value)


def test_generated_folder_extras_are_not_videos(tmp_path):
    frames(tmp_path / "F" / "a")
    dense = tmp_path / "DENSE"
    for stem in ("f0", "f1", "f2"):
        mask(dense / "a" / f"{stem}.png")
    for extra in GENERATED_EXTRAS:
        mask(dense / extra / "a" / "f1.png")
    # Without the manifest, an "overlays" folder is a mask folder of a missing video...
    with pytest.raises(DatasetError, match="mask folder without a video"):
        list_user_videos(tmp_path / "F", dense)
    # ...with it, the generated folder's extras are not videos.
    (dense / GENERATED_MANIFEST).write_text("{}")
    listed = list_user_videos(tmp_path / "F", dense)
    assert [vf.video for vf in listed.videos] == ["a"]
    assert key_stems(listed.videos[0]) == ["f0", "f1", "f2"]


def test_mixed_frame_sizes_within_a_video(tmp_path):
    frames(tmp_path / "F" / "a", n=4)
    odd = tmp_path / "F" / "a" / "f2.jpg"
    Image.fromarray(np.zeros((H, W + 8, 3), np.uint8)).save(odd)
    with pytest.raises(DatasetError, match="differs from") as e:
        list_user_videos(tmp_path / "F")
    assert str(odd) in str(e.value)


def test_undecodable_video_file(tmp_path):
    bad = tmp_path / "F" / "broken.mp4"
    bad.parent.mkdir()
    bad.write_bytes(b"\x00" * 64 + b"not a video")
    with pytest.raises(DatasetError, match="OpenCV cannot decode") as e:
        list_user_videos(tmp_path / "F")
    assert str(bad) in str(e.value)


def test_missing_folders_are_named(tmp_path):
    with pytest.raises(DatasetError, match="not found") as e:
        list_user_videos(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(e.value)
    frames(tmp_path / "F" / "a")
    with pytest.raises(DatasetError, match="--labels") as e:
        list_user_videos(tmp_path / "F", tmp_path / "no-masks")
    assert str(tmp_path / "no-masks") in str(e.value)


def _listed_with_one_mask(tmp_path, write):
    frames(tmp_path / "F" / "a", n=4)
    mask(tmp_path / "M" / "a" / "f0.png")
    write(tmp_path / "M" / "a" / "f2.png")
    return list_user_videos(tmp_path / "F", tmp_path / "M").videos


def test_check_masks_decodes_every_mask(tmp_path):
    videos = _listed_with_one_mask(tmp_path, lambda p: mask(p))
    assert check_masks(videos) == 2


@pytest.mark.parametrize("damage", ["empty", "truncated", "size"])
def test_check_masks_names_a_bad_mask(tmp_path, damage):
    def write(path):
        if damage == "empty":
            path.write_bytes(b"")
        elif damage == "truncated":
            mask(path)
            path.write_bytes(path.read_bytes()[:60])
        else:
            mask(path, size=(H + 2, W))

    videos = _listed_with_one_mask(tmp_path, write)
    bad = tmp_path / "M" / "a" / "f2.png"
    with pytest.raises(UserError) as e:
        check_masks(videos)
    assert str(bad) in str(e.value)
    if damage == "size":
        assert str(tmp_path / "F" / "a" / "f2.jpg") in str(e.value)  # and its frame


def test_enough_key_frames_warns_per_video_and_fails_when_none_is_left(tmp_path):
    for video in ("a", "b", "c"):
        frames(tmp_path / "F" / video)
    for stem in ("f0", "f3", "f11", "f12"):
        mask(tmp_path / "M" / "a" / f"{stem}.png")
    for stem in ("f0", "f3"):
        mask(tmp_path / "M" / "b" / f"{stem}.png")
    videos = list_user_videos(tmp_path / "F", tmp_path / "M").videos
    lines = []
    kept = enough_key_frames(videos, 3, "a test", log=lines.append)
    assert [vf.video for vf in kept] == ["a"]
    assert len(lines) == 2 and "'b'" in lines[0] and "'c'" in lines[1]
    assert all(line.startswith("warning: ") for line in lines)
    # The label budget: at --label_interval 2 video a keeps f0, f11 only.
    lines.clear()
    with pytest.raises(DatasetError, match="no video has 3 or more key frames"):
        enough_key_frames(videos, 3, "a test", log=lines.append, label_interval=2)
    assert len(lines) == 3 and "2 kept of its 4" in lines[0]
    assert [vf.video for vf in enough_key_frames(videos, 2, "a test", log=lines.append, label_interval=2)] == ["a"]


def test_check_output_folder(tmp_path):
    frames_root, masks_root = frames(tmp_path / "F" / "a").parent, (tmp_path / "M")
    masks_root.mkdir()
    inputs = [("--input", frames_root), ("--labels", masks_root)]
    for inside, flag in ((frames_root / "a" / "out", "--input"), (masks_root, "--labels")):
        with pytest.raises(DatasetError, match=f"inside {flag}"):
            check_output_folder(inside, inputs)
    assert check_output_folder(tmp_path / "out", inputs) == tmp_path / "out"
    # An output that would write a subfolder over an input is refused too.
    with pytest.raises(DatasetError, match="overlaps --input"):
        check_output_folder(tmp_path, inputs, written=["F"])
    # A relative spelling of the same folder is recognised.
    with pytest.raises(DatasetError):
        check_output_folder(frames_root / ".." / "F" / "x", inputs)
    # A video file input is never a folder to write into.
    clip = video_file(tmp_path / "clip.avi", n=2)
    assert check_output_folder(tmp_path / "out2", [("--input", clip), ("--labels", None)]) == tmp_path / "out2"
