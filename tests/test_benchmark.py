"""The benchmark package: its arithmetic on hand-computed numbers, its CPU-feature detection on
fake /proc/cpuinfo texts, its variants against the published order, and the CI-sized command.

No speed is asserted (figures live in docs/speed.md with their machine and command).
"""
import json
import os
import subprocess
import sys
import time

import pytest
import torch
from torch import nn

from libs.benchmark import cli, measurement, report, variants, workloads
from libs.networks import VideoModel
from libs.utils import machine
from libs.utils.reference_weights import fill_reference_weights, reference_clip

# One thread: on a shared 2-core box, two OpenMP threads stall whenever another process holds a core.
CI_ARGS = ["--device", "cpu", "--threads", "1", "--size", "64", "--iters", "1", "--warmup", "0",
           "--skip-e2e", "--skip-train"]
# Every flag the docs (docs/speed.md, benchmark.py's docstring) rely on.
FLAGS = ["--size", "--clip-len", "--batch", "--os", "--checkpoint", "--logit-std", "--seed", "--device",
         "--threads", "--iters", "--warmup", "--amp", "--compile", "--proposals", "--skip-e2e", "--e2e-clips",
         "--e2e-workers", "--skip-train", "--json"]

XEON_SPR = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu vme sse sse2 avx avx2 avx512f avx512bw avx512_bf16 avx512_fp16 amx_bf16 amx_tile amx_int8
vmx flags\t: vnmi preemption_timer posted_intr

processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu vme sse sse2 avx avx2 avx512f avx512bw avx512_bf16 avx512_fp16 amx_bf16 amx_tile amx_int8
vmx flags\t: vnmi preemption_timer posted_intr
bugs\t\t: spectre_v1 spectre_v2
"""
EPYC_AVX2 = """processor\t: 0
model name\t: AMD EPYC 7B12
flags\t\t: fpu sse sse2 avx f16c avx2 fma bmi2 avx512_bf16_emulated
"""
ARM_BF16 = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes sha2 crc32 atomics sve bf16 i8mm
Hardware\t: Neoverse V1
"""


# ------------------------------------------------------------------ CPU features


@pytest.mark.parametrize("text, model, flags, bf16, amx", [
    (XEON_SPR, "Intel(R) Xeon(R) Platinum 8480+",
     ["avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16"], True, True),
    # Whole flags only: the made-up "avx512_bf16_emulated" is not avx512_bf16.
    (EPYC_AVX2, "AMD EPYC 7B12", ["avx2"], False, False),
    (ARM_BF16, "Neoverse V1", ["bf16"], True, False),
])
def test_cpu_features_are_parsed_from_cpuinfo(text, model, flags, bf16, amx):
    name, found = machine.parse_cpuinfo(text)
    assert name == model
    assert machine.cpu_features(found) == {"cpu_flags": flags, "native_bf16": bf16, "amx": amx}


def test_unreadable_cpuinfo_gives_unknown_features(tmp_path):
    assert machine.read_cpuinfo(tmp_path / "missing") is None
    assert machine.parse_cpuinfo("") == (None, None)
    assert machine.cpu_features(None) == {"cpu_flags": None, "native_bf16": None, "amx": None}


