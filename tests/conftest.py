"""Shared test settings: no test may reach the Hugging Face Hub or any other host."""

import os

# A dead loopback port: a test that forgets to start the fake Hub fails fast instead of
# reaching huggingface.co. Tests of the Hub client point HF_ENDPOINT at their own server.
os.environ.setdefault("HF_ENDPOINT", "http://127.0.0.1:9")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
