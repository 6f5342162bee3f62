"""``--resume`` continues a run exactly, and checkpoint writes are atomic.

The resume test trains on a single clip (the data order is checked separately, below)
with every source of randomness off (``--no-reverse --aspp-dropout 0 -j 0``): one epoch
then ``--resume`` for a second must give the same weights and Adam state as two epochs
straight. On CPU, single-threaded, the same ops on the same inputs give the
same bits, so the tolerance is tight.
"""
import importlib
import os

import pytest
import torch
from torch import nn

from libs.datasets.toy import make_toy_data
from libs.pipeline.common import make_loader
from libs.pipeline.fit import FitConfig, fit
from libs.utils.checkpoint import load_training_state, save_training_state
from libs.utils.distributed import DistributedContext
from libs.utils.io import save_png, torch_save

LR = "1e-3"  # large enough that a wrongly restored Adam state moves weights far beyond the tolerance


def _toy(tmp_path_factory, frames):
    """One train and one val video of ``frames`` 32x32 frames, every frame annotated."""
    root = tmp_path_factory.mktemp("resume") / "toy"
    make_toy_data(root, train_videos=1, val_videos=1, test_videos=0, frames=frames, train_images=0, val_images=0,
                  height=32, width=32)
    return root


@pytest.fixture(scope="module")
def one_clip_data(tmp_path_factory):
    return _toy(tmp_path_factory, 4)  # one clip of 4


def run_trainer(script, root, save_folder, capsys, *extra):
    """``<script>.main`` on ``root``'s toy data with every run-to-run randomness pinned."""
    argv = ["--data", str(root), "--dataset-config", str(root / "datasets.yaml"),
            "--train-sets", "TOY_VIDEO:train", "--val-sets", "TOY_VIDEO:val", "--checkpoint", "none",
            "--save-folder", str(save_folder), "--size", "32", "-j", "0", "--device", "cpu",
            "--max-iters", "1", "--val-max-items", "1", "--backup-epochs", "0", "--seed", "0", "--lr", LR,
            "--aspp-dropout", "0", *extra]
    rc = importlib.import_module(script).main(argv)
    out, err = capsys.readouterr()
    assert rc == 0, err
    return out


def train(root, save_folder, capsys, *extra):
    return run_trainer("train", root, save_folder, capsys, "--clip_len", "4", "--no-reverse", *extra)


def _load(path):
    return torch.load(path, map_location="cpu", weights_only=True, mmap=True)


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(((a[k].double() - b[k].double()).abs().max().item() for k in a if a[k].is_floating_point()),
               default=0.0)


def _adam_tensors(optimizer_state: dict) -> dict:
    return {f"{i}.{name}": t for i, s in optimizer_state["state"].items() for name, t in s.items()}


@pytest.mark.slow
def test_resume_continues_exactly_like_a_straight_run(one_clip_data, tmp_path, one_thread, capsys):
    first, resumed, straight = tmp_path / "first", tmp_path / "resumed", tmp_path / "straight"
    assert "train: 1 clips" in train(one_clip_data, first, capsys, "--epochs", "0")  # epoch 0 only
    after_one = _load(first / "video_last_state.pth")
    assert after_one["epoch"] == 1  # the next epoch to run

    log = train(one_clip_data, resumed, capsys, "--epochs", "1", "--resume", str(first / "video_last_state.pth"))
    assert f"resuming {first / 'video_last_state.pth'}: epochs up to 0 done" in log
    assert "epoch 1/1" in log and "epoch 0/1" not in log  # only the missing epoch ran
    train(one_clip_data, straight, capsys, "--epochs", "1")

    a, b = _load(resumed / "video_last_state.pth"), _load(straight / "video_last_state.pth")
    assert a["epoch"] == b["epoch"] == 2
    # Training did move the weights in epoch 2 (so equality below is not trivial)...
    moved = _max_diff(a["state_dict"], after_one["state_dict"])
    assert moved > 1e-4
    # ...and the resumed run moved them exactly as the straight run did.
    weights_diff = _max_diff(a["state_dict"], b["state_dict"])
    assert weights_diff <= 1e-6
    # Adam continued from its saved moments and step count (a fresh Adam would restart at step 1).
    steps = {float(s["step"]) for s in a["optimizer"]["state"].values()}
    assert steps == {2.0}
    adam_diff = _max_diff(_adam_tensors(a["optimizer"]), _adam_tensors(b["optimizer"]))
    assert adam_diff <= 1e-6
    assert a["best_score"] == b["best_score"] >= after_one["best_score"]

    del a, b, after_one  # release the memory maps, then the ~2.5 GB of checkpoints pytest would keep
    for checkpoint in tmp_path.rglob("*.pth"):
        checkpoint.unlink()


TRIPLETS = 4  # per video: kept labels 0, 5, ..., 40 at l = 5 give triplets starting at kept labels 0, 2, 4, 6


@pytest.fixture(scope="module")
def triplet_data(tmp_path_factory):
    return _toy(tmp_path_factory, 41)


def train_fgplg(root, save_folder, capsys, *extra):
    # One batch of all four triplets per epoch: every triplet's reversal draw is used.
    return run_trainer("train_fgplg", root, save_folder, capsys, "--flow", "opencv", "--label_interval", "5",
                       "--batch-size", str(TRIPLETS), *extra)


