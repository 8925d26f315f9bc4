"""Hook implementation: registers the "clipcap" concept-to-text decoder."""

from t2c.hookspecs import hookimpl


def create_decoder(target=None, path: str | None = None, **options):
    """Load the ClipCap decoder folder `path` for `target` (checked against the folder's card).

    Options: max_new_tokens, num_beams (1 is greedy search), device.
    """
    from t2c.errors import ConfigError

    from t2c_plugin_clipcap.decoder import ClipCapDecoder

    if not path:
        raise ConfigError(
            "the clipcap decoder needs a decoder folder; pass --decoder-option path=DIR (a folder written by "
            "ClipCapDecoder.save_pretrained or t2c_plugin_clipcap.convert)"
        )
    decoder = ClipCapDecoder.from_pretrained(path, **options)
    if target is not None:
        decoder.check_target(target.id, target.dim)
    return decoder


@hookimpl
def register_decoders(register):
    register("clipcap", create_decoder, description="ClipCap-style GPT-2 prefix decoder (needs a trained decoder folder)")
