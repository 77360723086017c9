import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file
from transformers import pipeline

from training.train import main


def test_run_folder_has_model_metrics_and_plots(tiny_run):
    model = tiny_run / "model"
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        assert (model / name).is_file(), name
    # Nothing in a model folder may need unpickling.
    assert not list(model.glob("*.bin")) and not list(model.glob("*.pt"))
    config = json.loads((model / "config.json").read_text())
    assert config["id2label"] == {"0": "phone_call", "1": "support_statement", "2": "unrest_report",
                                  "3": "trade_news", "4": "other"}
    assert (tiny_run / "confusion_matrix.png").stat().st_size > 1000
    assert (tiny_run / "training_curve.png").stat().st_size > 1000


def test_outputs_are_moved_into_place_and_no_partial_file_is_left(tiny_run):
    assert (tiny_run / "model" / "model.safetensors").is_file()
    assert not list(tiny_run.glob("*.partial"))


def test_metrics_json_reports_model_and_baseline_on_dev_and_test(tiny_run):
    metrics = json.loads((tiny_run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["sizes"]["train"] == 160  # max_train_samples in configs/tiny.yaml
    for block in (metrics["dev"], metrics["test"], metrics["baseline_tfidf_logreg"]["test"]):
        assert 0.0 <= block["macro_f1"] <= 1.0 and 0.0 <= block["accuracy"] <= 1.0
        assert set(block["per_label"]) == set(metrics["labels"])
        matrix = block["confusion_matrix"]["matrix"]
        assert len(matrix) == 5 and all(len(row) == 5 for row in matrix)
    assert sum(map(sum, metrics["test"]["confusion_matrix"]["matrix"])) == metrics["sizes"]["test"]
    # A real fit on 160 paragraphs of a corpus that is now 63% `other`: above chance (0.2 for five labels).
    assert metrics["baseline_tfidf_logreg"]["test"]["macro_f1"] > 0.25


def test_plain_transformers_pipeline_loads_the_folder_with_real_label_names(tiny_run):
    classify = pipeline("text-classification", model=str(tiny_run / "model"), top_k=None)
    [scores] = classify(["Президенты России и Казахстана провели телефонный разговор."])
    assert {s["label"] for s in scores} == {"phone_call", "support_statement", "unrest_report", "trade_news", "other"}
    assert abs(sum(s["score"] for s in scores) - 1.0) < 1e-4


def test_frozen_embeddings_stay_equal_to_the_base(tiny_base, tiny_run):
    base = load_file(tiny_base / "model.safetensors")
    tuned = load_file(tiny_run / "model" / "model.safetensors")
    key = "bert.embeddings.word_embeddings.weight"
    assert (base[key] == tuned[key]).all()
    layer = "bert.encoder.layer.0.attention.self.query.weight"
    assert not (base[layer] == tuned[layer]).all()


def test_rerun_resumes_from_the_last_checkpoint(tiny_base, tiny_run, capsys, caplog):
    # The first run finished its only epoch; a second one resumes there and trains no further step.
    caplog.set_level("INFO")
    assert main(["--config", "configs/tiny.yaml", "--output-dir", str(tiny_run),
                 "--set", f"model.name_or_path={tiny_base}"]) == 0
    assert "resuming from" in caplog.text


def test_bad_label_in_a_split_fails_naming_file_and_line(tmp_path, tiny_base, capsys):
    bad = tmp_path / "train.jsonl"
    bad.write_text('{"text": "ok", "label": "other"}\n{"text": "x", "label": "weather"}\n', encoding="utf-8")
    code = main(["--config", "configs/tiny.yaml", "--output-dir", str(tmp_path / "run"),
                 "--set", f"model.name_or_path={tiny_base}", "--set", f"data.train={bad}"])
    assert code == 2
    assert f"{bad}:2: label 'weather'" in capsys.readouterr().err


def test_missing_base_explains_how_to_build_it(tmp_path, capsys):
    code = main(["--config", "configs/tiny.yaml", "--output-dir", str(tmp_path / "run"),
                 "--set", "model.name_or_path=bases_that_do_not_exist"])
    assert code == 2 and "python -m training.bootstrap" in capsys.readouterr().err


def test_test_predictions_line_up_with_the_test_file_in_the_scorer_row_schema(tiny_run):
    rows = [json.loads(line) for line in (tiny_run / "test_predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    split = [json.loads(line) for line in Path("data/labeled/test.jsonl").read_text(encoding="utf-8").splitlines()
             if line.strip()]
    assert [(r["text"], r["gold"], r["article_id"], r["kind"]) for r in rows] == [
        (r["text"], r["label"], r["article_id"], r["kind"]) for r in split]
    assert set(rows[0]) == {"article_id", "paragraph", "kind", "text", "label", "score", "probs", "windows",
                            "raw_label", "raw_score", "gold"}
    assert [r["paragraph"] for r in rows[:3]] == [0, 1, 2] and rows[0]["kind"] == "title"
    # Scores differ from text to text even when a tiny model predicts one label everywhere.
    assert len({round(r["score"], 4) for r in rows}) > 50
    classify = pipeline("text-classification", model=str(tiny_run / "model"), truncation=True)
    short = [r for r in rows if r["windows"] == 1][:200]
    expected = classify([r["text"] for r in short], batch_size=64)
    assert [r["label"] for r in short] == [p["label"] for p in expected]


def test_training_evaluation_and_the_scorer_give_identical_probabilities(tiny_run):
    from inference import EventClassifier

    rows = [json.loads(line) for line in (tiny_run / "test_predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    scorer = EventClassifier.from_pretrained(tiny_run / "model")
    probs = scorer.predict_proba([r["text"] for r in rows])
    for row, p in zip(rows, probs):
        assert [row["probs"][x] for x in scorer.labels] == [round(float(v), 6) for v in p]
    # Another batching pads differently: the same numbers up to float rounding.
    rebatched = EventClassifier.from_pretrained(tiny_run / "model", batch_size=7)
    rebatched = rebatched.predict_proba([r["text"] for r in rows])
    np.testing.assert_allclose(rebatched, probs, atol=1e-5)
    metrics = json.loads((tiny_run / "metrics.json").read_text(encoding="utf-8"))
    gold = [scorer.labels.index(r["gold"]) for r in rows]
    accuracy = float(np.mean(probs.argmax(axis=1) == np.asarray(gold)))
    assert metrics["test"]["accuracy"] == pytest.approx(accuracy, abs=1e-3)


def test_a_model_trained_with_context_scores_with_the_same_context(tiny_base, tmp_path):
    from inference import EventClassifier
    from training.config import load_config
    from training.data import load_splits

    out = tmp_path / "ctx"
    assert main(["--config", "configs/tiny.yaml", "--output-dir", str(out), "--set", f"model.name_or_path={tiny_base}",
                 "--set", "train.context=title+previous", "--set", "train.context_tokens=16",
                 "--set", "train.max_train_samples=48"]) == 0
    saved = json.loads((out / "model" / "ru_news_events.json").read_text())
    assert (saved["context"], saved["context_tokens"], saved["max_length"]) == ("title+previous", 16, 64)
    rows = [json.loads(line) for line in (out / "test_predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    config = load_config("configs/tiny.yaml", ["train.context=title+previous"])
    test = load_splits(config)["test"]
    scorer = EventClassifier.from_pretrained(out / "model")
    probs = scorer.predict_proba([e.text for e in test], [e.context for e in test])
    without = scorer.predict_proba([e.text for e in test])
    assert [[r["probs"][x] for x in scorer.labels] for r in rows] == [[round(float(v), 6) for v in p] for p in probs]
    assert not np.allclose(probs, without)


def test_bf16_training_saves_a_float32_model_trained_in_another_precision(tiny_base, tmp_path):
    runs = {}
    for bf16 in ("false", "true"):
        out = tmp_path / f"bf16-{bf16}"
        assert main(["--config", "configs/tiny.yaml", "--output-dir", str(out), "--set",
                     f"model.name_or_path={tiny_base}", "--set", "train.max_train_samples=48",
                     "--set", f"train.bf16={bf16}"]) == 0
        runs[bf16] = load_file(out / "model" / "model.safetensors")
    assert all(t.dtype.is_floating_point and t.dtype.itemsize == 4 for t in runs["true"].values())
    changed = [k for k in runs["true"] if not np.array_equal(runs["true"][k].numpy(), runs["false"][k].numpy())]
    assert changed  # same seed and data: only the precision of the passes differs
