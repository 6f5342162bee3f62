"""Evaluation of saliency maps on disk: file discovery, protocols, reports and paper tables.

- :mod:`.jobs`: which GT frames, which prediction files (dataset split, two folders,
  benchmark release with per-video GT subfolders);
- :mod:`.engine`: the ``per-video`` (default) and ``davsod`` protocols;
- :mod:`.reports`: text table, CSV, JSON of one report;
- :mod:`.tables`: paper tables over methods x datasets (``tables.py``).

The metric maths is in :mod:`libs.metrics.saliency`, :mod:`libs.metrics.davsod`,
:mod:`libs.metrics.vos` and :mod:`libs.metrics.matlab_imresize`. Problems with the inputs
raise :class:`EvaluationError`, :class:`~libs.utils.io.ImageReadError` or
:class:`~libs.datasets.config.DatasetConfigError`, each a one-line message naming the path.
"""
from .engine import (
    DEFAULT_PROTOCOL,
    PROTOCOLS,
    default_num_workers,
    evaluate_folders,
    evaluate_jobs,
    evaluate_split,
    evaluate_video,
    protocol_jobs,
)
from .jobs import (
    GT_SUBDIRS,
    PRED_EXT,
    EvaluationError,
    FramePair,
    VideoJob,
    check_predictions,
    collect_folder_jobs,
    collect_split_jobs,
)
from .reports import PROTOCOL_NOTES, format_table, report_protocol, results_to_csv, write_reports

__all__ = [
    "EvaluationError",
    "FramePair",
    "VideoJob",
    "PRED_EXT",
    "GT_SUBDIRS",
    "PROTOCOLS",
    "DEFAULT_PROTOCOL",
    "PROTOCOL_NOTES",
    "collect_split_jobs",
    "collect_folder_jobs",
    "check_predictions",
    "protocol_jobs",
    "evaluate_video",
    "evaluate_jobs",
    "evaluate_split",
    "evaluate_folders",
    "format_table",
    "report_protocol",
    "results_to_csv",
    "write_reports",
    "default_num_workers",
]
