"""t2c plugin: encoders, a target and data sets whose weights and files ship inside packages."""

__version__ = "0.1.0"
