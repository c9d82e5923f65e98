"""What each of F5-TTS's loaders does with this file: loads, or the exact error F5 raises."""

from __future__ import annotations

from f5_parity.checkpoint.loads import LoadOutcome, architecture, simulate_loads
from f5_parity.probe import Probe, ProbeContext
from f5_parity.results import ProbeResult, Status
from f5_parity.checkpoint.vocab import analyse_vocab, inference_vocab_path

DEFAULT_PATH = "load_checkpoint(use_ema=True)"  # what infer_cli, F5TTS() and load_model use


_EMA = "ema_model."


def _renamed(o: LoadOutcome) -> str | None:
    """'ema' when the model wants the names the file gives with 'ema_model.' in front (an EMA set read as raw),
    'raw' when it wants 'ema_model.' names the file gives without it; None when the names do not line up."""
    if o.mismatched or not o.missing:
        return None
    missing = {k for k in o.missing if k not in ("initted", "step")}
    unexpected = set(o.unexpected)
    if missing and {_EMA + k for k in missing} <= unexpected:
        return "ema"
    if missing and all(k.startswith(_EMA) for k in missing) and {k[len(_EMA):] for k in missing} <= unexpected:
        return "raw"
    return None


def _fix(o: LoadOutcome, ck, arch, infer_vocab: str) -> str:
    sets = ck.weight_sets()
    msg = o.message or ""
    only_ema = "ema" in sets and "raw" not in sets
    if o.path == "load_checkpoint(use_ema=False)" and only_ema and (
            (o.exception == "KeyError" and "model_state_dict" in msg) or _renamed(o) == "ema"):
        return "the file holds EMA weights only: infer with use_ema=True (the default of load_model and F5TTS)"
    if o.path.startswith("Trainer") and _renamed(o) == "raw":
        return ("the Trainer reads the file as EMA weights named 'ema_model.*' (with 'initted' and 'step'), and "
                "these keys have no such prefix: re-save as {'ema_model_state_dict': {'ema_model.' + k: v, ...}}")
    if o.exception == "KeyError" and "ema_model_state_dict" in msg and "raw" in sets:
        return ("the file has no EMA weights: infer with use_ema=False (F5TTS(..., use_ema=False) or "
                "load_model(..., use_ema=False)); infer_cli has no such flag")
    if o.exception == "KeyError" and "model_state_dict" in msg:
        src = sets["raw"].source if "raw" in sets else None
        if src and src != "model_state_dict":
            where = "the file" if src == "<top level>" else f"ckpt[{src!r}]"
            return f"re-save as torch.save({{'model_state_dict': {where}}}, 'fixed.pt') (keys 'transformer.*')"
    if o.exception == "KeyError" and "optimizer_state_dict" in msg:
        # The file has an 'update'/'step' key, so Trainer.load_checkpoint takes its resume branch, which needs
        # the optimizer and scheduler states that were stripped from this file.
        return ("the file has an 'update' key but no optimizer state, so the Trainer takes its resume branch and "
                "fails: to fine-tune from it, drop 'update' and 'step' (ckpt.pop('update'); torch.save(ckpt, ...)) "
                "so the Trainer starts from its EMA weights; to resume, use the full checkpoint with its optimizer")
    text_mismatch = [m for m in o.mismatched if m["key"].endswith("text_embed.text_embed.weight")]
    # Only the rows of the text embedding are the vocab's; any other mismatch (its width, other tensors, missing
    # keys) means the model built is another architecture, and a vocab fix would contradict its own numbers.
    other = [m for m in o.mismatched if m not in text_mismatch]
    rows_differ = [m for m in text_mismatch
                   if m["checkpoint"][0] != m["model"][0] and list(m["checkpoint"][1:]) == list(m["model"][1:])]
    if rows_differ and not other and not o.missing:
        rows = rows_differ[0]["checkpoint"][0]
        return (f"the vocab has {rows_differ[0]['model'][0] - 1} tokens but the weights were trained with "
                f"{rows - 1}: pass the training vocab ({rows - 1} lines) as vocab_file (--vocab here); "
                f"now: {infer_vocab}")
    if any(k.startswith(("module.", "_orig_mod.")) for k in o.unexpected):
        return "strip the 'module.' / '_orig_mod.' prefix from every key and save again"
    if o.mismatched or o.missing:
        built = f"built {o.config}" if o.config else "the model built"
        if o.path == "F5TTS()":
            return (f"F5TTS(model=...) builds shipped configs only ({built}), which does not fit these weights "
                    f"({len(o.missing)} missing, {len(o.mismatched)} size mismatches): load them with "
                    "load_model(<the model class>, <its arch config>, ckpt, vocab_file=...) and the config "
                    "ckpt.architecture reports")
        return (f"the config does not fit the weights ({built}: {len(o.missing)} missing, {len(o.mismatched)} size "
                "mismatches): use the config ckpt.architecture reports")
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
    # The default path loads, but a loader that fails is a finding, never a PASS: a user of that loader hits it.
    status = Status.WARN if failed else Status.PASS
    return ProbeResult(PROBE.id, status, summary, metrics=metrics, evidence=evidence, fix=fix,
                       threshold={"default_path": DEFAULT_PATH, "must": "load", "others": "load, else WARN"})


PROBE = Probe(
    id="ckpt.load_simulation",
    title="What F5's loaders do with it",
    group="inspect",
    check=check,
    needs=("checkpoint",),
    order=30,
)
