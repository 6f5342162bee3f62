"""What ``generate_pseudo_labels.py --input ... --out DIR`` writes, and its manifest.

Layout (``DIR`` is what ``train.py --input FRAMES --labels DIR`` trains on)::

    DIR/keyframe_labels.json           the manifest (below)
    DIR/<video>/<key mask file>        the user's key-frame masks, copied byte for byte, own names
    DIR/<video>/<stem>.png             generated masks, 8-bit gray at the frame's size
    DIR/overlays/<video>/<stem>.jpg    --overlay: frame and mask blended, every frame with a mask
    DIR/overlays/<video>.mp4           --video: those blends as an MP4, in frame order

The manifest (format 1): ``complete`` (false while a run writes), ``settings`` (the command's
flags), and per video ``key_frames`` (``stem``, ``file``), ``generated`` (``stem``, ``file``,
``from``: the stems of the left and right key frames; equal when extrapolated) and ``files``
(every file the run writes for it, relative to DIR). It is saved before any mask is written, so
an interrupted run is known, and it is what makes DIR ours: a non-empty DIR without it is
refused, and a re-run deletes only files its old manifest lists and this run does not write.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

from libs.datasets.frames import VideoFrames
from libs.datasets.indexing import DatasetError
from libs.datasets.keyframes import Job
from libs.datasets.user_videos import GENERATED_EXTRAS, GENERATED_MANIFEST
from libs.utils.io import save_json

from .review import OVERLAYS, mp4_name, overlay_name

__all__ = ["FORMAT", "MANIFEST", "HOLDOUT", "VideoOutputs", "read_manifest", "check_target", "write_manifest",
           "remove_stale", "generated_name"]

FORMAT = 1
MANIFEST = GENERATED_MANIFEST
HOLDOUT = "holdout"  # DIR/holdout/: --holdout's masks (never written by generation)
assert OVERLAYS in GENERATED_EXTRAS and HOLDOUT in GENERATED_EXTRAS


def generated_name(stem: str) -> str:
    return f"{stem}.png"


@dataclass
class VideoOutputs:
    """The files one video gets: key masks copied, masks generated, review images."""

    vf: VideoFrames
    keys: List[int]
    jobs: List[Job]
    overlay: bool
    video: bool

    def key_files(self) -> List[str]:
        return [f"{self.vf.video}/{self.vf.frames[k].label.name}" for k in self.keys]

    def generated_files(self) -> List[str]:
        return [f"{self.vf.video}/{generated_name(self.vf.frames[p].stem)}" for _, p, _ in self.jobs]

    def review_files(self) -> List[str]:
        files = []
        if self.overlay:
            labelled = sorted(self.keys + [p for _, p, _ in self.jobs])
            files += [overlay_name(self.vf.video, self.vf.frames[p].stem) for p in labelled]
        if self.video:
            files.append(mp4_name(self.vf.video))
        return files

    def entry(self) -> dict:
        frames = self.vf.frames
        return {
            "key_frames": [{"stem": frames[k].stem, "file": frames[k].label.name} for k in self.keys],
            "generated": [{"stem": frames[p].stem, "file": generated_name(frames[p].stem),
                           "from": [frames[a].stem, frames[b].stem]} for a, p, b in self.jobs],
            "files": self.key_files() + self.generated_files() + self.review_files(),
        }


def read_manifest(out: Path) -> Optional[dict]:
    """The manifest of an earlier run in ``out``, or None; an unreadable one is an error."""
    path = out / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DatasetError(f"{path}: unreadable manifest ({e}); move it away or choose another --out") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(manifest.get("videos"),
                                                                                           dict):
        raise DatasetError(f"{path}: not a manifest of generate_pseudo_labels.py --input (format {FORMAT}); choose "
                           f"another --out")
    return manifest


def check_target(out: Path, flag: str = "--out") -> Optional[dict]:
    """``out`` may be new, empty, an earlier run's (its manifest is returned) or hold only a
    ``holdout`` folder (``--holdout``'s masks); anything else is refused, untouched."""
    if out.exists() and not out.is_dir():
        raise DatasetError(f"{out}: {flag} is a file, not a folder")
    manifest = read_manifest(out) if out.is_dir() else None
    if manifest is None and out.is_dir():
        others = sorted(p.name for p in out.iterdir() if p.name != HOLDOUT)
        if others:
            shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            raise DatasetError(f"{out}: {flag} folder is not empty ({shown}) and holds no {MANIFEST} of an earlier "
                               f"run; nothing of it is overwritten: choose a new or empty folder")
    return manifest


def listed_files(manifest: Optional[dict]) -> List[str]:
    if manifest is None:
        return []
    return [f for entry in manifest["videos"].values() if isinstance(entry, dict)
            for f in entry.get("files", []) if isinstance(f, str)]


def remove_stale(out: Path, old: Optional[dict], new_files: Iterable[str]) -> int:
    """Delete the files the old manifest lists that this run does not write (only those, and
    only inside ``out``). Returns how many were removed."""
    keep = set(new_files)
    root = out.resolve()
    removed = 0
    for name in sorted(set(listed_files(old)) - keep):
        path = (out / name).resolve()
        if root not in path.parents or not path.is_file():
            continue  # a manifest edited by hand never reaches outside DIR
        path.unlink()
        removed += 1
        for parent in path.parents:  # folders emptied by the removal (never DIR itself)
            if parent == root or any(parent.iterdir()):
                break
            parent.rmdir()
    return removed


def write_manifest(out: Path, settings: dict, plans: Sequence[VideoOutputs], skipped: Dict[str, str],
                   complete: bool) -> dict:
    manifest = {
        "format": FORMAT,
        "complete": complete,
        "settings": settings,
        "videos": {plan.vf.video: plan.entry() for plan in plans},
        "skipped_videos": skipped,
    }
    save_json(manifest, out / MANIFEST)
    return manifest
