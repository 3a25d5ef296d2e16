"""Run a real recipe for a few steps on a small fixture in the real dataset layout.

Plugins use :func:`run_recipe_on_fixture` to prove that their paper recipes (``*_voca.yaml``,
``*_biwi.yaml``) work end to end with tiny encoder configurations, offline, on CPU.
"""

from __future__ import annotations

import json
from pathlib import Path

#: A tiny wav2vec 2.0 / HuBERT configuration (random weights, no download), for tests.
TINY_SPEECH_ENCODER = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "conv_dim": [16, 16, 16, 16, 16, 16, 16],
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 2,
}


def run_recipe_on_fixture(recipe: str | Path, data_root: str | Path, run_dir: str | Path, *overrides: str) -> int:
    """``talkzoo fit --config recipe`` for 2 steps on ``data_root`` with a tiny speech encoder.

    Args:
        recipe: recipe file.
        data_root: a fixture written by :func:`talkzoo.testing.fixtures.write_mesh_layout`.
        run_dir: folder for logs and checkpoints.
        overrides: further command-line overrides (e.g. subject lists).

    Returns:
        The command's exit status (0 on success).
    """
    from talkzoo.cli import main

    run_dir = Path(run_dir)
    return main(
        [
            "fit",
            "--config",
            str(recipe),
            "--data.init_args.root",
            str(data_root),
            "--data.init_args.batch_size",
            "2",
            "--model.init_args.audio_encoder.init_args.random_init",
            "true",
            "--model.init_args.audio_encoder.init_args.config_overrides",
            json.dumps(TINY_SPEECH_ENCODER),
            "--trainer.accelerator",
            "cpu",
            "--trainer.max_steps",
            "2",
            "--trainer.max_epochs",
            "1",
            "--trainer.limit_val_batches",
            "1",
            "--trainer.num_sanity_val_steps",
            "0",
            "--trainer.logger.init_args.save_dir",
            str(run_dir),
            "--trainer.enable_progress_bar",
            "false",
            *overrides,
        ]
    )
