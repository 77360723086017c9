import pytest

from training.navec_vectors import find_navec_file, load_word_vectors, normalize_word


def test_normalize_folds_case_and_yo():
    assert normalize_word("ЁЛКА") == "елка"


def test_navec_ships_with_natasha_and_loads():
    path = find_navec_file()
    assert path.name == "navec_news_v1_1B_250K_300d_100q.tar"
    vectors = load_word_vectors(path)
    assert vectors.dim == 300 and len(vectors.words) > 200_000
    assert vectors.counts == sorted(vectors.counts, reverse=True)  # most frequent first
    assert vectors.get("ЕЩЁ") is not None and vectors.get("несуществующееслово") is None


def test_missing_explicit_file_falls_back_and_bad_env_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("NAVEC_PATH", str(tmp_path / "nope.tar"))
    assert find_navec_file(str(tmp_path / "also-nope.tar")).is_file()


def test_clear_error_when_nothing_is_found(tmp_path, monkeypatch):
    import importlib.util

    monkeypatch.delenv("NAVEC_PATH", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install natasha"):
        find_navec_file()
