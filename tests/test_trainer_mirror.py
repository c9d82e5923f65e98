"""Prove the trainer-path mirror against the real f5_tts Trainer, and catch f5-tts changing under it."""

from __future__ import annotations

import pytest
import torch

from f5_parity.paths import trainer as trainer_path
from f5_parity.f5.configs import MEL_SPEC_KWARGS, V0_FLAGS
from f5_parity.testing.fixtures import TINY_ARCH


def test_installed_trainer_sampling_code_is_the_mirrored_one():
    """Fails loudly when f5-tts's Trainer.train samples differently from what trainer_path mirrors."""
    installed, mirrored = trainer_path.installed_sampling_block(), trainer_path.mirrored_block()
    if installed != mirrored:
        import difflib

        diff = "\n".join(difflib.unified_diff(mirrored.splitlines(), installed.splitlines(), "mirrored", "installed",
                                              lineterm=""))
        pytest.fail(f"f5-tts's Trainer sampling block changed since {trainer_path.MIRRORED_F5_VERSION}; "
                    f"update trainer_path.trainer_sample and MIRRORED_BLOCK:\n{diff}")


@pytest.mark.slow
def test_mirror_reproduces_a_sample_logged_by_the_real_trainer(tmp_path):
    import torchaudio
    from datasets import Dataset

    from f5_parity.testing import training
    from f5_parity.testing.fixtures import random_vocos_dir
    from f5_parity.observe.calls import observe
    from f5_parity.paths.stages import quiet

    sentence = "Eu não sei se você vai gostar da ação."
    csv = training.generate_dataset(tmp_path / "data", sentences=(sentence,))
    prepared = training.prepare_dataset(csv, tmp_path / "prepared", quiet=True)
    arch = dict(TINY_ARCH, depth=1, **V0_FLAGS)
    cfg = training.TrainConfig(updates=2, seed=3, arch=arch, batch_size=1, max_samples=1, num_warmup_updates=1,
                               save_per_updates=2, last_per_updates=2, log_samples=True)
    # The Trainer leaves its sample's noise unseeded: seed it (and only it) at the moment it samples.
    with observe(seed_each=1234) as obs:
        result = training.train(prepared, tmp_path / "run", cfg, quiet=True)
    assert len(obs.samples) == 1, "the Trainer logs one sample at update 2"
    logged_mel = obs.samples[0].output  # (1, 2 x ref frames, d), as the Trainer generated it

    # Reproduce from what the Trainer saved: raw weights of model_2.pt, the dataset item, the vocoder.
    ckpt = torch.load(result.checkpoint_dir / "model_2.pt", weights_only=True, map_location="cpu")
    model = training.build_model(prepared / "vocab.txt", arch)
    model.load_state_dict(ckpt["model_state_dict"])
    stored = next(iter(Dataset.from_file(str(prepared / "raw.arrow"))))["text"]  # what prepare_csv_wavs wrote
    batch_mel, lengths, text_inputs = trainer_path.dataset_item(str(csv.parent / "wavs" / "ptbr_000.wav"), stored,
                                                                dict(MEL_SPEC_KWARGS))
    from f5_tts.infer.utils_infer import load_vocoder

    with quiet():
        vocoder = load_vocoder("vocos", is_local=True, local_path=str(random_vocos_dir(tmp_path / "run" / "vocos-random")),
                               device="cpu")
    torch.manual_seed(1234)
    sample = trainer_path.trainer_sample(model, batch_mel, lengths, text_inputs, vocoder, "vocos")

    ref_len = int(lengths[0])
    assert sample.duration == logged_mel.shape[1] == 2 * ref_len
    torch.testing.assert_close(sample.gen_mel, logged_mel[:, ref_len:, :].permute(0, 2, 1), rtol=1e-5, atol=1e-5)
    logged_wav, sr = torchaudio.load(str(result.checkpoint_dir / "samples" / "update_2_gen.wav"))
    assert sr == MEL_SPEC_KWARGS["target_sample_rate"]
    n = min(logged_wav.shape[-1], sample.gen_audio.shape[-1])
    # The wav file stores what vocos decoded from the same mel (up to the file's sample encoding).
    assert torch.allclose(logged_wav[..., :n], sample.gen_audio[..., :n], atol=1e-3)
