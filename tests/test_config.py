import pytest

from training.config import ConfigError, load_config


def test_default_config_names_the_five_labels_in_order():
    config = load_config("configs/default.yaml")
    assert config.labels == ["phone_call", "support_statement", "unrest_report", "trade_news", "other"]
    assert config.id2label[0] == "phone_call" and config.label2id["other"] == 4
    assert config.train.learning_rate == pytest.approx(3e-4)


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
    ("train:\n  learning_rate: fast\n", "not a number"),
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
