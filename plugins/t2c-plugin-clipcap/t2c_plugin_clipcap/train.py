"""Train a ClipCap decoder on (target-space vector, caption) pairs with teacher forcing.

The loss is GPT-2's next-token cross-entropy on the caption tokens (ending with the end-of-text
token), given the prefix that the mapper makes from the vector. Prefix positions and padding
are excluded from the loss.
"""

import logging

import numpy as np
import torch

from t2c.errors import ConfigError

from t2c_plugin_clipcap.decoder import ClipCapDecoder

log = logging.getLogger("t2c.clipcap.train")

IGNORE_INDEX = -100  # label value the transformers loss skips


def caption_batch(decoder: ClipCapDecoder, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokenise captions, each followed by the end-of-text token; return (n, t) token ids and (n, t) mask."""
    eos = decoder.tokenizer.eos_token or ""
    encoded = [decoder.tokenizer.encode(caption + eos, add_special_tokens=False) for caption in captions]
    length = max(len(tokens) for tokens in encoded)
    ids = torch.zeros((len(encoded), length), dtype=torch.long)
    mask = torch.zeros((len(encoded), length), dtype=torch.long)
    for row, tokens in enumerate(encoded):
        ids[row, : len(tokens)] = torch.tensor(tokens)
        mask[row, : len(tokens)] = 1
    return ids, mask


def caption_loss(decoder: ClipCapDecoder, vectors: np.ndarray, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Return the mean next-token loss of the caption tokens given the vectors' prefixes."""
    prefix = decoder.prefix(vectors)
    embeddings = decoder.language_model.get_input_embeddings()(ids.to(decoder.device))
    inputs = torch.cat([prefix, embeddings], dim=1)

    prefix_mask = torch.ones(prefix.shape[:2], dtype=torch.long, device=decoder.device)
    attention = torch.cat([prefix_mask, mask.to(decoder.device)], dim=1)
    labels = torch.cat([torch.full(prefix.shape[:2], IGNORE_INDEX, device=decoder.device), ids.to(decoder.device)], dim=1)
    labels = labels.masked_fill(attention == 0, IGNORE_INDEX)
    return decoder.language_model(inputs_embeds=inputs, attention_mask=attention, labels=labels).loss


def fit_captions(
    decoder: ClipCapDecoder,
    vectors: np.ndarray,
    captions: list[str],
    *,
    steps: int = 200,
    learning_rate: float = 1e-3,
    train_language_model: bool = False,
    seed: int = 0,
) -> list[float]:
    """Train the mapper (and, with `train_language_model`, GPT-2) with AdamW on all pairs per step.

    Args:
        vectors: (n, q) float32 target-space vectors; captions: n texts.

    Returns:
        The loss of every step.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if len(vectors) != len(captions) or not captions:
        raise ConfigError(f"got {len(vectors)} vectors and {len(captions)} captions; pass one caption per vector")
    torch.manual_seed(seed)

    parameters = list(decoder.mapper.parameters())
    if train_language_model:
        parameters += list(decoder.language_model.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=learning_rate)
    ids, mask = caption_batch(decoder, captions)

    decoder.mapper.train()
    decoder.language_model.train(train_language_model)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = caption_loss(decoder, vectors, ids, mask)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))

    decoder.mapper.eval()
    decoder.language_model.eval()
    log.info("trained ClipCap decoder for %d steps: loss %.3f -> %.3f", steps, losses[0], losses[-1])
    return losses
