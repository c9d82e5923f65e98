"""A long gen text split into chunks (F5-TTS #1179, #1039): which chunk the observed CFM.sample call generated.

infer_process cuts a gen text longer than the reference's rate allows (chunk_text, by UTF-8 bytes) and
infer_batch_process calls CFM.sample once per chunk, in worker threads (1.1.x): the first call the observer
records can be any chunk's. The engine must compare that call with the chunk it really generated, and the
report must say the path generated several chunks and which one was judged.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChunkedGeneration:
    chunks: tuple[str, ...]  # the gen text as infer_batch_process received it, one entry per CFM.sample call
    compared: int | None  # the chunk the first observed call generated (index), None when no chunk matches

    def note(self) -> str:
        which = (f"chunk {self.compared + 1} of {len(self.chunks)} ({_short(self.chunks[self.compared])}) is the "
                 "call observed and compared" if self.compared is not None
                 else "the observed call matches none of the chunks, so which one was compared is not known")
        return (f"your path split the gen text into {len(self.chunks)} chunks (infer_process's chunk_text, by "
                f"UTF-8 bytes at the reference's rate) and calls CFM.sample once per chunk; {which}; the other "
                "chunks run with the same model and settings on other text and are not judged here")


def chunked_generation(batches: list[dict], call_tokens: list[str] | None) -> ChunkedGeneration | None:
    """The chunks of the first infer_batch_process call and the one `call_tokens` (the first observed
    CFM.sample call's token list) generated; None when the gen text was not split."""
    if not batches or len(batches[0].get("gen_text_batches") or []) < 2:
        return None
    from f5_parity.paths.stages import frontend

    chunks = tuple(batches[0]["gen_text_batches"])
    compared = None
    if call_tokens is not None:
        said = "".join(call_tokens).replace(" ", "")
        # The call's text is the reference's and the chunk's, converted together: its end is the chunk's.
        ends = [i for i, c in enumerate(chunks) if said.endswith("".join(frontend(c, "pinyin")).replace(" ", ""))]
        compared = max(ends, key=lambda i: len(chunks[i])) if ends else None
    return ChunkedGeneration(chunks, compared)


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")
