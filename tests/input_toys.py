"""Toy videos and script runners for the tests of ``--input`` training (``tests/test_input_training.py``).

Frames ``f0 .. f<n-1>`` unpadded (string order is not frame order), random textures; masks of
object-id maps in several formats (8-bit gray, 0/1, DAVIS palette); a video as an ``.avi``.
"""
import cv2
import numpy as np
import torch
from keyframe_toys import DAVIS_PALETTE, Result, error_line
from PIL import Image

import train_fgplg


def frames(folder, n, h=32, w=40, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / f"f{i}.jpg")


def object_ids(i, h, w):
    """An object-id map for frame ``i``: objects 1 and 2 (and 3 on odd frames), placed by ``i``."""
    ids = np.zeros((h, w), np.uint8)
    ids[2 + i % 5: 14 + i % 5, 3:15] = 1
    ids[18:28, 10 + i % 7: 24 + i % 7] = 2
    if i % 2:
        ids[1:4, w - 6: w - 2] = 3
    return ids


def save_mask(path, ids, kind):
    """``ids`` saved as a mask of ``kind``; returns the foreground (1.0) the file means."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fg = (ids != 0).astype(np.float32)
    if kind == "palette":
        img = Image.fromarray(ids, mode="P")
        img.putpalette(DAVIS_PALETTE)  # objects 1, 2, 3: dark red, dark green, olive
    elif kind == "binary":  # 0/1 values: the published rule keeps them as they are
        img = Image.fromarray(fg.astype(np.uint8), mode="L")
    else:
        img = Image.fromarray((fg * 255).astype(np.uint8), mode="L")
    img.save(path)
    return fg


def truncate_pixels(path):
    """Cut a PNG in the middle of its pixel data: its header still reads, its pixels do not decode."""
    data = path.read_bytes()
    at = data.index(b"IDAT")
    length = int.from_bytes(data[at - 4: at], "big")
    path.write_bytes(data[: at + 4 + length // 2])


def video_file(path, n, h=32, w=40):
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (w, h))
    rng = np.random.default_rng(1)
    for _ in range(n):
        writer.write(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    writer.release()


def record_fit(monkeypatch, module):
    """Replace ``module._fit`` by a recorder of the datasets it is given."""
    seen = {}

    def fit(args, ctx, train_set, val_set, log):
        seen.update(args=args, train=train_set, val=val_set)
        return {}

    monkeypatch.setattr(module, "_fit", fit)
    return seen


def run_script(script, argv, capsys):
    try:
        rc = script.main([str(a) for a in argv])
    except SystemExit as e:  # argparse
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


def ok(script, argv, capsys):
    rc, out, err = run_script(script, argv, capsys)
    assert rc == 0, err
    return out


def error(script, argv, capsys, *needles):
    """Exit status 2 and one ``<script>: error:`` line (the only line but progress bars) naming ``needles``."""
    prog = "train_fgplg.py" if script is train_fgplg else "train.py"
    return error_line(Result(*run_script(script, argv, capsys)), *needles, prog=prog)


def target(stem, size=32):
    """What the mask of frame ``stem`` (``f<i>``, 32x40) means, resized to ``(1, size, size)``
    (bilinear, antialiased like PIL: the documented label transform)."""
    fg = torch.from_numpy((object_ids(int(stem.lstrip("f")), 32, 40) != 0).astype(np.float32))[None, None]
    return torch.nn.functional.interpolate(fg, size=(size, size), mode="bilinear", align_corners=False,
                                           antialias=True)[0]


def triplets(dataset):
    return sorted((dataset.videos[vi].video, tuple(f.stem for f in trip)) for vi, trip in dataset.triplets)


def clips(dataset):
    return sorted((video, tuple(stems)) for video, stems in (dataset.clip_info(i)[1:] for i in range(len(dataset))))
