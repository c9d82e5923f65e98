"""f5-parity: train/infer parity diagnostics for F5-TTS checkpoints.

Layers, bottom to top: checkpoint -> paths -> compare -> isolate -> score -> report -> cli.
Nothing below the CLI prints or exits; everything returns typed results.
"""

__version__ = "0.1.0"
