"""The README.md model card `t2c push` writes: Hub metadata, model-index and usage."""

import pytest
from fake_hub import fake_hub_fixture, make_head  # noqa: F401 - provides the fixture `fake_hub`
from huggingface_hub import ModelCard

from t2c.hub import push_head
from t2c.modelcard import hub_dataset_id, hub_model_id, render_model_card

REPO = "t2c-test/resnet50-to-clip"


@pytest.fixture
def card():
    head = make_head(metrics={"r2_paper": 0.78, "acc1": 0.682})
    return head.card.model_copy(update={"weights_sha256": "c" * 64})


@pytest.fixture
def model_card(card):
    return ModelCard(render_model_card(card, REPO, license="mit"))


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("timm:resnet50.a1_in1k", "timm/resnet50.a1_in1k"),
        ("hf:facebook/dinov2-small", "facebook/dinov2-small"),
        ("openclip:ViT-B-16/openai", "openai/clip-vit-base-patch16"),
        ("dinov2:vits14", "facebook/dinov2-small"),
        ("offline:effnet-lite0", None),
        ("torchvision:resnet50/IMAGENET1K_V2", None),
    ],
)
def test_hub_model_id(model_id, expected):
    assert hub_model_id(model_id) == expected


@pytest.mark.parametrize(
    ("dataset_id", "expected"),
    [("fashion-mnist", "zalando-datasets/fashion_mnist"), ("hf:uoft-cs/cifar10", "uoft-cs/cifar10"), ("folder:/data/train", None)],
)
def test_hub_dataset_id(dataset_id, expected):
    assert hub_dataset_id(dataset_id) == expected


def test_metadata_fields(model_card):
    data = model_card.data

    assert data.library_name == "t2c"
    assert data.license == "mit"
    assert "t2c" in data.tags
    assert "aligner-ridge" in data.tags
    assert data.base_model == ["timm/resnet50.a1_in1k", "openai/clip-vit-base-patch16"]
    assert data.datasets == ["zalando-datasets/fashion_mnist"]
    assert data.pipeline_tag == "zero-shot-image-classification"


def test_t2c_ids_in_metadata(model_card, card):
    ids = model_card.data.to_dict()["t2c"]

    assert ids["encoder"] == "timm:resnet50.a1_in1k"
    assert ids["target"] == "openclip:ViT-B-16/openai"
    assert ids["aligner"] == "ridge"
    assert ids["weights_sha256"] == card.weights_sha256


def test_metrics_as_model_index(model_card):
    results = {result.metric_type: result for result in model_card.data.eval_results}

    assert model_card.data.model_name == REPO
    assert results["r2_paper"].metric_value == 0.78
    assert results["acc1"].metric_value == 0.682
    assert results["acc1"].dataset_type == "zalando-datasets/fashion_mnist"
    assert results["acc1"].task_type == "zero-shot-image-classification"


def test_usage_snippets(model_card):
    text = model_card.text

    assert f"t2c pull {REPO}" in text
    assert f"--head hub:{REPO}" in text
    assert f'Head.from_pretrained("{REPO}")' in text


def test_branch_is_pinned_in_usage(card):
    text = render_model_card(card, REPO, revision="v1")

    assert f"t2c pull {REPO}@v1" in text
    assert f'Head.from_pretrained("{REPO}", revision="v1")' in text


def test_unmapped_ids_omit_base_model(card):
    offline = card.model_copy(update={
        "encoder": card.encoder.model_copy(update={"id": "offline:resnet50-opennsfw"}),
        "target": card.target.model_copy(update={"id": "offline:effnet-lite0-minilm"}),
        "fit_data": card.fit_data.model_copy(update={"dataset": "sklearn-digits"}),
    })

    data = ModelCard(render_model_card(offline, REPO)).data

    assert data.base_model is None
    assert data.datasets is None
    assert data.to_dict()["t2c"]["encoder"] == "offline:resnet50-opennsfw"


def test_no_metrics_no_model_index(card):
    bare = card.model_copy(update={"metrics": {}})

    data = ModelCard(render_model_card(bare, REPO)).data

    assert "model-index" not in data.to_dict()


def test_push_uploads_model_card(fake_hub, tmp_path):
    folder = make_head().save_pretrained(tmp_path / "head")

    push_head(folder, REPO, license="apache-2.0")

    uploaded = ModelCard(fake_hub.files(REPO)["README.md"].decode())
    assert uploaded.data.library_name == "t2c"
    assert uploaded.data.license == "apache-2.0"
    assert fake_hub.count("validate") == 1
