"""Paper tables (tables.py): layout, best-per-column marks, protocol in the caption, and the
same table from evaluation and from saved JSON reports."""
import json

import numpy as np
import pytest
from PIL import Image

import tables
from libs.pipeline.evaluation import EvaluationError
from libs.pipeline.evaluation.tables import paper_table, resolve_protocol


def rep(protocol="davsod", **overall):
    return {"protocol": protocol, "overall": overall, "videos": {}}


REPORTS = {
    "Ours": {"DAVIS": rep(S=0.9004, maxF=0.85, MAE=0.031), "FBMS": rep(S=0.80, maxF=0.79, MAE=0.05)},
    "Old_v1": {"DAVIS": rep(S=0.8996, maxF=0.88, MAE=0.029)},
    "Base": {"DAVIS": rep(S=0.70, maxF=0.60, MAE=0.10), "FBMS": rep(S=0.81, maxF=0.70, MAE=0.04)},
}


def body_rows(markdown):
    return [[c.strip() for c in line.strip("|").split("|")] for line in markdown.splitlines()[4:]]


def test_markdown_marks_the_best_of_each_column():
    text = paper_table(REPORTS, ["Ours", "Old_v1", "Base"], ["DAVIS", "FBMS"], protocol="davsod")
    lines = text.splitlines()
    assert lines[0].startswith("Table: S, maxF, MAE on DAVIS, FBMS.") and "Protocol: davsod" in lines[0]
    assert "first and last GT frame" in lines[0]
    assert lines[2] == "| Method | DAVIS S ↑ | DAVIS maxF ↑ | DAVIS MAE ↓ | FBMS S ↑ | FBMS maxF ↑ | FBMS MAE ↓ |"
    assert body_rows(text) == [
        # S 0.9004 and 0.8996 both print 0.900: a tie, both bold; MAE: lowest is best
        ["Ours", "**0.900**", "0.850", "0.031", "0.800", "**0.790**", "0.050"],
        ["Old_v1", "**0.900**", "**0.880**", "**0.029**", "-", "-", "-"],
        ["Base", "0.700", "0.600", "0.100", "**0.810**", "0.700", "**0.040**"],
    ]


def test_latex_groups_columns_per_dataset_and_escapes_names():
    text = paper_table(REPORTS, ["Ours", "Old_v1"], ["DAVIS", "FBMS"], metrics=["maxF", "MAE"], fmt="latex",
                       decimals=2, protocol="davsod")
    assert r"\multicolumn{2}{c}{DAVIS} & \multicolumn{2}{c}{FBMS} \\" in text
    assert r"\cmidrule(lr){2-3} \cmidrule(lr){4-5}" in text
    assert r"\begin{tabular}{lcccc}" in text
    # FBMS has one value per column here: nothing to compare, nothing bold
    assert r"Ours & 0.85 & \textbf{0.03} & 0.79 & 0.05 \\" in text
    # 0.031 and 0.029 both print 0.03: a tie; FBMS of Old_v1 is missing
    assert r"Old\_v1 & \textbf{0.88} & \textbf{0.03} & -- & -- \\" in text
    assert r"MAE$\downarrow$" not in text and r"$\mathcal{M}$$\downarrow$" in text
    assert r"\caption{maxF, MAE on DAVIS, FBMS. Protocol: davsod" in text


def test_decay_columns_are_lower_is_better():
    reports = {"A": {"D": rep(**{"J&F-Mean": 0.8, "J-Decay": 0.05})}, "B": {"D": rep(**{"J&F-Mean": 0.7, "J-Decay": -0.01})}}
    rows = body_rows(paper_table(reports, ["A", "B"], ["D"], metrics=["J&F-Mean", "J-Decay"], protocol="davsod"))
    assert rows == [["A", "**0.800**", "0.050"], ["B", "0.700", "**-0.010**"]]


def test_bad_metrics_and_mixed_protocols_are_errors():
    with pytest.raises(EvaluationError, match="unknown Smax"):
        paper_table(REPORTS, ["Ours"], ["DAVIS"], metrics=["Smax"])
    with pytest.raises(EvaluationError, match="wF in none of the reports"):
        paper_table(REPORTS, ["Ours"], ["DAVIS"], metrics=["S", "wF"])
    with pytest.raises(EvaluationError, match="mix protocols"):
        resolve_protocol(None, {"a.json": rep("davsod"), "b.json": {"overall": {}}})
    with pytest.raises(EvaluationError, match="b.json: report computed with protocol 'per-video'"):
        resolve_protocol("davsod", {"a.json": rep("davsod"), "b.json": {"overall": {}}})
    assert resolve_protocol(None, {}) == "per-video"


# ----------------------------------------------------------------------------- the command

def write_png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


@pytest.fixture
def two_methods(tmp_path):
    """A release <gt>/<video>/ground-truth/ and two methods' results <method>/REL/<video>/."""
    rng = np.random.default_rng(0)
    for video in ("a", "b"):
        for i in range(3):
            gt = np.zeros((12, 16), np.uint8)
            gt[2:8, 3:11] = 255
            write_png(tmp_path / "REL" / video / "ground-truth" / f"{i}.png", gt)
            write_png(tmp_path / "good" / "REL" / video / f"{i}.png",
                      np.clip(gt * 0.9 + rng.normal(10, 10, gt.shape), 0, 255).astype(np.uint8))
            write_png(tmp_path / "noisy" / "REL" / video / f"{i}.png", rng.integers(0, 256, gt.shape, dtype=np.uint8))
    return tmp_path


def test_command_evaluates_then_rebuilds_the_same_table_from_reports(two_methods, capsys):
    t = two_methods
    common = ["--protocol", "davsod", "--metrics", "S,maxF,maxE,MAE,J&F-Mean", "-j", "0", "--no-progress"]
    assert tables.main(["--method", f"Good={t / 'good'}", "--method", f"Noisy={t / 'noisy'}",
                        "--gt", f"REL={t / 'REL'}", "--save-reports", str(t / "reports"),
                        "--out", str(t / "table.md")] + common) == 0
    first = capsys.readouterr().out
    assert first == (t / "table.md").read_text()
    good, noisy = body_rows(first)
    assert good[0] == "Good" and all(c.startswith("**") for c in good[1:])  # better on every column
    assert noisy[0] == "Noisy" and not any(c.startswith("**") for c in noisy[1:])
    saved = json.loads((t / "reports" / "Good__REL.json").read_text())
    assert saved["protocol"] == "davsod" and set(saved["videos"]) == {"a", "b"}
    assert good[1] == f"**{saved['overall']['S']:.3f}**"

    assert tables.main(["--report", f"Good:REL={t / 'reports' / 'Good__REL.json'}",
                        "--report", f"Noisy:REL={t / 'reports' / 'Noisy__REL.json'}",
                        "--metrics", "S,maxF,maxE,MAE,J&F-Mean"]) == 0
    assert capsys.readouterr().out == first  # protocol taken from the reports


@pytest.mark.parametrize("args, needle", [
    ([], "nothing to tabulate"),
    (["--method", "NoEquals", "--gt", "X=y"], "--method 'NoEquals': expected LEFT=RIGHT"),
    (["--report", "A:B=missing.json"], "missing.json: report not found"),
    (["--method", "A=nowhere", "--gt", "REL=x"], "--method A=nowhere: results folder not found"),
    (["--method", "A=a", "--dataset", "D:val", "--gt", "D=x"], "dataset(s) given twice: D"),
])
def test_command_errors_are_one_line(two_methods, capsys, monkeypatch, args, needle):
    monkeypatch.chdir(two_methods)
    assert tables.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
