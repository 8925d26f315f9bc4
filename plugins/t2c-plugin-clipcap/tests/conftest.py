"""Fixtures: a tiny GPT-2 (2 layers, 64-d) with a byte-level BPE tokenizer trained here, all random and offline."""

import importlib.metadata
import os
from pathlib import Path

import pytest

# The decode test extracts features; keep them in the repository's test cache, not in ~/.cache/t2c.
os.environ.setdefault("T2C_CACHE", str(Path(__file__).resolve().parents[3] / ".test-cache"))

CAPTIONS = [
    "a black shoe with a strap.",
    "a white shirt with long sleeves.",
    "a photo of a cat on the grass.",
    "two dogs run on the beach.",
    "a red dress and a small bag.",
]


def pytest_configure(config):
    try:
        importlib.metadata.distribution("t2c-plugin-clipcap")
    except importlib.metadata.PackageNotFoundError:
        raise pytest.UsageError(
            "t2c-plugin-clipcap is not installed; run `pip install -e plugins/t2c-plugin-clipcap` from the "
            "repository root, then rerun the tests"
        ) from None


def build_tokenizer():
    """Train a byte-level BPE tokenizer on a few captions and wrap it as a GPT-2 tokenizer."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2TokenizerFast

    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(CAPTIONS * 4, vocab_size=320, min_frequency=1, special_tokens=["<|endoftext|>"])
    end = "<|endoftext|>"
    return GPT2TokenizerFast(tokenizer_object=trainer._tokenizer, bos_token=end, eos_token=end, unk_token=end)


def build_language_model(vocab_size: int, eos_token_id: int, seed: int = 0):
    """Build a randomly initialised GPT-2 with 2 layers, 2 heads and 64-d embeddings."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=vocab_size, n_positions=64, n_embd=64, n_layer=2, n_head=2,
        bos_token_id=eos_token_id, eos_token_id=eos_token_id,
    )
    return GPT2LMHeadModel(config).eval()


@pytest.fixture(scope="session")
def tokenizer():
    return build_tokenizer()


@pytest.fixture
def make_decoder(tokenizer):
    """Return a function building a fresh random decoder for `target_dim`-d vectors."""
    from t2c_plugin_clipcap.decoder import ClipCapDecoder

    def make(target_dim: int = 16, target_id: str | None = None, prefix_length: int = 4, **options):
        language_model = build_language_model(len(tokenizer), tokenizer.eos_token_id)
        return ClipCapDecoder.create(
            language_model, tokenizer, target_dim, prefix_length=prefix_length, target_id=target_id, max_new_tokens=12, **options
        )

    return make
