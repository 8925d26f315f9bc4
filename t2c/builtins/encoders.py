"""Built-in encoder families of the ecosystem: timm, torchvision, open_clip and transformers.

The factories import their library when a model is built, so listing plugins stays fast and
works without the `ecosystem` extra.
"""

from t2c.hookspecs import hookimpl


def load_timm(name: str, **options):
    from t2c.encoders.timm_encoder import load_timm_encoder

    return load_timm_encoder(name, **options)


def load_torchvision(name: str, **options):
    from t2c.encoders.torchvision_encoder import load_torchvision_encoder

    return load_torchvision_encoder(name, **options)


def load_openclip(name: str, **options):
    from t2c.encoders.openclip_encoder import load_openclip_encoder

    return load_openclip_encoder(name, **options)


def load_hf(name: str, **options):
    from t2c.encoders.hf_encoder import load_hf_encoder

    return load_hf_encoder(name, **options)


def list_timm() -> list[str]:
    from t2c.encoders.timm_encoder import list_timm_models

    return list_timm_models()


def list_torchvision() -> list[str]:
    from t2c.encoders.torchvision_encoder import list_torchvision_models

    return list_torchvision_models()


def list_openclip() -> list[str]:
    from t2c.encoders.openclip_encoder import list_openclip_models

    return list_openclip_models()


@hookimpl
def register_encoders(register):
    register(
        "timm",
        load_timm,
        description="timm models as timm names them, timm:<arch>.<tag> (timm:resnet50.a1_in1k); pooled pre-logit features",
        default="resnet50.a1_in1k",
        models=list_timm,
    )
    register(
        "torchvision",
        load_torchvision,
        description="torchvision classifiers, torchvision:<model>/<weights> (torchvision:resnet50/IMAGENET1K_V2); penultimate features",
        default="resnet50/IMAGENET1K_V2",
        models=list_torchvision,
    )
    register(
        "openclip",
        load_openclip,
        description="open_clip image towers, openclip:<arch>/<pretrained> (openclip:ViT-B-16/openai), hf-hub:org/repo or local-dir:PATH",
        default="ViT-B-16/openai",
        models=list_openclip,
    )
    register(
        "hf",
        load_hf,
        description="transformers vision models, hf:<org>/<repo> or hf:PATH (hf:facebook/dinov2-small); option pooling=auto|cls|mean|pooler",
        default="facebook/dinov2-small",
    )
