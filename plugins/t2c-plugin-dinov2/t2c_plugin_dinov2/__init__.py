"""DINOv2 encoders for t2c: `dinov2:vits14` ... `dinov2:vitg14`, and `dinov2:vits14_reg` ... with registers.

Model names follow DINOv2's torch.hub entry points (dinov2_vits14, dinov2_vits14_reg) without the
prefix. The weights load through transformers from the Hub repos facebook/dinov2-<size> and
facebook/dinov2-with-registers-<size>, using t2c's `hf` encoder: the Hugging Face cache is read
first and, with HF_HUB_OFFLINE=1, nothing is downloaded. Features are the CLS token after the
final layer norm (the model's pooler output); option `pooling=mean` averages the patch tokens.

A bare `dinov2` resolves to `dinov2:vits14`: ViT-S/14 (21M parameters, 384-d) is the variant that
runs at a usable speed on a CPU, and the offline plugin's `offline:dinov2-vits14-imgfocus` is the
same backbone. Pick vitb14 or larger for accuracy.

Every `t2c` command imports this module, so it imports only t2c's hook and registry modules; the
factory imports transformers when a model is built.
"""

from t2c.hookspecs import hookimpl
from t2c.registry import not_found_error

FAMILY = "dinov2"
DEFAULT_MODEL = "vits14"
SIZES = {"vits14": "small", "vitb14": "base", "vitl14": "large", "vitg14": "giant"}  # model name -> Hub size suffix
REGISTERS_SUFFIX = "_reg"
OPTIONS = ("pooling", "revision")


def repo_id(name: str) -> str:
    """Return the Hub repo of a model name: vits14 -> facebook/dinov2-small, vits14_reg -> facebook/dinov2-with-registers-small."""
    base = name.removesuffix(REGISTERS_SUFFIX)
    if base not in SIZES:
        raise not_found_error("dinov2 model", name, model_names(), "Run `t2c list encoders dinov2`.")

    if name.endswith(REGISTERS_SUFFIX):
        return f"facebook/dinov2-with-registers-{SIZES[base]}"
    return f"facebook/dinov2-{SIZES[base]}"


def model_names() -> list[str]:
    """Return every model name: the four sizes, then the four with registers."""
    return [*SIZES, *(f"{name}{REGISTERS_SUFFIX}" for name in SIZES)]


def load_encoder(name: str, **options):
    """Build the encoder `dinov2:<name>`; options `pooling` (auto, cls, mean, pooler) and `revision`."""
    from t2c.encoders.hf_encoder import POOLINGS, build_hf_encoder
    from t2c.errors import ConfigError
    from t2c.id_options import merge_options, reject_unknown, split_options

    name, query = split_options(name, "dinov2 encoder id")
    options = merge_options(query, options, f"{FAMILY}:{name}")
    reject_unknown(options, OPTIONS, f"{FAMILY}:{name}")

    pooling = options.get("pooling", "auto")
    if pooling not in POOLINGS:
        raise ConfigError(f"pooling={pooling!r} is unknown; use one of {', '.join(POOLINGS)}")
    return build_hf_encoder(repo_id(name), f"{FAMILY}:{name}", pooling, options.get("revision"))


@hookimpl
def register_encoders(register):
    register(
        FAMILY,
        load_encoder,
        description="DINOv2 ViT-S/B/L/g, 14-pixel patches, with or without registers (dinov2:vitb14_reg), via transformers; CLS features",
        default=DEFAULT_MODEL,
        models=model_names,
    )