def test_machine_info_and_markdown_header_carry_the_cpu_features():
    info = machine.machine_info(torch.device("cpu"), cpuinfo=EPYC_AVX2)
    assert (info["cpu"], info["cpu_flags"], info["native_bf16"], info["amx"]) == ("AMD EPYC 7B12", ["avx2"], False,
                                                                                   False)
    assert info["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    text = report.format_markdown(_report(info))
    assert "CPU features: avx2; native bf16: no; AMX: no" in text.splitlines()[3]


# ------------------------------------------------------------------ measurement


def test_peak_memory_is_the_running_maximum_of_allocations():
    meter = measurement.Meter(torch.device("cpu"))
    n = 1 << 20  # float32: 4 MiB

    def two_in_turn():
        a = torch.ones(n)
        total = float(a[0])
        del a
        b = torch.ones(n)  # reuses nothing: the running sum frees a first, so the peak is one tensor
        return total + float(b[0])

    peak, result = meter.peak(two_in_turn)
    if peak is None:
        pytest.skip("this PyTorch's profiler exposes no allocator events")
    assert result == 2.0
    assert 4 * 2**20 <= peak < 4 * 2**20 + 64 * 1024
    assert measurement.mib(peak) == 4.0 and measurement.mib(None) is None


def test_timer_measures_the_call():
    seconds, result = measurement.Meter(torch.device("cpu")).time(lambda: time.sleep(0.05) or "done")
    assert result == "done" and seconds >= 0.05


def test_summary_and_ratios_on_hand_computed_times():
    # published [4, 6, 9] s: median 6; ours [1, 3, 2]: median 2, per-round ratios 4, 2, 4.5.
    assert measurement.speedup([4.0, 6.0, 9.0], [1.0, 3.0, 2.0]) == 3.0
    assert measurement.paired_speedup([4.0, 6.0, 9.0], [1.0, 3.0, 2.0]) == 4.0
    assert measurement.summarize([1.0, 3.0, 2.0], frames=4) == {
        "latency_ms_median": 2000.0, "latency_ms_min": 1000.0, "latency_ms_all": [1000.0, 3000.0, 2000.0],
        "frames_per_s": 2.0}
    with pytest.raises(ValueError):  # per-round ratios need the same rounds
        measurement.paired_speedup([1.0, 2.0], [1.0])


def test_map_agreement_on_hand_computed_logits():
    reference = torch.zeros(1, 1, 1, 2, 2)
    logits = torch.tensor([0.0, 0.015, 0.0165, -1.0]).reshape(1, 1, 1, 2, 2)
    # sigmoid differences from 0.5: 0, 0.0037499, 0.0041249, 0.5 - 1 / (1 + e) = 0.2310586; 1/255 = 0.0039216.
    got = measurement.compare_maps(logits, reference)
    assert got["max_abs_diff_logits"] == pytest.approx(1.0)
    assert got["max_abs_diff_probs"] == pytest.approx(0.2310586, abs=1e-6)
    assert got["within_1_255"] == 0.5


# ------------------------------------------------------------------ report


def _variant(key, times, logits=None, paired=True, amp=False, error=None):
    return variants.Variant(key, f"{key} label", None, amp=amp, paired=paired, times=list(times), logits=logits,
                            peak_bytes=3 * 2**20 + 2**19, error=error)


def _measured(ours_times=(1.0, 3.0, 2.0), ours_offset=0.0):
    maps = torch.zeros(1, 1, 1, 2, 2)
    return [
        _variant("published", [4.0, 6.0, 9.0], maps),
        _variant("batched", [2.0, 3.0, 4.5], maps),
        _variant(variants.OURS, ours_times, maps + ours_offset),
        _variant(variants.OURS + "+amp", [0.5, 1.5, 1.0], torch.tensor([0.0, 0.015, 0.0165, -1.0]).reshape(maps.shape),
                 paired=False, amp=True),
        _variant(variants.OURS + "+compile", [], paired=False, error="torch.compile failed: no compiler"),
    ]


def test_inference_report_rows_and_ratios_on_hand_computed_numbers():
    inf = report.inference_report(_measured(), variants.OURS, frames=4)
    rows = {r["key"]: r for r in inf["variants"]}
    assert [r["key"] for r in inf["variants"]] == ["published", "batched", variants.OURS, variants.OURS + "+amp",
                                                   variants.OURS + "+compile"]
    assert rows["published"]["speedup_vs_published"] == 1.0 and rows["published"]["max_abs_diff_logits"] == 0.0
    assert (rows["batched"]["speedup_vs_published"], rows["batched"]["speedup_paired_median"]) == (2.0, 2.0)
    ours = rows[variants.OURS]
    assert (ours["speedup_vs_published"], ours["speedup_paired_median"], ours["frames_per_s"]) == (3.0, 4.0, 2.0)
    assert ours["peak_mem_mib"] == 3.5
    amp = rows[variants.OURS + "+amp"]
    assert amp["speedup_vs_published"] == 6.0 and "speedup_paired_median" not in amp  # not timed with published
    assert (inf["speedup"], inf["speedup_paired_median"], inf["speedup_batched_contiguous"]) == (3.0, 4.0, 2.0)
    assert inf["amp"] == {"key": variants.OURS + "+amp", "within_1_255": 0.5, "target": 0.999, "met": False}
    assert rows[variants.OURS + "+compile"]["error"] == "torch.compile failed: no compiler"


@pytest.mark.parametrize("ours_times, offset, met", [
    ((1.0, 3.0, 2.0), 1e-6, True),      # 3x, maps within 1e-4 (logit offset 1e-6 -> probs 2.5e-7)
    ((1.0, 3.0, 2.0), 0.01, False),     # 3x, but probs differ by 0.0025
    ((5.0, 5.5, 6.0), 0.0, False),      # 6 / 5.5 = 1.09x < 1.2x
])
def test_target_needs_both_the_speedup_and_the_agreement(ours_times, offset, met):
    assert report.inference_report(_measured(ours_times, offset), variants.OURS, frames=4)["target"]["met"] is met


def _report(machine_info):
    return {
        "command": "python benchmark.py", "memory_method": "m", "timing_method": "t", "max_rss_mib": 1.0,
        "max_rss_growth_mib": 0.5, "e2e": None, "train": None, "machine": machine_info,
        "settings": {"batch": 1, "clip_len": 4, "size": 64, "output_stride": 16, "weights": "w", "weights_mib": 1.0,
                     "iters": 3, "warmup": 0},
        "inference": report.inference_report(_measured(), variants.OURS, frames=4),
    }


def test_markdown_shows_ratios_and_a_failed_variant():
    info = {"cpu": "x", "logical_cpus": 1, "torch_threads": 1, "device": "cpu", "torch": "2", "cpu_flags": None,
            "native_bf16": None, "amx": None, "torch_cpu_capability": "DEFAULT"}
    text = report.format_markdown(_report(info))
    assert "CPU features: unknown (no /proc/cpuinfo); native bf16: unknown; AMX: unknown" in text
    assert "3.00x the published order's throughput (median of the per-round ratios: 4.00x)" in text
    assert f"| {variants.OURS}+compile | torch.compile failed: no compiler |" in text
    assert "50.0000% of pixels within 1/255" in text and "**not met**" in text


# ------------------------------------------------------------------ variants against the published order


def test_every_variant_computes_the_published_maps(one_thread):
    torch.manual_seed(0)
    model = fill_reference_weights(VideoModel(output_stride=16), seed=3).eval()
    clip = reference_clip(frames=2, batch=1, height=64, width=64)
    with torch.inference_mode():  # the published order, run here without the benchmark's code
        model.batched_backbone = False
        expected = torch.stack(model(clip))
    # float32 sums in another order (batched convs, channels_last, folded BatchNorm): ~1e-6 relative.
    tolerance = 1e-4 * float(expected.abs().max())
    built = variants.base_variants(model, opt_in=True)
    assert [v.key for v in built] == ["published", "batched", "batched+cl", variants.OURS, variants.OURS + "+lowres"]
    for v in built:
        got = variants.forward(v, clip, torch.device("cpu"))
        assert got.shape == expected.shape == (2, 1, 1, 64, 64)
        assert (got - expected).abs().max() <= tolerance, v.key
    assert model.batched_backbone is False  # the variants are copies: the model given is untouched


def test_amp_variant_names_the_autocast_dtype_of_the_device():
    assert variants.autocast_dtype(torch.device("cpu")) is torch.bfloat16  # autocast_context: bf16 on any CPU
    ours = variants.Variant(variants.OURS, "ours", None, channels_last=True)
    amp = variants.amp_variant(ours, torch.device("cpu"))
    assert (amp.key, amp.amp, amp.paired, amp.channels_last) == (variants.OURS + "+amp", True, False, True)
    assert "under bf16 autocast" in amp.label


# ------------------------------------------------------------------ the training step


def test_training_step_runs_a_copy_as_train_py_takes_it():
    model = VideoModel(output_stride=16, batched_backbone=False).eval()
    run = workloads._trainer(model, torch.device("cpu"), amp=True)
    trained = run["model"]
    frozen = {n for n, p in trained.named_parameters() if not p.requires_grad}
    assert frozen == {"backbone.resnet.fc.weight", "backbone.resnet.fc.bias"}  # the unused classifier only
    optimised = {id(p) for group in run["opt"].param_groups for p in group["params"]}
    assert optimised == {id(p) for n, p in trained.named_parameters() if n not in frozen}
    assert trained.training and trained.batched_backbone
    assert not any(m.training for m in trained.modules() if isinstance(m, nn.BatchNorm2d))  # frozen BN
    assert run["key"] == "train+amp" and run["scaler"] is None  # bf16 autocast on a CPU needs no GradScaler
    # A copy: the model given keeps its order, mode and trainable classifier.
    assert model.batched_backbone is False and not model.training
    assert all(p.requires_grad for p in model.parameters())


# ------------------------------------------------------------------ the command line


def test_help_documents_every_flag_and_the_current_defaults(repo_root):
    env = {**os.environ, "COLUMNS": "1000"}  # one line per help text, so phrases are not wrapped
    out = subprocess.run([sys.executable, "benchmark.py", "--help"], cwd=repo_root, env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout
    lines = {ln.split()[0].rstrip(","): ln for ln in out.splitlines() if ln.strip().startswith("--")}
    assert sorted(lines) == sorted(FLAGS)
    for flag in FLAGS:
        assert len(lines[flag].split(flag, 1)[1].split()) >= 3, f"{flag} has no help text"
    assert "batched backbone, channels_last, BatchNorm folded" in out
    assert "low-resolution decoder" in lines["--proposals"] and "propos" not in lines["--proposals"].split(None, 1)[1]


def test_defaults_are_the_documented_ones():
    args = cli.build_parser().parse_args([])
    assert (args.size, args.clip_len, args.batch, args.device, args.iters, args.warmup) == (448, 4, 1, "auto", 5, 1)
    assert not (args.amp or args.compile or args.proposals or args.skip_e2e or args.skip_train)


def test_ci_sized_run_reports_every_field_and_the_published_maps(tmp_path, capsys, one_thread):
    out = tmp_path / "bench.json"
    assert cli.main([*CI_ARGS, "--clip-len", "2", "--json", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert set(rep) == {"command", "machine", "settings", "memory_method", "timing_method", "inference", "e2e",
                        "train", "max_rss_mib", "max_rss_growth_mib"}
    assert rep["e2e"] is None and rep["train"] is None
    assert {"cpu", "cpu_flags", "native_bf16", "amx", "torch_cpu_capability", "logical_cpus", "torch_threads",
            "torch", "device"} <= set(rep["machine"])
    assert rep["machine"]["torch_threads"] == 1 and rep["settings"]["clip_len"] == 2
    inf = rep["inference"]
    assert [r["key"] for r in inf["variants"]] == ["published", "batched", "batched+cl", variants.OURS]
    published = inf["variants"][0]
    for row in inf["variants"]:
        assert len(row["latency_ms_all"]) == 1 and row["peak_mem_mib"] > 0
        # One round: the ratio is the ratio of the two recorded latencies (rounded to 0.01 ms).
        assert row["speedup_vs_published"] == pytest.approx(published["latency_ms_median"] / row["latency_ms_median"],
                                                            rel=1e-3)
        # Probabilities in [0, 1]: float32 reordering errors are ~1e-6; 1e-4 is the faithfulness tolerance.
        assert row["max_abs_diff_probs"] <= 1e-4 and row["within_1_255"] == 1.0, row["key"]
    printed = capsys.readouterr().out
    assert "| variant |" in printed and "CPU features: " in printed
    if os.path.exists("/proc/cpuinfo"):  # the report's flags are the ones this machine has
        with open("/proc/cpuinfo") as f:
            flags = next(ln for ln in f if ln.startswith(("flags", "Features"))).split(":", 1)[1].split()
        assert ("avx2" in rep["machine"]["cpu_flags"]) == ("avx2" in flags)
        assert rep["machine"]["native_bf16"] == ("avx512_bf16" in flags or "amx_bf16" in flags or "bf16" in flags)


@pytest.mark.parametrize("argv, message", [
    (["--size", "0"], "argument --size: must be >= 1, got 0"),
    (["--warmup", "-1"], "argument --warmup: must be >= 0, got -1"),
    (["--threads", "0"], "argument --threads: must be >= 1, got 0"),
])
def test_bad_values_are_refused_by_the_parser(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--device", "cpu", *argv])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"benchmark.py: error: {message}"


def test_negative_logit_std_is_a_one_line_error(capsys):
    assert cli.main(["--device", "cpu", "--logit-std", "-1"]) == 2
    assert capsys.readouterr().err == "benchmark.py: error: --logit-std must be >= 0, got -1.0\n"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_a_one_line_error(capsys):
    assert cli.main(["--device", "cuda", "--size", "64"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err
