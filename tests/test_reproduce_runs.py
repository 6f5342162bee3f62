"""reproduce.py runs: a rerun that skips every stage and still prints the table, --only and --from, a
changed option that reruns its stage and the later ones, an interrupted training stage resumed
through its own --resume, a line of commands.sh run by hand giving the stage's output, and the
torchrun command of --gpus (built, not launched).

One toy run of paper_table1's five stages (module fixture); each test works on a copy of it made
of hard links (outputs are always renamed into place, so the copies never write through).
"""
import json
import re
import shlex

import numpy as np
import pytest
from PIL import Image
from reproduce_toy import link_copy, make_data, make_weights, toy_flags

import reproduce
from libs.pipeline.reproduce import build_parser, run

pytestmark = pytest.mark.slow  # every test trains (a step at 32x32, but RCRNet's 54M weights are written)

STAGES = ("fgplg", "pseudo_labels", "video", "inference", "evaluate")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("reproduce")
    data, weights = make_data(root, train=1), make_weights(root)
    lines = []
    result = run(build_parser().parse_args(toy_flags(data, weights, root / "run")), log=lines.append)
    assert result["status"] == 0, "\n".join(lines)
    return {"root": root, "data": data, "weights": weights, "run": root / "run", "lines": lines}


def rerun(base, out, *extra, log=None):
    lines = []
    result = run(build_parser().parse_args(toy_flags(base["data"], base["weights"], out, *extra)),
                 log=log or lines.append)
    return result, lines


def state(out):
    return json.loads((out / "state.json").read_text())["stages"]


def stage_lines(out):
    """The comment line before each stage command of commands.sh: ``# <date> <time> stage <name>...``."""
    return [line for line in (out / "commands.sh").read_text().splitlines()
            if re.match(r"# \d{4}-\d\d-\d\d \S+ stage ", line)]


def test_the_first_run_records_every_stage_and_ends_with_the_table(base):
    out, lines = base["run"], base["lines"]
    recorded = state(out)
    assert list(recorded) == list(STAGES) and all(r["status"] == "finished" for r in recorded.values())
    assert [r["id"] for r in recorded.values()] == [1, 2, 3, 4, 5]
    assert recorded["video"]["inputs"] == {"fgplg": 1, "pseudo_labels": 2}
    assert [line.split(" stage ")[1].split(":")[0].split(" (")[0] for line in stage_lines(out)] == list(STAGES)
    table = (out / "table.md").read_text()
    assert "| this run |" in table and table.rstrip("\n") in "\n".join(lines)
    report = json.loads((out / "evaluate" / "TOY_VIDEO_test.json").read_text())
    assert f"| {report['overall']['maxF']:.3f} | {report['overall']['S']:.3f} | {report['overall']['MAE']:.3f} |" \
        in table  # the run's row is its evaluation report, in the reference's order maxF, S, MAE
    assert lines[-1].startswith("stage times: fgplg ")


def test_a_rerun_skips_every_stage_and_still_prints_the_table(base, tmp_path):
    out = link_copy(base["run"], tmp_path / "run")
    before = (out / "commands.sh").read_text()
    result, lines = rerun(base, out)
    assert result["status"] == 0 and result["results"] == {}
    skipped = [line for line in lines if line.startswith("skipped ")]
    assert [line.split()[1] for line in skipped] == list(STAGES)
    assert all("with the same options" in line for line in skipped)
    assert (out / "commands.sh").read_text() == before
    assert result["table"] == (out / "table.md").read_text().rstrip("\n") and result["table"] in "\n".join(lines)
    assert [r["id"] for r in state(out).values()] == [1, 2, 3, 4, 5]


def test_only_then_a_plain_run_then_from(base, tmp_path):
    out = link_copy(base["run"], tmp_path / "run")
    result, lines = rerun(base, out, "--only", "inference")
    assert list(result["results"]) == ["inference"]
    assert any(line.startswith("skipped evaluate") and "not run (--only inference)" in line for line in lines)
    assert state(out)["inference"]["id"] == 6
    # evaluate used the maps of the inference run before: a plain run redoes evaluate only
    result, lines = rerun(base, out)
    assert list(result["results"]) == ["evaluate"]
    assert "running evaluate: stage inference before it ran again since" in lines
    result, lines = rerun(base, out, "--from", "inference")
    assert list(result["results"]) == ["inference", "evaluate"]
    assert "skipped video (train.py): kept as it is (--from inference)" in lines
    ids = {k: v["id"] for k, v in state(out).items()}
    assert [ids[k] for k in STAGES] == [1, 2, 3, 8, 9]
    assert len(stage_lines(out)) == 5 + 1 + 1 + 2


def test_a_changed_option_reruns_its_stage_and_the_later_ones(base, tmp_path):
    out = link_copy(base["run"], tmp_path / "run")
    result, lines = rerun(base, out, "--set", "inference.clip_len=2")
    assert list(result["results"]) == ["inference", "evaluate"]
    assert "running inference: its options changed: --clip_len (unset) -> 2" in lines
    assert "running evaluate: stage inference before it runs again" in lines
    assert [line.split()[1] for line in lines if line.startswith("skipped ")] == ["fgplg", "pseudo_labels", "video"]
    commands = [c for c in (out / "commands.sh").read_text().splitlines() if "inference.py" in c]
    assert len(commands) == 2 and "--clip_len" not in commands[0] and "--clip_len 2" in commands[1]


