"""Runtime ports of a checkpoint (an ONNX export run by onnxruntime): what each graph the user's script ran
computes (graphs.py), the same stage recomputed from the checkpoint through f5-tts's own modules
(recompute.py), and the judgement, stage by stage, with the departure that explains a difference (judge.py).
The observation records the calls (observe/calls.py's onnxruntime seam); the session reports the judgement."""
