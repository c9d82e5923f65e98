"""parity-check sweep on a real training run: 6 checkpoints from one f5-tts Trainer run (+ model_last.pt),
the checkpoints from update 4 on re-saved as a DDP-wrapped run writes them (`module.` on every key): f5's
load_model cannot load those, and the sweep must say so from exactly that update.

One sweep is interrupted (Ctrl-C after 3 checkpoints) and resumed; the same sweep then runs in 2 processes
(torchrun, through --launch) and must write the same sweep.json apart from `execution`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch

from f5_parity import cli
from f5_parity.cases.speech import espeak_available

BREAK_AT = 4  # first update saved with the `module.` prefix
TB_RUN = "sweep_tiny"  # the Trainer's tensorboard run: <root>/run/runs/sweep_tiny/, beside <root>/run/ckpts/
# A short reference and held-out text (words of the training sentences): a verdict's cost grows with them.
REF_TEXT, HELD_OUT = "Eu não sei.", "Você vai gostar."


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    if not espeak_available():
        pytest.fail("espeak-ng is missing: `make system-deps` installs it")
    from f5_parity.testing.sweeprun import inject_wrapper_prefix, train_sweep_run

    root = tmp_path_factory.mktemp("sweep-run")
    run = train_sweep_run(root, tensorboard_run=TB_RUN)  # the Trainer's own tensorboard log as well
    assert run.updates == [1, 2, 3, 4, 5, 6]
    from f5_parity.cases.speech import speak

    speak(REF_TEXT, root / "ref.wav", words_per_minute=140)
    broken = root / "broken"  # the injected copies; the Trainer's own files stay as it wrote them
    broken.mkdir()
    for name in [f"model_{u}.pt" for u in run.updates if u >= BREAK_AT] + ["model_last.pt"]:
        inject_wrapper_prefix(shutil.copy(run.checkpoint_dir / name, broken / name))
    return run, broken


def _folder(run, broken, dest: Path, *, last: bool = True) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for u in run.updates:
        src = broken / f"model_{u}.pt" if u >= BREAK_AT else run.checkpoint_dir / f"model_{u}.pt"
        shutil.copy(src, dest / src.name)
    if last:
        shutil.copy(broken / "model_last.pt", dest / "model_last.pt")
    return dest


def _argv(run, sources, out: Path, *extra: str) -> list[str]:
    return ["sweep", *map(str, sources), "--train-config", str(run.config), "--train-vocab", str(run.vocab),
            "--infer-config", str(run.config), "--infer-vocab", str(run.vocab), "--no-infer-ema",
            "--vocoder", "griffin-lim", "--ref-audio", str(run.root / "ref.wav"), "--ref-text", REF_TEXT,
            "--gen-text", HELD_OUT, "--train-log", str(run.root / "run" / "runs" / TB_RUN), "--out", str(out), *extra]


def _load(out: Path) -> dict:
    return json.loads((out / "sweep.json").read_text(encoding="utf-8"))


def _without_execution(d: dict) -> dict:
    return {k: v for k, v in d.items() if k != "execution"}


@pytest.fixture(scope="module")
def one_process(trained, tmp_path_factory):
    """Interrupted after 3 checkpoints, resumed, then model_last.pt lands and the sweep runs again."""
    from f5_parity.sweeps.run import Sweep

    run, broken = trained
    root = tmp_path_factory.mktemp("sweep-1p")
    ckpts = _folder(run, broken, root / "ckpts", last=False)
    out = root / "out"
    argv = _argv(run, [ckpts], out, "--junit", str(root / "sweep-junit.xml"))

    original = Sweep.compute
    calls = []

    def interrupted(self, entry):
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C while the 4th checkpoint is computed
        calls.append(entry.name)
        return original(self, entry)

    Sweep.compute = interrupted
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # test_two_processes_write_the_same_sweep_json compares this run with 1-thread processes
    try:
        try:
            rc_interrupted = cli.main(argv)
        finally:
            Sweep.compute = original
        after_interrupt = _load(out)  # written atomically after every round: whole, and parseable
        rc_resumed = cli.main(argv)
        resumed = _load(out)
        shutil.copy(broken / "model_last.pt", ckpts / "model_last.pt")  # the trainer saves model_last.pt
        rc_new = cli.main(argv)
    finally:
        torch.set_num_threads(threads)
    return {"out": out, "ckpts": ckpts, "argv": argv, "junit": root / "sweep-junit.xml", "calls": calls,
            "rc": (rc_interrupted, rc_resumed, rc_new),
            "after_interrupt": after_interrupt, "resumed": resumed, "final": _load(out)}


def test_the_sweep_names_the_first_bad_update_its_culprit_and_a_checkpoint_before_it(one_process):
    final = one_process["final"]
    assert one_process["rc"][2] == 0  # gate best: a checkpoint to ship exists
    by_update = {c["update"]: c for c in final["checkpoints"] if c["name"] != "model_last.pt"}
    assert sorted(by_update) == [1, 2, 3, 4, 5, 6]
    assert [by_update[u]["verdict"] for u in sorted(by_update)] == ["pass"] * 3 + ["fail"] * 3
    assert final["checkpoints"][-1]["name"] == "model_last.pt" and final["checkpoints"][-1]["verdict"] == "fail"

    first = final["first_bad"]
    assert first["update"] == BREAK_AT and first["checkpoint"] == f"model_{BREAK_AT}.pt"
    assert first["after"] == f"model_{BREAK_AT - 1}.pt"
    # the user's path is observed on every checkpoint (as `run` observes it on that file): f5's load_model
    # cannot load the `module.` keys, so the infer path fails there and the weights are the culprit
    assert first["culprits"] == ["weights"] and first["kind"] == "parity"
    assert final["parity_breaks"] == [first] and final["check_failures"] == []
    assert any("module." in fix for fix in first["fixes"])
    assert by_update[BREAK_AT]["parity_verdict"] == "fail"
    assert any("Missing key(s)" in f["summary"] for f in by_update[BREAK_AT]["failed_checks"])
    out = one_process["out"]
    observed = {u: json.loads((out / by_update[u]["run"]).read_text(encoding="utf-8"))["observed_infer"]["status"]
                for u in (BREAK_AT - 1, BREAK_AT)}
    assert observed == {BREAK_AT - 1: "observed", BREAK_AT: "failed"}

    rec = final["recommendation"]
    assert rec["checkpoint"] == f"model_{BREAK_AT - 1}.pt" and rec["update"] < BREAK_AT
    assert rec["weights"] == "raw" and rec["use_ema"] is False  # the user infers with --no-infer-ema
    assert rec["signal"] == "flow_loss" and rec["computed_on"] == "fit"  # no --held-out: the reference clips
    assert f"{rec['loss']['mean']:.4g}" in rec["reason"]  # the reason quotes its figures
    # the flow loss is computed over the default number of draws (no --quality-draws), on the one reference clip
    from f5_parity.sweeps.quality import DEFAULT_DRAWS

    assert final["settings"]["quality"]["draws"] == DEFAULT_DRAWS
    assert all(len(c["quality"]["sets"][w]["draws"]["fit"]) == DEFAULT_DRAWS == c["quality"]["draws_per_clip"]
               for c in final["checkpoints"] for w in c["quality"]["sets"])

    # EMA-vs-raw distance is read per checkpoint: 0 where the EMA was just copied (update 1), then growing
    ema = [by_update[u]["ema"]["rel_l2"] for u in sorted(by_update)]
    assert ema[0] < ema[1] < ema[2]


def test_an_interrupted_sweep_resumes_without_recomputing(one_process):
    rc_interrupted, rc_resumed, _ = one_process["rc"]
    assert rc_interrupted == 130
    assert one_process["calls"] == ["model_6.pt", "model_5.pt", "model_4.pt"]  # newest verdict first
    done = [c["name"] for c in one_process["after_interrupt"]["checkpoints"] if c["status"] == "done"]
    assert sorted(done) == ["model_4.pt", "model_5.pt", "model_6.pt"]
    ex = one_process["resumed"]["execution"]
    assert (ex["units_computed"], ex["units_from_cache"]) == (6, 6)  # verdict + quality per checkpoint
    assert rc_resumed == 0
    ex = one_process["final"]["execution"]  # model_last.pt landed: only it is computed
    assert (ex["units_computed"], ex["units_from_cache"]) == (2, 12)


def test_report_curves_and_junit_are_rendered_from_sweep_json(one_process):
    out = one_process["out"]
    md = (out / "sweep.md").read_text(encoding="utf-8")
    assert f"Parity first breaks at update {BREAK_AT}" in md and "culprit: **weights**" in md
    assert "a check fails" not in md and "None" not in md
    assert f"Ship `model_{BREAK_AT - 1}.pt`" in md
    assert (out / "plots" / "ema_distance_vs_update.png").stat().st_size > 1000
    assert (out / "plots" / "flow_loss_vs_update.png").stat().st_size > 1000
    assert (out / "checkpoints" / "model_4.pt.run.json").exists()
    suite = ET.parse(one_process["junit"]).getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 8  # 7 checkpoints + the gate
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == ["model_4.pt", "model_5.pt", "model_6.pt", "model_last.pt"]


def test_gate_modes(one_process):
    from f5_parity.sweeps.report import SweepReport, evaluate_sweep_gate

    final = SweepReport.from_json(one_process["final"])  # sweep.json read back into the typed report
    assert final.to_json() == one_process["final"]  # one codec: nothing lost or reordered by the typed parts
    assert json.dumps(final.to_json()) == json.dumps(one_process["final"])
    judged = {mode: evaluate_sweep_gate(final.checkpoints, final.recommendation, mode).to_dict()
              for mode in ("best", "all", "last")}
    assert judged["best"]["passed"] and [c["checkpoint"] for c in judged["best"]["checks"]] == ["model_3.pt"]
    assert not judged["all"]["passed"] and len(judged["all"]["checks"]) == 7
    assert not judged["last"]["passed"] and judged["last"]["checks"][0]["checkpoint"] == "model_last.pt"
    argv = one_process["argv"][:one_process["argv"].index("--junit")] + ["--gate", "last"]
    assert cli.main(argv) == 1  # exit 1 as run does; judged from the cache
    assert _load(one_process["out"])["execution"]["units_computed"] == 0


@pytest.mark.slow
def test_two_processes_write_the_same_sweep_json(one_process, trained, tmp_path):
    run, broken = trained
    out = tmp_path / "out-2p"
    argv = _argv(run, [one_process["ckpts"]], out, "--launch", "2")
    # one thread per process, as the in-process sweep ran (one_process pins it): equal thread counts, so the two
    # runs differ in how the work is shared only, whatever the machine's core count
    proc = subprocess.run([sys.executable, "-m", "f5_parity", *argv], capture_output=True, text=True, timeout=600,
                          env=_one_thread_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    two = _load(out)
    assert two["execution"]["processes"] == 2 and two["execution"]["units_computed"] == 14
    assert _without_execution(two) == _without_execution(one_process["final"])


def _full_argv(run, broken, out: Path, *extra: str) -> list[str]:
    files = [run.checkpoint_dir / "model_3.pt", broken / f"model_{BREAK_AT}.pt"]
    # a 6-update model says noise: the default CER/similarity limits would fail every checkpoint, so they
    # are opened here; these tests are about the scores being there, per path, weight set, seed and checkpoint
    return _argv(run, files, out, "--mode", "full", "--weights", "raw", "--seeds", "2", "--max-cer", "100",
                 "--min-similarity", "0", "--max-gap", "cer=100,similarity=100", *extra)


def _one_thread_env() -> dict[str, str]:
    # torchrun gives each process one thread when OMP_NUM_THREADS is unset; the 1-process run is given the same,
    # so the two runs differ in how the work is shared only (a float's summation order follows the thread count)
    return {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def full_one(trained, tmp_path_factory, asr_cache):
    run, broken = trained
    out = tmp_path_factory.mktemp("sweep-full") / "out-full"
    proc = subprocess.run([sys.executable, "-m", "f5_parity", *_full_argv(run, broken, out)], capture_output=True,
                          text=True, timeout=900, env=_one_thread_env())
    return out, proc.returncode


def test_full_mode_scores_trainer_and_infer_paths_per_checkpoint(full_one):
    out, rc = full_one
    report = _load(out)
    good, bad = (report["checkpoints"][0], report["checkpoints"][1])
    assert (good["update"], bad["update"]) == (3, BREAK_AT)
    for key in ("trainer-heldout/raw", "infer/raw"):
        s = good["scores"][key]
        assert s["n"] == 2 and 0 <= s["cer"] and 0 <= s["similarity"] <= 100
        assert (out / s["rows"][0]["wav"]).exists()
        # over the 2 seeds: each seed's value, their mean and interval; the acoustic metrics per wav beside
        spread = s["over_seeds"]
        assert spread["seeds"] == [0, 1] and spread["cer"]["n"] == 2
        assert spread["cer"]["per_seed"] == [r["cer"] for r in sorted(s["rows"], key=lambda r: r["seed"])]
        assert spread["cer"]["lo"] <= spread["cer"]["mean"] <= spread["cer"]["hi"]
        assert all(0 < r["speaker_similarity"] <= 1.0001 for r in s["rows"])  # to the reference voice
        assert "mcd" not in spread and all(r.get("truth") is None for r in s["rows"])  # no held-out clip: no MCD
    assert bad["scores"]["trainer-heldout/raw"]["n"] == 2  # the trainer side loads it...
    assert bad["scores"]["infer/raw"]["errors"] == 2  # ...f5's load_model does not
    assert "Missing key(s)" in bad["scores"]["infer/raw"]["rows"][0]["error"]
    assert good["verdict"] == "pass" and bad["verdict"] == "fail"
    assert report["recommendation"]["checkpoint"] == "model_3.pt"
    assert report["recommendation"]["reason"].startswith("lowest fit flow-matching loss")
    assert (out / "plots" / "cer_vs_update.png").exists()
    assert rc == 0


@pytest.mark.slow
def test_two_processes_write_the_same_full_mode_sweep_json(full_one, trained, tmp_path):
    """Full mode shares the checkpoints' units between the processes: the same sweep.json bit for bit (every
    key, verdict, transcript, score) and the same wav bytes, each process on one thread as in the 1-process run.
    It failed while a faster-whisper load set torch's thread count (CTranslate2 shares its OpenMP runtime): each
    process's generations before its first ASR load ran on another count than those after."""
    import hashlib

    run, broken = trained
    out = tmp_path / "out-full-2p"
    proc = subprocess.run([sys.executable, "-m", "f5_parity", *_full_argv(run, broken, out, "--launch", "2")],
                          capture_output=True, text=True, timeout=900, env=_one_thread_env())
    assert proc.returncode == full_one[1], proc.stderr[-3000:]
    two = _load(out)
    assert two["execution"]["processes"] == 2
    assert _without_execution(_load(full_one[0])) == _without_execution(two)

    def wavs(folder: Path) -> dict[str, str]:
        return {str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest() for p in folder.rglob("*.wav")}

    assert len(wavs(out)) == 6 and wavs(out) == wavs(full_one[0])


