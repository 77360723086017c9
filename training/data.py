"""The labeled splits as the classifier sees them: paragraphs, their article context, and token windows.

Rows are read by the one labeled reader (`inference.readers.read_labeled`, `FILE:LINE` errors); contexts are
rebuilt from each article's rows in file order (the splits keep articles whole and in order), unless a row
carries its own `context`; token windows come from `inference.classifier.encode_windows`, the function scoring
uses, so training sees exactly the inputs the scorer will give it.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from datasets import Dataset

from inference.classifier import ClassifierSettings, ModelFolderError, encode_windows
from inference.readers import LabeledDataError, LabeledParagraph, read_labeled
from inference.splitter import paragraph_contexts

from .config import Config

SPLITS = ("train", "dev", "test")
RESERVED_PREFIX = "reserved-"


def check_corpus(paths: list[str]) -> list[str]:
    """Held-out evaluation files must never reach a training corpus, even by accident."""
    for path in paths:
        if not Path(path).exists():
            raise FileNotFoundError(f"{path}: no such file or folder")
        if Path(path).name.startswith(RESERVED_PREFIX):
            raise ValueError(f"{path}: files named {RESERVED_PREFIX}* are held out for evaluation; "
                             "refusing to train on them")
    return list(paths)


class DataError(ValueError):
    pass


@dataclass
class Example:
    """A labeled paragraph with what the classifier sees beside it and where it sits in its article."""

    text: str
    label: str
    context: str
    article_id: str
    paragraph: int
    kind: str
    # Loss weight: 1 for labeled paragraphs, below 1 for weakly labeled dump paragraphs (training/weak.py).
    weight: float = 1.0


def with_context(rows: list[LabeledParagraph], mode: str) -> list[Example]:
    """Examples in file order, each with its context under `mode` and its index within its article."""
    out: list[Example] = []
    start = 0
    while start < len(rows):
        end = start + 1
        article = rows[start].article_id
        while article is not None and end < len(rows) and rows[end].article_id == article:
            end += 1
        group = rows[start:end]
        contexts = paragraph_contexts(group, mode)
        for i, (row, context) in enumerate(zip(group, contexts)):
            if row.context is not None and mode != "none":
                context = row.context
            elif row.title is not None and mode != "none" and row.kind != "title" and not context:
                context = row.title
            out.append(Example(row.text, row.label, context, article or f"line-{row.line}", i, row.kind))
        start = end
    return out


def settings_from_config(config: Config) -> ClassifierSettings:
    t = config.train
    settings = ClassifierSettings(max_length=t.max_length, context=t.context, context_tokens=t.context_tokens,
                                  stride=t.stride, background=config.background)
    try:
        settings.check("config train section")
    except ModelFolderError as exc:
        raise DataError(str(exc)) from exc
    return settings


def load_splits(config: Config) -> dict[str, list[Example]]:
    files = {"train": config.data.train, "dev": config.data.dev, "test": config.data.test}
    splits = {}
    trained: set[str] = set()
    for name, path in files.items():
        if not Path(path).is_file():
            raise DataError(f"{path}: {name} split not found")
        try:
            rows = read_labeled(path, config.labels, config.data.text_column, config.data.label_column)
        except LabeledDataError as exc:
            raise DataError(str(exc)) from exc
        if name == "train":
            trained = {row.label for row in rows}
        else:
            # A label the model never trains on can only be wrong on dev and test; say so before training.
            unseen = next((row for row in rows if row.label not in trained), None)
            if unseen is not None:
                raise DataError(f"{path}:{unseen.line}: label {unseen.label!r} is in the {name} split but never in "
                                f"train ({files['train']})")
        splits[name] = with_context(rows, config.train.context)
    if config.train.max_train_samples:
        n = min(config.train.max_train_samples, len(splits["train"]))
        splits["train"] = random.Random(config.train.seed).sample(splits["train"], n)
    return splits


def to_dataset(examples: list[Example], tokenizer, settings: ClassifierSettings, config: Config,
               token_types: bool) -> Dataset:
    """One row per token window (a long paragraph gives several, each with the paragraph's label)."""
    enc = encode_windows(tokenizer, [e.text for e in examples], [e.context for e in examples], settings, token_types)
    label2id = config.label2id
    columns = {"input_ids": enc["input_ids"], "labels": [label2id[examples[o].label] for o in enc["owner"]]}
    if any(e.weight != 1.0 for e in examples):
        columns["weight"] = [float(examples[o].weight) for o in enc["owner"]]
    if token_types:
        columns["token_type_ids"] = enc["token_type_ids"]
    return Dataset.from_dict(columns)
