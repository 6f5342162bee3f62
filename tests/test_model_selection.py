"""Model selection as the published trainers did it, and the published label rule.

- S-measure of the raw probabilities against label >= 0.5 (pysodmetrics' maths, no 8-bit
  rounding, no min-max stretch), MAE against the soft label.
- Every frame of every validation clip counts: a frame in two overlapping clips twice.
- A label image whose maximum is <= 1 is used as is, otherwise divided by 255.
"""
import numpy as np
import py_sod_metrics as sod
import torch

from libs.metrics.model_selection import selection_mae, selection_s_measure
from libs.pipeline.validation import validate_video_model


def test_s_measure_is_pysodmetrics_on_unstretched_probabilities():
    prob = np.full((8, 8), 0.3)
    prob[2:6, 2:6] = 0.6  # spans 0.3..0.6: a min-max stretch would change it
    label = np.zeros((8, 8))
    label[2:6, 2:6] = 0.5  # a soft label: >= 0.5 is foreground
    expected = sod.Smeasure()
    expected.step(prob, label >= 0.5, normalize=False)
    stretched = sod.Smeasure()
    stretched.step((prob * 255).round().astype(np.uint8), (label >= 0.5).astype(np.uint8) * 255)
    got = selection_s_measure(torch.tensor(prob, dtype=torch.float32)[None], label)
    assert abs(got - expected.get_results()["sm"]) < 1e-6
    assert stretched.get_results()["sm"] - got > 0.1  # stretching 0.3..0.6 to 0..1 would flatter the model


def test_mae_uses_the_soft_label():
    assert abs(selection_mae(np.full((2, 2), 0.25), np.array([[0.5, 0.5], [0.0, 1.0]])) - 0.375) < 1e-9


class _ConstantClipModel(torch.nn.Module):
    """Logit of a frame = its first pixel (so the test knows each frame's prediction)."""

    def forward(self, clip):
        return [frame[:, :1] * 0 + frame[:, :1, :1, :1] for frame in clip]


def test_every_frame_of_every_clip_counts():
    # Two clips sharing frame 3 (the training clip rule): 8 entries, frame 3 twice.
    images = torch.zeros(2, 4, 3, 4, 4)
    logits = torch.tensor([[9.0, -9.0, -9.0, 9.0], [9.0, -9.0, -9.0, -9.0]])
    images[:, :, 0, 0, 0] = logits
    labels = torch.ones(2, 4, 1, 4, 4)
    batch = {"images": images, "labels": labels}
    scores = validate_video_model(_ConstantClipModel(), [batch], torch.device("cpu"), progress=False)
    p = torch.sigmoid(torch.tensor(9.0)).item()
    # 3 of the 8 entries predict p, 5 predict 1 - p, against an all-foreground label.
    assert abs(scores["MAE"] - (3 * (1 - p) + 5 * p) / 8) < 1e-6
