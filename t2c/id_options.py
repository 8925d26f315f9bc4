"""Options written into an id after "?", as in `torchvision:CIFAR10?root=/data&download=true`.

The query form lets a single id string, as the CLI takes it, carry the options of a model or a
data set. Keyword options given in Python (`load_dataset("torchvision:CIFAR10", root="/data")`)
are merged with it, and naming one option both ways is an error.
"""

from typing import Any
from urllib.parse import parse_qsl

from t2c.errors import ConfigError

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def split_options(text: str, subject: str) -> tuple[str, dict[str, str]]:
    """Split "name?key=value&key2=value2" into ("name", {"key": "value", "key2": "value2"}).

    `subject` is what error messages call the id ("torchvision data set id").

    Raises:
        ConfigError: the query is malformed, repeats a key or has an empty name before it.
    """
    name, question_mark, query = text.partition("?")
    if not question_mark:
        return text, {}

    if not name:
        raise ConfigError(f"{subject} {text!r} has options but no name before '?'; write NAME?key=value")

    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError as error:
        raise ConfigError(f"{subject} {text!r} has a malformed option list ({error}); write NAME?key=value&key2=value2") from error

    options: dict[str, str] = {}
    for key, value in pairs:
        if key in options:
            raise ConfigError(f"{subject} {text!r} sets option {key!r} twice; keep one")
        options[key] = value
    return name, options


def merge_options(query: dict[str, str], keywords: dict[str, Any], subject: str) -> dict[str, Any]:
    """Merge options from an id's query with keyword options, rejecting a key given both ways."""
    both = sorted(set(query) & set(keywords))
    if both:
        raise ConfigError(f"{subject} option(s) {', '.join(both)} given both in the id and as keywords; give each once")
    return {**query, **keywords}


def parse_bool(value: Any, option: str) -> bool:
    """Read a boolean option given as a bool or as text ("true", "false", "1", "0", "yes", "no")."""
    if isinstance(value, bool):
        return value

    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ConfigError(f"option {option}={value!r} is not a boolean; write {option}=true or {option}=false")


def reject_unknown(options: dict[str, Any], known: tuple[str, ...], subject: str) -> None:
    """Raise ConfigError naming every option outside `known`."""
    unknown = sorted(set(options) - set(known))
    if not unknown:
        return

    accepted = ", ".join(known) if known else "none"
    raise ConfigError(f"{subject} got unknown option(s) {', '.join(unknown)}; it accepts: {accepted}")
