"""``--flow raft`` through the scripts: train_fgplg.py records RAFT in its checkpoint,
generate_pseudo_labels.py rebuilds it from there, and missing weights are one clear line.

A seeded random ``raft_small`` stands in for torchvision's downloadable weights.
"""
import pytest
import torch
from torchvision.models.optical_flow import raft_small

import generate_pseudo_labels
import train_fgplg
from libs.datasets.toy import make_toy_data
from libs.networks.pseudo_label_generator import read_fgplg_checkpoint

QUICK = ["--size", "32", "-j", "0", "--device", "cpu", "--raft-iters", "2"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("raft")
    make_toy_data(root / "toy", train_videos=1, val_videos=1, test_videos=0, frames=11, train_images=0,
                  val_images=0, height=32, width=32)
    torch.manual_seed(0)
    torch.save(raft_small(weights=None).state_dict(), root / "raft_small.pth")
    return root


def fgplg_argv(toy, save, *extra):
    data = toy / "toy"
    return ["--data", str(data), "--dataset-config", str(data / "datasets.yaml"), "--train-sets", "TOY_VIDEO:train",
            "--val-sets", "TOY_VIDEO:val", "--checkpoint", "none", "--label_interval", "5", "--flow", "raft",
            "--save-folder", str(save), "--epochs", "0", "--max-iters", "1", "--val-max-items", "1", *QUICK, *extra]


@pytest.mark.slow
def test_train_with_raft_then_generate_with_the_recorded_flow(toy, tmp_path, capsys, one_thread):
    save = tmp_path / "save"
    rc = train_fgplg.main(fgplg_argv(toy, save, "--raft-checkpoint", str(toy / "raft_small.pth")))
    assert rc == 0, capsys.readouterr().err
    state, flow = read_fgplg_checkpoint(save / "fgplg_current_best_model.pth")
    raft = torch.load(toy / "raft_small.pth", weights_only=True)
    assert flow == "raft"
    assert all(torch.equal(state[f"flownet.raft.{k}"], v) for k, v in raft.items())  # frozen, as given
    last = torch.load(save / "fgplg_last_state.pth", weights_only=True)
    assert not any(k.startswith("flownet.") for k in last["state_dict"])  # a pointer instead of the weights
    assert (last["flow"], last["flow_weights"]) == ("raft", str((toy / "raft_small.pth").resolve()))

    data = toy / "toy"
    rc = generate_pseudo_labels.main([
        "--data", str(data), "--dataset-config", str(data / "datasets.yaml"), "--sets", "TOY_VIDEO:train",
        "--checkpoint", str(save / "fgplg_current_best_model.pth"), "--pseudo-label-folder", str(tmp_path / "pl"),
        "--label_interval", "5", "--frame_between_label_num", "1", *QUICK])
    out = capsys.readouterr().out
    assert rc == 0 and "flow source: raft" in out
    assert sorted(p.name for p in (tmp_path / "pl" / "1_5" / "TOY_VIDEO" / "video_00").iterdir()) == [
        "00000.png", "00002.png", "00005.png", "00007.png", "00010.png"]


def test_raft_without_weights_names_the_flag_and_the_cache(toy, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    assert train_fgplg.main(fgplg_argv(toy, tmp_path / "save")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--raft-checkpoint" in err and str(tmp_path / "torch_home") in err
    assert not (tmp_path / "save").exists()
