"""The audio paths a full run scores, in report order, with what each one is (one home for the names)."""

from __future__ import annotations

BASELINE_PATHS = ("reference", "copy-synthesis", "griffin-lim")
GENERATED_PATHS = ("trainer", "trainer-heldout", "infer", "infer-copy")
PATH_LABELS = {
    "reference": "reference audio (ground truth)",
    "copy-synthesis": "reference mel -> trainer's vocoder",
    "griffin-lim": "reference mel -> Griffin-Lim (vocoder-free)",
    "trainer": "trainer path (update_N_gen mirror, copy task)",
    "trainer-heldout": "trainer settings, held-out text",
    "infer": "infer path (infer_cli wiring), held-out text",
    "infer-copy": "infer path, the trainer's copy task",
}
PATH_ORDER = BASELINE_PATHS + GENERATED_PATHS
PATH_MEANING = {
    "reference": "the reference recording itself (ground truth for the ASR)",
    "copy-synthesis": "reference mel -> vocoder (the vocoder's own ceiling)",
    "griffin-lim": "reference mel -> Griffin-Lim (vocoder-free)",
    "trainer": "trainer path's generation (copy task, as update_N_gen.wav)",
    "trainer-heldout": "the trainer's model and settings on the held-out text",
    "infer": "infer path's generation of the held-out text",
    "infer-copy": "infer path's generation of the reference text (copy task)",
}
