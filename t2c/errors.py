"""Exception types raised by t2c.

Every error a user can cause derives from `T2CError`, and its message names the value at
fault, what was expected and how to fix it. The CLI prints such errors as one line.
"""


class T2CError(Exception):
    """Base class of every error t2c raises on bad input or a failed step."""


class NotFoundError(T2CError, LookupError):
    """A plugin name, model id, data set or file was not found."""


class PluginError(T2CError):
    """A plugin failed to load or registered something invalid."""


class ConfigError(T2CError, ValueError):
    """An option, id or configuration value is invalid."""


class ShapeError(T2CError, ValueError):
    """An array has the wrong shape, dtype or contains non-finite values."""


class NotFittedError(T2CError, AttributeError):
    """An aligner or head was used before it was fitted."""


class HeadError(T2CError):
    """A head file is missing, corrupt, tampered with, or of an unknown format version."""


class HeadMismatchError(HeadError):
    """A head was used with an encoder or target other than the one it was fitted for."""


class FeatureStoreError(T2CError):
    """The feature store contains a damaged or inconsistent entry."""


class DataError(T2CError):
    """A data set is missing, or an image cannot be decoded."""


class OfflineError(T2CError):
    """Weights or files are not cached and the network cannot be reached."""


class HubError(T2CError):
    """A Hugging Face Hub request failed."""
