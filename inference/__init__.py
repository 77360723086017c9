"""ru-news-events inference: read dumps, split articles, classify paragraphs, write outputs."""
from .classifier import ClassifierSettings, EventClassifier, ScoredParagraph
from .scoring import score_dump

__all__ = ["ClassifierSettings", "EventClassifier", "ScoredParagraph", "score_dump"]
