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
    for name in ("image_pretrained_model.pth", "pseudo_label_generator_best_model.pth", "video_best_model.pth"):
        assert (out / "models" / name).is_file()