def test_an_interrupted_training_stage_continues_through_its_resume(base, tmp_path):
    out = link_copy(base["run"], tmp_path / "run")
    seen = []

    def interrupt_after_epoch_0(line):
        seen.append(line)
        if line.startswith("epoch 0/1"):  # written after the epoch's last state: as if killed then
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rerun(base, out, "--set", "video.epochs=1", log=interrupt_after_epoch_0)
    assert "running video: its options changed: --epochs 0 -> 1" in seen
    assert [line.split()[1] for line in seen if line.startswith("skipped ")] == ["fgplg", "pseudo_labels"]
    assert state(out)["video"]["status"] == "started" and (out / "video" / "video_last_state.pth").is_file()
    result, lines = rerun(base, out, "--set", "video.epochs=1")
    assert list(result["results"]) == ["video", "inference", "evaluate"]
    last = str(out / "video" / "video_last_state.pth")
    assert f"continuing video: continuing an interrupted run through --resume {last}" in lines
    assert any(line.startswith(f"resuming {last}: epochs up to 0 done") for line in lines)
    epochs = [line.split(":")[0] for line in lines if line.startswith("epoch ")]
    assert epochs == ["epoch 1/1"]  # epoch 0 is not trained again
    command = [c for c in (out / "commands.sh").read_text().splitlines() if "train.py" in c][-1]
    assert shlex.split(command)[-2:] == ["--resume", last]
    assert [h["epoch"] for h in result["results"]["video"][0]["history"]] == [1]
    assert state(out)["video"]["status"] == "finished"


def test_a_line_of_commands_sh_run_by_hand_gives_the_stage_output(base, tmp_path, monkeypatch):
    import inference

    out = base["run"]
    text = (out / "commands.sh").read_text()
    folder = next(line for line in text.splitlines() if line.startswith("cd "))[3:]
    words = shlex.split(next(line for line in text.splitlines() if "inference.py" in line))
    assert words[0] == "python" and words[1].endswith("inference.py")
    argv = words[2:]
    argv[argv.index("--results-folder") + 1] = str(tmp_path / "by_hand")
    monkeypatch.chdir(folder)
    assert inference.main(argv) == 0
    made = sorted(p.relative_to(out / "inference") for p in (out / "inference").rglob("*.png"))
    assert made and made == sorted(p.relative_to(tmp_path / "by_hand") for p in (tmp_path / "by_hand").rglob("*.png"))
    for rel in made:
        assert (tmp_path / "by_hand" / rel).read_bytes() == (out / "inference" / rel).read_bytes(), rel
    with Image.open(out / "inference" / made[0]) as im:
        assert len(np.unique(np.asarray(im))) > 10  # a real map (the seeded weights do not saturate): flags matter


def test_gpus_launches_the_training_stages_with_torchrun(base, tmp_path, monkeypatch):
    """The command is checked, not run: a fake subprocess.run records it."""
    import subprocess
    import sys

    from libs.pipeline.reproduce import launch
    from libs.pipeline.reproduce.stages import KINDS

    calls = []
    monkeypatch.setattr(launch.subprocess, "run", lambda cmd, check: calls.append(cmd)
                        or subprocess.CompletedProcess(cmd, 0))
    assert launch._launch(KINDS["video"], ["--epochs", "0"], 2, print) is None
    assert calls == [[sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                      str(KINDS["video"].script_path), "--epochs", "0"]]
    monkeypatch.setattr(launch.subprocess, "run", lambda cmd, check: subprocess.CompletedProcess(cmd, 3))
    with pytest.raises(launch.StageError, match="torchrun exited with status 3"):
        launch._launch(KINDS["fgplg"], [], 2, print)
    assert launch.shell_line(KINDS["inference"], ["--size", "32"], gpus=2).startswith("python ")
    out = link_copy(base["run"], tmp_path / "run")
    assert reproduce.main(toy_flags(base["data"], base["weights"], out, "--gpus", "2", "--device", "cuda",
                                    "--plan")) == (0 if sys.modules["torch"].cuda.device_count() >= 2 else 1)


def test_gpus_2_runs_a_training_stage_under_torchrun_on_the_cpu(base, tmp_path):
    """The real launch, two gloo processes on the CPU (DDP's numerics: tests/test_distributed.py)."""
    out = link_copy(base["run"], tmp_path / "run")
    result, lines = rerun(base, out, "--gpus", "2", "--only", "fgplg")
    assert result["status"] == 0 and result["results"] == {"fgplg": [None]}  # its own processes, not this one
    recorded = state(out)["fgplg"]
    assert recorded["status"] == "finished" and recorded["options"][0][:2] == ["--nproc_per_node", "2"]
    assert (out / "fgplg" / "fgplg_current_best_model.pth").is_file()
    command = [c for c in (out / "commands.sh").read_text().splitlines() if "train_fgplg.py" in c][-1]
    assert command.startswith("torchrun --standalone --nproc_per_node=2 ") and "--save-folder" in command
    # one process again: the processes are part of the stage's options, so it runs again
    result, lines = rerun(base, out, "--plan")
    assert any("fgplg" in line and "run: its options changed: --nproc_per_node 2 -> (unset)" in line
               for line in "\n".join(lines).splitlines())
