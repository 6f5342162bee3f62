"""Paper tables: several methods on several datasets, one protocol, Markdown or LaTeX.

    python tables.py --method Ours=results --method Other=other_results \\
        --dataset DAVIS2016:val --gt FBMS=/data/Datasets/FBMS --protocol davsod --format latex
    python tables.py --report Ours:DAVIS2016=ours_davis.json --report Other:DAVIS2016=other_davis.json

Predictions of method M on dataset D are ``<M dir>/<D>/<video>/<frame>.png``. All the work is
in :mod:`libs.pipeline.evaluation.tables`; see docs/evaluation.md.
"""
import sys


def main(argv=None) -> int:
    from libs.pipeline.evaluation.table_command import build_parser, run
    from libs.utils.cli import run_main

    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2): return it as the exit code
        return int(e.code or 0)
    return run_main("tables.py", run, args)


if __name__ == "__main__":
    sys.exit(main())
