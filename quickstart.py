"""The whole method on generated toy videos, on a CPU, in minutes.

    python quickstart.py            # ends with: toy test: S=... MAE=... (all-zero map: S=... MAE=...)

All the work is in :mod:`libs.pipeline.quickstart`.
"""
import sys


def main(argv=None) -> int:
    from libs.pipeline.quickstart import build_parser, run
    from libs.utils.cli import run_main

    args = build_parser().parse_args(argv)

    def go(a):
        result = run(a)
        return 0 if result["passed"] or a.preset != "full" else 1

    return run_main("quickstart.py", go, args)


if __name__ == "__main__":
    sys.exit(main())
