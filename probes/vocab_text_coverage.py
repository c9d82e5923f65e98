"""The texts a user will synthesize: characters outside the vocab and Unicode normalization."""

from __future__ import annotations

from f5_parity.probe import Probe, ProbeContext
from f5_parity.results import ProbeResult, Status
from f5_parity.checkpoint.vocab import analyse_vocab, inference_vocab_path, text_coverage


def check(ctx: ProbeContext) -> ProbeResult:
    vocab = analyse_vocab(inference_vocab_path(ctx.get("vocab")))
    covs = [text_coverage(t, vocab.char_map) for t in ctx["texts"]]
    outside = sorted({o.char for c in covs for o in c.outside})
    non_nfc = [c for c in covs if not c.is_nfc]
    metrics = {
        "texts": len(covs),
        "outside_tokens": sum(c.outside_count for c in covs),
        "outside_distinct": len(outside),
        "non_nfc_texts": len(non_nfc),
    }
    evidence = {"vocab": vocab.path, "id0_token": vocab.id0_token, "texts": [c.to_dict() for c in covs]}
    problems = []
    if outside:
        shown = ", ".join(f"{c!r} ({' '.join(f'U+{ord(x):04X}' for x in c)})" for c in outside[:8])
        problems.append(f"{metrics['outside_tokens']} token(s) outside the vocab ({shown}): F5 maps them to id 0 "
                        f"({vocab.id0_token!r}) without a word")
    if non_nfc:
        ex = non_nfc[0]
        problems.append(f"{len(non_nfc)} text(s) not NFC (combining marks {', '.join(ex.nfd_combining[:3])}): F5 does "
                        "not normalize; after NFC " + (f"{len(ex.outside_after_nfc)} char(s) stay outside"
                                                       if ex.outside_after_nfc else "every char is in the vocab"))
    if problems:
        fix = []
        if non_nfc:
            fix.append("normalize texts to NFC before inference: unicodedata.normalize('NFC', text)")
        if any(c.outside_after_nfc for c in covs):
            fix.append("replace or spell out the characters the vocab lacks (new vocab rows need training)")
        return ProbeResult(PROBE.id, Status.WARN, "; ".join(problems), metrics=metrics, evidence=evidence,
                           fix="; ".join(fix))
    return ProbeResult(PROBE.id, Status.PASS, f"{len(covs)} text(s): every token is in the vocab, all NFC",
                       metrics=metrics, evidence=evidence)


PROBE = Probe(
    id="vocab.text_coverage",
    title="Text coverage",
    group="inspect",
    check=check,
    needs=("texts",),
    order=60,
)
