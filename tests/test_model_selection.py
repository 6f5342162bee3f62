"""Model selection as the published trainers did it, and the published label rule.

- S-measure of the raw probabilities against label >= 0.5 (pysodmetrics' maths, no 8-bit
  rounding, no min-max stretch), MAE against the soft label.
- Every frame of every validation clip counts: a frame in two overlapping clips twice.
- A label image whose maximum is <= 1 is used as is, otherwise divided by 255.
- ``<prefix>_current_best_model.pth`` holds the weights of the epoch with the best S so far
  (kept, not even rewritten, when S drops), backups and the last state are as documented
  (docs/pipeline.md, "What a training run writes"), and ``--resume`` keeps the best file and
  score: a worse epoch after it leaves the file alone, a better one replaces it.
"""
import argparse

import numpy as np
import py_sod_metrics as sod
import torch
from torch import nn

from libs.metrics.model_selection import selection_mae, selection_s_measure
from libs.pipeline.fit import FitConfig, fit
from libs.pipeline.stage import prepare_model
from libs.pipeline.validation import validate_video_model
from libs.utils.distributed import DistributedContext


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


# ----------------------------------------------------------------------------- best epoch, backups, resume
# The epoch loop (libs.pipeline.fit) driven with a tiny model and a scripted validation S:
# up, down, up, then --resume, down, up. After every epoch the test reads what is on disk.

class _Weights(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(4))


def _tensors(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def _fit_scripted(model, optimizer, folder, scores, start_epoch, epochs, best_score, snapshots, states):
    """Run ``fit`` over ``start_epoch .. epochs``; validation returns ``scores[epoch]``. After each
    epoch (fit logs its line once the files are written) record the files on disk."""
    epoch_of_call = iter(range(start_epoch, epochs + 1))

    def train_step(model, batch):  # Adam moves w towards a target every step
        return ((model.w - torch.arange(4.0)) ** 2).sum() + batch.sum() * 0

    def validate(model):
        epoch = next(epoch_of_call)
        states[epoch] = {k: v.clone() for k, v in model.state_dict().items()}
        return {"S": scores[epoch], "MAE": 1 - scores[epoch]}

    def log(line):
        if line.startswith("epoch "):
            epoch = int(line.split()[1].split("/")[0])
            snapshots[epoch] = {
                "best": _tensors(folder / "sel_current_best_model.pth"),
                "best_inode": (folder / "sel_current_best_model.pth").stat().st_ino,  # a new file per write
                "last": torch.load(folder / "sel_last_state.pth", map_location="cpu", weights_only=True),
                "backups": sorted(p.name for p in folder.glob("sel_epoch-*.pth")),
                "line": line,
            }

    cfg = FitConfig(epochs=epochs, save_folder=folder, prefix="sel", start_epoch=start_epoch, backup_epochs=2)
    return fit(model, optimizer, [torch.zeros(1), torch.zeros(1)], train_step, validate, cfg, DistributedContext(),
               args={"lr": 0.1}, best_score=best_score, log=log)


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_best_file_holds_the_best_epoch_and_survives_resume(tmp_path):
    scores = {0: 0.50, 1: 0.70, 2: 0.60, 3: 0.80, 4: 0.75, 5: 0.90}
    best_before = {0: 0, 1: 1, 2: 1, 3: 3, 4: 3, 5: 5}  # the epoch whose weights the best file holds
    snapshots, states = {}, {}
    torch.manual_seed(0)
    model = _Weights()
    result = _fit_scripted(model, torch.optim.Adam(model.parameters(), lr=0.1), tmp_path, scores, 0, 3,
                           float("-inf"), snapshots, states)
    assert (result["best_epoch"], result["best_score"]) == (3, 0.80)

    # --resume from the last state: a new model, the published flags, prepare_model's restore.
    args = argparse.Namespace(resume=str(tmp_path / "sel_last_state.pth"), checkpoint="none", start_epoch=0,
                              epochs=5, aspp_dropout=0.0, channels_last=False, lr=0.1)
    resumed, optimizer, start, best = prepare_model(_Weights(), args, DistributedContext(), log=lambda *_: None)
    assert (start, best) == (4, 0.80)
    assert _same(resumed.state_dict(), states[3])
    result = _fit_scripted(resumed, optimizer, tmp_path, scores, start, 5, best, snapshots, states)
    assert (result["best_epoch"], result["best_score"]) == (5, 0.90)

    assert sorted(snapshots) == list(range(6))
    for epoch, snap in snapshots.items():
        best_epoch = best_before[epoch]
        # the best file holds the weights of the best epoch so far, not the last epoch's
        assert _same(snap["best"], states[best_epoch]), epoch
        if best_epoch != epoch:
            assert not _same(snap["best"], states[epoch]), epoch
            # kept when S drops: not even rewritten (writes go to a new file renamed into place)
            assert snap["best_inode"] == snapshots[epoch - 1]["best_inode"], epoch
        else:
            assert epoch == 0 or snap["best_inode"] != snapshots[epoch - 1]["best_inode"], epoch
        assert ("(best)" in snap["line"]) == (best_epoch == epoch), snap["line"]
        # the last state: this epoch's weights, the next epoch, the best score so far, Adam's steps
        last = snap["last"]
        assert last["epoch"] == epoch + 1 and last["best_score"] == scores[best_epoch], epoch
        assert _same(last["state_dict"], states[epoch]), epoch
        assert [float(s["step"]) for s in last["optimizer"]["state"].values()] == [2.0 * (epoch + 1)], epoch
        # backups: <prefix>_epoch-N.pth after every epoch N > 0 divisible by --backup-epochs (2)
        assert snap["backups"] == [f"sel_epoch-{n}.pth" for n in (2, 4) if n <= epoch], epoch
    assert _same(_tensors(tmp_path / "sel_epoch-2.pth"), states[2])
    assert _same(_tensors(tmp_path / "sel_epoch-4.pth"), states[4])
    # the weights did change every epoch, so "the same tensors" above singles out one epoch
    assert all(not _same(states[e], states[e + 1]) for e in range(5))
