"""The published training instruction's commands, as written, on sparse toy data.

``docs/training_instruction.md`` of the published code runs ``train.py``,
``generate_pseudo_labels.py`` -> ``train.py --pseudo-label-folder data/pseudo-labels/1_5``
and, for another budget, ``train_fgplg.py --label_interval l`` -> ``generate_pseudo_labels.py
--label_interval l --frame_between_label_num m`` -> ``train.py --pseudo-label-folder
data/pseudo-labels/m_l``. Here they run with those flags plus paths and quick-run flags
(a toy dataset config and sets, size 32, one iteration, ``--flow opencv`` because
FlowNet2's weights cannot be had here).

The toy videos are annotated on every 3rd frame (like VOS's every 15th), and every GT file
outside the label budget is replaced by bytes that are no image: FGPLG training, generation
and training on the pseudo-label folder must never open one. Expected positions are written
by hand.
"""
import shutil

import pytest
import torch

import generate_pseudo_labels
import train
import train_fgplg
from libs.datasets.toy import make_toy_data
from libs.networks import ImageModel

EVERY = 3  # the toy data's default_label_interval
FRAMES = 31  # GT on frames 0, 3, ..., 30: 11 labels per video
QUICK = ["--size", "32", "-j", "0", "--device", "cpu"]
TRAIN_QUICK = QUICK + ["--epochs", "0", "--max-iters", "1", "--val-max-items", "1"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("protocol")
    data = root / "toy"
    make_toy_data(data, train_videos=2, val_videos=1, test_videos=1, frames=FRAMES, train_images=0,
                  val_images=0, height=32, width=40, label_every=EVERY)
    models = root / "models"
    models.mkdir()
    torch.manual_seed(0)
    torch.save(ImageModel().state_dict(), models / "image_pretrained_model.pth")
    return root


def poisoned_copy(toy, tmp_path, l):
    """A copy of the toy data whose GT outside ``labels[::l]`` (train and val videos) is no image."""
    data = tmp_path / f"toy_l{l}"
    shutil.copytree(toy / "toy", data)
    for video in ("video_00", "video_01", "video_02"):  # train 00, 01; val 02
        labels = sorted((data / "TOY_VIDEO" / "Annotations" / video).glob("*.png"))
        assert [p.stem for p in labels] == [f"{i:05d}" for i in range(0, FRAMES, EVERY)]
        for k, path in enumerate(labels):
            if k % l:
                path.write_bytes(b"outside the label budget: not an image")
    return data


def run(module, argv, capsys):
    rc = module.main([str(a) for a in argv])
    out = capsys.readouterr()
    assert rc == 0, f"{module.__name__} exited {rc}:\n{out.err[-2000:]}"
    return out.out


def data_flags(data, sets):
    return ["--dataset-config", data / "datasets.yaml", *sets]


TRAIN_SETS = ["--train-sets", "TOY_VIDEO:train", "--val-sets", "TOY_VIDEO:val"]
# train.py validates on all the GT of its val sets, as published: the unpoisoned test videos.
VIDEO_SETS = ["--train-sets", "TOY_VIDEO:train", "--val-sets", "TOY_VIDEO:test"]


def folder_files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def expected_folder(kept, pseudo):
    files = [f"TOY_VIDEO/{v}/{i:05d}.png" for v in ("video_00", "video_01") for i in sorted(kept + pseudo)]
    return sorted(files + ["pseudo_labels.json"])


@pytest.mark.slow
def test_published_commands_on_sparse_data_read_kept_labels_only(toy, tmp_path, capsys, one_thread):
    models, image = toy / "models", toy / "models" / "image_pretrained_model.pth"

    # Training RCRNet+NER on all the GT (unpoisoned data): published names and epoch numbering.
    saves = tmp_path / "video_all_gt"
    out = run(train, ["--data", toy / "toy", "--checkpoint", image, "--save-folder", saves,
                      *data_flags(toy / "toy", VIDEO_SETS), *TRAIN_QUICK, "--epochs", "1"], capsys)
    assert "epoch 0/1" in out and "epoch 1/1" in out
    assert sorted(p.name for p in saves.iterdir()) == ["video_current_best_model.pth", "video_epoch-1.pth",
                                                        "video_last_state.pth"]
    bare = torch.load(saves / "video_epoch-1.pth", weights_only=True)
    assert "state_dict" not in bare and "convgru_forward.reset_gate.weight" in bare

    # The first published sequence: l = 5 keeps frames 0, 15, 30; m = 1 labels frames 7 and 22.
    data = poisoned_copy(toy, tmp_path, 5)
    fgplg_saves, pseudo = tmp_path / "fgplg5", data / "pseudo-labels"
    out = run(train_fgplg, ["--data", data, "--label_interval", "5", "--checkpoint", image,
                            "--flownet-checkpoint", models / "FlowNet2_checkpoint.pth.tar", "--flow", "opencv",
                            "--save-folder", fgplg_saves, *data_flags(data, TRAIN_SETS), *TRAIN_QUICK], capsys)
    assert "train: 2 triplets" in out  # (0, 15, 30) of each train video
    shutil.copy(fgplg_saves / "fgplg_current_best_model.pth", models / "pseudo_label_generator_5.pth")
    run(generate_pseudo_labels, ["--data", data, "--checkpoint", models / "pseudo_label_generator_5.pth",
                                 "--pseudo-label-folder", pseudo, "--label_interval", "5",
                                 "--frame_between_label_num", "1",
                                 *data_flags(data, ["--sets", "TOY_VIDEO:train"]), *QUICK], capsys)
    assert folder_files(pseudo / "1_5") == expected_folder([0, 15, 30], [7, 22])
    for video in ("video_00", "video_01"):
        for i in (0, 15, 30):  # kept GT copied byte for byte
            name = f"{video}/{i:05d}.png"
            assert (pseudo / "1_5" / "TOY_VIDEO" / name).read_bytes() == \
                (data / "TOY_VIDEO" / "Annotations" / name).read_bytes()
    out = run(train, ["--data", data, "--checkpoint", image, "--pseudo-label-folder", pseudo / "1_5",
                      "--save-folder", tmp_path / "video_1_5", *data_flags(data, VIDEO_SETS), *TRAIN_QUICK], capsys)
    assert "10 labelled frames" in out  # 5 per train video: 3 kept + 2 pseudo

    # The second sequence with l = 2: kept frames 0, 6, ..., 30; m = 0, 1, 2 (step 6, 3, 2).
    data = poisoned_copy(toy, tmp_path, 2)
    fgplg_saves, pseudo = tmp_path / "fgplg2", data / "pseudo-labels"
    out = run(train_fgplg, ["--data", data, "--label_interval", "2", "--checkpoint", image,
                            "--flownet-checkpoint", models / "FlowNet2_checkpoint.pth.tar", "--flow", "opencv",
                            "--save-folder", fgplg_saves, *data_flags(data, TRAIN_SETS), *TRAIN_QUICK], capsys)
    assert "train: 6 triplets" in out  # kept 0,6,...,30: (0,6,12) (12,18,24) (18,24,30) per video
    kept = [0, 6, 12, 18, 24, 30]
    for m, positions in ((0, []), (1, [3, 9, 15, 21, 27]), (2, [2, 4, 8, 10, 14, 16, 20, 22, 26, 28])):
        run(generate_pseudo_labels, ["--data", data, "--checkpoint", fgplg_saves / "fgplg_current_best_model.pth",
                                     "--label_interval", "2", "--frame_between_label_num", m,
                                     "--pseudo-label-folder", pseudo,
                                     *data_flags(data, ["--sets", "TOY_VIDEO:train"]), *QUICK], capsys)
        folder = pseudo / f"{m}_2"
        assert folder_files(folder) == expected_folder(kept, positions)
        out = run(train, ["--data", data, "--checkpoint", image, "--pseudo-label-folder", folder,
                          "--save-folder", tmp_path / f"video_{m}_2", *data_flags(data, VIDEO_SETS), *TRAIN_QUICK],
                  capsys)
        assert f"{2 * (len(kept) + len(positions))} labelled frames" in out

    # pytest keeps the last runs' temporary folders: drop the checkpoints on success.
    for checkpoint in tmp_path.rglob("*.pth"):
        checkpoint.unlink()
