"""The README.md `t2c push` uploads beside a head: Hub metadata (YAML) plus a usage guide.

The metadata follows the Hub's model card format through huggingface_hub's `ModelCardData`:
`library_name: t2c`, `license`, `tags`, `base_model` (the encoder and target, where they have a
Hub id), `datasets` (the fit data, where it has a Hub id), `pipeline_tag`, the head card's
metrics as a `model-index`, and the exact t2c ids under a `t2c` key.
"""

from huggingface_hub import EvalResult, ModelCardData

from t2c.card import HeadCard

DEFAULT_LICENSE = "other"  # a head derives from the encoder's and the target's weights, whose licenses vary
TASK = "zero-shot-image-classification"

# t2c ids of models whose weights live in a Hub repo under another name. Families not listed
# here (offline:, torchvision:) have no Hub repo, and their ids appear only under the `t2c` key.
HUB_MODEL_IDS = {
    "openclip:ViT-B-32/openai": "openai/clip-vit-base-patch32",
    "openclip:ViT-B-16/openai": "openai/clip-vit-base-patch16",
    "openclip:ViT-L-14/openai": "openai/clip-vit-large-patch14",
    "dinov2:vits14": "facebook/dinov2-small",
    "dinov2:vitb14": "facebook/dinov2-base",
    "dinov2:vitl14": "facebook/dinov2-large",
    "dinov2:vitg14": "facebook/dinov2-giant",
}
HUB_DATASET_IDS = {"fashion-mnist": "zalando-datasets/fashion_mnist"}  # t2c data set id -> Hub dataset id


def hub_model_id(model_id: str) -> str | None:
    """Return the Hub repo of a t2c encoder or target id, such as `timm/resnet50.a1_in1k`, or None."""
    if model_id in HUB_MODEL_IDS:
        return HUB_MODEL_IDS[model_id]

    family, _, name = model_id.partition(":")
    if family == "hf" and "/" in name:
        return name
    if family == "timm" and name and "/" not in name:
        return f"timm/{name}"  # timm publishes its pretrained weights under the "timm" organisation
    return None


def hub_dataset_id(dataset_id: str) -> str | None:
    """Return the Hub dataset repo of a t2c data set id, or None."""
    if dataset_id in HUB_DATASET_IDS:
        return HUB_DATASET_IDS[dataset_id]

    family, _, name = dataset_id.partition(":")
    if family == "hf" and name:
        return name
    return None


def card_metadata(card: HeadCard, repo_id: str, *, license: str = DEFAULT_LICENSE) -> ModelCardData:
    """Build the model card metadata of a head about to be pushed to `repo_id`."""
    base_models = [hub_id for hub_id in (hub_model_id(card.encoder.id), hub_model_id(card.target.id)) if hub_id]
    dataset = hub_dataset_id(card.fit_data.dataset)

    eval_results = [
        EvalResult(
            task_type=TASK,
            dataset_type=dataset or card.fit_data.dataset,
            dataset_name=card.fit_data.dataset,
            metric_type=name,
            metric_name=name,
            metric_value=value,
        )
        for name, value in sorted(card.metrics.items())
    ]

    return ModelCardData(
        library_name="t2c",
        license=license,
        tags=["t2c", "text-to-concept", "cross-model-alignment", f"aligner-{card.aligner.kind}"],
        base_model=base_models or None,
        datasets=[dataset] if dataset else None,
        pipeline_tag=TASK,
        model_name=repo_id,
        eval_results=eval_results or None,
        t2c={
            "encoder": card.encoder.id,
            "encoder_dim": card.encoder.dim,
            "target": card.target.id,
            "target_dim": card.target.dim,
            "aligner": card.aligner.kind,
            "fit_dataset": card.fit_data.dataset,
            "fit_split": card.fit_data.split,
            "fit_samples": card.fit_data.n_samples,
            "format_version": card.format_version,
            "weights_sha256": card.weights_sha256,
        },
    )


def render_model_card(card: HeadCard, repo_id: str, *, license: str = DEFAULT_LICENSE, revision: str | None = None) -> str:
    """Return the README.md text for a head: YAML metadata, a description, usage, fit data and metrics.

    `revision` is the branch the head is pushed to; the usage lines pin it when it is not main.
    """
    metadata = card_metadata(card, repo_id, license=license)
    spec = repo_id if revision in (None, "main") else f"{repo_id}@{revision}"
    revision_argument = "" if revision in (None, "main") else f', revision="{revision}"'
    p = card.encoder.dim
    q = card.target.dim

    lines = [
        "---",
        metadata.to_yaml().rstrip("\n"),
        "---",
        "",
        f"# {repo_id}",
        "",
        (
            f"A [t2c](https://pypi.org/project/t2c/) head: a `{card.aligner.kind}` map from the features of the encoder "
            f"`{card.encoder.id}` ({p}-d) into the image space of the target `{card.target.id}` ({q}-d). "
            "With it, the target's text encoder can classify and search images through the encoder, "
            "a model that never saw text (Moayeri et al., Text-To-Concept (and Back) via Cross-Model Alignment, ICML 2023)."
        ),
        "",
        "## Usage",
        "",
        "Command line:",
        "",
        "```bash",
        "pip install t2c",
        f"t2c pull {spec}",
        f"t2c run zeroshot --encoder {card.encoder.id} --target {card.target.id} --head hub:{spec}",
        "```",
        "",
        "Python:",
        "",
        "```python",
        "import t2c",
        "",
        f'head = t2c.Head.from_pretrained("{repo_id}"{revision_argument})',
        f'encoder = t2c.load_encoder("{card.encoder.id}")',
        f'target = t2c.load_target("{card.target.id}")',
        'classifier = t2c.zeroshot_classifier(encoder, head, target, ["cat", "dog"])',
        f"# or map your own (n, {p}) encoder features into the target's (n, {q}) image space:",
        "aligned = head.transform(features)",
        "```",
        "",
        (
            "Pin a commit for reproducible results: `t2c pull` prints the commit sha of what it downloaded, "
            f"and `hub:{repo_id}@<sha>` or `revision=\"<sha>\"` loads exactly that commit."
        ),
        "",
        "## Fit",
        "",
        "| data set | split | images | aligner | hyperparameters |",
        "|---|---|---|---|---|",
        (
            f"| `{card.fit_data.dataset}` | {card.fit_data.split} | {card.fit_data.n_samples} | {card.aligner.kind} | "
            f"{_format_hyperparameters(card.aligner.hyperparameters)} |"
        ),
        "",
    ]

    if card.metrics:
        lines += ["## Metrics", "", "| metric | value |", "|---|---|"]
        lines += [f"| {name} | {value:.4g} |" for name, value in sorted(card.metrics.items())]
        lines += [""]

    lines += [
        "## Files",
        "",
        (
            f"- `model.safetensors`: float32 tensors `coef` ({q}, {p}), `intercept` ({q},) and `target_mean` ({q},); "
            "aligned = features @ coef.T + intercept."
        ),
        (
            "- `config.json`: the head card (encoder, target, preprocessing, fit data, metrics) with the sha256 of "
            f"`model.safetensors` ({card.weights_sha256}), checked on every load."
        ),
        "",
    ]
    return "\n".join(lines)


def _format_hyperparameters(hyperparameters: dict) -> str:
    if not hyperparameters:
        return "defaults"
    return ", ".join(f"{name}={value}" for name, value in sorted(hyperparameters.items()))