def test_f5s_own_training_loss_is_read_from_its_tensorboard_log_and_drawn(one_process, trained, tmp_path):
    """The Trainer ran with logger="tensorboard". The sweep reads those events (tensorboard's own reader) and
    each value equals what the same Trainer passed to accelerator.log, recorded apart to a CSV; the mean since
    the previous save is given per checkpoint, and the curve is drawn. Given no --train-log, the runs/ folder
    beside ckpts/ is found."""
    from f5_parity.testing.training import read_loss_log

    run, broken = trained
    log = one_process["final"]["training_log"]
    logged = read_loss_log(run.root / "run" / "train_log.csv")  # accelerator.log's numbers, another sink
    assert log["updates"] == len(logged) >= 6 and [u for u, _ in log["series"]] == [r["update"] for r in logged]
    for (u, value), row in zip(log["series"], logged):
        assert value == pytest.approx(row["loss"], rel=1e-6), u  # tensorboard keeps float32
    at = log["at_checkpoints"]
    assert at["3"] == {"mean": pytest.approx(logged[2]["loss"], rel=1e-6), "updates": 1, "from": 3, "to": 3}
    assert "Training loss (F5's own tensorboard log" in (one_process["out"] / "sweep.md").read_text()
    assert (one_process["out"] / "plots" / "flow_loss_vs_update.png").exists()
    argv = _argv(run, [run.checkpoint_dir / "model_1.pt"], tmp_path / "found")
    i = argv.index("--train-log")
    assert cli.main(argv[:i] + argv[i + 2:]) in (0, 1)
    found = _load(tmp_path / "found")["training_log"]
    assert Path(found["source"]) == (run.root / "run" / "runs" / TB_RUN).absolute() and found["updates"] == log["updates"]


