"""A runtime port judged stage by stage (issue 36): the bundled fixture exported to three ONNX graphs in the shape of
DakeQQ/F5-TTS-ONNX (testing/onnx_port.py), run by the user's own script through onnxruntime under `parity-check
run --infer-script`; each known port fault is one export argument and must be named with its stage and fix."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import f5_parity
from f5_parity import cli
from f5_parity.demo.fixture import fixture_dir
from f5_parity.testing.onnx_port import PortFaults, export_port, write_port_script

FAULTS = {  # name -> (the export's fault, the factor named, words the departure must say)
    "kaiser": (PortFaults(window="kaiser"), "mel", "Kaiser window"),
    "fbank": (PortFaults(f_max=8000), "mel", "8000 Hz"),
    "rms-always": (PortFaults(rms="always"), "ref-audio", "every reference"),
    "fp16": (PortFaults(dtype="fp16"), "dtype", "fp16 compute"),
    "int8": (PortFaults(dtype="int8"), "dtype", "int8 weights"),
    "ema": (PortFaults(weights="ema"), "weights", "the ema weights"),
    "midpoint": (PortFaults(step_rule="midpoint"), "sampler", "midpoint rule"),
}


@dataclass
class _Fixture:
    checkpoint: Path
    config: Path
    vocab: Path


@pytest.fixture(scope="module")
def port(tmp_path_factory, vocos_dir, pt_cases):
    """The clean export, one folder per fault (the graphs a fault leaves alone linked to the clean ones), the
    user's script, and a short reference louder than infer_process's target RMS (so a port that always applies the
    RMS raise computes another mel than one that raises only quiet references)."""
    root = tmp_path_factory.mktemp("port")
    d = fixture_dir()
    fx = _Fixture(d / "model_ptbr_tiny.pt", d / "F5TTS_ptbr_tiny.yaml", d / "vocab.txt")
    args = (fx.checkpoint, fx.config, fx.vocab, vocos_dir)
    clean = export_port(*args, root / "clean")
    folders = {"clean": clean}
    for name, (faults, _, _) in FAULTS.items():
        folders[name] = export_port(*args, root / name, faults=faults, like=clean)
    # DakeQQ's export: the EMA weights on its own 31-step grid (linspace over 32 points), two departures at once
    folders["ema-31"] = export_port(*args, root / "ema-31", faults=PortFaults(weights="ema"), nfe=31, like=clean)
    folders["cfg-1.5"] = export_port(*args, root / "cfg-1.5", cfg=1.5, like=clean)  # another guidance strength baked in
    wav, sr = sf.read(str(pt_cases[0].wav), dtype="float32")
    wav = wav[: int(0.7 * sr)]  # short: every run generates 32 steps through the port and again through torch
    wav = wav * (0.25 / np.sqrt(np.mean(wav ** 2)))
    ref = root / "loud_ref.wav"
    sf.write(str(ref), wav, sr, subtype="PCM_16")
    return {"fixture": fx, "folders": folders, "script": write_port_script(root / "port_infer.py"), "ref": ref,
            "vocos": vocos_dir, "root": root}


def _script_args(port, graphs: Path, out: Path) -> list[str]:
    return ["--graphs", str(graphs), "--vocab", str(port["fixture"].vocab), "--ref-audio", str(port["ref"]),
            "--ref-text", "Olá mundo", "--gen-text", "Bom dia", "--out", str(out)]


def _run(port, name: str, out: Path, *extra: str, script: tuple[str, ...] = ()) -> tuple[int, dict]:
    fx = port["fixture"]
    rc = cli.main(["run", str(fx.checkpoint), "--train-config", str(fx.config), "--vocoder-path", str(port["vocos"]),
                   "--out", str(out), *extra, "--infer-script", str(port["script"]), "--",
                   *_script_args(port, port["folders"][name], out.with_name(out.name + "-port.wav")), *script])
    return rc, json.loads((out / "run.json").read_text(encoding="utf-8"))


def test_a_clean_fp32_export_passes_every_stage_within_the_stated_tolerances(port, tmp_path):
    """With the texts its script speaks named, its text ids are compared too (f5's framing of them); a --port-map
    naming the transformer graph's roles is followed (the other graphs are found by their shapes, as every fault
    run below finds all three)."""
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"F5_Transformer.onnx": {"stage": "step", "inputs": {
        "state": "noise", "cond": "cond", "text": "text_ids", "time": "time_step"}, "output": "denoised"}}))
    rc, data = _run(port, "clean", tmp_path / "r", "--ref-audio", str(port["ref"]), "--ref-text", "Olá mundo",
                    "--gen-text", "Bom dia", "--port-map", str(mapping))
    assert rc == 0, data["culprits"]
    judged = data["observed_infer"]["port"]
    assert [(Path(g["graph"]).name, g["stage"], g["calls"], g["how"]) for g in judged["graphs"]] == [
        ("F5_Preprocess.onnx", "mel", 1, "shapes and names"), ("F5_Transformer.onnx", "step", 32, "map file"),
        ("F5_Decode.onnx", "decode", 1, "shapes and names")]
    stages = data["stages"][next(iter(data["stages"]))]
    assert [s["stage"] for s in stages] == ["port text ids", "port mel", "port step", "port decode"]
    assert all(s["passed"] for s in stages)
    assert stages[0]["mismatched"] == 0  # the ids, exactly
    floats = stages[1:]
    assert all(s["rel_l2"] <= judged["tolerances"][s["stage"].replace(" ", "_")] for s in floats)
    assert all(s["rel_l2"] < 1e-5 for s in floats), floats  # fp32 export against PyTorch: far inside the tolerance
    assert data["culprits"] == [] and judged["culprits"] == [] and not judged["unexplained"]
    assert (tmp_path / "r-port.wav").is_file()  # the user's own script really ran to its end


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_port_fault_is_named_with_its_stage_and_fix_through_the_cli(port, tmp_path, fault):
    _, factor, words = FAULTS[fault]
    rc, data = _run(port, fault, tmp_path / "r")
    assert rc == 1
    assert data["culprits"] == [factor]
    culprit = data["factors"][factor]
    assert words in culprit["effect"]["what"]
    stage = {"mel": "mel", "ref-audio": "mel", "dtype": "step", "weights": "step", "sampler": "step"}[factor]
    assert culprit["effect"]["stage"] == stage
    graph = {"mel": "F5_Preprocess.onnx", "step": "F5_Transformer.onnx"}[stage]
    assert graph in culprit["fix"]  # the fix names the user's own graph file
    stages = {s["stage"]: s for s in data["stages"][next(iter(data["stages"]))]}
    assert not stages[f"port {stage}"]["passed"]
    assert all(s["passed"] for name, s in stages.items() if name != f"port {stage}")  # the other graphs are clean
    if fault != "fp16":  # the departure recomputed reproduces the port (fp16 is named by elimination, said so)
        assert culprit["effect"]["rel_l2_departure"] <= 1e-4 < culprit["effect"]["rel_l2_trainer"]
    report = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    assert "runtime port" in report.split("# Appendix")[0] and culprit["fix"] in report


def test_two_departures_at_once_are_named_together(port, tmp_path):
    """A port with the EMA weights and its own 31-step grid: neither alone reproduces its steps, both together do."""
    rc, data = _run(port, "ema-31", tmp_path / "r", script=("--nfe", "31"))
    assert rc == 1 and sorted(data["culprits"]) == ["sampler", "weights"]
    assert data["factors"]["sampler"]["infer"]["nfe"] == 31 and data["factors"]["weights"]["infer"]["set"] == "ema"
    assert data["factors"]["weights"]["effect"]["rel_l2_departure"] <= 1e-4
    assert not data["observed_infer"]["port"]["unexplained"]


def test_a_cfg_strength_baked_into_the_graph_is_fitted_and_named(port, tmp_path):
    rc, data = _run(port, "cfg-1.5", tmp_path / "r")
    assert rc == 1 and data["culprits"] == ["sampler"]
    assert data["factors"]["sampler"]["infer"]["cfg"] == 1.5 and "CFG strength 1.5" in data["factors"]["sampler"][
        "effect"]["what"]
    assert data["factors"]["sampler"]["effect"]["rel_l2_departure"] <= 1e-4


@pytest.mark.parametrize("fault, factor", [("vocab", "vocab"), ("framing", "text")])
def test_the_ports_text_ids_are_judged_when_the_texts_are_named(port, tmp_path, fault, factor):
    """Given the texts the script speaks, the port's text ids are compared with f5's tokens of them: a tokenizer
    reading another vocab order is named vocab, a port framing the texts its own way is named text; the steps
    still pass (they are recomputed on the port's own ids)."""
    from f5_parity.demo.fixture import permuted_vocab

    texts = ["--ref-audio", str(port["ref"]), "--ref-text", "Olá mundo", "--gen-text", "Bom dia"]
    script = (("--vocab", str(permuted_vocab(port["fixture"].vocab, tmp_path / "permuted.txt"))) if fault == "vocab"
              else ("--framing", "plain"))
    rc, data = _run(port, "clean", tmp_path / "r", *texts, script=script)
    assert rc == 1 and data["culprits"] == [factor]
    stages = {s["stage"]: s for s in data["stages"][next(iter(data["stages"]))]}
    assert not stages["port text ids"]["passed"] and stages["port step"]["passed"]


def test_a_project_that_accepts_fp16_says_so_in_parity_toml(port, tmp_path, monkeypatch):
    """The port tolerances are the gate config's too: a parity.toml that allows the fp16 step passes it, and the
    run states the tolerance it judged with."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "parity.toml").write_text("[tolerances]\nport_step = 0.05\n", encoding="utf-8")
    monkeypatch.chdir(project)
    rc, data = _run(port, "fp16", tmp_path / "r")
    assert rc == 0 and data["culprits"] == []
    assert data["observed_infer"]["port"]["tolerances"]["port_step"] == 0.05 and "port_step 0.05" in data[
        "tolerance_rule"]


def test_the_api_names_the_weight_set_of_a_port_and_the_export_that_fixes_it(port, tmp_path):
    fx = port["fixture"]
    out = tmp_path / "api"
    report = f5_parity.check(fx.checkpoint, train_config=fx.config, vocoder_path=port["vocos"], out=out,
                             infer_script=port["script"],
                             script_args=_script_args(port, port["folders"]["ema"], tmp_path / "port.wav"))
    assert not report.passed and report.culprits == ["weights"]
    assert "parity-check export" in report.factors["weights"].fix and "--weights raw" in report.factors["weights"].fix
    assert report.observed_infer.status == "port"


def test_a_bad_port_map_is_one_line_and_exit_2(port, tmp_path, capsys):
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"F5_Transformer.onnx": {"stage": "vocoder"}}))
    rc = cli.main(["run", str(port["fixture"].checkpoint), "--port-map", str(mapping), "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--port-map" in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "x").exists()


def test_the_mel_departures_start_from_what_f5_computes(pt_cases):
    """The engine's own mel (torchaudio's MelSpectrogram, which the departures change one setting of) with F5's
    settings equals f5-tts's MelSpec, computed independently; each departure computes another mel."""
    from f5_parity.paths.spec import INFER_DEFAULTS
    from f5_parity.ports.recompute import f5_mel, mel_departures, variant_mel

    wav, sr = sf.read(str(pt_cases[0].wav), dtype="float32")
    audio = torch.from_numpy(wav[: int(1.5 * sr)]).reshape(1, -1)
    mel = {"n_fft": 1024, "hop_length": 256, "win_length": 1024, "n_mel_channels": 100, "target_sample_rate": sr,
           "mel_spec_type": "vocos"}
    f5 = f5_mel(audio, mel)
    assert torch.allclose(variant_mel(audio, mel), f5, rtol=0, atol=1e-5)
    for departure, compute in mel_departures(mel, INFER_DEFAULTS["target_rms"]):
        if departure.value.get("rule") == "never" and audio.square().mean().sqrt() >= INFER_DEFAULTS["target_rms"]:
            continue  # a loud reference is not raised either way
        assert (compute(audio) - f5).norm() / f5.norm() > 1e-3, departure.what


