"""ClipCapDecoder: load, save and run a prefix decoder (mapping network + GPT-2 language model).

A decoder folder contains
- `decoder.json`: the card (`DecoderCard`), with the sha256 of the mapper weights;
- `mapper.safetensors`: the `PrefixMapper` state dict;
- `gpt2/`: a transformers `GPT2LMHeadModel` and its tokenizer, as their `save_pretrained` write
  them (weights in safetensors; loading refuses pickled `.bin` weights).
With random weights, as in this plugin's tests, the generated text is noise. Captions that mean
something need a mapper and GPT-2 trained on (target-space vector, caption) pairs of the target
in use, for example with `t2c_plugin_clipcap.train.fit_captions` or converted from a ClipCap
checkpoint trained on that target's image embeddings (`t2c_plugin_clipcap.convert`).
"""

import hashlib
import logging
from pathlib import Path

import numpy as np
import safetensors.torch
import torch

from t2c.errors import ConfigError, HeadError, HeadMismatchError, NotFoundError, ShapeError

from t2c_plugin_clipcap.card import FORMAT_VERSION, DecoderCard, parse_card
from t2c_plugin_clipcap.mapper import PrefixMapper

log = logging.getLogger("t2c.clipcap")

CARD_NAME = "decoder.json"
MAPPER_NAME = "mapper.safetensors"
GPT2_FOLDER = "gpt2"
DEFAULT_MAX_NEW_TOKENS = 30