def test_watch_sweeps_checkpoints_as_they_land_and_never_a_partial_file(one_process, trained, tmp_path, monkeypatch):
    """The trainer's writes happen in lockstep with the watch's polls (each wait between two polls performs the
    next write), so what the watch sees does not depend on how fast this machine sweeps: the first checkpoint
    lands whole, the second in five pieces, in place, like torch.save; then the watch waits --watch-timeout with
    nothing changing and stops."""
    run, broken = trained
    live = tmp_path / "live"
    live.mkdir()
    out = tmp_path / "out-watch"
    shutil.copytree(one_process["out"] / "cache", out / "cache")  # same settings: verdicts come from the cache
    names = ["model_1.pt", "model_2.pt"]
    data = (one_process["ckpts"] / names[1]).read_bytes()
    piece = len(data) // 5 + 1

    def write_piece(i: int) -> None:
        with open(live / names[1], "ab" if i else "wb") as f:
            f.write(data[i * piece:(i + 1) * piece])

    steps = [lambda: shutil.copy(one_process["ckpts"] / names[0], live / names[0])]
    steps += [lambda i=i: write_piece(i) for i in range(5)]
    real_sleep = time.sleep

    def between_polls(seconds: float) -> None:
        if steps:
            steps.pop(0)()
        else:
            real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", between_polls)
    rc = cli.main(_argv(run, [live], out, "--watch", "--poll", "0.05", "--watch-timeout", "0.5"))
    monkeypatch.undo()
    assert not steps  # every write happened while the watch ran
    report = _load(out)
    assert rc == 0
    assert [c["name"] for c in report["checkpoints"]] == names
    assert all(c["status"] == "done" and c["verdict"] == "pass" for c in report["checkpoints"])
    assert report["execution"]["units_computed"] == 0  # identical files: cached by content


