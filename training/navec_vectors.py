"""Pretrained Russian word vectors (navec news, 250K words x 300d) from the `natasha` wheel, found offline."""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NAVEC_FILE = "navec_news_v1_1B_250K_300d_100q.tar"


def normalize_word(word: str) -> str:
    # The tokenizer lowercases and folds ё to е; navec keeps both spellings, so fold its words the same way.
    return word.lower().replace("ё", "е")


def find_navec_file(explicit: str | None = None) -> Path:
    """Locate the navec archive: an explicit path, $NAVEC_PATH, or inside the installed natasha package.

    natasha's own import loads several models, so only its package location is asked for.
    """
    candidates = [explicit, os.environ.get("NAVEC_PATH")]
    spec = importlib.util.find_spec("natasha")
    if spec and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidates.append(str(Path(location) / "data" / "emb" / NAVEC_FILE))
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise FileNotFoundError(
        f"{NAVEC_FILE} not found: `pip install natasha` (it ships the file) or set NAVEC_PATH to its location"
    )


@dataclass
class WordVectors:
    words: list[str]          # normalized, most frequent first, no duplicates
    vectors: np.ndarray       # float32 [len(words), dim]
    counts: list[int]         # frequency of each word in navec's 1B-token news corpus
    index: dict[str, int]

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def get(self, word: str) -> np.ndarray | None:
        i = self.index.get(normalize_word(word))
        return None if i is None else self.vectors[i]


def load_word_vectors(path: str | Path | None = None) -> WordVectors:
    from navec import Navec

    navec = Navec.load(str(find_navec_file(str(path) if path else None)))
    matrix = navec.pq.unpack()
    words = navec.vocab.words
    counts = np.asarray(navec.vocab.counts)
    order = np.argsort(-counts, kind="stable")
    kept_words, kept_rows, kept_counts, index = [], [], [], {}
    for row in order:
        word = words[row]
        if word.startswith("<"):  # <unk>, <pad>
            continue
        key = normalize_word(word)
        if key in index:  # "еще" and "ещё": the more frequent spelling wins
            continue
        index[key] = len(kept_words)
        kept_words.append(key)
        kept_rows.append(row)
        kept_counts.append(int(counts[row]))
    return WordVectors(kept_words, matrix[np.asarray(kept_rows)].astype(np.float32), kept_counts, index)
