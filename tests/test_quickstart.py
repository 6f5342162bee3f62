"""The quickstart's short preset: every stage runs and the video model learns; the same command
again skips every stage and prints the same table and last line (reproduce.py --experiment
quickstart underneath)."""
import argparse
import re

import pytest
from PIL import Image

from libs.pipeline.quickstart import run


@pytest.mark.slow
def test_fast_quickstart_runs_every_stage_and_the_video_model_learns(tmp_path):
    lines = []
    out = tmp_path / "qs"
    args = argparse.Namespace(out=str(out), seed=0, preset="fast", device="cpu", keep=False)
    result = run(args, log=lambda *a: lines.append(" ".join(map(str, a))))

    history = result["video_history"]
    untrained, trained = history[0], history[-1]
    assert "train_loss" not in untrained and len(history) >= 2  # --eval-first: the model before video training
    assert trained["val"]["loss"] < untrained["val"]["loss"]
    assert trained["val"]["S"] > untrained["val"]["S"]

    assert lines[-1].startswith("toy test: S=") and "(all-zero map: S=" in lines[-1]
    assert result["S_zero"] < 0.6 and result["MAE_zero"] > 0.05  # the toy objects are not empty
    maps = sorted((out / "inference" / "TOY_VIDEO").rglob("*.png"))
    overlays = sorted((out / "inference" / "overlays" / "TOY_VIDEO").rglob("*.jpg"))
    assert maps and len(overlays) == len(maps)
    with Image.open(maps[0]) as im:
        assert im.mode == "L" and im.size == (128, 96)
    for name in ("pretrain/image_pretrained_model.pth", "fgplg/fgplg_current_best_model.pth",
                 "video/video_current_best_model.pth"):
        assert (out / name).is_file()
    # The toy data is annotated on every 2nd frame: kept GT on frames 0, 10, 20 (l = 5) and one
    # pseudo-label per gap, 5 frames on (m = 1, step (5 x 2) // 2), on unannotated frames.
    folder = out / "pseudo_labels" / "1_5" / "TOY_VIDEO" / "video_00"
    assert sorted(p.name for p in folder.iterdir()) == ["00000.png", "00005.png", "00010.png", "00015.png",
                                                       "00020.png"]
    assert any(line.startswith("e.g. TOY_VIDEO/video_00: kept GT on frames 00000, 00010, 00020") for line in lines)
    # the data part of the plan, once stage data has written it: 6 train videos of 30 frames, GT on every 2nd
    assert re.search(r"\n  TOY_VIDEO:train +train +6/6 +180 +90 +2/2 ", "\n".join(lines))
    table = (out / "table.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| this run |"))
    assert row.endswith(f"| {result['S']:.3f} | {result['MAE']:.3f} |")  # maxF, S, MAE: the evaluation's
    reference = next(line for line in table.splitlines() if line.startswith("| quickstart on the development"))
    assert reference.replace("*", "").endswith("| 0.907 | 0.881 | 0.041 |")  # quickstart.yaml's reference

    # The same command again into the same folder: every stage is skipped, the table and the last line
    # are printed again with the same numbers (the README's first command is safe to repeat).
    again = []
    second = run(args, log=lambda *a: again.append(" ".join(map(str, a))))
    skipped = [line.split()[1] for line in again if line.startswith("skipped ")]
    assert skipped == ["data", "pretrain", "fgplg", "pseudo_labels", "video", "inference", "evaluate"]
    assert second["video_history"] is None and second["reproduce"]["results"] == {}
    assert second["reproduce"]["table"] == table.rstrip("\n") and again[-1] == lines[-1]

    def overall(log):  # the metrics table's "overall" rows: printed again from the saved report
        return [line for line in "\n".join(log).splitlines() if line.startswith("overall ")]

    assert overall(lines) and overall(again) == overall(lines)


def test_out_folder_with_a_users_file_is_refused_and_left_alone(tmp_path, capsys):
    import quickstart

    (tmp_path / "notes.txt").write_text("mine")
    assert quickstart.main(["--out", str(tmp_path), "--preset", "fast"]) == 2
    assert "is not a previous run" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"] and (tmp_path / "notes.txt").read_text() == "mine"


def test_a_folder_of_the_old_quickstart_loses_only_its_listed_outputs(tmp_path):
    import json

    from libs.pipeline.quickstart import LEGACY_MARKER, adopt_legacy_folder

    (tmp_path / LEGACY_MARKER).write_text(json.dumps({"outputs": ["data", "models", "results"]}))
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "old.pth").write_bytes(b"x")
    (tmp_path / "my_results").mkdir()
    (tmp_path / "my_results" / "keep.txt").write_text("mine")
    lines = []
    adopt_legacy_folder(tmp_path, log=lines.append)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_results", "state.json"] and len(lines) == 1
    assert (tmp_path / "my_results" / "keep.txt").read_text() == "mine"
    # now a run folder of the quickstart: the run is not refused
    from libs.pipeline.reproduce.state import check_run_folder

    check_run_folder(tmp_path, "quickstart")
