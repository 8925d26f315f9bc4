"""Concept vocabularies (English nouns and adjectives from WordNet, or a word file) and their cached embeddings.

The built-in vocabularies read WordNet 3.0's index files as Debian's `wordnet-base` installs them
(`/usr/share/wordnet/index.noun` and `index.adj`; `T2C_WORDNET_DIR` points elsewhere). Each index
line reads `lemma pos synset_cnt p_cnt [ptr_symbol ...] sense_cnt tagsense_cnt synset_offset ...`,
where tagsense_cnt counts the lemma's senses tagged in the SemCor corpus, so a positive count
means the word occurs in ordinary running text. Kept are lowercase single words (inner hyphens
allowed) that are
- nouns attested in SemCor, or nouns with a sense among WordNet's artifacts or foods
  (lexicographer files noun.artifact = 06 and noun.food = 13, read from `data.noun`), and
- adjectives attested in SemCor.
That gives 21,000 to 22,000 words with WordNet 3.0.

Concept embeddings of a vocabulary are computed once per target, template list and word list,
and cached as safetensors under the cache folder "vocabulary".
"""

import hashlib
import json
import logging
import os
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from filelock import FileLock
from safetensors.numpy import load_file, save

from t2c.errors import ConfigError, NotFoundError
from t2c.features.atomic import commit, write_temp
from t2c.paths import cache_dir
from t2c.targets.base import Target
from t2c.targets.concepts import build_concepts
from t2c.targets.templates import read_lines

log = logging.getLogger("t2c.apps.vocabulary")

WORDNET_DIR_ENV = "T2C_WORDNET_DIR"
DEFAULT_WORDNET_DIR = "/usr/share/wordnet"
WORDNET_INSTALL = "apt-get install -y wordnet-base"
WORD_PATTERN = re.compile(r"[a-z]+(?:-[a-z]+)*")
CONCRETE_NOUN_FILES = {6, 13}  # WordNet lexicographer file numbers: noun.artifact, noun.food

VOCABULARIES = ("wordnet", "wordnet-nouns", "wordnet-adjectives")  # built-in names
DEFAULT_VOCABULARY = "wordnet"
DEFAULT_TEMPLATES = ["a photo of {}."]  # one prompt per word, so "wordnet" costs 21,856 text encodings once


@dataclass(frozen=True)
class Vocabulary:
    """A named list of unique words or phrases, the candidate concepts of drift, cbm and decode."""

    name: str
    words: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.words)

    def digest(self) -> str:
        """Return a 16-hex-digit sha256 of the word list."""
        return hashlib.sha256("\n".join(self.words).encode()).hexdigest()[:16]


def wordnet_dir() -> Path:
    """Return the folder of WordNet's index files: `$T2C_WORDNET_DIR`, else Debian's location."""
    return Path(os.environ.get(WORDNET_DIR_ENV) or DEFAULT_WORDNET_DIR)


def _wordnet_file(name: str) -> Path:
    path = wordnet_dir() / name
    if not path.is_file():
        raise NotFoundError(
            f"WordNet file {path} not found; install Debian's WordNet lists with `{WORDNET_INSTALL}`, "
            f"or set {WORDNET_DIR_ENV} to a folder holding index.noun, index.adj and data.noun"
        )
    return path


def _index_entries(name: str):
    """Yield (lemma, tagsense_cnt, synset offsets) of a WordNet index file, skipping the license header."""
    with _wordnet_file(name).open(encoding="latin-1") as handle:
        for line in handle:
            if line.startswith(" "):
                continue
            fields = line.split()
            pointer_count = int(fields[3])
            yield fields[0], int(fields[5 + pointer_count]), fields[6 + pointer_count:]


def _noun_lexicographer_files() -> dict[str, int]:
    """Map each noun synset offset to its lexicographer file number (second field of data.noun)."""
    files = {}
    with _wordnet_file("data.noun").open(encoding="latin-1") as handle:
        for line in handle:
            if not line.startswith(" "):
                offset, file_number = line.split(maxsplit=2)[:2]
                files[offset] = int(file_number)
    return files


