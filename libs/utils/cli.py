"""What every script shares: one-line errors with exit code 2, and flag parsing helpers."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, List, Tuple

from .errors import UsageError, UserError

__all__ = ["UsageError", "UserError", "is_users_path_error", "run_main", "parse_sets", "positive_int",
           "nonnegative_int", "positive_float"]


def _named_paths(args: argparse.Namespace) -> List[Path]:
    """Every flag value of ``args`` that looks like a path (strings, lists of strings)."""
    values = []
    for v in vars(args).values():
        values += [x for x in (v if isinstance(v, (list, tuple)) else [v]) if isinstance(x, (str, Path)) and x]
    cwd = Path.cwd()
    paths = [Path(v).expanduser().absolute() for v in values]
    return [p for p in paths if p != cwd and p != Path(p.anchor)]  # "." would cover every relative path


def is_users_path_error(e: BaseException, args: argparse.Namespace) -> bool:
    """An ``OSError`` about a path the user named (or a file inside a folder they named).

    E.g. an output folder that is a file, a folder without write permission: the message
    names the path, and a traceback would not help. An ``OSError`` about any other path is
    a bug of ours and keeps its traceback.
    """
    filenames = [getattr(e, "filename", None), getattr(e, "filename2", None)]
    filenames = [Path(f).expanduser().absolute() for f in filenames if isinstance(f, (str, Path)) and f]
    if not isinstance(e, OSError) or not filenames:
        return False
    named = _named_paths(args)
    return any(f == p or p in f.parents for f in filenames for p in named)


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
    except UserError as e:
        print(f"{prog}: error: {_one_line(str(e))}", file=sys.stderr)
        return 2
    except OSError as e:
        if not is_users_path_error(e, args):
            raise
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

