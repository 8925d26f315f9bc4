"""Built-in target families: open_clip vision-language models."""

from t2c.hookspecs import hookimpl


def load_openclip(name: str, **options):
    from t2c.targets.openclip_target import load_openclip_target

    return load_openclip_target(name, **options)


def list_openclip() -> list[str]:
    from t2c.encoders.openclip_encoder import list_openclip_models

    return list_openclip_models()


@hookimpl
def register_targets(register):
    register(
        "openclip",
        load_openclip,
        description="open_clip models, openclip:<arch>/<pretrained> (openclip:ViT-B-16/openai); option template_set",
        default="ViT-B-16/openai",
        models=list_openclip,
    )
