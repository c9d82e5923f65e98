"""What each of F5-TTS's loaders does with this file: loads, or the exact error F5 raises."""

from __future__ import annotations

from f5_parity.checkpoint.loads import LoadOutcome, architecture, simulate_loads
from f5_parity.probe import Probe, ProbeContext
from f5_parity.results import ProbeResult, Status
from f5_parity.checkpoint.vocab import analyse_vocab, inference_vocab_path

DEFAULT_PATH = "load_checkpoint(use_ema=True)"  # what infer_cli, F5TTS() and load_model use


def _fix(o: LoadOutcome, ck, arch, infer_vocab: str) -> str:
    sets = ck.weight_sets()
    msg = o.message or ""
    if o.exception == "KeyError" and "ema_model_state_dict" in msg and "raw" in sets:
        return ("the file has no EMA weights: infer with use_ema=False (F5TTS(..., use_ema=False) or "
                "load_model(..., use_ema=False)); infer_cli has no such flag")
    if o.exception == "KeyError" and "model_state_dict" in msg:
        src = sets["raw"].source if "raw" in sets else None
        if src and src != "model_state_dict":
            where = "the file" if src == "<top level>" else f"ckpt[{src!r}]"
            return f"re-save as torch.save({{'model_state_dict': {where}}}, 'fixed.pt') (keys 'transformer.*')"
    text_mismatch = [m for m in o.mismatched if m["key"].endswith("text_embed.text_embed.weight")]
    if text_mismatch:
        rows = text_mismatch[0]["checkpoint"][0]
        return (f"the vocab has {text_mismatch[0]['model'][0] - 1} tokens but the weights were trained with "
                f"{rows - 1}: pass the training vocab ({rows - 1} lines) as vocab_file (--vocab here); "
                f"now: {infer_vocab}")
    if any(k.startswith(("module.", "_orig_mod.")) for k in o.unexpected):
        return "strip the 'module.' / '_orig_mod.' prefix from every key and save again"
    if o.mismatched or o.missing:
        return "the config does not fit the weights: use the config ckpt.architecture reports"
    return "see the exact error in the evidence"


def check(ctx: ProbeContext) -> ProbeResult:
    ck = ctx["checkpoint"]
    vocab_path = inference_vocab_path(ctx.get("vocab"))
    infer_size = analyse_vocab(vocab_path).size
    train_path = ctx.get("train_vocab")
    train_size = analyse_vocab(train_path).size if train_path else infer_size
    sim = simulate_loads(ck, ctx.get("config"), infer_size, train_size)
    paths = sim.by_path()
    default = paths[DEFAULT_PATH]
    f5_paths = [o for o in sim.outcomes if not o.path.startswith("strict=False")]
    loose = [o for o in sim.outcomes if o.path.startswith("strict=False")]
    loaded = [o.path for o in f5_paths if o.ok]
    lines = [f"{o.path}: " + ("loads" if o.ok else o.error_line) for o in f5_paths]
    random_left = {o.path: o.result.get("left_random") for o in loose if o.ok}
    metrics = {
        "config": sim.config,
        "infer_vocab_size": infer_size,
        "train_vocab_size": train_size,
        "paths_loaded": len(loaded),
        "paths_total": len(f5_paths),
        "default_path_loads": default.ok,
        **{f"loads[{o.path}]": o.ok for o in f5_paths},
        **{f"strict_false_left_random[{o.path[len('strict=False ('):-1]}]": o.result.get("left_random")
           for o in loose},
    }
    evidence = sim.to_dict()
    evidence["lines"] = lines
    evidence["inference_vocab"] = str(vocab_path) + ("" if ctx.get("vocab") else " (f5-tts's packaged default)")
    loose_note = "; ".join(f"{o.call} leaves {o.result['left_random']} of {o.result['model_tensors']} tensors random"
                           for o in loose if o.ok and o.result.get("left_random"))
    head = f"config {sim.config}, vocab {infer_size}: loads in {len(loaded)} of {len(f5_paths)} F5 paths"
    if not default.ok:
        return ProbeResult(PROBE.id, Status.FAIL, f"{head}; {DEFAULT_PATH} fails: {default.error_line}",
                           metrics=metrics, evidence=evidence,
                           fix=_fix(default, ck, architecture(ck), evidence["inference_vocab"]))
    failed = [o for o in f5_paths if not o.ok]
    summary = head + (f"; fails: {', '.join(o.path for o in failed)}" if failed else "")
    if loose_note:
        summary += f"; strict=False: {loose_note}"
    fix = None
    if failed:
        fix = "; ".join(f"{o.path}: {_fix(o, ck, architecture(ck), evidence['inference_vocab'])}" for o in failed[:3])
    return ProbeResult(PROBE.id, Status.PASS, summary, metrics=metrics, evidence=evidence, fix=fix,
                       threshold={"default_path": DEFAULT_PATH, "must": "load"})


PROBE = Probe(
    id="ckpt.load_simulation",
    title="What F5's loaders do with it",
    group="inspect",
    check=check,
    needs=("checkpoint",),
    order=30,
)
