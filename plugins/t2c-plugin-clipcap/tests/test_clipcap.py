"""The ClipCap decoder: saving, loading, generation, training, conversion and registration, all offline."""

import json

import numpy as np
import pytest
import torch

from conftest import CAPTIONS, build_language_model
from t2c.errors import ConfigError, HeadError, HeadMismatchError, ShapeError
from t2c_plugin_clipcap.decoder import CARD_NAME, MAPPER_NAME, ClipCapDecoder


def vectors(count: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)


def test_greedy_generation_is_deterministic(make_decoder):
    decoder = make_decoder()
    first = decoder.generate(vectors(3))
    second = decoder.generate(vectors(3))
    assert len(first) == 3
    assert all(isinstance(text, str) for text in first)
    assert first == second


def test_beam_search_returns_one_text_per_vector(make_decoder):
    decoder = make_decoder(num_beams=3)
    texts = decoder.generate(vectors(2))
    assert len(texts) == 2
    assert all(isinstance(text, str) for text in texts)


def test_prefix_shape_follows_card(make_decoder):
    decoder = make_decoder(prefix_length=5)
    assert tuple(decoder.prefix(vectors(2)).shape) == (2, 5, 64)


def test_save_load_round_trip(make_decoder, tmp_path):
    decoder = make_decoder(target_id="offline:effnet-lite0-minilm")
    decoder.save_pretrained(tmp_path / "decoder")
    loaded = ClipCapDecoder.from_pretrained(tmp_path / "decoder", max_new_tokens=12)

    assert loaded.card == decoder.card
    assert loaded.generate(vectors(2)) == decoder.generate(vectors(2))


def test_saved_folder_has_no_pickle(make_decoder, tmp_path):
    make_decoder().save_pretrained(tmp_path / "decoder")
    suffixes = {path.suffix for path in (tmp_path / "decoder").rglob("*") if path.is_file()}
    assert suffixes <= {".json", ".safetensors", ".txt"}


def test_wrong_vector_size_raises(make_decoder):
    with pytest.raises(ShapeError, match=r"expects \(n, 16\)"):
        make_decoder().generate(vectors(1, dim=8))


def test_modified_mapper_raises(make_decoder, tmp_path):
    folder = make_decoder().save_pretrained(tmp_path / "decoder")
    data = bytearray((folder / MAPPER_NAME).read_bytes())
    data[-1] ^= 0xFF
    (folder / MAPPER_NAME).write_bytes(bytes(data))
    with pytest.raises(HeadError, match="sha256"):
        ClipCapDecoder.from_pretrained(folder)


def test_unknown_card_field_raises(make_decoder, tmp_path):
    folder = make_decoder().save_pretrained(tmp_path / "decoder")
    card = json.loads((folder / CARD_NAME).read_text())
    card["layers"] = 3
    (folder / CARD_NAME).write_text(json.dumps(card))
    with pytest.raises(HeadError, match="unknown field 'layers'"):
        ClipCapDecoder.from_pretrained(folder)


def test_target_mismatch_raises(make_decoder):
    decoder = make_decoder(target_id="offline:effnet-lite0-minilm")
    decoder.check_target("offline:effnet-lite0-minilm", 16)
    with pytest.raises(HeadMismatchError, match="16-d"):
        decoder.check_target("offline:effnet-lite0-minilm", 32)
    with pytest.raises(HeadMismatchError, match="openclip:ViT-B-32/openai"):
        decoder.check_target("openclip:ViT-B-32/openai", 16)


def test_trained_decoder_reproduces_captions(make_decoder):
    # Two vectors, two captions: after training, the prefix must steer GPT-2 to the right caption.
    from t2c_plugin_clipcap.train import fit_captions

    decoder = make_decoder(prefix_length=4)
    decoder.card = decoder.card.model_copy(update={"stop_text": None})
    pairs = vectors(2, seed=3)
    losses = fit_captions(decoder, pairs, CAPTIONS[:2], steps=150, learning_rate=3e-3, train_language_model=True)

    assert losses[-1] < 0.1 * losses[0]
    assert decoder.generate(pairs, max_new_tokens=20) == CAPTIONS[:2]


def test_convert_original_checkpoint(tokenizer, tmp_path):
    # A state dict laid out as ClipCap's ClipCaptionModel: clip_project.model.{0,2}.* and gpt.*.
    from t2c_plugin_clipcap.convert import convert_clipcap_checkpoint

    language_model = build_language_model(len(tokenizer), tokenizer.eos_token_id, seed=5)
    torch.manual_seed(6)
    state = {
        "clip_project.model.0.weight": torch.randn(128, 24),
        "clip_project.model.0.bias": torch.randn(128),
        "clip_project.model.2.weight": torch.randn(3 * 64, 128),
        "clip_project.model.2.bias": torch.randn(3 * 64),
        **{f"gpt.{key}": value for key, value in language_model.state_dict().items()},
    }
    torch.save(state, tmp_path / "coco_prefix-009.pt")
    tokenizer.save_pretrained(tmp_path / "tokenizer")

    folder = convert_clipcap_checkpoint(
        tmp_path / "coco_prefix-009.pt", tmp_path / "tokenizer", tmp_path / "decoder",
        target_id="openclip:ViT-B-32/openai", prefix_length=3, gpt2_config=language_model.config,
    )
    decoder = ClipCapDecoder.from_pretrained(folder)

    assert decoder.card.target_dim == 24
    assert decoder.card.normalize_input is False
    assert torch.equal(decoder.mapper.model[2].weight, state["clip_project.model.2.weight"])
    assert torch.equal(decoder.language_model.transformer.h[1].mlp.c_fc.weight, language_model.transformer.h[1].mlp.c_fc.weight)


def test_convert_rejects_transformer_mapper(tokenizer, tmp_path):
    from t2c_plugin_clipcap.convert import convert_clipcap_checkpoint

    torch.save({"clip_project.linear.weight": torch.zeros(4, 4)}, tmp_path / "transformer.pt")
    with pytest.raises(ConfigError, match="only ClipCap's MLP mapping network"):
        convert_clipcap_checkpoint(tmp_path / "transformer.pt", tmp_path, tmp_path / "out")


def test_registered_through_entry_point():
    from t2c import registry
    from t2c_plugin_clipcap.plugin import create_decoder

    assert registry.get_decoder("clipcap") is create_decoder
    with pytest.raises(ConfigError, match="path=DIR"):
        create_decoder(target=None)


def test_decode_app_runs_clipcap(make_decoder, tmp_path):
    # `t2c run decode --decoder clipcap` end to end on the offline models; random weights give noise text.
    pytest.importorskip("t2c_plugin_offline", reason="needs t2c-plugin-offline for a real target")
    from t2c.apps.decode import run_decode

    folder = make_decoder(target_dim=1280, target_id="offline:effnet-lite0-minilm").save_pretrained(tmp_path / "decoder")
    results = run_decode(
        "fashion-mnist/test", classes=["coat"], directions=["sneaker:ankle boot"], limit=1024, train_samples=1024,
        vocabulary=["coat", "boot", "shirt"], top_k=2, use_zoo=False,
        decoder="clipcap", decoder_options={"path": str(folder), "max_new_tokens": "5"},
    )
    assert [entry["kind"] for entry in results["decoded"]] == ["point", "direction"]
    assert all(isinstance(entry["generated"], str) for entry in results["decoded"])
    assert results["decoder"] == "clipcap"

