"""The flags of key-frame labelling and what they resolve to in each mode of ``generate_pseudo_labels.py``.

Three modes share one parser: the published pseudo-label folder (``--sets``, no
``--input``), key-frame labelling of a user's videos (``--input FRAMES --labels MASKS --out
DIR``) and the holdout report (``--holdout K``, on ``--input`` or on ``--sets``). A few
defaults differ by mode, so their argparse default is None and :func:`resolve` settles them:

- ``--frame_between_label_num``: 1 in the published mode (its default); every frame of a gap
  with ``--input``.
- ``--checkpoint``: the published FGPLG file, unless ``--method warp`` or ``copy`` (then no
  FGPLG is read unless one is named); ``none`` means no FGPLG (holdout: FGPLG not scored).
- ``--flow``: the one the FGPLG checkpoint records; without a checkpoint, OpenCV (no weights).
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from libs.networks.flow import FLOW_SOURCES
from libs.utils.cli import UsageError, positive_int

from ..user_data import add_input_args, input_mode

__all__ = ["METHODS", "DEFAULT_CHECKPOINT", "DEFAULT_FLOWNET", "Settings", "add_keyframe_args",
           "add_flow_source_args", "resolve", "is_none"]

METHODS = ("fgplg", "warp", "copy")
DEFAULT_CHECKPOINT = "./models/pseudo_label_generator_5.pth"
DEFAULT_FLOWNET = "./models/FlowNet2_checkpoint.pth.tar"
DEFAULT_FLOW = "opencv"  # needs no weights
PUBLISHED_M = 1

LABELS_HELP = "masks of some frames of each video (the key frames)"


def add_keyframe_args(parser: argparse.ArgumentParser) -> None:
    """``--input/--labels/--out``, the method and the review outputs, and ``--holdout``."""
    g = add_input_args(parser, LABELS_HELP)
    g.add_argument("--out", metavar="DIR", default=None,
                   help="with --input: one mask per labelled frame, DIR/<video>/<stem>.png (key frames copied byte "
                        "for byte under their own names), a manifest DIR/keyframe_labels.json, and --overlay/--video "
                        "under DIR/overlays/; with --holdout: the hidden frames' FGPLG masks under "
                        "DIR/holdout/<video>/<stem>.png (default: none)")
    g.add_argument("--method", choices=METHODS, default=None,
                   help="what labels the frames: the FGPLG (needs --checkpoint), 'warp' (the nearer key frame's "
                        "mask warped by optical flow, see --flow) or 'copy' (the nearer key frame's mask); run "
                        "--holdout first to see which is best on your videos (default: fgplg)")
    g.add_argument("--extrapolate", action="store_true",
                   help="also label the frames before the first and after the last key frame, from that one key "
                        "frame (expect worse labels the farther they are; docs/own-videos.md) (default: off)")
    g.add_argument("--overlay", action="store_true",
                   help="also write JPEG blends of frame and mask, DIR/overlays/<video>/<stem>.jpg (default: off)")
    g.add_argument("--video", action="store_true",
                   help="also write an MP4 of the overlays per video, DIR/overlays/<video>.mp4 (default: off)")
    h = parser.add_argument_group("quality report on your own key frames (or on a benchmark split)")
    h.add_argument("--holdout", type=positive_int, default=None, metavar="K",
                   help="number each video's key frames 0..n-1, hide the interior ones whose number is a multiple "
                        "of K, label them from the remaining ones with fgplg, copy and warp, and report J, "
                        "boundary F, S-measure and MAE against their own masks; with --input, or on --sets with "
                        "the kept labels (every --label_interval-th) as key frames (default: no report)")
    h.add_argument("--json", metavar="FILE", default=None,
                   help="with --holdout: write the report as JSON to FILE (default: none)")


def add_flow_source_args(group) -> None:
    """The flow source for ``--method warp`` without an FGPLG checkpoint (with one, its flow)."""
    group.add_argument("--flow", choices=FLOW_SOURCES, default=None,
                       help="with --input or --holdout and no FGPLG checkpoint: the flow that warps the key frames' "
                            "masks (FlowNet2 needs --flownet-checkpoint, RAFT --raft-checkpoint or torchvision's "
                            "cache); with a checkpoint, the one it records (default: the checkpoint's, else "
                            f"{DEFAULT_FLOW})")
    group.add_argument("--flownet-checkpoint", default=DEFAULT_FLOWNET, metavar="PTH",
                       help="NVIDIA's FlowNet2 weights, for --flow flownet2 (default: %(default)s)")
    group.add_argument("--raft-checkpoint", default=None, metavar="PTH",
                       help="torchvision raft_large or raft_small weights, for --flow raft (default: torchvision's "
                            "cache, $TORCH_HOME/hub/checkpoints/)")


def is_none(value: Optional[str]) -> bool:
    return value is not None and str(value).lower() == "none"


@dataclass(frozen=True)
class Settings:
    """What a run does, every mode-dependent default settled."""

    mode: str  # 'published', 'generate' or 'holdout'
    method: str
    m: Optional[int]  # --frame_between_label_num; None = every frame of a gap
    checkpoint: Optional[Path]  # the FGPLG file, or None (no FGPLG)
    flow: Optional[str]  # the flow asked for without a checkpoint (None: the checkpoint's or the default)

    def as_dict(self) -> dict:
        return {"method": self.method, "frame_between_label_num": self.m,
                "checkpoint": None if self.checkpoint is None else str(self.checkpoint), "flow": self.flow}


_INPUT_ONLY = (("out", "--out"), ("method", "--method"), ("extrapolate", "--extrapolate"), ("overlay", "--overlay"),
               ("video", "--video"))
_NOT_WITH_HOLDOUT = (("method", "--method (--holdout scores fgplg, warp and copy)"),
                     ("extrapolate", "--extrapolate"), ("overlay", "--overlay"), ("video", "--video"),
                     ("frame_between_label_num", "--frame_between_label_num (--holdout labels each hidden frame)"))


def resolve(args: argparse.Namespace) -> Settings:
    """The mode and its defaults, or a :class:`UsageError` for flags that do not go together."""
    given = input_mode(args)
    if args.json is not None and args.holdout is None:
        raise UsageError("--json goes with --holdout K (it writes the report)")
    if args.holdout is not None:
        for attr, flag in _NOT_WITH_HOLDOUT:
            if getattr(args, attr) not in (None, False):
                raise UsageError(f"{flag} does not go with --holdout")
        return Settings("holdout", "fgplg", None, _checkpoint(args, "fgplg", holdout=True), args.flow)
    if not given:
        for attr, flag in _INPUT_ONLY + (("flow", "--flow"),):
            if getattr(args, attr) not in (None, False):
                raise UsageError(f"{flag} goes with --input FRAMES --labels MASKS (or --holdout K)")
        m = PUBLISHED_M if args.frame_between_label_num is None else args.frame_between_label_num
        checkpoint = DEFAULT_CHECKPOINT if args.checkpoint is None else args.checkpoint
        return Settings("published", "fgplg", m, Path(checkpoint), None)
    if args.out is None:
        raise UsageError("--input needs --out DIR: where the masks are written (never inside FRAMES or MASKS)")
    if args.frame_between_label_num is not None and args.frame_between_label_num < 0:
        raise UsageError(f"--frame_between_label_num must be an integer >= 0, got {args.frame_between_label_num}")
    method = args.method or "fgplg"
    return Settings("generate", method, args.frame_between_label_num, _checkpoint(args, method, holdout=False),
                    args.flow)


def _checkpoint(args, method: str, holdout: bool) -> Optional[Path]:
    """The FGPLG checkpoint to read, or None."""
    if is_none(args.checkpoint):
        if method == "fgplg" and not holdout:
            raise UsageError("--method fgplg needs an FGPLG checkpoint (--checkpoint PTH); --method warp or copy "
                             "need none")
        return None
    if args.checkpoint is None:
        if method != "fgplg":
            return None
        path = Path(DEFAULT_CHECKPOINT)
    else:
        path = Path(args.checkpoint)
    if method == "copy":
        return None  # copy reads no model; a named checkpoint is not even opened
    if not path.is_file():
        hint = ("; --checkpoint none scores the copy and warp baselines only" if holdout else
                "; --method warp or copy need no checkpoint")
        raise UsageError(f"{path}: FGPLG checkpoint file not found (--checkpoint){hint}")
    return path
