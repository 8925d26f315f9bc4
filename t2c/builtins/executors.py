"""Built-in executors, registered through the same hook as plugins."""

from t2c.features.executors import LocalExecutor
from t2c.hookspecs import hookimpl


@hookimpl
def register_executors(register):
    """Register the in-process executor as "local"."""
    register("local", LocalExecutor)