@lru_cache(maxsize=None)
def wordnet_nouns() -> tuple[str, ...]:
    """Return nouns attested in SemCor or naming an artifact or a food, sorted."""
    lexicographer_files = _noun_lexicographer_files()
    words = set()
    for lemma, tagged, offsets in _index_entries("index.noun"):
        if not WORD_PATTERN.fullmatch(lemma):
            continue
        concrete = any(lexicographer_files.get(offset) in CONCRETE_NOUN_FILES for offset in offsets)
        if tagged > 0 or concrete:
            words.add(lemma)
    return tuple(sorted(words))


@lru_cache(maxsize=None)
def wordnet_adjectives() -> tuple[str, ...]:
    """Return adjectives attested in SemCor, sorted."""
    words = {lemma for lemma, tagged, _ in _index_entries("index.adj") if tagged > 0 and WORD_PATTERN.fullmatch(lemma)}
    return tuple(sorted(words))


def load_vocabulary(spec: str | list[str] | Vocabulary | None = None) -> Vocabulary:
    """Resolve a vocabulary: a built-in name (see `VOCABULARIES`), a word file, a comma list or a list of words.

    Words are stripped and deduplicated in order; a file has one word or phrase per line
    ("#" starts a comment line).
    """
    if isinstance(spec, Vocabulary):
        return spec
    spec = DEFAULT_VOCABULARY if spec is None else spec

    if isinstance(spec, list):
        name, words = "list", spec
    elif spec == "wordnet":
        name, words = spec, sorted(set(wordnet_nouns()) | set(wordnet_adjectives()))
    elif spec == "wordnet-nouns":
        name, words = spec, list(wordnet_nouns())
    elif spec == "wordnet-adjectives":
        name, words = spec, list(wordnet_adjectives())
    elif _is_file(spec):
        name, words = str(spec), read_lines(spec, "vocabulary")
    elif "," in spec:
        name, words = "list", spec.split(",")
    else:
        raise NotFoundError(
            f"vocabulary {spec!r} is neither a built-in vocabulary ({', '.join(VOCABULARIES)}), an existing file "
            "nor a comma-separated list of words"
        )

    unique = tuple(dict.fromkeys(word.strip() for word in words if word.strip()))
    if not unique:
        raise ConfigError(f"vocabulary {name} contains no words; give at least one word")
    return Vocabulary(name=name, words=unique)


def _is_file(spec: str) -> bool:
    try:
        return Path(spec).is_file()
    except OSError:  # a long comma list is not a valid path ("File name too long")
        return False


def vocabulary_embeddings(
    target: Target, vocabulary: Vocabulary, templates: list[str] | None = None, batch_size: int = 256
) -> np.ndarray:
    """Return (len(vocabulary), q) float32 unit concept vectors of the words in target space, cached on disk.

    The cache key covers the target's description (ids and weight hashes), the templates and the
    word list, so a change to any of them computes new embeddings.
    """
    templates = list(templates or DEFAULT_TEMPLATES)
    key_text = json.dumps([target.describe(), templates, vocabulary.digest()], sort_keys=True, default=str)
    key = hashlib.sha256(key_text.encode()).hexdigest()[:16]
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", target.id)
    path = cache_dir("vocabulary") / f"{slug}-{key}.safetensors"

    with FileLock(str(path) + ".lock"):
        if path.is_file():
            embeddings = load_file(str(path))["embeddings"]
            if embeddings.shape[0] == len(vocabulary):
                log.debug("vocabulary cache hit: %s", path)
                return embeddings
            log.warning("vocabulary cache file %s has %d rows for %d words; recomputing", path, embeddings.shape[0], len(vocabulary))

        log.info("vocabulary cache miss: embedding %d words of %s with %s (%d templates)", len(vocabulary), vocabulary.name, target.id, len(templates))
        started = time.perf_counter()
        embeddings = build_concepts(target, list(vocabulary.words), templates, batch_size=batch_size)
        metadata = {"target": target.id, "vocabulary": vocabulary.name, "templates": json.dumps(templates)}
        commit(write_temp(path, save({"embeddings": embeddings}, metadata=metadata)), path)
        log.info("embedded %d words in %.1f s; cached at %s", len(vocabulary), time.perf_counter() - started, path)
        return embeddings
