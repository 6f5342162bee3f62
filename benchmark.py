"""Speed and memory of RCRNet+NER: the published execution order against ours, end to end, training.

    python benchmark.py                                    # auto device, 448x448, clips of 4, batch 1
    python benchmark.py --device cpu --threads 2 --iters 5 --warmup 1 --json bench.json
    python benchmark.py --device cuda --amp --compile      # GPU: also autocast and torch.compile
    python benchmark.py --size 64 --iters 1 --warmup 0 --skip-e2e --skip-train   # CI-sized: seconds

All the work (and the description of every variant and measurement) is in the package
:mod:`libs.benchmark`; figures and the machines they were measured on are in docs/speed.md.
"""
import sys


def main(argv=None) -> int:
    from libs.benchmark.cli import main as benchmark_main

    return benchmark_main(argv)


if __name__ == "__main__":
    sys.exit(main())
