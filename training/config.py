"""The run configuration: one YAML file, read into typed sections, with `--set a.b=value` overrides."""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class DataConfig:
    train: str = "data/labeled/train.jsonl"
    dev: str = "data/labeled/dev.jsonl"
    test: str = "data/labeled/test.jsonl"
    text_column: str = "text"
    label_column: str = "label"
    # Unlabeled dump(s) whose paragraphs join training as weakly labeled background (training/weak.py):
    # the real register of ordinary news, read at run time, never stored. Empty: none.
    unlabeled: list[str] = field(default_factory=list)
    unlabeled_paragraphs: int = 1000
    # Loss weight of each such paragraph (labeled paragraphs weigh 1).
    unlabeled_weight: float = 0.3
    # Paragraphs matching this (case-insensitive) regex are left out: they may well report an event.
    unlabeled_skip: str = (r"телефон|созвон|поддерж|солидарн|одобр|приветству|протест|митинг|беспоряд|погром"
                           r"|столкновен|забастов|пикет|экспорт|импорт|поставк|товарооборот|пошлин|торгов")


@dataclass
class ModelConfig:
    # A hub id (needs network) or a local folder, e.g. one written by `python -m training.bootstrap`.
    name_or_path: str = "bases/navec-bert"
    # Frozen navec-seeded embeddings keep the meaning of words the labeled set never shows.
    freeze_embeddings: bool = False
    dropout: float | None = None


@dataclass
class TrainConfig:
    # Tokens per window, context and special tokens included; saved in the model folder for scoring.
    max_length: int = 128
    # What the classifier sees beside a paragraph: "none", "title" or "title+previous" (inference.splitter).
    context: str = "none"
    # Token budget of the context segment, so the paragraph keeps most of the window.
    context_tokens: int = 48
    # Tokens shared by consecutive windows of a paragraph longer than one window.
    stride: int = 32
    # Fit a softmax temperature on dev after training (saved in the model folder, applied when scoring).
    calibrate: bool = True
    # Per-label thresholds chosen on dev so each event label reaches this precision there; null: none.
    target_precision: float | None = None
    epochs: float = 10
    batch_size: int = 32
    eval_batch_size: int = 64
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    label_smoothing: float = 0.0
    seed: int = 42
    logging_steps: int = 20
    max_train_samples: int | None = None
    torch_threads: int | None = None


ENCODER_INITS = ("mean_pool", "random")


@dataclass
class BaseConfig:
    """How `python -m training.bootstrap` builds an offline base model."""

    vocab_size: int = 40000
    hidden_layers: int = 3
    attention_heads: int = 6
    intermediate_size: int = 1200
    max_position_embeddings: int = 512
    # Navec words weigh in the tokenizer's vocabulary by frequency; these texts are added to it.
    tokenizer_texts: list[str] = field(default_factory=list)
    # Only the most frequent navec words are used to learn and seed sub-word pieces.
    navec_words: int = 120000
    seed_embeddings: bool = True
    # navec vectors are rescaled to this per-dimension std so they sit beside BERT's 0.02-std position embeddings.
    embedding_std: float = 0.1
    # "mean_pool": the encoder starts as a bag of the seeded word vectors (training/bootstrap.py); "random".
    encoder_init: str = "mean_pool"
    seed: int = 42


@dataclass
class Config:
    labels: list[str] = field(
        default_factory=lambda: ["phone_call", "support_statement", "unrest_report", "trade_news", "other"]
    )
    # The label that means "none of the events": a paragraph below its label's threshold falls back to it.
    # "auto": "other" when the label set has it, else none.
    background: str | None = "auto"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    base: BaseConfig = field(default_factory=BaseConfig)

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.labels)}

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.labels))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class ConfigError(ValueError):
    pass


def _build(cls, values: dict[str, Any], where: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(fields)}")
    kwargs = {}
    for name, value in values.items():
        default = getattr(cls(), name)
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), value or {}, f"{where}.{name}")
        else:
            kwargs[name] = value
    return cls(**kwargs)


def _apply_override(raw: dict[str, Any], assignment: str) -> None:
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r}: expected KEY=VALUE, e.g. train.epochs=2")
    key, value = assignment.split("=", 1)
    node = raw
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {assignment!r}: {part} is not a section")
    node[parts[-1]] = yaml.safe_load(value)


def _check(config: Config, source: str) -> None:
    labels = config.labels
    if not labels or len(set(labels)) != len(labels) or not all(isinstance(x, str) and x for x in labels):
        raise ConfigError(f"{source}: labels must be a non-empty list of distinct names, got {labels!r}")
    if config.train.epochs <= 0 or config.train.batch_size <= 0 or config.train.max_length <= 0:
        raise ConfigError(f"{source}: train.epochs, train.batch_size and train.max_length must be positive")
    if config.background == "auto":
        config.background = "other" if "other" in labels else None
    if config.background is not None and config.background not in labels:
        raise ConfigError(f"{source}: background {config.background!r} is not one of the labels {labels}")
    if config.train.target_precision is not None and not 0 < config.train.target_precision < 1:
        raise ConfigError(f"{source}: train.target_precision must be between 0 and 1, or null")
    if config.train.context not in ("none", "title", "title+previous"):
        raise ConfigError(f"{source}: train.context must be none, title or title+previous, "
                          f"got {config.train.context!r}")
    if isinstance(config.data.unlabeled, str):
        config.data.unlabeled = [config.data.unlabeled]
    if config.data.unlabeled and config.background is None:
        raise ConfigError(f"{source}: data.unlabeled needs a background label to give its paragraphs")
    if config.data.unlabeled and not (0 < config.data.unlabeled_weight <= 1 and config.data.unlabeled_paragraphs > 0):
        raise ConfigError(f"{source}: data.unlabeled_weight must be in (0, 1] and data.unlabeled_paragraphs "
                          "positive")
    try:
        re.compile(config.data.unlabeled_skip or "")
    except re.error as exc:
        raise ConfigError(f"{source}: data.unlabeled_skip is not a valid regex: {exc}") from exc
    if config.base.vocab_size < 100:
        raise ConfigError(f"{source}: base.vocab_size must be at least 100")
    if config.base.encoder_init not in ENCODER_INITS:
        raise ConfigError(f"{source}: base.encoder_init must be one of {ENCODER_INITS}, "
                          f"got {config.base.encoder_init!r}")


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read a YAML config (or the built-in defaults when `path` is None) and apply `KEY=VALUE` overrides."""
    raw: dict[str, Any] = {}
    source = "<defaults>"
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read config: {exc.strerror}") from exc
        try:
            raw = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    for assignment in overrides or []:
        _apply_override(raw, assignment)
    config = _build(Config, raw, source)
    # YAML reads 3e-4 as a string; coerce numeric fields to the declared types.
    for section in (config.train, config.base, config.model, config.data):
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if isinstance(value, str) and f.type in ("float", "int", "float | None", "int | None"):
                try:
                    setattr(section, f.name, float(value) if "float" in f.type else int(value))
                except ValueError as exc:
                    raise ConfigError(f"{source}: {f.name}={value!r} is not a number") from exc
    _check(config, source)
    return config