def test_the_steps_recomputed_from_a_conditioning_graph_are_cfm_sample(pt_cases):
    """The engine's step (ports/judge.py: the cond mel and ids a fused port embeds, rebuilt as f5 pads them, one
    Euler step of the guided velocity on the Trainer's grid, from the state the port passed) chained over 32 steps
    from CFM.sample's own seeded noise gives what f5's CFM.sample generates: two computations, one answer (a port
    that fuses its conditioning, as DakeQQ's does, is judged against this)."""
    import yaml
    from f5_tts.infer.utils_infer import load_model
    from f5_tts.model import DiT
    from f5_tts.model.utils import list_str_to_idx

    from f5_parity.f5.versions import time_grid
    from f5_parity.ports.graphs import GraphRole, PortCall
    from f5_parity.ports.judge import _StepInputs
    from f5_parity.ports.recompute import f5_mel, raise_rms, step_reference

    d = fixture_dir()
    cfg = yaml.safe_load((d / "F5TTS_ptbr_tiny.yaml").read_text(encoding="utf-8"))["model"]
    model = load_model(DiT, cfg["arch"], str(d / "model_ptbr_tiny.pt"), mel_spec_type="vocos",
                       vocab_file=str(d / "vocab.txt"), device="cpu", use_ema=False).eval()
    wav, sr = sf.read(str(pt_cases[0].wav), dtype="int16")
    wav = wav[: int(1.0 * sr)]
    mel = dict(cfg["mel_spec"])
    cond = raise_rms(torch.from_numpy(wav.astype(np.float32) / 32768.0).reshape(1, -1), 0.1, "conditional")
    ids = list_str_to_idx([list("Olá. Bom dia")], model.vocab_char_map)
    ref_frames = cond.shape[1] // mel["hop_length"] + 1
    duration = ref_frames + 40
    with torch.inference_mode():  # infer_process hands CFM.sample the reference raised to target_rms
        out, _ = model.sample(cond=cond, text=ids, duration=duration, steps=32, cfg_strength=2.0,
                              sway_sampling_coef=-1.0, seed=7)
    torch.manual_seed(7)  # CFM.sample's noise: seeded, then one draw of (duration, mel channels)
    x = torch.randn(duration, 100).unsqueeze(0)
    grid = time_grid(32, use_epss=True, sway=-1.0, dtype=torch.float32)
    conditioning = (GraphRole("pre.onnx", "conditioning", {"audio": "audio", "text": "ids"}),
                    PortCall("pre.onnx", {"audio": wav.reshape(1, 1, -1), "ids": ids.numpy()}, {}))
    role = GraphRole("step.onnx", "step", {"state": "x"}, "x_next")  # no time input: call k is step k
    for k in range(32):
        given = _StepInputs(role, [PortCall("step.onnx", {"x": x.numpy()}, {})], conditioning, mel)
        inputs = given.inputs(0, lambda a: f5_mel(raise_rms(a, 0.1, "conditional"), mel))
        t, dt = given.t_dt(k, grid)
        x = step_reference(model.transformer, inputs, t, dt, 2.0)
    generated, ours = out[:, ref_frames:], x[:, ref_frames:]
    assert ((generated - ours).norm() / generated.norm()).item() < 1e-4
