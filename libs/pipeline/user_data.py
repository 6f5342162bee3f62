"""``--input FRAMES --labels MASKS``: the stages on a user's own videos, without a dataset config.

The flags and the listing every stage shares in this mode; what a stage does with the
videos (triplets of key frames, clips of labelled frames, key-frame generation) is the
stage's own. The layout rules are :mod:`libs.datasets.user_videos`'.
"""
from __future__ import annotations

import argparse
from typing import Optional

from libs.datasets.user_videos import UserVideos, list_user_videos
from libs.utils.cli import UsageError

__all__ = ["add_input_args", "input_mode", "load_input_videos"]

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


def input_mode(args: argparse.Namespace) -> bool:
    """Whether the stage runs on ``--input`` (and then ``--labels`` is required)."""
    given = getattr(args, "input", None) is not None
    if getattr(args, "labels", None) is not None and not given:
        raise UsageError("--labels goes with --input (the frames the masks belong to)")
    return given


def load_input_videos(args: argparse.Namespace, log=print, frames_attr: str = "input",
                      labels_attr: str = "labels", require_labels: bool = True) -> Optional[UserVideos]:
    """The videos of ``--input``/``--labels`` (or of another pair of flags), notes logged."""
    frames = getattr(args, frames_attr)
    labels = getattr(args, labels_attr)
    frames_flag, labels_flag = "--" + frames_attr.replace("_", "-"), "--" + labels_attr.replace("_", "-")
    if frames is None:
        return None
    if labels is None and require_labels:
        raise UsageError(f"{frames_flag} needs {labels_flag} MASKS: the masks of some of its frames")
    videos = list_user_videos(frames, labels, frames_flag=frames_flag, masks_flag=labels_flag)
    for note in videos.notes:
        log(note)
    return videos
