"""The sweep of a training run: every checkpoint through the same parity run, cached, resumable, sharded.

Work units: per checkpoint one *verdict* (the fast parity run against the user's infer settings, with the
inspect probes and the gate: parity/pipeline.run_pipeline) and, in full mode, one *score* per
case x path (trainer-heldout, infer) x weight set (raw, ema: those the file holds) x seed: a generation
of the held-out text scored by the ASR.

Cost rules: a checkpoint's units all run in one process, so its model is loaded once per process (and
reused for every case, path and seed); the ASR is loaded once per process; checkpoints go newest first,
so the newest verdict is the first result.

Scale-out (accelerate): the processes `accelerate launch` or `torchrun` started share the work through
accelerate's PartialState; each round gives every process one checkpoint (split_between_processes), the
results are gathered on the main process (gather_object), and only the main process writes: the cache,
sweep.json (atomically, after every round), the wavs. Every unit is seeded on its own, so what one
process computes does not depend on what it computed before: 1 or N processes give the same numbers.

Cache: out/cache/<tool version>/<settings digest>/<checkpoint sha256>/<unit>.json. Re-running computes only
units without a file there: new checkpoints, or all after a settings change; an interrupted sweep resumes.
"""
