"""The engine's assembly of a run (engine/assemble.py build_session): one path for run, demo and sweep, and
the checkpoint opened once for reading (its copy handed to the observation, the session and the probes) and
once for the engine's models."""

from __future__ import annotations

from pathlib import Path

import f5_parity


def test_a_run_opens_the_checkpoint_file_once_for_reading_and_once_for_the_engines_models(
        fixture_set, pt_cases, tmp_path, monkeypatch):
    """It was opened in five places in one run (the assembly, the observation's weight match, the stage
    runner, the session, the inspect probes), each parsing the file's header and index again. Now the readers
    share one copy; the engine's models load from a second of their own, because their parameters are that
    copy's tensors (assign=True) and the evidence they are judged against must not read them
    (tests/test_proofs_fail.py alters an engine model in place and needs the weight match to see the file)."""
    import f5_parity.checkpoint.file as checkpoint_file

    fs, case = fixture_set, pt_cases[0]
    ckpt = Path(fs.checkpoints["trainer"]).resolve()
    real, opened = checkpoint_file.open_checkpoint, []

    def counted(path):
        opened.append(Path(path).resolve())
        return real(path)

    monkeypatch.setattr(checkpoint_file, "open_checkpoint", counted)
    report = f5_parity.check(ckpt, train_config=str(fs.config), train_vocab=fs.vocab, infer_config=str(fs.config),
                             infer_vocab=fs.vocab, vocoder="griffin-lim", ref_audio=case.wav, ref_text=case.text,
                             out=tmp_path / "r", mode="fast")
    assert report.culprits == ["weights"]  # the run did its work: the EMA/raw mismatch is named
    assert opened.count(ckpt) == 2, opened
