"""benchmark.py in its CI-sized setting: the published and our execution orders agree, the report is complete.

Speed figures are not asserted here (they live in the README with their command).
"""
import json

import pytest
import torch

from libs.pipeline import benchmark

# One thread: on a shared 2-core box, two OpenMP threads stall whenever another process holds a core.
CI_ARGS = ["--device", "cpu", "--threads", "1", "--size", "64", "--iters", "1", "--warmup", "0",
           "--skip-e2e", "--skip-train"]


def test_defaults_are_the_documented_ones():
    args = benchmark.build_parser().parse_args([])
    assert (args.size, args.clip_len, args.batch, args.device, args.amp, args.compile) == (448, 4, 1, "auto", False,
                                                                                             False)


def test_ci_sized_run_agrees_and_reports_every_field(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert benchmark.main([*CI_ARGS, "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert {"command", "machine", "settings", "memory_method", "timing_method", "inference", "e2e", "train",
            "max_rss_mib"} <= report.keys()
    assert report["e2e"] is None and report["train"] is None
    assert {"cpu", "logical_cpus", "torch_threads", "torch", "device"} <= report["machine"].keys()
    inf = report["inference"]
    assert [r["key"] for r in inf["variants"]] == ["published", "batched", "batched+cl", "batched+cl+foldbn"]
    assert inf["ours"] == "batched+cl+foldbn"
    for row in inf["variants"]:
        assert row["latency_ms_median"] > 0 and row["frames_per_s"] > 0 and row["speedup_vs_published"] > 0
        assert row["peak_mem_mib"] > 0
        assert len(row["latency_ms_all"]) == 1
        # (a) the published frame-by-frame order and (b) ours compute the same maps.
        assert row["max_abs_diff_logits"] < 1e-4 and row["max_abs_diff_probs"] < 1e-4
        assert row["within_1_255"] == 1.0
    published = inf["variants"][0]
    assert published["max_abs_diff_logits"] == 0.0 and published["speedup_vs_published"] == 1.0
    assert inf["max_abs_diff"] < 1e-4
    assert {"speedup", "speedup_paired_median", "speedup_batched_contiguous", "target"} <= inf.keys()
    assert inf["variants"][1]["speedup_paired_median"] > 0
    assert inf["target"]["met"] == (inf["speedup"] >= 1.2 and inf["max_abs_diff"] <= 1e-4)
    text = capsys.readouterr().out
    assert "| variant |" in text and "published" in text and "Target >= 1.2x with maps within 0.0001" in text


def test_markdown_shows_a_failed_variant_instead_of_crashing():
    report = {
        "command": "python benchmark.py", "memory_method": "m", "timing_method": "t", "max_rss_mib": 1.0,
        "max_rss_growth_mib": 0.5, "e2e": None, "train": None,
        "machine": {"cpu": "x", "logical_cpus": 1, "torch_threads": 1, "device": "cpu", "torch": "2"},
        "settings": {"batch": 1, "clip_len": 4, "size": 64, "output_stride": 16, "weights": "w", "weights_mib": 1.0,
                     "iters": 1, "warmup": 0},
        "inference": {
            "ours": "batched", "speedup": 2.0, "speedup_paired_median": 2.0, "speedup_batched_contiguous": 2.0,
            "max_abs_diff": 0.0,
            "max_abs_diff_probs": 0.0, "max_abs_diff_logits": 0.0,
            "target": {"speedup": 1.2, "tolerance": 1e-4, "met": True},
            "variants": [{"key": "batched+compile", "error": "torch.compile failed: no compiler"}],
        },
    }
    assert "torch.compile failed: no compiler" in benchmark.format_markdown(report)


@pytest.mark.parametrize("argv", [["--size", "0"], ["--warmup", "-1"], ["--threads", "0"]])
def test_bad_values_are_one_line_errors(argv, capsys):
    assert benchmark.main(["--device", "cpu", *argv]) == 2
    assert capsys.readouterr().err.startswith("benchmark.py: error: ")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_a_one_line_error(capsys):
    assert benchmark.main(["--device", "cuda", "--size", "64"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err
