"""The pseudo-label folder ``<root>/<m>_<l>``: self-contained, guarded, never deleting others' files.

Generation with m = 0 needs no FGPLG (it writes the kept GT alone, the paper's 20%-GT
baseline), so these checks run ``generate_pseudo_labels.py`` in-process in a second.
"""
import json
import shutil

import pytest

import generate_pseudo_labels
import train
from libs.datasets.toy import make_toy_data

KEPT = ["00000.png", "00005.png", "00010.png"]  # l = 5 of frames 0..10, all annotated


@pytest.fixture
def toy(tmp_path):
    root = tmp_path / "toy"
    make_toy_data(root, train_videos=1, val_videos=1, test_videos=0, frames=11, train_images=0, val_images=0,
                  height=32, width=40)
    return root


def generate(toy, root, capsys, l=5, m=0, config=None):
    rc = generate_pseudo_labels.main([
        "--data", str(toy), "--dataset-config", str(config or toy / "datasets.yaml"), "--sets", "TOY_VIDEO:train",
        "--checkpoint", "none.pth", "--pseudo-label-folder", str(root), "--label_interval", str(l),
        "--frame_between_label_num", str(m), "--size", "32", "-j", "0", "--device", "cpu"])
    return rc, capsys.readouterr().err


def files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_m0_folder_holds_the_kept_gt_byte_for_byte(toy, tmp_path, capsys):
    root = tmp_path / "pseudo"
    assert generate(toy, root, capsys)[0] == 0
    folder = root / "0_5"
    assert files(folder) == ["TOY_VIDEO/video_00/" + n for n in KEPT] + ["pseudo_labels.json"]
    for name in KEPT:
        assert (folder / "TOY_VIDEO" / "video_00" / name).read_bytes() == \
            (toy / "TOY_VIDEO" / "Annotations" / "video_00" / name).read_bytes()
    manifest = json.loads((folder / "pseudo_labels.json").read_text())
    assert manifest["complete"] is True and (manifest["label_interval"], manifest["frame_between_label_num"]) == (5, 0)
    assert manifest["datasets"]["TOY_VIDEO"]["videos"]["video_00"] == {"kept": KEPT, "pseudo": []}
    assert generate(toy, root, capsys)[0] == 0  # a re-run into its own folder is fine
    assert files(folder) == ["TOY_VIDEO/video_00/" + n for n in KEPT] + ["pseudo_labels.json"]


def test_refuses_a_folder_it_did_not_make_and_leaves_it_alone(toy, tmp_path, capsys):
    root = tmp_path / "pseudo"
    (root / "0_5").mkdir(parents=True)
    (root / "0_5" / "notes.txt").write_text("mine")
    rc, err = generate(toy, root, capsys)
    assert rc == 2 and str(root / "0_5") in err and "pseudo_labels.json" in err
    assert files(root) == ["0_5/notes.txt"] and (root / "0_5" / "notes.txt").read_text() == "mine"


def test_refuses_a_folder_made_with_other_l_m_or_another_config(toy, tmp_path, capsys):
    root = tmp_path / "pseudo"
    assert generate(toy, root, capsys)[0] == 0
    shutil.move(root / "0_5", root / "0_4")  # its manifest still says l = 5
    rc, err = generate(toy, root, capsys, l=4)
    assert rc == 2 and "--label_interval 5" in err and str(root / "0_4") in err
    config = tmp_path / "other.yaml"
    config.write_text((toy / "datasets.yaml").read_text().replace("default_label_interval: 1",
                                                                  "default_label_interval: 2"))
    shutil.move(root / "0_4", root / "0_5")
    rc, err = generate(toy, root, capsys, config=config)
    assert rc == 2 and "another dataset config" in err and "'TOY_VIDEO'" in err


def test_refuses_a_pseudo_label_folder_as_the_root(toy, tmp_path, capsys):
    root = tmp_path / "pseudo"
    assert generate(toy, root, capsys)[0] == 0
    rc, err = generate(toy, root / "0_5", capsys)
    assert rc == 2 and "its parent" in err and not (root / "0_5" / "0_5").exists()


def test_never_deletes_a_file_it_did_not_write(toy, tmp_path, capsys):
    root = tmp_path / "pseudo"
    assert generate(toy, root, capsys)[0] == 0
    mine = root / "0_5" / "TOY_VIDEO" / "video_00" / "my_notes.txt"
    mine.write_text("keep me")
    stale = root / "0_5" / "TOY_VIDEO" / "video_00" / "00010.png"
    (toy / "TOY_VIDEO" / "Annotations" / "video_00" / "00010.png").unlink()  # the GT changed since
    assert generate(toy, root, capsys)[0] == 0
    assert mine.read_text() == "keep me" and not stale.exists()  # its own stale copy goes, the user's file stays


def test_training_refuses_an_unfinished_folder(toy, tmp_path, capsys):
    root = tmp_path / "pseudo"
    assert generate(toy, root, capsys)[0] == 0
    manifest = root / "0_5" / "pseudo_labels.json"
    manifest.write_text(manifest.read_text().replace('"complete": true', '"complete": false'))
    rc = train.main(["--data", str(toy), "--dataset-config", str(toy / "datasets.yaml"), "--train-sets",
                     "TOY_VIDEO:train", "--val-sets", "TOY_VIDEO:val", "--pseudo-label-folder", str(root / "0_5"),
                     "--checkpoint", "none", "--save-folder", str(tmp_path / "save"), "--size", "32", "-j", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and "did not finish" in err and not (tmp_path / "save").exists()
