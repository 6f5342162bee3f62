"""The whole method on generated toy videos, on a CPU, in minutes.

    python quickstart.py            # ends with: toy test: S=... MAE=... (all-zero map: S=... MAE=...)

The same as ``python reproduce.py --experiment quickstart`` (config/experiments/quickstart.yaml),
plus that last line and its exit rule. All the work is in :mod:`libs.pipeline.quickstart`.
"""
import sys


def main(argv=None) -> int:
    from libs.pipeline.quickstart import build_parser, exit_status, run
    from libs.utils.cli import run_main

    return run_main("quickstart.py", lambda args: exit_status(run(args), args), build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
