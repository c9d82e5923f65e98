"""The command's one progress display lives in render/ (render.progress.progress_display)."""

from f5_parity.render.progress import progress_display as progress_reporter

__all__ = ["progress_reporter"]
