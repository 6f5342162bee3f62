"""Build FlowNet2's compiled ops ahead of time (the CPU and/or the CUDA target).

    python -m flownet2.ops.build cpu          # g++ only; what CI does before the tests
    python -m flownet2.ops.build cuda         # nvcc + g++; no GPU needed (see install.sh)
    python -m flownet2.ops.build --force cpu  # rebuild even if the stamp matches

Output goes to flownet2/ops/_build/ (or $FLOWNET2_OPS_BUILD_DIR). Exit code 1 with the
compiler's last lines when a build fails.
"""
from __future__ import annotations

import argparse
import sys

from . import _build

__all__ = ["main"]


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m flownet2.ops.build", description=__doc__.split("\n")[0])
    p.add_argument("targets", nargs="*", choices=sorted(_build.TARGETS), default=["cpu"],
                   help="what to build (default: cpu)")
    p.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = p.parse_args(argv)
    for device in args.targets:
        try:
            module = _build.build_extension(verbose=True, device=device, force=args.force)
        except _build.BuildError as e:
            print(f"flownet2.ops.build: {e}", file=sys.stderr)
            return 1
        print(f"{device}: {module.__file__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
