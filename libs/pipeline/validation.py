"""Validation for model selection, as the published trainers did it.

Every predicted frame of every validation item counts (a frame in two overlapping clips
counts twice, as the published loop summed over clips); the score of a frame is the
S-measure of its raw sigmoid probabilities against its label >= 0.5 and the MAE against
the soft label, both at the model's input size (:mod:`libs.metrics.model_selection`). The
epoch's numbers are the means over frames.
"""
from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Tuple

import torch
import torch.nn.functional as F
from tqdm import tqdm

from libs.metrics.model_selection import selection_mae, selection_s_measure
from libs.utils.precision import autocast_context

from .common import clip_from_batch

__all__ = ["FrameScores", "validate_video_model", "validate_frames"]


class FrameScores:
    """Per-frame loss, S-measure and MAE, averaged over every frame added."""

    def __init__(self):
        self.scores: List[Tuple[float, float, float]] = []

    def add(self, logits: torch.Tensor, label: torch.Tensor) -> None:
        """``logits (1, S, S)``, ``label (1, S, S)`` in [0, 1]."""
        logits, label = logits.float().cpu(), label.float().cpu()
        loss = F.binary_cross_entropy_with_logits(logits, label).item()
        prob = torch.sigmoid(logits)[0]
        self.scores.append((loss, selection_s_measure(prob, label[0]), selection_mae(prob, label[0])))

    def summary(self) -> Dict[str, float]:
        if not self.scores:
            return {"loss": float("nan"), "S": float("nan"), "MAE": float("nan")}
        n = len(self.scores)
        loss, s, m = (sum(v[i] for v in self.scores) / n for i in range(3))
        return {"loss": loss, "S": s, "MAE": m}


def validate_video_model(model, loader, device, amp: bool = False, channels_last: bool = False,
                         progress: bool = True) -> Dict[str, float]:
    """``{'loss', 'S', 'MAE'}`` of a VideoModel over clips with labels."""
    scores = FrameScores()
    for batch in tqdm(loader, desc="val", leave=False, disable=not progress, dynamic_ncols=True):
        clip = clip_from_batch(batch["images"], device, channels_last)
        with autocast_context(device, amp):
            preds = model(clip)
        for t, logits in enumerate(preds):
            for b in range(logits.shape[0]):
                scores.add(logits[b], batch["labels"][b, t])
    return scores.summary()


def validate_frames(predict: Callable[[dict], torch.Tensor], items: Iterable[dict], label_fn,
                    progress: bool = True) -> Dict[str, float]:
    """Single-frame validation: ``predict(batch) -> logits (B, 1, S, S)``, ``label_fn(batch) -> (B, 1, S, S)``."""
    scores = FrameScores()
    for batch in tqdm(items, desc="val", leave=False, disable=not progress, dynamic_ncols=True):
        logits = predict(batch)
        labels = label_fn(batch)
        for b in range(logits.shape[0]):
            scores.add(logits[b], labels[b])
    return scores.summary()
