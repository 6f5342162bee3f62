"""The quickstart's short preset: every stage runs and the video model learns."""
import argparse

import pytest
from PIL import Image

from libs.pipeline.quickstart import run


@pytest.mark.slow
def test_fast_quickstart_runs_every_stage_and_the_video_model_learns(tmp_path):
    lines = []
    out = tmp_path / "qs"
    result = run(argparse.Namespace(out=str(out), seed=0, preset="fast", device="cpu", keep=False),
                 log=lambda *a: lines.append(" ".join(map(str, a))))

    history = result["video_history"]
    untrained, trained = history[0], history[-1]
    assert "train_loss" not in untrained and len(history) >= 2  # --eval-first: the model before video training
    assert trained["val"]["loss"] < untrained["val"]["loss"]
    assert trained["val"]["S"] > untrained["val"]["S"]

    assert lines[-1].startswith("toy test: S=") and "(all-zero map: S=" in lines[-1]
    assert result["S_zero"] < 0.6 and result["MAE_zero"] > 0.05  # the toy objects are not empty
    maps = sorted((out / "results" / "TOY_VIDEO").rglob("*.png"))
    overlays = sorted((out / "results" / "overlays" / "TOY_VIDEO").rglob("*.jpg"))
    assert maps and len(overlays) == len(maps)
    with Image.open(maps[0]) as im:
        assert im.mode == "L" and im.size == (128, 96)
    for name in ("image_pretrained_model.pth", "fgplg_current_best_model.pth", "video_current_best_model.pth"):
        assert (out / "models" / name).is_file()
    # The toy data is annotated on every 2nd frame: kept GT on frames 0, 10, 20 (l = 5) and one
    # pseudo-label per gap, 5 frames on (m = 1, step (5 x 2) // 2), on unannotated frames.
    folder = out / "pseudo-labels" / "1_5" / "TOY_VIDEO" / "video_00"
    assert sorted(p.name for p in folder.iterdir()) == ["00000.png", "00005.png", "00010.png", "00015.png",
                                                       "00020.png"]


def test_out_folder_with_a_users_file_is_refused_and_left_alone(tmp_path, capsys):
    import quickstart

    (tmp_path / "notes.txt").write_text("mine")
    assert quickstart.main(["--out", str(tmp_path), "--preset", "fast"]) == 2
    assert "not a previous quickstart run" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"] and (tmp_path / "notes.txt").read_text() == "mine"


def test_a_rerun_removes_only_its_own_outputs(tmp_path):
    from libs.pipeline.quickstart import MARKER, prepare_out

    prepare_out(tmp_path, keep=False)  # an empty folder becomes a quickstart folder
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "old.pth").write_bytes(b"x")
    (tmp_path / "my_results").mkdir()
    (tmp_path / "my_results" / "keep.txt").write_text("mine")
    prepare_out(tmp_path, keep=True)
    assert (tmp_path / "models" / "old.pth").exists()  # --keep keeps the previous outputs
    prepare_out(tmp_path, keep=False)
    assert not (tmp_path / "models").exists() and (tmp_path / "my_results" / "keep.txt").read_text() == "mine"
    assert (tmp_path / MARKER).is_file()
