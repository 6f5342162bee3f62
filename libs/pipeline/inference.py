"""Stage 5: saliency maps for a dataset split or a user's own video (``inference.py``).

Maps are written as 8-bit PNG at each frame's original size under
``<results>/<DATASET>/<video>/<frame>.png`` (``--input``: ``<results>/<name>/<frame>.png``),
see :mod:`libs.pipeline.postprocess` for the exact resizing and rounding. Clips do not
overlap; the last clip of a video is aligned to its end, so a frame in two clips is
written twice and the last prediction wins, as in the published code (the two writes of
one file are kept in order on the background writer threads).

Speed, all exact in fp32: the backbone runs on all frames of a batch of clips at once,
BatchNorm folded into the convolutions (``--no-fold-bn``), channels_last convolutions
(``--no-channels-last``), ``torch.inference_mode``,
cuDNN autotuning on GPU, worker processes and pinned memory for decoding, PNG encoding
on background threads. ``--amp`` (bf16/fp16 autocast) and ``--compile`` are opt-in.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from libs.datasets import VideoClipDataset, eval_transform, get_dataset_spec
from libs.datasets.user_input import open_user_input, stream_clips
from libs.modules import fold_batchnorm
from libs.networks import VideoModel
from libs.utils.checkpoint import load_checkpoint
from libs.utils.cli import positive_int
from libs.utils.distributed import DistributedContext, resolve_device
from libs.utils.io import BackgroundWriter, load_rgb, save_jpeg, save_png
from libs.utils.precision import autocast_context, to_channels_last

from .common import add_data_args, add_model_args, add_runtime_args, load_config, make_loader, require_file
from .postprocess import overlay, probabilities_to_maps

__all__ = ["build_parser", "run", "load_video_model", "predict_clip"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inference.py",
        description="Write saliency maps (8-bit PNG, original frame size) for a dataset split or for your "
                    "own folder of frames / video file.",
    )
    add_data_args(parser)
    g = parser.add_argument_group("what to run on")
    g.add_argument("--dataset", default="VOS", help="video dataset name, as published (default: %(default)s)")
    g.add_argument("--split", default="test", help="split of --dataset, as published (default: %(default)s)")
    g.add_argument("--all-frames", action="store_true",
                   help="every frame of the split's videos, not only the annotated ones (default: off)")
    g.add_argument("--input", metavar="DIR_OR_VIDEO",
                   help="instead of a dataset: a folder of frames or a video file; maps go to "
                        "RESULTS/<name>/<frame>.png")
    g = parser.add_argument_group("model and output")
    g.add_argument("--checkpoint", default="./models/video_best_model.pth", metavar="PTH",
                   help="VideoModel (RCRNet+NER) weights (default: %(default)s)")
    g.add_argument("--results-folder", default="data/results", metavar="OUT",
                   help="output root (default: %(default)s)")
    g.add_argument("--clip_len", type=positive_int, default=4, metavar="T",
                   help="frames per inference clip (default: %(default)s)")
    g.add_argument("--overlay", action="store_true",
                   help="also write the maps blended over the frames, as JPEG, under "
                        "RESULTS/overlays/... (default: off)")
    g.add_argument("--fold-bn", action=argparse.BooleanOptionalAction, default=True,
                   help="fold the frozen BatchNorm layers into the convolutions, same maps (default: %(default)s)")
    g.add_argument("--compile", action="store_true",
                   help="torch.compile the model (pays off on long runs; see benchmark.py) (default: off)")
    add_model_args(parser)
    # channels_last measured 1.3x faster than contiguous on CPU at 448 (benchmark.py), same maps
    add_runtime_args(parser, batch_size=1, workers=2, channels_last=True)
    return parser


def load_video_model(checkpoint, output_stride, device, channels_last=False, compile_model=False, fold_bn=True,
                     log=print):
    """A VideoModel with ``checkpoint`` loaded strictly, in eval mode on ``device``, ready for inference."""
    path = require_file(checkpoint, "--checkpoint", "VideoModel checkpoint")
    model = VideoModel(output_stride=output_stride)
    log(load_checkpoint(model, path, strict=True).summary())
    model = model.eval().to(device)
    if fold_bn:
        model = fold_batchnorm(model)
    if channels_last:
        model = to_channels_last(model)
    if compile_model:
        model = torch.compile(model)
    return model


def predict_clip(model, frames, amp: bool, channels_last: bool = False) -> torch.Tensor:
    """``frames`` list of T ``(B, 3, S, S)`` -> probabilities ``(B, T, 1, S, S)`` float32."""
    if channels_last:
        frames = [f.contiguous(memory_format=torch.channels_last) for f in frames]
    with autocast_context(frames[0].device, amp):
        logits = model(frames)
    return torch.sigmoid(torch.stack([p.float() for p in logits], dim=1))


def _write_map(saliency: np.ndarray, path: Path, frame_path=None, overlay_path=None, frame=None) -> None:
    save_png(saliency, path)
    if overlay_path is not None:
        rgb = frame if frame is not None else np.asarray(load_rgb(frame_path))
        save_jpeg(overlay(rgb, saliency), overlay_path)


def run(args: argparse.Namespace, log=print) -> dict:
    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    if args.input:
        return _run_input(args, device, log)
    return _run_split(args, device, log)


def _run_split(args, device, log):
    config = load_config(args)
    spec = get_dataset_spec(config, args.dataset, kind="video", config_path=args.dataset_config)
    dataset = VideoClipDataset(args.data, config, [(args.dataset, args.split)], clip_len=args.clip_len,
                               training=False, require_labels=False, all_frames=args.all_frames,
                               transform=eval_transform(args.size))
    model = load_video_model(args.checkpoint, args.os, device, args.channels_last, args.compile, args.fold_bn, log)
    loader = make_loader(dataset, batch_size=args.batch_size, shuffle=False, num_workers=args.num_workers,
                         ctx=DistributedContext(device=device), distributed=False)
    out_root = Path(args.results_folder)
    start, written, videos = time.time(), set(), set()
    with BackgroundWriter() as writer, torch.inference_mode():
        for batch in tqdm(loader, desc=f"{args.dataset}/{args.split}", dynamic_ncols=True):
            frames = [f.to(device, non_blocking=True) for f in batch["images"].unbind(1)]
            probs = predict_clip(model, frames, args.amp, args.channels_last)
            for t in range(probs.shape[1]):
                maps = probabilities_to_maps(probs[:, t], batch["sizes"][:, t].tolist())
                for b, saliency in enumerate(maps):
                    video, stem = batch["video"][b], batch["frames"][t][b]
                    target = out_root / args.dataset / video / f"{stem}.png"
                    ov = out_root / "overlays" / args.dataset / video / f"{stem}.jpg" if args.overlay else None
                    writer.submit(_write_map, saliency, target, spec.video_image_dir(args.data, video) / f"{stem}{spec.image_ext}", ov,
                                  key=target)
                    written.add(target)
                    videos.add(video)
    elapsed = time.time() - start
    log(f"inference.py: wrote {len(written)} maps of {len(videos)} videos to {out_root / args.dataset} "
        f"in {elapsed:.1f}s ({len(written) / max(elapsed, 1e-9):.1f} frames/s)")
    return {"maps": len(written), "videos": len(videos), "seconds": elapsed}


def _run_input(args, device, log):
    name, frames, count = open_user_input(args.input)
    model = load_video_model(args.checkpoint, args.os, device, args.channels_last, args.compile, args.fold_bn, log)
    transform = eval_transform(args.size)
    out_dir = Path(args.results_folder) / name
    start, written = time.time(), set()
    bar = tqdm(total=count or None, desc=name, unit="frame", dynamic_ncols=True)
    with BackgroundWriter() as writer, torch.inference_mode():
        for clip in stream_clips(frames, args.clip_len):
            tensors = [transform(torch.from_numpy(rgb).permute(2, 0, 1)[None].float().div(255.0))[0]
                       for _, rgb in clip]
            probs = predict_clip(model, [t.to(device) for t in tensors], args.amp, args.channels_last)
            for t, (stem, rgb) in enumerate(clip):
                saliency = probabilities_to_maps(probs[:, t], [rgb.shape[:2]])[0]
                target = out_dir / f"{stem}.png"
                ov = Path(args.results_folder) / "overlays" / name / f"{stem}.jpg" if args.overlay else None
                writer.submit(_write_map, saliency, target, None, ov, rgb, key=target)
                if target not in written:
                    written.add(target)
                    bar.update(1)
    bar.close()
    elapsed = time.time() - start
    log(f"inference.py: wrote {len(written)} maps to {out_dir} in {elapsed:.1f}s "
        f"({len(written) / max(elapsed, 1e-9):.1f} frames/s)")
    return {"maps": len(written), "videos": 1, "seconds": elapsed}