@pytest.mark.slow
def test_fgplg_resume_with_random_reversal_continues_exactly(triplet_data, tmp_path, one_thread, capsys):
    # Every triplet is played backwards with probability 1/2 (as published), which swaps the
    # generator's left and right inputs and so changes the update: the resumed epochs must draw
    # as the straight run did. After the resume point (epochs 1 and 2) there are 2 x 4 = 8
    # independent reversal coin flips; a wrong RNG restore (any other random stream) matches all
    # of them, and so passes, with probability 2^-8 < 0.004 (> 0.99 to fail, as the issue asks).
    # The last state also records its flow source.
    first, resumed, straight = tmp_path / "first", tmp_path / "resumed", tmp_path / "straight"
    log = train_fgplg(triplet_data, first, capsys, "--epochs", "0")
    assert f"train: {TRIPLETS} triplets" in log
    state = _load(first / "fgplg_last_state.pth")
    assert state["flow"] == "opencv" and state["flow_weights"] is None and state["epoch"] == 1
    train_fgplg(triplet_data, resumed, capsys, "--epochs", "2", "--resume", str(first / "fgplg_last_state.pth"))
    train_fgplg(triplet_data, straight, capsys, "--epochs", "2")
    a, b = _load(resumed / "fgplg_last_state.pth"), _load(straight / "fgplg_last_state.pth")
    assert a["epoch"] == b["epoch"] == 3
    assert _max_diff(a["state_dict"], state["state_dict"]) > 1e-4
    assert _max_diff(a["state_dict"], b["state_dict"]) <= 1e-6
    assert _max_diff(_adam_tensors(a["optimizer"]), _adam_tensors(b["optimizer"])) <= 1e-6
    del a, b, state
    for checkpoint in tmp_path.rglob("*.pth"):
        checkpoint.unlink()


def test_last_state_leaves_out_the_frozen_flow_weights(tmp_path):
    # FlowNet2's 650 MB stay out of every save of --resume's state: a pointer replaces them.
    model = nn.ModuleDict({"flownet": nn.Linear(100, 100), "backbone": nn.Linear(3, 2)})
    optimizer = torch.optim.Adam(model["backbone"].parameters())
    save_training_state(tmp_path / "s.pth", model, optimizer, epoch=1, best_score=0.5, args={},
                        keep=lambda k: not k.startswith("flownet."), flow="flownet2", flow_weights="/w/FlowNet2.pth")
    state = load_training_state(tmp_path / "s.pth")
    assert sorted(state["state_dict"]) == ["backbone.bias", "backbone.weight"]
    assert (state["flow"], state["flow_weights"]) == ("flownet2", "/w/FlowNet2.pth")


class _Recorder(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))


def _fit_recording_order(loader, save_folder, start_epoch, epochs):
    """Run the real ``fit`` loop; return the batches it trained on, per epoch."""
    model, seen = _Recorder(), []

    def train_step(model, batch):
        seen.append(int(batch[0]))
        return (model.w * 0).sum() + 1.0

    cfg = FitConfig(epochs=epochs, save_folder=save_folder, prefix="order", start_epoch=start_epoch,
                    backup_epochs=0)
    fit(model, torch.optim.Adam(model.parameters()), loader, train_step, lambda m: {"S": 0.0}, cfg,
        DistributedContext(), log=lambda *_: None)
    n = len(loader)
    return [seen[i : i + n] for i in range(0, len(seen), n)]


def test_resumed_epoch_sees_the_data_order_of_a_straight_run(tmp_path):
    dataset = list(range(8))

    def loader():
        return make_loader(dataset, batch_size=1, shuffle=True, num_workers=0, ctx=DistributedContext(), seed=0)

    straight = _fit_recording_order(loader(), tmp_path / "a", start_epoch=0, epochs=1)  # epochs 0 and 1
    assert len(straight) == 2 and straight[0] != straight[1]  # epochs are shuffled differently
    resumed = _fit_recording_order(loader(), tmp_path / "b", start_epoch=1, epochs=1)
    assert resumed == [straight[1]]


# --------------------------------------------------------------------- atomic writes
def _temp_files(folder):
    return [p for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("interruption", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_interrupted_checkpoint_write_keeps_the_previous_file(interruption, tmp_path, monkeypatch):
    model = nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    path = tmp_path / "video_last_state.pth"
    save_training_state(path, model, optimizer, epoch=1, best_score=0.5, args={"lr": 1e-3})
    before = path.read_bytes()

    real_save = torch.save

    def interrupted_save(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        with open(f, "r+b") as handle:  # what a kill mid-write leaves: a truncated file
            handle.truncate(100)
        raise interruption

    monkeypatch.setattr(torch, "save", interrupted_save)
    with torch.no_grad():
        model.weight.add_(1.0)
    with pytest.raises(type(interruption)):
        save_training_state(path, model, optimizer, epoch=2, best_score=0.6, args={"lr": 1e-3})
    monkeypatch.undo()

    assert path.read_bytes() == before
    assert load_training_state(path)["epoch"] == 1
    assert _temp_files(tmp_path) == []


def test_torch_save_replaces_the_file_only_when_complete(tmp_path):
    path = tmp_path / "model.pth"
    torch_save({"x": torch.zeros(2)}, path)
    torch_save({"x": torch.ones(2)}, path)
    assert torch.equal(torch.load(path, weights_only=True)["x"], torch.ones(2))
    assert _temp_files(tmp_path) == []


def test_written_files_get_the_usual_permissions(tmp_path):
    # Atomic writes go through a temporary file; mkstemp makes it private (0600), which must
    # not leak into results and checkpoints shared with other users.
    umask = os.umask(0o022)
    os.umask(umask)
    torch_save({"x": torch.zeros(1)}, tmp_path / "a.pth")
    import numpy as np

    save_png(np.zeros((2, 2), np.uint8), tmp_path / "b.png")
    for name in ("a.pth", "b.png"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask
