"""Model folders are input like any other: only safetensors weights are loaded, custom code is never run, and
a folder that does not fit (labels, settings, tokenizer, damaged files) fails before any work, naming itself."""
import json
import re
import shutil
from pathlib import Path

import pytest

from inference import EventClassifier
from inference.classifier import ModelFolderError
from training.train import main as train_main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def folder(tiny_run, tmp_path):
    out = tmp_path / "model"
    shutil.copytree(tiny_run / "model", out, ignore=shutil.ignore_patterns("onnx"))
    return out


def edit_json(path, **changes):
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_pickled_weights_are_refused_with_the_conversion_hint(folder, tmp_path, capsys):
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    with pytest.raises(ModelFolderError, match=r"pickled weights \(pytorch_model.bin\).*safe_serialization=True"):
        EventClassifier.from_pretrained(folder)
    # The same folder as a training base.
    code = train_main(["--config", "configs/tiny.yaml", "--output-dir", str(tmp_path / "run"),
                       "--set", f"model.name_or_path={folder}"])
    assert code == 2 and "safe_serialization=True" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("config_file", ["config.json", "tokenizer_config.json"])
def test_custom_code_is_never_run(folder, tmp_path, capsys, config_file):
    marker = tmp_path / "ran"
    (folder / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n", encoding="utf-8")
    edit_json(folder / config_file, auto_map={"AutoConfig": "evil.EvilConfig", "AutoTokenizer": ["evil.T", None],
                                              "AutoModelForSequenceClassification": "evil.EvilModel"})
    with pytest.raises(ModelFolderError, match="custom code"):
        EventClassifier.from_pretrained(folder)
    code = train_main(["--config", "configs/tiny.yaml", "--output-dir", str(tmp_path / "run"),
                       "--set", f"model.name_or_path={folder}"])
    assert code == 2 and "never run" in capsys.readouterr().err
    assert not marker.exists()


def test_no_code_path_enables_trust_remote_code():
    for path in [*ROOT.glob("inference/*.py"), *ROOT.glob("training/*.py"), *ROOT.glob("bench/*.py")]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"trust_remote_code\s*=\s*(?!False\b)", text), path


def test_expected_labels_must_match_id2label(folder):
    labels = ["phone_call", "support_statement", "unrest_report", "trade_news", "other"]
    assert EventClassifier.from_pretrained(folder, labels=labels).labels == labels
    with pytest.raises(ModelFolderError, match=r"labels .* are not the expected \['a', 'b'\]"):
        EventClassifier.from_pretrained(folder, labels=["a", "b"])


@pytest.mark.parametrize("settings, message", [
    ({"background": "weather"}, "background 'weather' is not one of the model's labels"),
    ({"background": "other", "thresholds": {"weather": 0.5}}, r"thresholds for \['weather'\]"),
    ({"thresholds": {"phone_call": 1.5}}, r"thresholds must lie in \[0, 1\]"),
    ({"train_priors": [0.5, 0.5]}, "2 train_priors for 5 labels"),
    ({"max_length": "long"}, "wrong type for max_length"),
])
def test_settings_that_do_not_fit_the_model_fail_naming_the_file(folder, settings, message):
    edit_json(folder / "ru_news_events.json", **settings)
    with pytest.raises(ModelFolderError, match=message) as error:
        EventClassifier.from_pretrained(folder)
    assert "ru_news_events.json" in str(error.value)


def test_settings_that_are_not_an_object_fail(folder):
    (folder / "ru_news_events.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ModelFolderError, match="expected a JSON object"):
        EventClassifier.from_pretrained(folder)


def test_repeated_label_names_are_refused(folder):
    edit_json(folder / "config.json", id2label={str(i): "x" for i in range(5)})
    with pytest.raises(ModelFolderError, match=r"id2label repeats \['x'\]"):
        EventClassifier.from_pretrained(folder)


@pytest.mark.parametrize("damage, message", [
    (lambda f: [(f / n).unlink() for n in ("tokenizer.json", "tokenizer_config.json")], "no tokenizer files"),
    (lambda f: (f / "tokenizer.json").write_text("{not json", encoding="utf-8"), "unreadable tokenizer"),
    (lambda f: (f / "config.json").write_text("{oops", encoding="utf-8"), "config.json is not readable JSON"),
    (lambda f: (f / "model.safetensors").write_bytes((f / "model.safetensors").read_bytes()[:1000]),
     "cannot load the weights"),
    (lambda f: edit_json(f / "config.json", id2label={"0": "a", "1": "b"}, label2id={"a": 0, "b": 1}),
     "not one of the model's labels"),
])
def test_damaged_folders_fail_with_a_message_naming_the_folder(folder, damage, message):
    damage(folder)
    with pytest.raises(ModelFolderError, match=message) as error:
        EventClassifier.from_pretrained(folder)
    assert str(folder) in str(error.value)
