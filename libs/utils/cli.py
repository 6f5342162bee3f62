"""What every script shares: one-line errors with exit code 2, and flag parsing helpers."""
from __future__ import annotations

import argparse
import sys
from typing import Callable, List, Tuple

__all__ = ["UsageError", "user_errors", "run_main", "parse_sets", "positive_int", "nonnegative_int", "positive_float"]


class UsageError(ValueError):
    """A flag value or combination of flags that cannot work."""


def user_errors() -> Tuple[type, ...]:
    """Exception types that are the user's input, not our bug: reported in one line."""
    from flownet2.checkpoint import FlowNet2CheckpointError
    from libs.datasets import DatasetConfigError, DatasetError
    from libs.utils.checkpoint import CheckpointError
    from libs.utils.evaluation import EvaluationError
    from libs.utils.io import ImageReadError

    # The OSErrors are about paths the user gave (an output folder that is a file, a folder
    # without write permission); their message names the path.
    return (UsageError, DatasetError, DatasetConfigError, CheckpointError, ImageReadError, EvaluationError,
            FlowNet2CheckpointError, FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError,
            PermissionError)


def _one_line(message: str) -> str:
    # A DataLoader worker re-raises with the whole traceback in the message: keep its last line.
    lines = [ln.strip() for ln in message.strip().splitlines() if ln.strip()]
    if not lines:
        return "unknown error"
    last = lines[-1]
    if len(lines) > 1 and ": " in last and last.split(":", 1)[0].replace(".", "").isidentifier():
        last = last.split(": ", 1)[1]
    return last


def run_main(prog: str, fn: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run ``fn(args)``; a user error is printed as ``<prog>: error: <one line>`` with exit code 2."""
    try:
        result = fn(args)
        return result if isinstance(result, int) else 0
    except user_errors() as e:
        print(f"{prog}: error: {_one_line(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted (finished outputs are complete; no partial file was left)", file=sys.stderr)
        return 130


def parse_sets(text: str, flag: str) -> List[Tuple[str, str]]:
    """``"DAVIS2016:train,VOS:train"`` -> ``[("DAVIS2016", "train"), ("VOS", "train")]``."""
    sets = []
    for item in [s.strip() for s in text.split(",") if s.strip()]:
        name, sep, split = item.rpartition(":")
        if not sep or not name or not split:
            raise UsageError(f"{flag}: expected NAME:SPLIT[,NAME:SPLIT...], got {item!r}")
        sets.append((name, split))
    if not sets:
        raise UsageError(f"{flag}: no NAME:SPLIT given")
    return sets


def _typed(kind, minimum, strict):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value < minimum or (strict and value == minimum):
            bound = f"> {minimum}" if strict else f">= {minimum}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text}")
        return value
    return parse


positive_int = _typed(int, 1, strict=False)
nonnegative_int = _typed(int, 0, strict=False)
positive_float = _typed(float, 0.0, strict=True)

