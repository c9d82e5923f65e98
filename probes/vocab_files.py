"""The training and inference vocab files: size against the embedding rows, order, and silent traps."""

from __future__ import annotations

from f5_parity.checkpoint.loads import architecture
from f5_parity.probe import Probe, ProbeContext
from f5_parity.results import ProbeResult, Status
from f5_parity.checkpoint.vocab import analyse_vocab, compare_vocabs, inference_vocab_path


def check(ctx: ProbeContext) -> ProbeResult:
    infer_path = inference_vocab_path(ctx.get("vocab"))
    reports = {"inference": analyse_vocab(infer_path)}
    if ctx.get("train_vocab"):
        reports["training"] = analyse_vocab(ctx["train_vocab"])
    rows = None
    if ctx.has("checkpoint"):
        rows = architecture(ctx["checkpoint"]).embedding_rows
    fails: list[str] = []
    warns: list[str] = []
    fixes: list[str] = []
    for role, r in reports.items():
        if r.error:
            fails.append(f"{role} vocab: F5 cannot read it ({r.error})")
            fixes.append(f"save the {role} vocab as UTF-8")
            continue
        if rows is not None and r.embedding_rows != rows:
            fails.append(f"{role} vocab has {r.size} tokens ({r.embedding_rows} rows with the filler) but the "
                         f"checkpoint's text embedding has {rows} rows: a strict load fails with a size mismatch")
            if role == "inference":
                fixes.append(f"use the vocab the model was trained with ({rows - 1} tokens) for inference")
        if r.duplicates:  # run refuses such a vocab: F5's size and ids no longer follow the lines
            d = r.duplicates[0]
            fails.append(f"{role} vocab has {len(r.duplicates)} duplicate token(s) ({d['token']!r} at ids {d['ids']}): "
                         f"F5 reads {r.size} tokens from {r.lines} lines and maps {d['token']!r} to id {d['kept_id']}")
        warns.extend(f"{role} vocab: {p}" for p in r.problems() if not (r.duplicates and "duplicate" in p))
    comparison = None
    if "training" in reports and not any(r.error for r in reports.values()):
        comparison = compare_vocabs(reports["training"], reports["inference"])
        if not comparison.same_tokens:
            fails.append(f"training vs inference vocab: {comparison.verdict}")
            fixes.append(f"infer with the training vocab: vocab_file={reports['training'].path}")
    if any(r.duplicates for r in reports.values()):
        fixes.append("remove duplicate lines only together with the model they were trained with: ids shift")
    if any(r.truncated_last_token for r in reports.values()):
        fixes.append("end the vocab file with a newline")
    metrics = {f"{role}_size": r.size for role, r in reports.items()}
    metrics.update({f"{role}_lines": r.lines for role, r in reports.items()})
    metrics.update({f"{role}_crlf_lines": r.crlf_lines for role, r in reports.items()})
    metrics["embedding_rows"] = rows
    if comparison:
        metrics["differing_ids"] = comparison.differing_ids
        metrics["silent_remap"] = comparison.silent_remap
    evidence = {role: r.to_dict() for role, r in reports.items()}
    evidence["inference_is_default"] = not ctx.get("vocab")
    evidence["comparison"] = comparison.to_dict() if comparison else None
    crlf = [role for role, r in reports.items() if r.crlf_lines]
    if crlf:
        evidence["crlf_note"] = (f"{', '.join(crlf)} vocab uses CRLF line endings: F5 reads vocab files in text mode "
                                 "(universal newlines), so the tokens are unaffected; only byte hashes differ")
    desc = ", ".join(f"{role} {r.size} tokens (sha256 {r.sha256[:12]})" for role, r in reports.items())
    if evidence["inference_is_default"]:
        desc += " [inference: f5-tts's packaged vocab, as load_model uses by default]"
    if fails:
        return ProbeResult(PROBE.id, Status.FAIL, f"{desc}: " + "; ".join(fails + warns), metrics=metrics,
                           evidence=evidence, fix="; ".join(dict.fromkeys(fixes)) or None)
    if warns:
        return ProbeResult(PROBE.id, Status.WARN, f"{desc}: " + "; ".join(warns), metrics=metrics,
                           evidence=evidence, fix="; ".join(dict.fromkeys(fixes)) or "see the evidence")
    tail = f", {rows} embedding rows" if rows is not None else ""
    same = "; training and inference vocab hold the same tokens in the same order" if comparison else ""
    return ProbeResult(PROBE.id, Status.PASS, f"{desc}{tail}{same}", metrics=metrics, evidence=evidence)


PROBE = Probe(
    id="vocab.files",
    title="Vocab files",
    group="inspect",
    check=check,
    needs=(),
    order=50,
)
