"""Validation on a split, with the metric functions ``evaluate.py`` uses.

Predictions are compared at the model's input size (S x S) with the transformed
(bilinearly resized) labels; S-measure and MAE are pysodmetrics' via
:func:`libs.utils.metrics.s_measure` / :func:`~libs.utils.metrics.mae`. A frame that
appears in two clips (the end-aligned last clip) counts once, with its last prediction,
as the published inference wrote it.
"""
from __future__ import annotations

from typing import Callable, Dict, Iterable, Tuple

import torch
import torch.nn.functional as F
from tqdm import tqdm

from libs.utils.metrics import mae, s_measure
from libs.utils.training import autocast_context

__all__ = ["FrameScores", "validate_video_model", "validate_frames"]


class FrameScores:
    """Per-frame loss, S-measure and MAE keyed by (dataset, video, frame); last write wins."""

    def __init__(self):
        self.scores: Dict[Tuple[str, str, str], Tuple[float, float, float]] = {}

    def add(self, key, logits: torch.Tensor, label: torch.Tensor) -> None:
        """``logits (1, S, S)``, ``label (1, S, S)`` in [0, 1]."""
        logits, label = logits.float().cpu(), label.float().cpu()
        loss = F.binary_cross_entropy_with_logits(logits, label).item()
        prob = torch.sigmoid(logits)[0]
        self.scores[key] = (loss, s_measure(prob, label[0]), mae(prob, label[0]))

    def summary(self) -> Dict[str, float]:
        if not self.scores:
            return {"loss": float("nan"), "S": float("nan"), "MAE": float("nan")}
        n = len(self.scores)
        loss, s, m = (sum(v[i] for v in self.scores.values()) / n for i in range(3))
        return {"loss": loss, "S": s, "MAE": m}


def validate_video_model(model, loader, device, amp: bool = False, channels_last: bool = False,
                         progress: bool = True) -> Dict[str, float]:
    """``{'loss', 'S', 'MAE'}`` of a VideoModel over clips with labels."""
    from .common import clip_from_batch

    scores = FrameScores()
    for batch in tqdm(loader, desc="val", leave=False, disable=not progress, dynamic_ncols=True):
        clip = clip_from_batch(batch["images"], device, channels_last)
        with autocast_context(device, amp):
            preds = model(clip)
        for t, logits in enumerate(preds):
            for b in range(logits.shape[0]):
                key = (batch["dataset"][b], batch["video"][b], batch["frames"][t][b])
                scores.add(key, logits[b], batch["labels"][b, t])
    return scores.summary()


def validate_frames(predict: Callable[[dict], torch.Tensor], items: Iterable[dict], key_fn, label_fn,
                    progress: bool = True) -> Dict[str, float]:
    """Generic single-frame validation: ``predict(batch) -> logits (B, 1, S, S)``."""
    scores = FrameScores()
    for batch in tqdm(items, desc="val", leave=False, disable=not progress, dynamic_ncols=True):
        logits = predict(batch)
        labels = label_fn(batch)
        for b in range(logits.shape[0]):
            scores.add(key_fn(batch, b), logits[b], labels[b])
    return scores.summary()
