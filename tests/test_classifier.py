import json
import shutil

import numpy as np
import pytest
import torch

from inference.classifier import ClassifierSettings, EventClassifier, clip_to_tokens, encode_windows

TEXTS = ["Короткий", "Очень длинный абзац о переговорах министров и поставках газа в Европу " * 3,
         "Средний абзац о погоде", "Фермеры перекрыли трассу"]


@pytest.fixture(scope="module")
def clf(tiny_run):
    return EventClassifier.from_pretrained(tiny_run / "model", cache_size=0)


def test_probabilities_come_back_in_input_order_whatever_the_batching(tiny_run, clf):
    one_by_one = EventClassifier.from_pretrained(tiny_run / "model", batch_size=1, cache_size=0).predict_proba(TEXTS)
    batched = clf.predict_proba(TEXTS)
    reversed_ = clf.predict_proba(TEXTS[::-1])[::-1]
    assert one_by_one.shape == (4, 5)
    np.testing.assert_allclose(one_by_one, batched, atol=1e-5)
    np.testing.assert_allclose(reversed_, batched, atol=1e-5)
    np.testing.assert_allclose(batched.sum(axis=1), 1.0, atol=1e-5)
    assert clf.predict(TEXTS) == [clf.labels[i] for i in batched.argmax(axis=1)]
    assert clf.predict_proba([]).shape == (0, 5)


def test_labels_and_window_come_from_the_model_folder(tiny_run, clf):
    assert clf.labels == ["phone_call", "support_statement", "unrest_report", "trade_news", "other"]
    saved = json.loads((tiny_run / "model" / "ru_news_events.json").read_text())
    assert saved["max_length"] == clf.settings.max_length == 64  # configs/tiny.yaml, not a scorer default


def test_a_long_paragraph_is_scored_in_windows_never_truncated(clf):
    head = "Президенты двух стран провели телефонный разговор и обсудили поставки газа. "
    tail = "Фермеры перекрыли трассу тракторами, полиция задержала участников акции. "
    long_text = head * 150 + tail * 150  # several thousand tokens
    tokens = len(clf.tokenizer(long_text, add_special_tokens=False)["input_ids"])
    assert tokens > 3000
    probs, windows = clf.infer([long_text, "Короткий абзац"])
    room = clf.settings.max_length - 2 - clf.settings.stride
    assert windows[1] == 1 and windows[0] > 100 and windows[0] * room + clf.settings.stride >= tokens
    # The documented rule: the mean of the windows' probabilities weighted by their paragraph tokens.
    enc = encode_windows(clf.tokenizer, [long_text], None, clf.settings, clf.token_types)
    assert len(enc["input_ids"]) == windows[0] and max(map(len, enc["input_ids"])) <= clf.settings.max_length
    per_window = np.vstack([clf.predict_proba([clf.tokenizer.decode(ids, skip_special_tokens=True)])
                            for ids in enc["input_ids"][:1]])
    weights = np.asarray(enc["weight"], dtype=np.float64)
    assert weights.sum() >= tokens  # every token is in some window (the stride repeats some)
    first_only = clf.predict_proba([clf.tokenizer.decode(enc["input_ids"][0], skip_special_tokens=True)])
    np.testing.assert_allclose(per_window, first_only)
    assert not np.allclose(probs[0], first_only[0], atol=1e-4)  # the tail windows count


def test_window_weights_are_paragraph_tokens(clf):
    settings = ClassifierSettings(max_length=16, stride=4)
    enc = encode_windows(clf.tokenizer, ["раз два три четыре пять шесть семь восемь девять десять " * 3], None,
                         settings, clf.token_types)
    assert len(enc["input_ids"]) > 1 and all(len(ids) <= 16 for ids in enc["input_ids"])
    assert enc["weight"][:-1] == [14] * (len(enc["input_ids"]) - 1)


def test_repeated_texts_are_scored_once_and_the_cache_is_bounded(tiny_run):
    clf = EventClassifier.from_pretrained(tiny_run / "model", cache_size=2)
    first = clf.predict_proba(["Фото: пресс-служба", "Фото:   пресс-служба ", "Другой текст"])
    assert clf.cache_stats == {"texts": 3, "scored": 2, "from_cache": 1, "saved_share": round(1 / 3, 4)}
    np.testing.assert_array_equal(first[0], first[1])
    again = clf.predict_proba(["Фото: пресс-служба", "Третий", "Четвертый", "Фото: пресс-служба"])
    np.testing.assert_array_equal(again[0], first[0])
    assert len(clf.cache.items) == 2


def test_context_is_clipped_to_its_token_budget_at_a_word_boundary(clf):
    title = "Министры иностранных дел двух стран провели телефонный разговор в четверг вечером"
    [clipped] = clip_to_tokens(clf.tokenizer, [title], 6)
    assert title.startswith(clipped) and len(clf.tokenizer(clipped, add_special_tokens=False)["input_ids"]) <= 6
    assert clipped and title[len(clipped)] == " "


