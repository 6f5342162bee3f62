"""The two measurement commands of key-frame labelling: the extrapolation table and the speed
benchmark (structure and counts only: no speed is asserted)."""
import json

import numpy as np
import pytest
from keyframe_toys import make_user_video, score

from libs.benchmark import extrapolation


def test_extrapolation_table_groups_frames_by_distance_to_the_key_frame_used(tmp_path, capsys):
    frames_root, masks_root = tmp_path / "F", tmp_path / "M"
    _, masks = make_user_video(frames_root, masks_root, "v", 12, {i: "gray" for i in range(12)}, seed=9)
    report = tmp_path / "r.json"
    assert extrapolation.main(["--input", str(frames_root), "--labels", str(masks_root), "--keys", "4,8",
                               "--method", "copy", "--size", "32", "--json", str(report)]) == 0
    rows = json.loads(report.read_text())["rows"]
    counts = {(r["distance"], r["kind"]): r["frames"] for r in rows}
    # between 4 and 8: 5, 7 at distance 1, 6 at 2 (a tie: from 4); outside: 0-3 from 4, 9-11 from 8.
    assert counts == {(1, "interpolated"): 2, (2, "interpolated"): 1, (1, "extrapolated"): 2,
                      (2, "extrapolated"): 2, (3, "extrapolated"): 2, (4, "extrapolated"): 1}
    far = next(r for r in rows if r["distance"] == 4)  # frame 0, copied from key frame 4
    expected = score(masks[4] * 255, masks[0] * 255)
    assert far["J"] == pytest.approx(expected["J"]) and far["MAE"] == pytest.approx(expected["MAE"])
    assert "extrapolated, farther: 3 frames" in capsys.readouterr().out  # distances 3, 3, 4


def test_extrapolation_needs_every_mask(tmp_path, capsys):
    make_user_video(tmp_path / "F", tmp_path / "M", "v", 6, {0: "gray", 5: "gray"}, seed=9)
    assert extrapolation.main(["--input", str(tmp_path / "F"), "--labels", str(tmp_path / "M"), "--keys", "0,5",
                               "--method", "copy"]) == 2
    assert "every frame needs its mask" in capsys.readouterr().err


@pytest.mark.slow
def test_speed_benchmark_runs_the_real_command_and_reports_its_counts(tmp_path):
    from libs.benchmark import keyframes

    report = keyframes.run(keyframes.build_parser().parse_args(
        ["--size", "32", "--frames", "30", "--short", "10", "--key-every", "10", "--m", "1", "--skip-warp",
         "--threads", "1", "--json", str(tmp_path / "b.json")]), log=lambda _: None)
    rows = {r["run"]: r for r in report["rows"]}
    assert rows["fgplg"]["count"] == 3  # key frames 0, 10, 20, 29: one mask per gap
    assert rows["fgplg, short video"]["count"] == 1  # key frames 0, 9
    assert all(r["peak_mib"] >= r["startup_mib"] > 0 and r["fps"] > 0 for r in rows.values())
    assert json.loads((tmp_path / "b.json").read_text())["machine"]["torch_threads"] == 1
    assert np.isfinite(rows["fgplg"]["wall"])
