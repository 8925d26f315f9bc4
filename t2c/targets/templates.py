"""Prompt template sets for building concepts from class names.

A template is a string with one `{}` where the class name goes. The ImageNet sets come from
open_clip's metadata module (the 80 prompts of the CLIP paper and its short set of 7), so they
need open_clip. `basic` and the per-data-set sets need nothing.
"""

from pathlib import Path

from t2c.errors import ConfigError, NotFoundError

BASIC_TEMPLATES = [
    "a photo of a {}.",
    "a photo of the {}.",
    "a picture of a {}.",
    "an image of a {}.",
]


def _open_clip_templates(attribute: str) -> list[str]:
    try:
        from open_clip import zero_shot_metadata
    except ImportError as error:
        raise NotFoundError(
            f"template set needs open_clip ({error}); install it with `pip install open_clip_torch` "
            "or use --templates basic"
        ) from error
    return [template("{}") for template in getattr(zero_shot_metadata, attribute)]


# Per-data-set prompts of CLIP's zero-shot evaluation, as CLIP_benchmark collects them in
# clip_benchmark/datasets/en_zeroshot_classification_templates.json (LAION-AI/CLIP_benchmark, MIT).
_CIFAR_TEMPLATES = [
    f"a {quality}photo of {article} {size}{{}}."
    for article in ("a", "the")
    for quality, size in [
        ("", ""),
        ("blurry ", ""),
        ("black and white ", ""),
        ("low contrast ", ""),
        ("high contrast ", ""),
        ("bad ", ""),
        ("good ", ""),
        ("", "small "),
        ("", "big "),
    ]
]

DATASET_TEMPLATES = {  # template set name -> prompts for that data set
    "cifar10": _CIFAR_TEMPLATES,
    "cifar100": _CIFAR_TEMPLATES,
    "stl10": ["a photo of a {}.", "a photo of the {}."],
    "mnist": ['a photo of the number: "{}".'],
    "svhn": [
        "a photo of the number {} written on a sign",
        "an outdoor house number {}",
        "the number {} in the center of the image",
        "an outdoor number {} writte on a sign",  # spelled as in the source, so scores stay comparable
        "an outdoor number {}",
        "a centered image of the number {}",
    ],
    "food101": ["a photo of {}, a type of food."],
    "pets": ["a photo of a {}, a type of pet."],
    "flowers": ["a photo of a {}, a type of flower."],
    "dtd": [f"a photo of {article} {{}} {noun}." for article in ("a", "the") for noun in ("texture", "pattern", "thing", "object")],
    "eurosat": ["a centered satellite photo of {}.", "a centered satellite photo of a {}.", "a centered satellite photo of the {}."],
    "gtsrb": [
        'a zoomed in photo of a "{}" traffic sign.',
        'a centered photo of a "{}" traffic sign.',
        'a close up photo of a "{}" traffic sign.',
    ],
    "sun397": ["a photo of a {}.", "a photo of the {}."],
}

TEMPLATE_SETS = {
    "openai-imagenet": lambda: _open_clip_templates("OPENAI_IMAGENET_TEMPLATES"),  # 80 prompts
    "simple-imagenet": lambda: _open_clip_templates("SIMPLE_IMAGENET_TEMPLATES"),  # 7 prompts
    "basic": lambda: list(BASIC_TEMPLATES),
    **{name: (lambda templates=templates: list(templates)) for name, templates in DATASET_TEMPLATES.items()},
}


def check_templates(templates: list[str], source: str) -> list[str]:
    """Return `templates` after checking each has exactly one `{}` placeholder."""
    if not templates:
        raise ConfigError(f"no templates in {source}; give at least one line such as 'a photo of a {{}}.'")

    for template in templates:
        if template.count("{}") != 1:
            raise ConfigError(
                f"template {template!r} in {source} must contain exactly one '{{}}' where the class name goes"
            )
    return templates


def read_lines(path: str | Path, what: str) -> list[str]:
    """Read non-empty, non-comment lines of a UTF-8 text file (class names or templates)."""
    file = Path(path)
    if not file.is_file():
        raise NotFoundError(f"{what} file not found: {file}; give a text file with one entry per line")

    lines = [line.strip() for line in file.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def load_templates(spec: str | list[str] | None, default: list[str]) -> list[str]:
    """Resolve a template spec: None (use `default`), a set name, a file path or a list."""
    if spec is None:
        return check_templates(list(default), "the default template set")

    if isinstance(spec, list):
        return check_templates(spec, "the given template list")

    if spec in TEMPLATE_SETS:
        return TEMPLATE_SETS[spec]()

    if Path(spec).is_file():
        return check_templates(read_lines(spec, "templates"), spec)

    names = ", ".join(TEMPLATE_SETS)
    raise NotFoundError(f"templates {spec!r} is neither a template set ({names}) nor an existing file")