def _positive_int(value, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={value!r} must be a positive integer") from None
    if number < 1:
        raise ConfigError(f"{name}={number} must be at least 1")
    return number


class ClipCapDecoder:
    """Generates text from target-space vectors through a GPT-2 prefix.

    Args:
        mapper: the `PrefixMapper`.
        language_model: a transformers `GPT2LMHeadModel`.
        tokenizer: its tokenizer.
        card: the `DecoderCard`.
        max_new_tokens: tokens generated per vector at most.
        num_beams: beam width; 1 is greedy search.
        device: torch device for both networks.
    """

    def __init__(self, mapper: PrefixMapper, language_model, tokenizer, card: DecoderCard, *,
                 max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, num_beams: int = 1, device: str = "cpu"):
        embedding_dim = language_model.config.n_embd
        if mapper.embedding_dim != embedding_dim:
            raise ShapeError(f"mapper produces {mapper.embedding_dim}-d prefix embeddings but GPT-2 has n_embd={embedding_dim}")
        self.card = card
        self.tokenizer = tokenizer
        self.max_new_tokens = _positive_int(max_new_tokens, "max_new_tokens")
        self.num_beams = _positive_int(num_beams, "num_beams")
        self.device = torch.device(device)
        self.mapper = mapper.to(self.device).eval()
        self.language_model = language_model.to(self.device).eval()

    @classmethod
    def create(cls, language_model, tokenizer, target_dim: int, *, prefix_length: int = 10, hidden_dim: int | None = None,
               normalize_input: bool = True, target_id: str | None = None, seed: int = 0, **options) -> "ClipCapDecoder":
        """Build a decoder with a freshly initialised mapper (seeded) around a GPT-2 model and tokenizer."""
        embedding_dim = language_model.config.n_embd
        hidden_dim = hidden_dim or prefix_length * embedding_dim // 2  # ClipCap's choice
        torch.manual_seed(seed)
        mapper = PrefixMapper(target_dim, hidden_dim, prefix_length, embedding_dim)
        card = DecoderCard(
            format_version=FORMAT_VERSION, target_id=target_id, target_dim=target_dim, prefix_length=prefix_length,
            hidden_dim=hidden_dim, normalize_input=normalize_input,
        )
        return cls(mapper, language_model, tokenizer, card, **options)

    @classmethod
    def from_pretrained(cls, folder: str | Path, **options) -> "ClipCapDecoder":
        """Load and validate a decoder folder; `options` are max_new_tokens, num_beams and device."""
        from transformers import AutoTokenizer, GPT2LMHeadModel

        folder = Path(folder).expanduser()
        for path in (folder / CARD_NAME, folder / MAPPER_NAME, folder / GPT2_FOLDER):
            if not path.exists():
                raise NotFoundError(
                    f"ClipCap decoder folder {folder} has no {path.name}; a decoder folder contains {CARD_NAME}, "
                    f"{MAPPER_NAME} and {GPT2_FOLDER}/ as written by ClipCapDecoder.save_pretrained"
                )
        card = parse_card(folder / CARD_NAME)

        weights = (folder / MAPPER_NAME).read_bytes()
        actual = hashlib.sha256(weights).hexdigest()
        if actual != card.mapper_sha256:
            raise HeadError(
                f"{folder / MAPPER_NAME} has sha256 {actual}, but {CARD_NAME} expects {card.mapper_sha256}; "
                "the file was modified or damaged; save the decoder again"
            )

        language_model = GPT2LMHeadModel.from_pretrained(folder / GPT2_FOLDER, local_files_only=True, use_safetensors=True)
        tokenizer = AutoTokenizer.from_pretrained(folder / GPT2_FOLDER, local_files_only=True)
        mapper = PrefixMapper(card.target_dim, card.hidden_dim, card.prefix_length, language_model.config.n_embd)
        state = safetensors.torch.load(weights)
        try:
            mapper.load_state_dict(state, strict=True)
        except RuntimeError as error:
            raise ShapeError(f"{folder / MAPPER_NAME} does not fit the card's mapper shape ({error}); save the decoder again") from None

        log.info("loaded ClipCap decoder from %s (target %s, prefix %d)", folder, card.target_id or "any", card.prefix_length)
        return cls(mapper, language_model, tokenizer, card, **options)

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write `gpt2/` (model and tokenizer), `mapper.safetensors` and `decoder.json` into `folder`."""
        folder = Path(folder).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        self.language_model.save_pretrained(folder / GPT2_FOLDER, safe_serialization=True)
        self.tokenizer.save_pretrained(folder / GPT2_FOLDER)

        state = {name: tensor.detach().cpu().contiguous() for name, tensor in self.mapper.state_dict().items()}
        weights = safetensors.torch.save(state)
        (folder / MAPPER_NAME).write_bytes(weights)

        self.card = self.card.model_copy(update={"mapper_sha256": hashlib.sha256(weights).hexdigest()})
        (folder / CARD_NAME).write_text(self.card.model_dump_json(indent=2) + "\n", encoding="utf-8")
        log.info("saved ClipCap decoder to %s", folder)
        return folder

    def check_target(self, target_id: str, target_dim: int) -> None:
        """Raise `HeadMismatchError` unless the target has the card's dimension (and id, when the card names one)."""
        if target_dim != self.card.target_dim or (self.card.target_id and target_id != self.card.target_id):
            expected = self.card.target_id or "a target"
            raise HeadMismatchError(
                f"this ClipCap decoder reads {self.card.target_dim}-d vectors of {expected}, but the target is "
                f"{target_id} ({target_dim}-d); use a decoder trained for {target_id}"
            )

    def prefix(self, vectors: np.ndarray) -> torch.Tensor:
        """Map (n, q) target-space vectors to (n, k, e) GPT-2 prefix embeddings."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.card.target_dim:
            raise ShapeError(f"vectors have shape {vectors.shape}, but this decoder expects (n, {self.card.target_dim})")
        batch = torch.from_numpy(vectors).to(self.device)
        if self.card.normalize_input:
            batch = torch.nn.functional.normalize(batch, dim=1)
        return self.mapper(batch)

    def stop_token_ids(self) -> list[int]:
        """Return the token ids that end generation: end of text, and the card's stop text when it is one token."""
        ids = [self.tokenizer.eos_token_id] if self.tokenizer.eos_token_id is not None else []
        if self.card.stop_text:
            encoded = self.tokenizer.encode(self.card.stop_text, add_special_tokens=False)
            if len(encoded) == 1:
                ids.append(encoded[0])
        return ids

    def generate(self, vectors: np.ndarray, max_new_tokens: int | None = None, num_beams: int | None = None) -> list[str]:
        """Generate one text per (n, q) vector: greedy search, or beam search with `num_beams` > 1."""
        max_new_tokens = _positive_int(max_new_tokens or self.max_new_tokens, "max_new_tokens")
        num_beams = _positive_int(num_beams or self.num_beams, "num_beams")
        stop_ids = self.stop_token_ids()

        with torch.inference_mode():
            prefix = self.prefix(vectors)
            mask = torch.ones(prefix.shape[:2], dtype=torch.long, device=self.device)
            tokens = self.language_model.generate(
                inputs_embeds=prefix,
                attention_mask=mask,
                max_new_tokens=max_new_tokens,
                num_beams=num_beams,
                do_sample=False,
                eos_token_id=stop_ids or None,
                pad_token_id=self.tokenizer.eos_token_id if self.tokenizer.eos_token_id is not None else 0,
            )
        # With inputs_embeds and no input_ids, generate returns only the new tokens.
        return [self.tokenizer.decode(row, skip_special_tokens=True).strip() for row in tokens]

    def decode(self, batch) -> list[dict]:
        """Generate text for a `t2c.apps.decoders.TargetVectors` batch (or an (n, q) array): [{"text": ...}, ...]."""
        vectors = getattr(batch, "vectors", batch)
        return [{"text": text} for text in self.generate(vectors)]