def test_context_changes_what_the_model_sees_only_when_the_folder_says_so(tiny_run, tmp_path):
    plain = EventClassifier.from_pretrained(tiny_run / "model", cache_size=0)
    texts, contexts = ["Стороны обсудили энергетику."], ["Президенты провели телефонный разговор"]
    np.testing.assert_array_equal(plain.predict_proba(texts, contexts), plain.predict_proba(texts))
    folder = tmp_path / "model"
    shutil.copytree(tiny_run / "model", folder, ignore=shutil.ignore_patterns("onnx"))
    ClassifierSettings(max_length=64, context="title", context_tokens=16, stride=8).save(folder)
    with_title = EventClassifier.from_pretrained(folder, cache_size=0)
    assert not np.allclose(with_title.predict_proba(texts, contexts), with_title.predict_proba(texts))
    rows = with_title.score([{"id": "a", "title": contexts[0], "text": texts[0]}])
    np.testing.assert_allclose([rows[1].probs[x] for x in with_title.labels],
                               with_title.predict_proba(texts, contexts)[0], atol=1e-6)


def test_onnx_matches_torch_and_is_exported_once(tiny_run, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_run / "model", folder, ignore=shutil.ignore_patterns("onnx"))
    texts = TEXTS + [f"Абзац номер {i} о ценах на газ и поставках зерна" for i in range(40)]
    torch_probs = EventClassifier.from_pretrained(folder, cache_size=0).predict_proba(texts)
    onnx_probs = EventClassifier.from_pretrained(folder, backend="onnx", cache_size=0).predict_proba(texts)
    np.testing.assert_allclose(onnx_probs, torch_probs, atol=1e-4)
    int8 = EventClassifier.from_pretrained(folder, backend="onnx", int8=True, cache_size=0).predict_proba(texts)
    assert (int8.argmax(1) == torch_probs.argmax(1)).mean() >= 0.9
    np.testing.assert_allclose(int8, torch_probs, atol=0.1)  # dynamic int8 on a 2-epoch tiny model
    cached = folder / "onnx" / "model.onnx"
    stamp = cached.stat().st_mtime_ns
    EventClassifier.from_pretrained(folder, backend="onnx")
    assert cached.stat().st_mtime_ns == stamp  # cache matched the weights: not re-exported
    manifest = json.loads((folder / "onnx" / "cache.json").read_text())
    manifest["weights_sha256"] = "0" * 64  # as if the weights had changed
    (folder / "onnx" / "cache.json").write_text(json.dumps(manifest))
    EventClassifier.from_pretrained(folder, backend="onnx")
    assert cached.stat().st_mtime_ns != stamp
    assert not (folder / "onnx" / "model.int8.onnx").exists()  # stale int8 graph dropped with its source


def test_bad_backend_arguments_are_refused(tiny_run):
    with pytest.raises(ValueError, match="backend"):
        EventClassifier.from_pretrained(tiny_run / "model", backend="tensorrt")
    with pytest.raises(ValueError, match="int8 needs backend='onnx'"):
        EventClassifier.from_pretrained(tiny_run / "model", int8=True)
    with pytest.raises(ValueError, match="bf16 needs backend='torch'"):
        EventClassifier.from_pretrained(tiny_run / "model", backend="onnx", bf16=True)


def test_bf16_weights_give_nearly_the_float32_probabilities(tiny_run):
    texts = TEXTS + [f"Абзац номер {i} о ценах на газ и поставках зерна" for i in range(40)]
    fp32 = EventClassifier.from_pretrained(tiny_run / "model", cache_size=0)
    bf16 = EventClassifier.from_pretrained(tiny_run / "model", bf16=True, cache_size=0)
    assert next(bf16.backend.model.parameters()).dtype == torch.bfloat16
    full, half = fp32.predict_proba(texts), bf16.predict_proba(texts)
    assert half.dtype == full.dtype and not np.array_equal(half, full)  # really computed in another precision
    np.testing.assert_allclose(half, full, atol=0.05)
    assert (half.argmax(1) == full.argmax(1)).mean() >= 0.95


def test_thresholds_from_the_folder_turn_weak_events_into_other_and_rows_keep_the_raw_label(tiny_run, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_run / "model", folder, ignore=shutil.ignore_patterns("onnx"))
    plain = EventClassifier.from_pretrained(folder, cache_size=0)
    probs = plain.predict_proba(TEXTS)
    settings = ClassifierSettings.load(folder)
    settings.background = "other"
    settings.thresholds = {x: 1.0 for x in plain.labels if x != "other"}  # no event is ever sure enough
    settings.save(folder)
    strict = EventClassifier.from_pretrained(folder, cache_size=0)
    assert strict.predict(TEXTS) == ["other"] * len(TEXTS)
    rows = strict.score([{"id": "a", "title": TEXTS[0], "text": "\n".join(TEXTS[1:])}])
    assert [r.raw_label for r in rows] == [plain.labels[i] for i in probs.argmax(1)]
    assert all(r.label == "other" and r.score == r.probs["other"] for r in rows)


def test_estimated_priors_shift_the_posteriors(tiny_run, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_run / "model", folder, ignore=shutil.ignore_patterns("onnx"))
    clf = EventClassifier.from_pretrained(folder)
    before = clf.predict_proba(TEXTS)
    priors = clf.estimate_priors(TEXTS * 5)
    assert priors.shape == (5,) and priors.sum() == pytest.approx(1.0)
    after = clf.predict_proba(TEXTS)
    expected = before * (priors / np.asarray(clf.settings.train_priors))
    np.testing.assert_allclose(after, expected / expected.sum(1, keepdims=True), atol=1e-5)


def test_threads_follow_omp_num_threads_when_set(monkeypatch):
    # Ray sets OMP_NUM_THREADS to an actor's CPUs; a user pinning a job sets it too.
    import os

    from inference.classifier import _default_threads

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert _default_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "not a number")
    assert _default_threads() == len(os.sched_getaffinity(0))
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert _default_threads() == len(os.sched_getaffinity(0))
