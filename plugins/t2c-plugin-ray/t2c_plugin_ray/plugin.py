"""Hook implementations: registers the executor "ray". Importing this module does not import ray."""

from t2c.hookspecs import hookimpl


@hookimpl
def register_executors(register):
    """Register "ray": Ray Data actor pools of encoders; `--executor-option address=ADDR` picks the cluster."""
    from t2c_plugin_ray.executor import RayExecutor

    register("ray", RayExecutor)
