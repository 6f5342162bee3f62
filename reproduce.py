"""From the data to the paper's table in one command, with a plan that checks the data first.

    python reproduce.py --plan                          # the data counted and checked, the run described
    python reproduce.py                                 # paper_table1 into runs/paper_table1/; rerun to continue
    python reproduce.py --experiment quickstart --preset fast --out runs/qs
    python reproduce.py --from video --epochs 10        # rerun from a stage, with another flag

All the work is in :mod:`libs.pipeline.reproduce`; see docs/reproduce.md.
"""
import sys


def main(argv=None) -> int:
    from libs.pipeline.reproduce import build_parser, run
    from libs.utils.cli import run_main

    return run_main("reproduce.py", lambda args: run(args)["status"], build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
