"""Built-in applications, registered through the same hook as plugins' applications."""

from t2c.apps.base import Application
from t2c.hookspecs import hookimpl


def _run_zeroshot(**options) -> dict:
    from t2c.apps.zeroshot import run_zeroshot

    return run_zeroshot(**options)


@hookimpl
def register_applications(register):
    register(
        "zeroshot",
        Application(
            name="zeroshot",
            run=_run_zeroshot,
            command="t2c.cli.zeroshot_cmd:zeroshot_command",
            description="classify a labelled data set zero-shot through a head",
        ),
        description="classify a labelled data set zero-shot through a head",
    )
