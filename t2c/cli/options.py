"""Flags shared by every command that runs a model, and the `Runtime` built from them."""

import functools
import json
import logging
from pathlib import Path

import click

from t2c.errors import ConfigError
from t2c.pipeline import Runtime


def parse_key_values(pairs: tuple[str, ...]) -> dict[str, str]:
    """Parse repeated `KEY=VALUE` flags into a dict."""
    options = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise ConfigError(f"--executor-option {pair!r} is invalid; write KEY=VALUE, for example address=auto")
        options[key] = value
    return options


def configure_logging(debug: bool) -> None:
    """Send t2c's log records to stderr: INFO by default, DEBUG with --debug."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s" if debug else "%(message)s",
    )
    if not debug:
        for noisy in ("httpx", "httpx2", "urllib3", "PIL", "filelock", "sentence_transformers"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def runtime_options(command):
    """Add --device, --batch-size, --num-threads, --backend, --executor, --executor-option, --strict, --json and --debug.

    The wrapped command receives a `runtime` (a `Runtime`) and `as_json` instead of the raw flags.
    """

    @click.option("--device", default="cpu", show_default=True, help="Device for models: cpu, cuda, cuda:1.")
    @click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True, help="Images per forward pass.")
    @click.option("--num-threads", type=click.IntRange(min=1), default=None, help="CPU threads per model runtime (default: all cores).")
    @click.option(
        "--backend",
        type=click.Choice(["torch", "onnx"]),
        default=None,
        help="Run torch encoders in eager torch or as a checked ONNX export in ONNX Runtime (CPU); default: each model's own.",
    )
    @click.option("--executor", default="local", show_default=True, help="Feature-extraction executor (`t2c list executors`).")
    @click.option("--executor-option", "executor_options", multiple=True, metavar="KEY=VALUE", help="Option for the executor; repeatable.")
    @click.option("--strict", is_flag=True, help="Stop at the first image that cannot be decoded instead of skipping it.")
    @click.option("--json", "as_json", is_flag=True, help="Print results as JSON on stdout.")
    @click.option("--debug", is_flag=True, help="Log debug details and show tracebacks.")
    @functools.wraps(command)
    def wrapper(*args, device, batch_size, num_threads, backend, executor, executor_options, strict, as_json, debug, **kwargs):
        configure_logging(debug)
        from t2c.cli.progress import progress_factory

        runtime = Runtime(
            device=device,
            batch_size=batch_size,
            num_threads=num_threads,
            backend=backend,
            executor=executor,
            executor_options=parse_key_values(executor_options),
            progress=progress_factory(enabled=not as_json),
            strict=strict,
        )
        return command(*args, runtime=runtime, as_json=as_json, **kwargs)

    return wrapper


def write_json(payload: dict, output: str | None) -> None:
    """Write `payload` as indented JSON to `output` (a file path), creating parent folders."""
    if output is None:
        return
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
