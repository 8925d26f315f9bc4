"""Shared test settings: no test may reach the Hugging Face Hub or any other host."""

import os
from pathlib import Path

# A dead loopback port: a test that does not start the fake Hub fails fast instead of
# reaching huggingface.co. Tests of the Hub client point HF_ENDPOINT at their own server.
os.environ.setdefault("HF_ENDPOINT", "http://127.0.0.1:9")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

# Tests write features and exported graphs to a cache of their own, never to the user's
# ~/.cache/t2c. That cache persists between runs, so the offline target's text fit runs once.
os.environ.setdefault("T2C_CACHE", str(Path(__file__).resolve().parent.parent / ".test-cache"))