def test_a_failing_probe_or_a_pending_checkpoint_is_never_a_parity_break():
    from f5_parity.sweeps.report import CheckpointResult, breaks

    def row(name, update, **kw):
        return {"name": name, "update": update, "status": "done", "verdict": "pass", "parity_verdict": "pass",
                "culprits": [], "failed_checks": [], **kw}

    rows = [row("model_1.pt", 1),
            {"name": "model_2.pt", "update": 2, "status": "pending", "verdict": "pending"},
            row("model_3.pt", 3, verdict="fail", failed_checks=[
                {"name": "probe:ckpt.load_simulation", "summary": "Missing key(s)", "fix": "strip module."}]),
            row("model_4.pt", 4, verdict="fail", failed_checks=[
                {"name": "cer[infer]", "kind": "score", "summary": "cer = 0.9", "fix": None}]),
            row("model_5.pt", 5, verdict="fail", parity_verdict="fail", culprits=["vocab"],
                failed_checks=[{"name": "parity", "summary": "parity: fail", "fix": None},
                               {"name": "probe:run.isolation", "summary": "culprits: vocab", "fix": "use the vocab"}])]
    first, parity, checks = breaks([CheckpointResult.from_dict(r) for r in rows])
    first, parity, checks = first.to_dict(), [b.to_dict() for b in parity], [b.to_dict() for b in checks]
    assert [(b["checkpoint"], b["kind"], b["culprits"]) for b in checks] == [
        ("model_3.pt", "probe", ["probe:ckpt.load_simulation"])]
    # the score gate at update 4 is neither: the parity break at 5 follows the pass at 4
    assert [(b["checkpoint"], b["kind"], b["culprits"], b["after"]) for b in parity] == [
        ("model_5.pt", "parity", ["vocab"], "model_4.pt")]
    assert first == checks[0]


