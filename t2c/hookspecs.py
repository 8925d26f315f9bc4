"""Hook specifications of the t2c plugin system.

Each hook receives a `register` callable, so a plugin adds entries with
`register(name, factory)` and never touches t2c's tables directly.
"""

import pluggy

hookspec = pluggy.HookspecMarker("t2c")
hookimpl = pluggy.HookimplMarker("t2c")


@hookspec
def register_encoders(register):
    """Register encoder families: `register("timm", factory)` serves ids "timm:<name>"."""


@hookspec
def register_targets(register):
    """Register target (vision-language model) families, named like encoder families."""


@hookspec
def register_aligners(register):
    """Register aligner kinds: `register("ridge", AlignerClass)`."""


@hookspec
def register_datasets(register):
    """Register data sets: `register("fashion-mnist", factory)` or a family such as "folder"."""


@hookspec
def register_applications(register):
    """Register applications run by `t2c run NAME`."""


@hookspec
def register_decoders(register):
    """Register concept-to-text decoders."""


@hookspec
def register_executors(register):
    """Register feature-extraction executors such as "local" or "ray"."""


@hookspec
def register_commands(cli):
    """Add commands to the `t2c` click group."""
