"""``generate_pseudo_labels.py --input FRAMES --labels MASKS --out DIR``: label a user's videos
from their key frames (the frames that have a mask).

Everything that can be checked is checked before anything is written: ``--out`` outside
FRAMES and MASKS, the layout and every mask (decoded, sized against its frame), the videos
with enough key frames (a video with fewer than two is skipped with a warning line; none is
an error), the output folder (new, empty or an earlier run's), the checkpoint. Then the
manifest, then per video: the key masks copied byte for byte, the frames between key frames
labelled gap by gap (:mod:`.engine`), overlays and the MP4 when asked. Layout and manifest:
:mod:`.outputs`.
"""
from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Dict, List

from tqdm import tqdm

from libs.datasets.indexing import DatasetError
from libs.datasets.keyframes import label_jobs
from libs.datasets.user_videos import check_masks, check_output_folder, enough_key_frames
from libs.utils.distributed import resolve_device
from libs.utils.io import BackgroundWriter, save_jpeg, save_png

from ..pseudo_labels import copy_file
from ..user_data import load_input_videos
from .engine import Labelled, label_video
from .labellers import build_labellers, flow_used
from .options import Settings
from .outputs import HOLDOUT, VideoOutputs, check_target, generated_name, remove_stale, write_manifest
from .review import OVERLAYS, Mp4Writer, blend, mp4_name, overlay_name, video_fps
from .source import VideoSource

__all__ = ["run_generation"]


def _check_names(videos, args, out: Path, old) -> None:
    """A video whose folder would be one of DIR's own folders is refused."""
    for vf in videos:
        if vf.video == OVERLAYS and (args.overlay or args.video):
            raise DatasetError(f"{vf.image_dir}: a video named {OVERLAYS!r} would collide with {out / OVERLAYS} "
                               f"(--overlay/--video); rename the video or leave out --overlay and --video")
        if vf.video == HOLDOUT and (out / HOLDOUT).exists() and (old is None or HOLDOUT not in old["videos"]):
            raise DatasetError(f"{vf.image_dir}: a video named {HOLDOUT!r} would write into {out / HOLDOUT}, which "
                               f"holds --holdout masks; rename the video or choose another --out")


def _plans(videos, settings: Settings, args) -> List[VideoOutputs]:
    return [VideoOutputs(vf, list(vf.labels), label_jobs(vf.labels, len(vf.frames), settings.m, args.extrapolate),
                         bool(args.overlay), bool(args.video)) for vf in videos]


def _record(args, settings: Settings, labellers) -> dict:
    """The command's settings, for the manifest."""
    return {
        "command": "generate_pseudo_labels.py --input",
        "input": str(Path(args.input).resolve()),
        "labels": str(Path(args.labels).resolve()),
        **settings.as_dict(),
        "flow": flow_used(labellers),
        "extrapolate": bool(args.extrapolate),
        "size": args.size,
        "overlay": bool(args.overlay),
        "video": bool(args.video),
    }


def _summary(plan: VideoOutputs, method: str, count: int) -> str:
    n = len(plan.vf.frames)
    left_out = n - len(plan.keys) - count
    outside = plan.keys[0] + (n - 1 - plan.keys[-1])
    line = (f"{plan.vf.video}: {count} frame(s) labelled with {method} from {len(plan.keys)} key frames "
            f"({n} frames; {left_out} not labelled")
    extrapolated = sum(1 for a, _, b in plan.jobs if a == b)
    if extrapolated:
        line += f"; {extrapolated} extrapolated before the first / after the last key frame"
    elif outside:
        line += f"; {outside} before the first / after the last key frame: --extrapolate labels them"
    return line + ")"


def run_generation(args, settings: Settings, log=print) -> dict:
    out = Path(args.out)
    inputs = [("--input", args.input), ("--labels", args.labels)]
    check_output_folder(out, inputs)  # before anything is read
    listing = load_input_videos(args, log)
    check_output_folder(out, inputs, written=[vf.video for vf in listing.videos] + [OVERLAYS])
    check_masks(listing.videos)
    videos = enough_key_frames(listing.videos, 2, "key-frame labelling", log)
    kept = {vf.video for vf in videos}
    skipped = {vf.video: f"{len(vf.labels)} key frame(s); at least 2 needed" for vf in listing.videos
               if vf.video not in kept}
    old = check_target(out)
    _check_names(videos, args, out, old)
    plans = _plans(videos, settings, args)
    device = resolve_device(args.device)
    labellers = build_labellers(args, settings.checkpoint, [settings.method], device, log)

    new_files = [f for plan in plans for f in plan.entry()["files"]]
    removed = remove_stale(out, old, new_files)
    record = _record(args, settings, labellers)
    write_manifest(out, record, plans, skipped, complete=False)
    start = time.time()
    total = sum(len(plan.jobs) for plan in plans)
    counts: Dict[str, int] = {}
    with BackgroundWriter() as writer, tqdm(total=total, desc="key-frame labels", unit="frame",
                                            dynamic_ncols=True) as bar:
        for plan in plans:
            counts[plan.vf.video] = _label_one(args, settings, labellers, plan, out, writer, bar)
            with tqdm.external_write_mode():  # the line above the bar, not through it
                log(_summary(plan, settings.method, counts[plan.vf.video]))
    write_manifest(out, record, plans, skipped, complete=True)
    seconds = time.time() - start
    keys = sum(len(plan.keys) for plan in plans)
    log(f"generate_pseudo_labels.py: {out}: {sum(counts.values())} masks generated ({settings.method}) and {keys} key "
        f"masks copied for {len(plans)} video(s) in {seconds:.1f}s"
        + (f"; {len(skipped)} video(s) skipped" if skipped else "")
        + (f"; {removed} stale file(s) of an earlier run removed" if removed else ""))
    return {"count": sum(counts.values()), "keys": keys, "videos": counts, "skipped": sorted(skipped),
            "folder": str(out), "seconds": seconds}


def _label_one(args, settings: Settings, labellers, plan: VideoOutputs, out: Path, writer, bar) -> int:
    vf = plan.vf
    for k in plan.keys:
        label = vf.frames[k].label
        writer.submit(copy_file, label, out / vf.video / label.name)
    review = plan.overlay or plan.video
    count = 0
    with contextlib.ExitStack() as stack:
        source = stack.enter_context(VideoSource(vf, args.size))
        mp4 = (stack.enter_context(Mp4Writer(out / mp4_name(vf.video), source.size(), video_fps(source.video_file)))
               if plan.video else None)
        for item in label_video(source, plan.keys, plan.jobs, labellers, args.batch_size, with_keys=review,
                                keep_rgb=review):
            stem = vf.frames[item.pos].stem
            if isinstance(item, Labelled):
                saliency = item.maps[settings.method]
                writer.submit(save_png, saliency, out / vf.video / generated_name(stem))
                count += 1
                bar.update(1)
                picture = blend(item.rgb, saliency, key=False) if review else None
            else:
                picture = blend(item.rgb, item.mask_u8, key=True)
            if plan.overlay:
                writer.submit(save_jpeg, picture, out / overlay_name(vf.video, stem))
            if mp4 is not None:
                mp4.write(picture)
    return count