def test_the_oldest_checkpoint_is_observed_once_and_judged_as_run_judges_it(trained, tmp_path):
    """The sweep observes the user's path on the oldest checkpoint while it assembles the run; that
    checkpoint's verdict takes that observation instead of observing the same file again, and must judge
    the file exactly as `parity-check run` does on it."""
    from f5_parity.observe import path as observed_module

    run, broken = trained
    sources = [run.checkpoint_dir / "model_1.pt", run.checkpoint_dir / "model_2.pt"]
    original, calls = observed_module.observe_infer_path, []

    def counted(*args, **kwargs):
        calls.append(args[1].locate("weights", "checkpoint"))
        return original(*args, **kwargs)

    observed_module.observe_infer_path = counted
    try:
        assert cli.main(_argv(run, sources, tmp_path / "sweep")) == 0
    finally:
        observed_module.observe_infer_path = original
    assert sorted(Path(c).name for c in calls) == ["model_1.pt", "model_2.pt"]  # once per file

    swept = _load(tmp_path / "sweep")
    row = next(c for c in swept["checkpoints"] if c["name"] == "model_1.pt")
    from_sweep = json.loads((tmp_path / "sweep" / row["run"]).read_text(encoding="utf-8"))
    argv = _argv(run, [sources[0]], tmp_path / "run")
    flags = argv[2:argv.index("--train-log")] + ["--out", str(tmp_path / "run"), "--mode", "fast"]
    assert cli.main(["run", str(sources[0]), *flags]) == 0
    from_run = json.loads((tmp_path / "run" / "run.json").read_text(encoding="utf-8"))
    for key in ("verdict", "culprits", "factors", "stages", "warnings"):  # infer_cli's unseeded noise included
        assert from_sweep[key] == from_run[key], key
    assert any(w["factor"] == "sampler" and "draws its noise unseeded" in w["message"] for w in from_sweep["warnings"])
    obs_sweep, obs_run = from_sweep["observed_infer"], from_run["observed_infer"]
    assert obs_sweep["factors"] == obs_run["factors"] and obs_sweep["mirror_check"] == obs_run["mirror_check"]
    assert obs_sweep["status"] == obs_run["status"] == "observed"
    # the later file: observed on itself, the same spec, so its weights are compared and the velocity is model_1's
    row = next(c for c in swept["checkpoints"] if c["name"] == "model_2.pt")
    later = json.loads((tmp_path / "sweep" / row["run"]).read_text(encoding="utf-8"))["observed_infer"]
    assert later["status"] == "observed" and later["factors"] == obs_sweep["factors"]
    check = later["mirror_check"]
    assert check["passed"] and check["weights_equal"] and check["velocity_from"] == "model_1.pt", check
    warned = json.loads((tmp_path / "sweep" / row["run"]).read_text(encoding="utf-8"))["warnings"]
    assert [w["factor"] for w in warned if "unseeded" in w["message"]] == ["sampler"]
