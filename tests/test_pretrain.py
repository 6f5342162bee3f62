"""``pretrain.py`` (libs/pipeline/pretraining.py): BatchNorm that trains, ``--resume``, bad inputs.

Image pretraining is the one stage whose BatchNorm trains (batches of still images, as the
authors' pretrained model was made); video training keeps it frozen (DESIGN.md, "NER"). Runs
are tiny: 4 toy images of 32x40 at ``--size 32``, batches of 2, one or two iterations, in
process. The random augmentation (colour jitter, crop, flip) and the ASPP dropout stay on:
the resumed epoch must draw them as a straight run does.
"""
import importlib
import shutil

import pytest
import torch

import pretrain
from libs.datasets.toy import make_toy_data
from libs.networks import ImageModel

PROGRESS_MARKS = ("%|", "it/s", "s/it")


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """Toy data (TOY_IMAGE train 4 / val 2; TOY_VIDEO train and val, 3 frames) and a seeded
    ImageModel saved as the starting checkpoint."""
    root = tmp_path_factory.mktemp("pretrain")
    make_toy_data(root / "toy", train_videos=1, val_videos=1, test_videos=0, frames=3, train_images=4,
                  val_images=2, height=32, width=40)
    torch.manual_seed(0)
    torch.save(ImageModel().state_dict(), root / "init.pth")
    yield root
    for checkpoint in root.rglob("*.pth"):
        checkpoint.unlink()


def argv(toy, save_folder, *extra, data=None):
    data = data or toy / "toy"
    return [str(a) for a in ["--data", data, "--dataset-config", data / "datasets.yaml", "--train-sets",
                             "TOY_IMAGE:train", "--val-sets", "TOY_IMAGE:val", "--checkpoint", toy / "init.pth",
                             "--save-folder", save_folder, "--size", 32, "-j", 0, "--device", "cpu",
                             "--batch-size", 2, "--max-iters", 2, "--val-max-items", 1, "--backup-epochs", 0,
                             "--seed", 0, "--lr", "1e-3", *extra]]


def run_ok(script, args, capsys):
    rc = importlib.import_module(script).main(args)
    out, err = capsys.readouterr()
    assert rc == 0, err[-3000:]
    return out


def _load(path):
    return torch.load(path, map_location="cpu", weights_only=True, mmap=True)


def _bn_layers(state):
    return sorted(k[: -len(".running_mean")] for k in state if k.endswith(".running_mean"))


@pytest.fixture(scope="module")
def first_epoch(toy, tmp_path_factory):
    """``pretrain.py --epochs 0`` (two iterations) from the seeded checkpoint."""
    folder = tmp_path_factory.mktemp("pretrain_first")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the runs it is compared with (one_thread): the same bits
    try:
        assert pretrain.main(argv(toy, folder, "--epochs", 0)) == 0
    finally:
        torch.set_num_threads(threads)
    yield folder
    for checkpoint in folder.glob("*.pth"):
        checkpoint.unlink()


@pytest.fixture(autouse=True)
def _drop_checkpoints(tmp_path):
    """Each run writes ~700 MB of checkpoints that pytest would keep for a few sessions."""
    yield
    for checkpoint in tmp_path.rglob("*.pth"):
        checkpoint.unlink()


def test_batchnorm_trains(toy, first_epoch, one_thread):
    init, after = _load(toy / "init.pth"), _load(first_epoch / "image_last_state.pth")["state_dict"]
    layers = _bn_layers(init)
    assert len(layers) == 75  # every BatchNorm of RCRNet
    for bn in layers:
        # statistics updated from the two batches...
        assert after[f"{bn}.num_batches_tracked"].item() == init[f"{bn}.num_batches_tracked"].item() + 2, bn
        assert not torch.equal(after[f"{bn}.running_mean"], init[f"{bn}.running_mean"]), bn
        assert not torch.equal(after[f"{bn}.running_var"], init[f"{bn}.running_var"]), bn
        # ...and the affine parameters had gradients: Adam does not move a parameter whose gradient is 0
        assert not torch.equal(after[f"{bn}.weight"], init[f"{bn}.weight"]), bn
        assert not torch.equal(after[f"{bn}.bias"], init[f"{bn}.bias"]), bn
    # epoch 0 is the best so far: the best file is the model after it
    best = _load(first_epoch / "image_pretrained_model.pth")
    assert best.keys() == after.keys() and all(torch.equal(best[k], after[k]) for k in best)


def test_video_training_keeps_batchnorm_frozen(toy, tmp_path, one_thread, capsys):
    # The contrast: train.py from the same image checkpoint leaves every running statistic alone
    # (BatchNorm in eval mode); its affine parameters still train, as in the published freeze_bn.
    data = toy / "toy"
    run_ok("train", ["--data", str(data), "--dataset-config", str(data / "datasets.yaml"), "--train-sets",
                     "TOY_VIDEO:train", "--val-sets", "TOY_VIDEO:val", "--checkpoint", str(toy / "init.pth"),
                     "--save-folder", str(tmp_path), "--size", "32", "-j", "0", "--device", "cpu", "--clip_len",
                     "2", "--epochs", "0", "--max-iters", "1", "--val-max-items", "1", "--backup-epochs", "0",
                     "--lr", "1e-3"], capsys)
    init, after = _load(toy / "init.pth"), _load(tmp_path / "video_last_state.pth")["state_dict"]
    layers = _bn_layers(init)
    for bn in layers:
        for stat in ("running_mean", "running_var", "num_batches_tracked"):
            assert torch.equal(after[f"{bn}.{stat}"], init[f"{bn}.{stat}"]), (bn, stat)
    assert sum(not torch.equal(after[f"{bn}.weight"], init[f"{bn}.weight"]) for bn in layers) > len(layers) // 2


