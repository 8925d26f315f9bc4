"""Convert a checkpoint of the original ClipCap code (rmokady/CLIP_prefix_caption) into a decoder folder.

Those checkpoints are torch state dicts of `ClipCaptionModel`: keys `clip_project.model.0.*` and
`clip_project.model.2.*` (the MLP mapping network, Linear -> Tanh -> Linear) and `gpt.*` (GPT-2).
They are read with `torch.load(weights_only=True)`, which loads tensors and refuses arbitrary
pickled objects. The transformer mapping network of that code is not supported.

The published COCO and Conceptual Captions weights read CLIP ViT-B/32 image embeddings (512-d,
not normalised, prefix length 10), so they fit a t2c target whose space is that model's image
space, such as openclip:ViT-B-32/openai.
"""

import logging
from pathlib import Path

import torch

from t2c.errors import ConfigError, NotFoundError

from t2c_plugin_clipcap.card import FORMAT_VERSION, DecoderCard
from t2c_plugin_clipcap.decoder import ClipCapDecoder
from t2c_plugin_clipcap.mapper import PrefixMapper

log = logging.getLogger("t2c.clipcap.convert")

MAPPER_PREFIX = "clip_project."
GPT2_PREFIX = "gpt."
# Buffers that older transformers versions stored in GPT-2 state dicts; current models rebuild them.
IGNORED_GPT2_SUFFIXES = (".attn.bias", ".attn.masked_bias")


def convert_clipcap_checkpoint(
    checkpoint: str | Path,
    tokenizer_folder: str | Path,
    output: str | Path,
    *,
    target_id: str | None = None,
    prefix_length: int = 10,
    normalize_input: bool = False,
    gpt2_config=None,
) -> Path:
    """Write a decoder folder from an original ClipCap MLP checkpoint and a local GPT-2 tokenizer folder.

    Args:
        checkpoint: the `.pt` state dict.
        tokenizer_folder: a folder with the GPT-2 tokenizer files (as `save_pretrained` writes them).
        target_id: the t2c target whose image embeddings the checkpoint was trained on.
        prefix_length: the k the checkpoint was trained with (10 for the published weights).
        normalize_input: whether training normalised the CLIP embeddings (`--normalize_prefix`).
        gpt2_config: a `GPT2Config`; default GPT-2 small, the model of the published weights.
    """
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    path = Path(checkpoint)
    if not path.is_file():
        raise NotFoundError(f"ClipCap checkpoint {path} not found")
    state = torch.load(path, map_location="cpu", weights_only=True)
    mapper_state = {key[len(MAPPER_PREFIX):]: value for key, value in state.items() if key.startswith(MAPPER_PREFIX)}
    gpt2_state = {
        key[len(GPT2_PREFIX):]: value for key, value in state.items()
        if key.startswith(GPT2_PREFIX) and not key.endswith(IGNORED_GPT2_SUFFIXES)
    }
    expected = {"model.0.weight", "model.0.bias", "model.2.weight", "model.2.bias"}
    if set(mapper_state) != expected:
        raise ConfigError(
            f"{path} has mapping-network keys {sorted(mapper_state)[:6]}, expected {sorted(expected)}; "
            "only ClipCap's MLP mapping network is supported"
        )

    hidden_dim, target_dim = mapper_state["model.0.weight"].shape
    output_size = mapper_state["model.2.weight"].shape[0]
    language_model = GPT2LMHeadModel(gpt2_config or GPT2Config())
    embedding_dim = language_model.config.n_embd
    if output_size != prefix_length * embedding_dim:
        raise ConfigError(
            f"{path} maps to {output_size} values, which is not prefix_length {prefix_length} x GPT-2 n_embd "
            f"{embedding_dim}; pass the prefix length and GPT-2 config the checkpoint was trained with"
        )

    missing, unexpected = language_model.load_state_dict(gpt2_state, strict=False)
    missing = [key for key in missing if key != "lm_head.weight"]  # tied to the token embeddings
    if missing or unexpected:
        raise ConfigError(f"{path} does not match the GPT-2 config: missing {missing[:5]}, unexpected {unexpected[:5]}")
    language_model.tie_weights()

    mapper = PrefixMapper(target_dim, hidden_dim, prefix_length, embedding_dim)
    mapper.load_state_dict(mapper_state, strict=True)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder, local_files_only=True)
    card = DecoderCard(
        format_version=FORMAT_VERSION, target_id=target_id, target_dim=int(target_dim), prefix_length=prefix_length,
        hidden_dim=int(hidden_dim), normalize_input=normalize_input, notes=f"converted from {path.name}",
    )
    log.info("converted %s: %d-d input, prefix %d, GPT-2 n_embd %d", path, target_dim, prefix_length, embedding_dim)
    return ClipCapDecoder(mapper, language_model, tokenizer, card).save_pretrained(output)
