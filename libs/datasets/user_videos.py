"""A user's own videos and their masks for some frames: ``--input FRAMES --labels MASKS``.

No dataset config: the folders themselves say what there is.

- ``FRAMES`` is a folder of videos (each a subfolder of frame images or a video file) or a
  single video (a folder holding frame images, or a video file). A folder that holds image
  files directly is a single video (its subfolders are then ignored, with a note).
- ``MASKS`` mirrors it: ``MASKS/<video>/<stem>.<ext>`` for a folder of videos;
  ``MASKS/<stem>.<ext>`` (or ``MASKS/<video>/...``) for a single video. It holds masks for
  *some* frames (the key frames, or dense labels), matched to frames by file stem; for a
  video file, the stem is the zero-padded frame index ``inference.py --input`` writes
  (``00012``). Any image format of :data:`~libs.datasets.user_input.IMAGE_EXTS`; every
  mask is decoded by :func:`libs.utils.io.load_mask`.

Frames are in natural order (``f2`` before ``f10``). Each video becomes a
:class:`~libs.datasets.frames.VideoFrames` of dataset :data:`INPUT_DATASET`, whose
``labels`` are the positions of the frames with a mask, so the datasets and the generator
treat it like a benchmark video. Problems are one :class:`DatasetError` line naming the file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from libs.utils.io import load_mask
from libs.utils.natural_sort import natural_sorted

from .frames import FrameRef, VideoFrames
from .indexing import DatasetError, kept_indices
from .loading import header_size
from .user_input import IMAGE_EXTS, VIDEO_EXTS, image_files
from .video_files import VideoFileFrame, frame_stem, probe_video_file

__all__ = ["INPUT_DATASET", "GENERATED_MANIFEST", "GENERATED_EXTRAS", "UserVideos", "list_user_videos", "check_masks",
           "enough_key_frames", "check_output_folder", "is_video_file"]

PathLike = Union[str, Path]
INPUT_DATASET = "input"  # the dataset name of --input videos in items and logs
# What generate_pseudo_labels.py --input --out DIR writes beside DIR/<video>/ masks: its manifest,
# and folders that hold no masks. DIR is the --labels of train.py, so these are not videos there.
GENERATED_MANIFEST = "keyframe_labels.json"
GENERATED_EXTRAS = ("overlays", "holdout")


@dataclass
class UserVideos:
    """What ``--input FRAMES [--labels MASKS]`` holds: ``videos`` in natural order of their
    names; ``single`` when FRAMES is one video; ``notes``: things ignored, for the log."""

    frames_root: Path
    masks_root: Optional[Path]
    single: bool
    videos: List[VideoFrames]
    notes: List[str] = field(default_factory=list)

    def by_name(self) -> Dict[str, VideoFrames]:
        return {vf.video: vf for vf in self.videos}


def is_video_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_EXTS


def _visible(folder: Path):
    return [p for p in folder.iterdir() if not p.name.startswith(".")]


def _folder_frames(folder: Path) -> Tuple[FrameRef, ...]:
    files = image_files(folder)
    if not files:
        raise DatasetError(f"{folder}: no frame images ({', '.join(IMAGE_EXTS)}) in this video folder")
    seen: Dict[str, Path] = {}
    first_hw = header_size(files[0])
    for f in files:
        if f.stem in seen:
            raise DatasetError(f"{f}: two frames with the stem {f.stem!r} ({seen[f.stem].name} and {f.name})")
        seen[f.stem] = f
        hw = header_size(f)
        if hw != first_hw:
            raise DatasetError(f"{f}: frame size {hw[0]}x{hw[1]} (HxW) differs from {files[0].name} "
                               f"({first_hw[0]}x{first_hw[1]}) in the same video; every frame of a video must "
                               f"have one size")
    return tuple(FrameRef(f.stem, f, None) for f in files)


def _video_file_frames(path: Path) -> Tuple[FrameRef, ...]:
    count, hw = probe_video_file(path)
    return tuple(FrameRef(frame_stem(i), VideoFileFrame(path, i, hw), None) for i in range(count))


def _attach_masks(name: str, source: Path, frames: Tuple[FrameRef, ...], mask_dir: Optional[Path],
                  flag: str) -> VideoFrames:
    """The video with the masks of ``mask_dir`` matched to its frames by stem."""
    index = {f.stem: k for k, f in enumerate(frames)}
    found: Dict[int, Path] = {}
    if mask_dir is not None and mask_dir.is_dir():
        for m in image_files(mask_dir):
            k = index.get(m.stem)
            if k is None:
                expected = (f"frames of the video file are named {frames[0].stem}..{frames[-1].stem}"
                            if isinstance(frames[0].image, VideoFileFrame) else f"frames are in {source}")
                raise DatasetError(f"{m}: mask without a matching frame {m.stem!r} in video {name!r} "
                                   f"({expected}; {flag} masks are matched to frames by file stem)")
            if k in found:
                raise DatasetError(f"{m}: frame {m.stem} has two masks ({found[k].name} and {m.name})")
            found[k] = m
    frames = tuple(FrameRef(f.stem, f.image, found.get(k)) for k, f in enumerate(frames))
    label_dir = mask_dir if mask_dir is not None else Path()
    return VideoFrames(INPUT_DATASET, name, source, label_dir, frames, tuple(sorted(found)))


def _video_entries(root: Path) -> List[Tuple[str, Path]]:
    entries = natural_sorted(p for p in _visible(root) if p.is_dir() or is_video_file(p))
    names: Dict[str, Path] = {}
    for p in entries:
        name = p.name if p.is_dir() else p.stem
        if name in names:
            raise DatasetError(f"{p}: two videos named {name!r} ({names[name].name} and {p.name})")
        names[name] = p
    return [(name, p) for name, p in names.items()]


def list_user_videos(frames_root: PathLike, masks_root: Optional[PathLike] = None, *, frames_flag: str = "--input",
                     masks_flag: str = "--labels") -> UserVideos:
    """List the videos of ``frames_root`` and the masks of ``masks_root`` (none when None).

    Reads file headers (and decodes video files through once, to count their frames); no
    mask is decoded here (:func:`check_masks` does that).
    """
    frames_root = Path(frames_root)
    masks_root = None if masks_root is None else Path(masks_root)
    if masks_root is not None and not masks_root.is_dir():
        raise DatasetError(f"{masks_root}: mask folder not found ({masks_flag})")
    if not frames_root.exists():
        raise DatasetError(f"{frames_root}: not found ({frames_flag} takes a folder of videos, a folder of frames "
                           f"or a video file)")
    notes: List[str] = []
    if frames_root.is_file():
        if not is_video_file(frames_root):
            raise DatasetError(f"{frames_root}: {frames_flag} file is not a video ({', '.join(VIDEO_EXTS)})")
        single, entries = True, [(frames_root.stem, frames_root)]
    elif image_files(frames_root):
        single, entries = True, [(frames_root.name, frames_root)]
        ignored = [p.name for p in _visible(frames_root) if p.is_dir()]
        if ignored:
            notes.append(f"{frames_root}: a folder of frames (one video); its subfolders are ignored: "
                         f"{', '.join(natural_sorted(ignored))}")
    else:
        single, entries = False, _video_entries(frames_root)
        if not entries:
            raise DatasetError(f"{frames_root}: no frames, video folders or video files ({', '.join(VIDEO_EXTS)}) "
                               f"in this {frames_flag} folder")
    videos = []
    for name, source in entries:
        frames = _folder_frames(source) if source.is_dir() else _video_file_frames(source)
        videos.append(_attach_masks(name, source, frames, _mask_dir(masks_root, name, single), masks_flag))
    if masks_root is not None and not single:
        _check_mask_folders(masks_root, {name for name, _ in entries}, frames_flag, masks_flag)
    return UserVideos(frames_root, masks_root, single, videos, notes)


def _mask_dir(masks_root: Optional[Path], name: str, single: bool) -> Optional[Path]:
    if masks_root is None:
        return None
    if single and (image_files(masks_root) or not (masks_root / name).is_dir()):
        return masks_root
    return masks_root / name


def _check_mask_folders(masks_root: Path, names, frames_flag: str, masks_flag: str) -> None:
    """In a folder of videos, every mask must sit in the subfolder of an existing video."""
    generated = (masks_root / GENERATED_MANIFEST).is_file()
    for p in natural_sorted(_visible(masks_root)):
        if generated and p.is_dir() and p.name in GENERATED_EXTRAS and p.name not in names:
            continue
        if p.is_dir() and p.name not in names:
            raise DatasetError(f"{p}: mask folder without a video {p.name!r} in {frames_flag} ({masks_flag} mirrors "
                               f"{frames_flag}: one subfolder per video)")
        if p.is_file() and p.suffix.lower() in IMAGE_EXTS:
            raise DatasetError(f"{p}: mask without a video: {frames_flag} is a folder of videos, so {masks_flag} "
                               f"holds one subfolder of masks per video")


def check_masks(videos: Sequence[VideoFrames], decode: bool = True) -> int:
    """Check every mask of ``videos`` against its frame's size; with ``decode``, decode each
    one fully (an unreadable, empty or truncated mask is named). Returns how many."""
    count = 0
    for vf in videos:
        for k in vf.labels:
            f = vf.frames[k]
            hw = header_size(f.label)
            if decode:
                load_mask(f.label)
            if hw != header_size(f.image):
                fh, fw = header_size(f.image)
                raise DatasetError(f"{f.label}: mask size {hw[0]}x{hw[1]} (HxW) differs from its frame {f.image} "
                                   f"({fh}x{fw})")
            count += 1
    return count


def enough_key_frames(videos: Sequence[VideoFrames], minimum: int, what: str, log=print, *,
                      label_interval: int = 1) -> List[VideoFrames]:
    """The videos with at least ``minimum`` masks; one warning line per video skipped, and an
    error when none is left (``what`` says what they are needed for).

    With ``label_interval`` l > 1 only every l-th mask counts (``labels[::l]``, the label budget).
    """
    def counted(vf: VideoFrames) -> int:
        return len(kept_indices(len(vf.labels), label_interval))

    kept = [vf for vf in videos if counted(vf) >= minimum]
    budget = f" (--label_interval {label_interval} keeps 1 in {label_interval})" if label_interval > 1 else ""
    for vf in videos:
        if counted(vf) < minimum:
            shown = f"{counted(vf)} kept of its {len(vf.labels)}" if label_interval > 1 else f"{len(vf.labels)}"
            log(f"warning: video {vf.video!r} skipped: {shown} key frame(s) in {vf.label_dir}{budget}, "
                f"{what} needs at least {minimum}")
    if not kept:
        where = f"; e.g. {videos[0].label_dir} holds {len(videos[0].labels)}" if videos else ""
        raise DatasetError(f"no video has {minimum} or more key frames{budget} ({what} needs at least {minimum}; "
                           f"{len(videos)} video(s) listed{where})")
    return kept


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output_folder(out: PathLike, inputs: Sequence[Tuple[str, Optional[PathLike]]],
                        written: Sequence[str] = (), flag: str = "--out") -> Path:
    """Refuse an output folder inside one of ``inputs`` (``(flag, path)`` pairs), or one whose
    written subfolders (``written``: names under ``out``) would fall inside an input, before
    any work: nothing is ever written inside FRAMES or MASKS."""
    out_abs = Path(out).expanduser().resolve()
    for in_flag, path in inputs:
        src = None if path is None else Path(path).expanduser().resolve()
        if src is None or not src.is_dir():  # a video file is never written over: outputs are folders
            continue
        if _inside(out_abs, src):
            raise DatasetError(f"{out}: {flag} is inside {in_flag} {path}; outputs are never written among the "
                               f"inputs, choose a folder outside it")
        for name in written:
            target = out_abs / name
            if _inside(target, src) or _inside(src, target):
                raise DatasetError(f"{out}: {flag} would write {target}, which overlaps {in_flag} {path}; "
                                   f"choose another {flag}")
    return Path(out)
