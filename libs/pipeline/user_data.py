"""``--input FRAMES --labels MASKS``: the stages on a user's own videos, without a dataset config.

The flags and the listing every stage shares in this mode; what a stage does with the
videos (triplets of key frames, clips of labelled frames, key-frame generation) is the
stage's own. The layout rules are :mod:`libs.datasets.user_videos`'.

The two trainers also share how they validate in this mode (:func:`split_validation`):
on ``--val-input/--val-labels``, or else on a held-out share of the videos
(:func:`held_out_positions`), or, with a single video, on that video itself; the log says
which in one line. The dataset-config flags (``--train-sets``, ``--val-sets``) are refused
when given with ``--input`` (:func:`check_input_flags`).
"""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Callable, List, Sequence

from libs.datasets.frames import VideoFrames
from libs.datasets.user_videos import UserVideos, list_user_videos
from libs.utils.cli import UsageError

__all__ = ["add_input_args", "input_mode", "load_input_videos", "add_validation_args", "mark_defaults",
           "check_input_flags", "held_out_positions", "ValidationSplit", "split_validation", "DEFAULT_VAL_SHARE"]

DEFAULT_VAL_SHARE = 0.2
CONFIG_SETS = ("train_sets", "val_sets")  # flags of the dataset-config mode that --input replaces

FRAMES_HELP = ("your own videos instead of a dataset config: a folder of videos (each a subfolder of frames or a "
               "video file) or a single video (a folder of frames or a video file); frames in natural order "
               "(f2 before f10)")


def add_input_args(parser: argparse.ArgumentParser, labels_help: str) -> argparse._ArgumentGroup:
    """``--input`` and ``--labels``, in their own group (returned, for a stage's own additions)."""
    g = parser.add_argument_group("your own videos (instead of --data/--dataset-config)")
    g.add_argument("--input", metavar="FRAMES", default=None, help=FRAMES_HELP + " (default: none)")
    g.add_argument("--labels", metavar="MASKS", default=None,
                   help=labels_help + "; mirrors FRAMES (MASKS/<video>/<stem>.png, or MASKS/<stem>.png for one "
                                      "video), masks matched to frames by file stem (a video file's frames: "
                                      "00000, 00001, ...); any mask format of docs/pipeline.md (default: none)")
    return g


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def input_mode(args: argparse.Namespace) -> bool:
    """Whether the stage runs on ``--input`` (and then ``--labels`` is required)."""
    given = getattr(args, "input", None) is not None
    if getattr(args, "labels", None) is not None and not given:
        raise UsageError("--labels goes with --input (the frames the masks belong to)")
    return given


def load_input_videos(args: argparse.Namespace, log=print, frames_attr: str = "input",
                      labels_attr: str = "labels") -> UserVideos:
    """The videos of ``--input``/``--labels`` (or of another pair of flags), notes logged.
    The frames flag is given (callers are in its mode); a missing labels flag is an error."""
    frames_flag, labels_flag = _flag(frames_attr), _flag(labels_attr)
    labels = getattr(args, labels_attr)
    if labels is None:
        raise UsageError(f"{frames_flag} needs {labels_flag} MASKS: the masks of some of its frames")
    videos = list_user_videos(getattr(args, frames_attr), labels, frames_flag=frames_flag, masks_flag=labels_flag)
    for note in videos.notes:
        log(note)
    return videos


# ------------------------------------------------------------------ validation of the trainers
def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return value


def add_validation_args(group) -> None:
    """``--val-input``, ``--val-labels`` and ``--val-share``: how a trainer validates with ``--input``."""
    group.add_argument("--val-input", metavar="FRAMES", default=None,
                       help="with --input: validate on these videos (laid out like --input) instead of a held-out "
                            "share of --input's videos (default: none)")
    group.add_argument("--val-labels", metavar="MASKS", default=None,
                       help="the masks of --val-input's frames, laid out like --labels (default: none)")
    group.add_argument("--val-share", type=_share, default=None, metavar="F",
                       help=f"with --input and no --val-input: hold out round(F x videos) of the videos (at least "
                            f"1, never all; spread over their natural order) for validation; with a single video, "
                            f"validate on that video itself (default: {DEFAULT_VAL_SHARE})")


