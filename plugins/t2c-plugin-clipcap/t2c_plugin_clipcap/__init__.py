"""A ClipCap-style decoder for t2c: target-space vector -> MLP -> k GPT-2 prefix embeddings -> text.

Importing this package imports neither torch nor transformers; `ClipCapDecoder` does when loaded.
"""

__version__ = "0.1.0"
