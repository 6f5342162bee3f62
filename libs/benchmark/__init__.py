"""Speed and memory of RCRNet+NER (VideoModel): the published execution order against ours,
``inference.py`` end to end, and a training step. ``benchmark.py`` is its command line.

One idea per module:

* :mod:`.measurement`: timers, the peak-memory meter, ratios of medians, map agreement;
* :mod:`.variants`: the published order, each step towards ours, and the opt-ins;
* :mod:`.workloads`: the clip, the weights' calibration, the inference/end-to-end/training runs;
* :mod:`.report`: rows, ratios and targets, and the Markdown table;
* :mod:`.cli`: the flags and ``main``.

The machine a figure was taken on (CPU model, the flags that decide bf16 speed) comes from
:mod:`libs.utils.machine`, which ``python -m flownet2.benchmark`` reports too. Figures measured with it, and on which CPUs: ``docs/speed.md``.
"""
from .cli import build_parser, main, run_benchmark
from .report import format_markdown

__all__ = ["build_parser", "main", "run_benchmark", "format_markdown"]
