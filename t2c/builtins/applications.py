"""Built-in applications and decoders, registered through the same hooks as plugins' ones.

Each application's `run` imports its module when called, so listing applications stays cheap.
"""

from t2c.apps.base import Application
from t2c.hookspecs import hookimpl


def _run_zeroshot(**options) -> dict:
    from t2c.apps.zeroshot import run_zeroshot

    return run_zeroshot(**options)


def _run_stitch(**options) -> dict:
    from t2c.apps.stitch import run_stitch

    return run_stitch(**options)


def _run_search(**options) -> dict:
    from t2c.apps.search import run_search

    return run_search(**options)


def _run_drift(**options) -> dict:
    from t2c.apps.drift import run_drift

    return run_drift(**options)


def _run_cbm(**options) -> dict:
    from t2c.apps.cbm import run_cbm

    return run_cbm(**options)


def _run_decode(**options) -> dict:
    from t2c.apps.decode import run_decode

    return run_decode(**options)


APPLICATIONS = (  # name, Python entry point, click command, description
    ("zeroshot", _run_zeroshot, "t2c.cli.zeroshot_cmd:zeroshot_command", "classify a labelled data set zero-shot through a head"),
    ("stitch", _run_stitch, "t2c.cli.stitch_cmd:stitch_command", "align encoders into each other; R² and agreement with the destination's classifier"),
    ("search", _run_search, "t2c.cli.search_cmd:search_command", "rank images by a text query with require / exclude concept logic"),
    ("drift", _run_drift, "t2c.cli.drift_cmd:drift_command", "which concepts differ between two image sets (Welch's t, corrected p, Cohen's d)"),
    ("cbm", _run_cbm, "t2c.cli.cbm_cmd:cbm_command", "concept bottleneck without concept labels: sparse head on concept scores"),
    ("decode", _run_decode, "t2c.cli.decode_cmd:decode_command", "decode class means, directions or probe weights into words"),
)


@hookimpl
def register_applications(register):
    for name, run, command, description in APPLICATIONS:
        register(name, Application(name=name, run=run, command=command, description=description), description=description)


def _vocabulary_decoder(**options):
    from t2c.apps.decoders import VocabularyDecoder

    return VocabularyDecoder(**options)


@hookimpl
def register_decoders(register):
    register("vocabulary", _vocabulary_decoder, description="nearest words of a vocabulary (default: WordNet nouns and adjectives) by cosine")
