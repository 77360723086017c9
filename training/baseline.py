"""TF-IDF + logistic regression: the cheap baseline every run must beat to earn its cost."""
from __future__ import annotations

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, make_pipeline


def build_baseline(seed: int = 42):
    # Character n-grams cope with Russian inflection the way a stemmer would, words add phrase cues.
    features = FeatureUnion([
        ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, lowercase=True)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True,
                                  lowercase=True, max_features=200_000)),
    ])
    return make_pipeline(features, LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced",
                                                      random_state=seed))


def fit_predict(train_texts, train_labels, eval_sets: dict[str, list[str]], seed: int = 42) -> dict[str, list[int]]:
    model = build_baseline(seed)
    model.fit(train_texts, train_labels)
    return {name: model.predict(texts).tolist() for name, texts in eval_sets.items()}
