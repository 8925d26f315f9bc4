"""The built-in plugins: modules of this package loaded through the same hooks as external plugins.

To add one, write a module with `@hookimpl` functions (see `t2c.hookspecs`) and add its name
below. A listed module that is missing or fails to import is reported by `t2c plugins` like a
broken external plugin, and t2c keeps working without it.
"""

BUILTIN_PLUGINS = (  # module names, registered in this order, before any external plugin
    "t2c.builtins.aligners",
    "t2c.builtins.executors",
    "t2c.builtins.applications",
    "t2c.builtins.datasets",
    "t2c.builtins.encoders",
    "t2c.builtins.targets",
)