class _Default(str):
    """A flag's default value that remembers it was not given on the command line.

    Not ``default=None``: the parsed flags keep the published value for ``--help``, for
    reproduce.py (which reads the parsed flags of every stage) and for pretraining, which
    shares the flags."""


def mark_defaults(parser: argparse.ArgumentParser, dests: Sequence[str] = CONFIG_SETS) -> None:
    """Make the defaults of ``dests`` recognisable, so that giving such a flag with ``--input``
    can be refused (the help still shows the same default)."""
    parser.set_defaults(**{d: _Default(parser.get_default(d)) for d in dests})


def check_input_flags(args: argparse.Namespace) -> bool:
    """Whether a trainer runs on ``--input``, after the usage checks of both modes.

    With ``--input``: ``--train-sets``/``--val-sets`` given is an error (the videos come from
    the folders), and so are ``--val-labels`` without ``--val-input`` and ``--val-share`` with
    it. Without: the ``--val-*`` flags of this mode are errors. The config-set values become
    plain strings again (they are saved with the training state).
    """
    explicit = [d for d in CONFIG_SETS if not isinstance(getattr(args, d), _Default)]
    for d in CONFIG_SETS:
        setattr(args, d, str(getattr(args, d)))
    if not input_mode(args):
        given = [d for d in ("val_input", "val_labels", "val_share") if getattr(args, d) is not None]
        if given:
            raise UsageError(f"{_flag(given[0])} goes with --input FRAMES --labels MASKS (with --data, validation "
                             f"uses --val-sets)")
        return False
    if args.labels is None:
        raise UsageError("--input needs --labels MASKS: the masks of some of its frames")
    if explicit:
        raise UsageError(f"{_flag(explicit[0])} is not used with --input: the videos come from --input/--labels "
                         f"(validate on --val-input/--val-labels or a held-out --val-share of the videos)")
    if args.val_labels is not None and args.val_input is None:
        raise UsageError("--val-labels goes with --val-input (the frames the masks belong to)")
    if args.val_input is not None and args.val_labels is None:
        raise UsageError("--val-input needs --val-labels MASKS: the masks of some of its frames")
    if args.val_input is not None and args.val_share is not None:
        raise UsageError("--val-share holds out videos of --input; with --val-input nothing is held out: "
                         "give one or the other")
    return True


def held_out_positions(n: int, share: float) -> List[int]:
    """Positions (in natural order) of the ``n`` videos held out for validation.

    ``round(share x n)`` (halves up), at least 1 and never all ``n``, spread evenly over the
    order (position ``i x n // k`` for the i-th of k); none for a single video.

    >>> held_out_positions(10, 0.2)
    [0, 5]
    """
    if n < 2:
        return []
    k = min(max(math.floor(share * n + 0.5), 1), n - 1)
    return [i * n // k for i in range(k)]


@dataclass
class ValidationSplit:
    """The videos a trainer trains and validates on, and ``line``: the log line saying which."""

    train: List[VideoFrames]
    val: List[VideoFrames]
    line: str


Prepare = Callable[[List[VideoFrames], str], List[VideoFrames]]


def split_validation(args: argparse.Namespace, videos: List[VideoFrames], prepare: Prepare,
                     log=print) -> ValidationSplit:
    """Validation in ``--input`` mode, for ``videos`` (already prepared for training).

    ``--val-input`` (listed, then ``prepare(videos, flag)``: checked and the unusable ones
    dropped), else ``--val-share`` of the videos held out, else the single video itself.
    """
    if args.val_input is not None:
        listed = load_input_videos(args, log, "val_input", "val_labels")
        val = prepare(listed.videos, "--val-labels")
        return ValidationSplit(list(videos), val, f"val: --val-input {args.val_input} ({len(val)} video(s), "
                                                  f"masks in --val-labels {args.val_labels})")
    if len(videos) == 1:
        return ValidationSplit(list(videos), list(videos), "val: the training video itself (one video; give "
                                                           "--val-input for an independent check)")
    share = DEFAULT_VAL_SHARE if args.val_share is None else args.val_share
    held = set(held_out_positions(len(videos), share))
    val = [vf for i, vf in enumerate(videos) if i in held]
    train = [vf for i, vf in enumerate(videos) if i not in held]
    return ValidationSplit(train, val, f"val: {len(val)} of {len(videos)} videos held out (--val-share {share:g}): "
                                       f"{', '.join(vf.video for vf in val)}")
