"""``generate_pseudo_labels.py --holdout K``: how good would the labels be, on your own footage?

Each video's key frames are numbered 0..n-1 in frame order; those whose number is a multiple
of K are hidden (never the first or the last, :func:`libs.datasets.keyframes.holdout_split`),
and each hidden frame is labelled from the nearest remaining key frames on both sides exactly
as generation labels a frame (same engine, same labellers), by ``fgplg`` (with a checkpoint),
``copy`` and ``warp``. The masks are scored against the hidden frame's own mask
(:mod:`.report`). On ``--input`` the key frames are the frames with a mask; on a benchmark
split (``--sets NAME:SPLIT``), the kept labels ``labels[::l]`` (``--label_interval l``), and
no other label is read.

With ``--out DIR``, the hidden frames' FGPLG masks are written as
``DIR/holdout/<video>/<stem>.png`` (a benchmark video is ``<DATASET>/<video>``), nothing else,
so anyone can score them with their own tool; masks an earlier report left there and this one
does not write are removed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Tuple

from tqdm import tqdm

from libs.datasets import check_label_interval
from libs.datasets.frames import VideoFrames, kept_labels
from libs.datasets.indexing import DatasetError
from libs.datasets.keyframes import Job, holdout_split
from libs.datasets.keyframes import holdout_jobs as jobs_for
from libs.datasets.loading import check_pair_sizes
from libs.datasets.user_videos import check_masks, check_output_folder, enough_key_frames
from libs.datasets.video_datasets import VideoSets
from libs.metrics.saliency import prob_to_uint8
from libs.utils.distributed import resolve_device
from libs.utils.io import BackgroundWriter, load_mask, save_json, save_png

from ..common import load_config, sets_from
from ..user_data import load_input_videos
from .engine import label_video
from .labellers import build_labellers
from .options import Settings
from .outputs import HOLDOUT, check_target
from .report import format_table, new_evaluators, overall, report_json, scores, verdict
from .source import VideoSource

__all__ = ["run_holdout", "benchmark_key_frames"]


def benchmark_key_frames(vf: VideoFrames, l: int) -> VideoFrames:
    """A benchmark video whose only masks are its kept labels (``labels[::l]``): named
    ``<DATASET>/<video>``, the other labels dropped so that they are never read."""
    kept = kept_labels(vf, l)
    keep = set(kept)
    frames = tuple(f if i in keep else f.without_label() for i, f in enumerate(vf.frames))
    return VideoFrames(vf.dataset, f"{vf.dataset}/{vf.video}", vf.image_dir, vf.label_dir, frames, tuple(kept))


def _videos(args, log) -> List[VideoFrames]:
    """The videos with their key frames, checked; ``--out``/``--json`` checked against the inputs first."""
    if args.input is not None:
        _check_outputs(args, [("--input", args.input), ("--labels", args.labels)])
        listing = load_input_videos(args, log)
        check_masks(listing.videos)
        return listing.videos
    _check_outputs(args, [("--data", args.data)])
    check_label_interval(args.label_interval)
    config = load_config(args)
    listing = VideoSets(args.data, config, sets_from(args, "sets", config))
    videos = [benchmark_key_frames(vf, args.label_interval) for vf in listing.videos]
    check_pair_sizes((vf.frames[k].image, vf.frames[k].label) for vf in videos for k in vf.labels)
    return videos


def _check_outputs(args, inputs) -> None:
    if args.out is not None:
        check_output_folder(args.out, inputs, written=[HOLDOUT])
    if args.json is not None:
        check_output_folder(args.json, inputs, flag="--json")


def _holdout_target(out: Path) -> Tuple[Path, List[Path]]:
    """``DIR/holdout`` and the masks an earlier report left there. DIR must be new, empty, or one
    of ours (:func:`~.outputs.check_target`); ``DIR/holdout`` may hold only such masks."""
    manifest = check_target(out)
    if manifest is not None and HOLDOUT in manifest["videos"]:
        raise DatasetError(f"{out / HOLDOUT}: holds the masks of a video named {HOLDOUT!r} (written by generation); "
                           f"choose another --out for the report")
    folder = out / HOLDOUT
    old = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
    foreign = [p for p in old if p.suffix != ".png"]
    if folder.exists() and not folder.is_dir() or foreign:
        raise DatasetError(f"{(foreign or [folder])[0]}: not a mask of an earlier --holdout report; {folder} holds "
                           f"only those; choose another --out")
    return folder, old


def _remove(files: List[Path], keep: set, root: Path) -> None:
    for path in files:
        if path not in keep:
            path.unlink()
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()


def _score_video(args, vf: VideoFrames, jobs: List[Job], remaining: List[int], labellers, folder: Optional[Path],
                 writer, bar) -> dict:
    evaluators = new_evaluators(list(labellers))
    with VideoSource(vf, args.size) as source:
        for item in label_video(source, remaining, jobs, labellers, args.batch_size):
            ref = vf.frames[item.pos]
            gt = prob_to_uint8(load_mask(ref.label))  # its size was checked against the frame's by _videos
            for method, saliency in item.maps.items():
                evaluators[method].step(saliency, gt)
            if folder is not None and "fgplg" in item.maps:
                writer.submit(save_png, item.maps["fgplg"], folder / vf.video / f"{ref.stem}.png")
            bar.update(1)
    return {"frames": [vf.frames[p].stem for _, p, _ in jobs],
            **{method: scores(ev) for method, ev in evaluators.items()}}


def run_holdout(args, settings: Settings, log=print) -> dict:
    k = args.holdout
    videos = _videos(args, log)
    videos = enough_key_frames(videos, 3, f"--holdout {k} (one hidden, one on each side)", log)
    plans = []
    for vf in videos:
        jobs = jobs_for(vf.labels, k)
        if not jobs:
            log(f"note: video {vf.video!r}: nothing to hide with --holdout {k} ({len(vf.labels)} key frames: "
                f"numbers 1..{len(vf.labels) - 2} hold no multiple of {k}); skipped")
            continue
        plans.append((vf, jobs, holdout_split(vf.labels, k)[0]))
    if not plans:
        raise DatasetError(f"--holdout {k} hides no key frame in any video (interior key frames numbered by a multiple "
                           f"of {k}); choose a smaller K")
    folder, old = (None, [])
    if args.out is not None:
        folder, old = _holdout_target(Path(args.out))
    device = resolve_device(args.device)
    methods = (["fgplg"] if settings.checkpoint is not None else []) + ["copy", "warp"]
    labellers = build_labellers(args, settings.checkpoint, methods, device, log)
    if folder is not None and "fgplg" not in labellers:
        log(f"note: the FGPLG is not scored (--checkpoint none): nothing is written under {folder}")
        folder = None
    results: Dict[str, dict] = {}
    hidden = sum(len(jobs) for _, jobs, _ in plans)
    log(f"--holdout {k}: {hidden} hidden key frame(s) in {len(plans)} video(s), each labelled from the remaining key "
        f"frames on both sides by {', '.join(methods)}")
    with BackgroundWriter() as writer, tqdm(total=hidden, desc="holdout", unit="frame", dynamic_ncols=True) as bar:
        if folder is not None:
            _remove(old, {folder / vf.video / f"{vf.frames[p].stem}.png" for vf, jobs, _ in plans
                          for _, p, _ in jobs}, folder)
        for vf, jobs, remaining in plans:
            results[vf.video] = _score_video(args, vf, jobs, remaining, labellers, folder, writer, bar)
    total = overall(results, methods)
    why = " (--checkpoint none)" if settings.checkpoint is None else ""
    lines = verdict(total, why)
    log(format_table(results, total))
    for line in lines:
        log(line)
    report = report_json(k, results, total)
    if args.json is not None:
        save_json(report, args.json)
        log(f"report written to {args.json}")
    if folder is not None:
        log(f"the hidden frames' FGPLG masks are in {folder}/<video>/<stem>.png")
    return report