def _max_diff(a, b):
    assert a.keys() == b.keys()
    return max(((a[k].double() - b[k].double()).abs().max().item() for k in a), default=0.0)


def _adam(state):
    return {f"{i}.{name}": t for i, s in state["optimizer"]["state"].items() for name, t in s.items()}


@pytest.mark.slow
def test_resume_continues_exactly_like_a_straight_run(toy, first_epoch, tmp_path, one_thread, capsys):
    resumed, straight = tmp_path / "resumed", tmp_path / "straight"
    state = first_epoch / "image_last_state.pth"
    log = run_ok("pretrain", argv(toy, resumed, "--epochs", 1, "--resume", state), capsys)
    assert f"resuming {state}: epochs up to 0 done" in log and "epoch 0/1" not in log
    run_ok("pretrain", argv(toy, straight, "--epochs", 1), capsys)
    a, b = _load(resumed / "image_last_state.pth"), _load(straight / "image_last_state.pth")
    assert a["epoch"] == b["epoch"] == 2
    # epoch 1 moved the weights and the BatchNorm statistics...
    assert _max_diff(a["state_dict"], _load(state)["state_dict"]) > 1e-4
    # ...exactly as in the straight run (same augmentation draws, same data order, same Adam state)
    assert _max_diff(a["state_dict"], b["state_dict"]) <= 1e-6
    assert {float(s["step"]) for s in a["optimizer"]["state"].values()} == {4.0}
    assert _max_diff(_adam(a), _adam(b)) <= 1e-6
    assert a["best_score"] == b["best_score"]


# ----------------------------------------------------------------------------- bad inputs

def _garbage(path):
    path.write_bytes(b"not an image")


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _bigger_label(path):
    from PIL import Image

    Image.new("L", (41, 32)).save(path)


def _one_training_image(path):
    path.write_text("00000\n")


BAD = {
    # case: (flags, file to damage (relative to the toy data) and how, what the error line names)
    "missing_data_root": (["--data", "{tmp}/nowhere"], None, ["nowhere", "data root folder not found (--data)"]),
    "unknown_dataset": (["--train-sets", "NOPE:train"], None, ["--train-sets", "'NOPE'"]),
    "unknown_split": (["--train-sets", "TOY_IMAGE:nosuch"], None, ["nosuch_id.txt", "split file not found",
                                                                   "train, val"]),
    "video_dataset": (["--train-sets", "TOY_VIDEO:train"], None, ["'TOY_VIDEO'", "image dataset"]),
    "malformed_sets": (["--val-sets", "TOY_IMAGE"], None, ["--val-sets", "NAME:SPLIT"]),
    "zero_lr": (["--lr", "0"], None, ["--lr", "must be > 0"]),
    "zero_batch": (["--batch-size", "0"], None, ["--batch-size", "must be >= 1"]),
    "batch_of_one": (["--batch-size", "1"], None, ["--batch-size 1", "BatchNorm", "--freeze-bn"]),
    "negative_epochs": (["--epochs", "-1"], None, ["--epochs", "must be >= 0"]),
    "dropout_out_of_range": (["--aspp-dropout", "1.5"], None, ["--aspp-dropout", "[0, 1)"]),
    "missing_imagenet": (["--imagenet-checkpoint", "{tmp}/resnet50.pth"], None, ["resnet50.pth",
                                                                                "--imagenet-checkpoint"]),
    "missing_checkpoint": (["--checkpoint", "{tmp}/image.pth"], None, ["image.pth", "not found"]),
    "corrupt_image": ([], ("TOY_IMAGE/imgs/00002.jpg", _garbage), ["00002.jpg", "unreadable image"]),
    "truncated_image": ([], ("TOY_IMAGE/imgs/00001.jpg", _truncate), ["00001.jpg"]),
    "corrupt_label": ([], ("TOY_IMAGE/gt/00003.png", _garbage), ["00003.png", "unreadable image"]),
    "label_of_another_size": ([], ("TOY_IMAGE/gt/00000.png", _bigger_label), ["00000.png", "00000.jpg",
                                                                             "32x41", "32x40"]),
    "missing_label": ([], ("TOY_IMAGE/gt/00001.png", lambda p: p.unlink()), ["00001.png", "label file not found"]),
    "one_training_image": ([], ("TOY_IMAGE/ImageSets/train_id.txt", _one_training_image),
                           ["1 training image", "BatchNorm"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, toy, tmp_path, one_thread, capsys):
    flags, damage, needles = BAD[case]
    data = toy / "toy"
    if damage:
        data = tmp_path / "data"
        shutil.copytree(toy / "toy", data)
        damage[1](data / damage[0])
    out = tmp_path / "out"
    args = argv(toy, out, "--epochs", 0, *[f.format(tmp=tmp_path) for f in flags], data=data)
    try:
        rc = pretrain.main(args)
    except SystemExit as e:  # argparse
        rc = e.code
    _, err = capsys.readouterr()
    assert rc == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip() and not any(m in ln for m in PROGRESS_MARKS)]
    errors = [ln for ln in lines if ln.startswith("pretrain.py: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    assert all(ln.startswith(("usage:", " ")) for ln in lines[:-1]), err  # argparse's usage block only
    assert "Traceback" not in err
    for needle in needles:
        assert needle.format(tmp=tmp_path) in errors[0], errors[0]
    written = [p for p in out.rglob("*") if p.is_file()] if out.exists() else []
    assert written == []
