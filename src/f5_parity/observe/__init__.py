"""What the user's infer path really did, read off the real f5-tts calls it makes ("observe, never trust the
description"): calls.py patches the seams (load_model, load_checkpoint, infer_process, CFM.sample, the vocoder)
and records what passes through them; spec.py turns a recorded call into the spec the engine rebuilds and the
findings no factor names; path.py runs a path under observation (infer_cli, the F5TTS class, a wrapper, a
script) and proves the rebuild equal to what the path computed (the mirror check); chunks.py reads a long
text's chunking off the batches."""
