"""Load the labeled splits with `datasets` and tokenize them for the classifier."""
from __future__ import annotations

import json
from pathlib import Path

from datasets import Dataset, DatasetDict, load_dataset

from .config import Config


class DataError(ValueError):
    pass


def validate_split(path: str | Path, labels: list[str], text_column: str = "text", label_column: str = "label") -> int:
    """Check every row of a JSONL split; raise one error naming the file, line and problem."""
    known = set(labels)
    rows = 0
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{line_no}: not valid JSON ({exc.msg})") from exc
            text, label = row.get(text_column), row.get(label_column)
            if not isinstance(text, str) or not text.strip():
                raise DataError(f"{path}:{line_no}: empty or missing {text_column!r}")
            if label not in known:
                raise DataError(f"{path}:{line_no}: label {label!r} is not in the config's labels {labels}")
            rows += 1
    if rows == 0:
        raise DataError(f"{path}: no rows")
    return rows


def load_splits(config: Config) -> DatasetDict:
    files = {"train": config.data.train, "dev": config.data.dev, "test": config.data.test}
    for name, path in files.items():
        if not Path(path).is_file():
            raise DataError(f"{path}: {name} split not found")
        validate_split(path, config.labels, config.data.text_column, config.data.label_column)
    splits = load_dataset("json", data_files=files)
    label2id = config.label2id
    column = config.data.label_column

    def to_ids(batch):
        return {"labels": [label2id[x] for x in batch[column]]}

    splits = splits.map(to_ids, batched=True)
    if config.train.max_train_samples:
        n = min(config.train.max_train_samples, len(splits["train"]))
        splits["train"] = splits["train"].shuffle(seed=config.train.seed).select(range(n))
    return splits


def tokenize_splits(splits: DatasetDict, tokenizer, config: Config) -> DatasetDict:
    text_column = config.data.text_column

    def encode(batch):
        return tokenizer(batch[text_column], truncation=True, max_length=config.train.max_length)

    keep = {"labels"}
    remove = [c for c in splits["train"].column_names if c not in keep]
    return splits.map(encode, batched=True, remove_columns=remove)


def split_texts(dataset: Dataset, config: Config) -> tuple[list[str], list[int]]:
    return list(dataset[config.data.text_column]), list(dataset["labels"])
