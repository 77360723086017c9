"""The one predictor: a model folder in, event labels and probabilities out, for scoring, training's
evaluation and Python users alike.

    clf = EventClassifier.from_pretrained("runs/default/model")            # backend="onnx", int8=True: faster
    clf.predict(["Президенты провели телефонный разговор."])               # ["phone_call"]
    clf.predict_proba(texts)                                               # (n, labels) array
    rows = clf.score([{"id": "a1", "title": "...", "text": "..."}])       # ScoredParagraph rows

How a text becomes probabilities:
- Each paragraph is paired with its context (the article's title and/or the paragraph before, when the model
  was trained so; `ru_news_events.json` in the model folder says which), the context cut to a token budget.
- A paragraph longer than the model's window is scored in overlapping windows (`stride` tokens shared) and the
  window probabilities are combined by a token-weighted mean: each window weighs as many paragraph tokens as
  it holds, so a short tail window does not count as much as a full one. Rows report how many windows it took.
- Windows of all texts are sorted by length and batched, so padding (wasted compute) stays small, as
  sentence-transformers' `encode()` does; the order is restored after.
- Repeated paragraphs (bylines, captions, subscription prompts, shared related headlines) are scored once: a
  bounded LRU cache keyed by a hash of the whitespace-normalized text and context.
- Logits are divided by the calibrated temperature that training fitted on dev (1.0 when none was fitted).
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .readers import Article
from .splitter import CONTEXT_MODES, paragraph_contexts, split_article

SETTINGS_FILE = "ru_news_events.json"
BACKENDS = ("torch", "onnx")


class ModelFolderError(ValueError):
    """A model folder that cannot be used, with a message that says why and what to do."""


@dataclass
class ClassifierSettings:
    """What training decided about the model's inputs and outputs, saved beside the weights."""

    max_length: int = 128          # tokens per window, special tokens and context included
    context: str = "none"          # one of CONTEXT_MODES
    context_tokens: int = 48       # budget for the context segment
    stride: int = 32               # tokens shared by consecutive windows of a long paragraph
    temperature: float = 1.0       # logits / temperature before softmax (fitted on dev by training)
    background: str | None = None  # the label that is "no event" (e.g. "other"): thresholds fall back to it
    thresholds: dict[str, float] = field(default_factory=dict)  # per event label, chosen on dev by training
    train_priors: list[float] | None = None  # label shares of the training set, for prior-shift correction

    @classmethod
    def load(cls, model_dir: str | Path) -> "ClassifierSettings":
        path = Path(model_dir) / SETTINGS_FILE
        if not path.is_file():
            return cls()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ModelFolderError(f"{path}: not valid JSON ({exc.msg})") from exc
        if not isinstance(raw, dict):
            raise ModelFolderError(f"{path}: expected a JSON object, got {type(raw).__name__}")
        known = {f.name for f in fields(cls)}
        settings = cls(**{k: v for k, v in raw.items() if k in known})
        settings.check_types(str(path))
        settings.check(str(path))
        return settings

    def check_types(self, where: str) -> None:
        def number(x):
            return isinstance(x, (int, float)) and not isinstance(x, bool)

        problems = [name for name in ("max_length", "context_tokens", "stride")
                    if not isinstance(getattr(self, name), int) or isinstance(getattr(self, name), bool)]
        problems += [] if number(self.temperature) else ["temperature"]
        problems += [] if isinstance(self.context, str) else ["context"]
        problems += [] if self.background is None or isinstance(self.background, str) else ["background"]
        if not isinstance(self.thresholds, dict) or not all(isinstance(k, str) and number(v)
                                                              for k, v in self.thresholds.items()):
            problems.append("thresholds")
        if self.train_priors is not None and not (isinstance(self.train_priors, list)
                                                  and all(number(x) for x in self.train_priors)):
            problems.append("train_priors")
        if problems:
            raise ModelFolderError(f"{where}: wrong type for {', '.join(problems)}")

    def check_labels(self, labels: list[str], where: str) -> None:
        """Settings that name labels must name the model's own (config.json `id2label`)."""
        if self.background is not None and self.background not in labels:
            raise ModelFolderError(f"{where}: background {self.background!r} is not one of the model's labels "
                                   f"{labels} (config.json id2label)")
        unknown = sorted(set(self.thresholds) - set(labels))
        if unknown:
            raise ModelFolderError(f"{where}: thresholds for {unknown}, which are not among the model's labels "
                                   f"{labels} (config.json id2label)")
        if any(not 0 <= v <= 1 for v in self.thresholds.values()):
            raise ModelFolderError(f"{where}: thresholds must lie in [0, 1], got {self.thresholds}")
        if self.train_priors is not None and len(self.train_priors) != len(labels):
            raise ModelFolderError(f"{where}: {len(self.train_priors)} train_priors for {len(labels)} labels")

    def save(self, model_dir: str | Path) -> None:
        path = Path(model_dir) / SETTINGS_FILE
        path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2), encoding="utf-8")

    def check(self, where: str) -> None:
        if self.context not in CONTEXT_MODES:
            raise ModelFolderError(f"{where}: context {self.context!r} is not one of {CONTEXT_MODES}")
        if self.max_length < 16 or self.context_tokens < 0 or self.stride < 0 or self.temperature <= 0:
            raise ModelFolderError(f"{where}: max_length >= 16, context_tokens >= 0, stride >= 0 and "
                                   f"temperature > 0 are required, got {asdict(self)}")
        room = self.paragraph_room
        if room < 8 or self.stride >= room:
            raise ModelFolderError(f"{where}: a window of {self.max_length} tokens leaves {room} for the paragraph "
                                   f"after {self.context_tokens} of context; it must be at least 8 and above "
                                   f"stride {self.stride}")

    @property
    def paragraph_room(self) -> int:
        """Paragraph tokens a window holds at the least (a pair costs at most 4 special tokens)."""
        return self.max_length - 4 - (self.context_tokens if self.context != "none" else 0)


@dataclass
class ScoredParagraph:
    """One output row: the schema every writer (JSONL, CSV, Parquet) and test_predictions.jsonl use."""

    article_id: str
    paragraph: int
    kind: str
    text: str
    label: str
    score: float
    probs: dict[str, float] = field(default_factory=dict)
    windows: int = 1
    raw_label: str = ""            # the top label before thresholds (equal to `label` unless a threshold fired)
    raw_score: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def normalize_text(text: str) -> str:
    """What the model sees and the cache keys on: the text with runs of whitespace made one space."""
    return " ".join(text.split())


def clip_to_tokens(tokenizer, texts: Sequence[str], budget: int) -> list[str]:
    """Each text cut after its first `budget` tokens, at a word boundary, so that the paragraph keeps most of
    the window however long the context is."""
    if budget <= 0:
        return ["" for _ in texts]
    encoded = tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=budget,
                        return_offsets_mapping=True)
    out = []
    for text, offsets in zip(texts, encoded["offset_mapping"]):
        if not offsets or offsets[-1][1] >= len(text):
            out.append(text)
            continue
        cut = offsets[-1][1]
        if not text[cut].isspace():  # mid-word: drop the partial word rather than invent a new piece
            cut = text.rfind(" ", 0, cut)
        out.append(text[:max(cut, 0)].rstrip())
    return out


def encode_windows(tokenizer, texts: Sequence[str], contexts: Sequence[str] | None, settings: ClassifierSettings,
                   token_types: bool) -> dict:
    """Token windows for `texts` (with their contexts as the second segment): `input_ids`, `token_type_ids`
    (when the model takes them), `owner` (the text each window belongs to) and `weight` (paragraph tokens in
    the window). Training builds its examples with this too, so it sees exactly what scoring sees."""
    use_context = settings.context != "none" and contexts is not None and any(contexts)
    kwargs = dict(truncation="only_first" if use_context else True, max_length=settings.max_length,
                  stride=settings.stride, return_overflowing_tokens=True, return_token_type_ids=token_types,
                  return_attention_mask=False)
    if use_context:
        clipped = clip_to_tokens(tokenizer, contexts, settings.context_tokens)
        # An empty second segment would still cost a separator; texts without context go in as singles.
        with_ctx = [i for i, c in enumerate(clipped) if c]
        without = [i for i, c in enumerate(clipped) if not c]
        parts = []
        if with_ctx:
            parts.append((with_ctx, tokenizer([texts[i] for i in with_ctx], [clipped[i] for i in with_ctx], **kwargs)))
        if without:
            single = dict(kwargs, truncation=True)
            parts.append((without, tokenizer([texts[i] for i in without], **single)))
    else:
        parts = [(list(range(len(texts))), tokenizer(list(texts), **kwargs))]
    out: dict[str, list] = {"input_ids": [], "owner": [], "weight": []}
    if token_types:
        out["token_type_ids"] = []
    for index, encoded in parts:
        for w, sample in enumerate(encoded["overflow_to_sample_mapping"]):
            out["input_ids"].append(encoded["input_ids"][w])
            if token_types:
                out["token_type_ids"].append(encoded["token_type_ids"][w])
            out["owner"].append(index[sample])
            out["weight"].append(sum(1 for s in encoded.encodings[w].sequence_ids if s == 0))
    return out


def cache_key(text: str, context: str = "") -> bytes:
    """The cache's key for a normalized text and its context."""
    return hashlib.blake2b(f"{text}\x1f{context}".encode(), digest_size=16).digest()


class _LRU:
    def __init__(self, size: int):
        self.size = size
        self.items: OrderedDict[bytes, tuple[np.ndarray, int]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: bytes):
        item = self.items.get(key)
        if item is not None:
            self.items.move_to_end(key)
        return item

    def put(self, key: bytes, value) -> None:
        if self.size <= 0:
            return
        self.items[key] = value
        if len(self.items) > self.size:
            self.items.popitem(last=False)


def _article_parts(article) -> tuple[str, str, str]:
    if isinstance(article, Article):
        return article.id, article.title, article.text
    if isinstance(article, dict):
        return str(article.get("id", "")), article.get("title") or "", article.get("text") or ""
    raise TypeError(f"an article is an inference.readers.Article or a dict with id/title/text, not {type(article)}")


class EventClassifier:
    """Label paragraphs of news with the event they report (see the module docstring)."""

    def __init__(self, tokenizer, backend, labels: list[str], settings: ClassifierSettings, token_types: bool,
                 batch_size: int = 32, cache_size: int = 200_000):
        self.tokenizer = tokenizer
        self.backend = backend
        self.labels = labels
        self.settings = settings
        self.token_types = token_types
        self.batch_size = batch_size
        self.cache = _LRU(cache_size)
        self.dump_priors: np.ndarray | None = None  # set by estimate_priors: the dump's label priors

    @classmethod
    def from_pretrained(cls, model_dir: str | Path, backend: str = "torch", int8: bool = False,
                        device: str | None = None, batch_size: int = 32, cache_size: int = 200_000,
                        threads: int | None = None, labels: Sequence[str] | None = None,
                        bf16: bool = False) -> "EventClassifier":
        """Load a model folder (safetensors weights only, never custom code; see SECURITY.md). With `labels`,
        the folder's label set (config.json `id2label`, in order) must be exactly that. `bf16` (torch backend)
        runs the weights in bfloat16: several times faster on CPUs with AMX or AVX512-BF16, at a small cost
        in agreement with float32 (docs/benchmarks.md)."""
        from transformers import AutoConfig, AutoTokenizer

        from . import backends

        model_dir = Path(model_dir)
        if backend not in BACKENDS:
            raise ValueError(f"backend {backend!r}: use one of {', '.join(BACKENDS)}")
        if int8 and backend != "onnx":
            raise ValueError("int8 needs backend='onnx' (dynamic int8 quantization of the ONNX graph)")
        if bf16 and backend != "torch":
            raise ValueError("bf16 needs backend='torch' (ONNX Runtime has no bfloat16 CPU kernels)")
        backends.check_model_folder(model_dir)
        settings = ClassifierSettings.load(model_dir)
        # A damaged folder must fail here, naming the folder, not as a library traceback part way into a run.
        try:
            config = AutoConfig.from_pretrained(model_dir)
        except Exception as exc:
            raise ModelFolderError(f"{model_dir}: unreadable config.json ({_first_line(exc)})") from exc
        folder_labels = [config.id2label[i] for i in range(config.num_labels)]
        if labels is not None and list(labels) != folder_labels:
            raise ModelFolderError(f"{model_dir}: the model's labels {folder_labels} (config.json id2label) are "
                                   f"not the expected {list(labels)}")
        settings.check_labels(folder_labels, str(model_dir / SETTINGS_FILE))
        try:
            tokenizer = AutoTokenizer.from_pretrained(model_dir)
        except Exception as exc:
            raise ModelFolderError(f"{model_dir}: unreadable tokenizer ({_first_line(exc)})") from exc
        settings.max_length = min(settings.max_length, config.max_position_embeddings)
        token_types = getattr(config, "type_vocab_size", 0) >= 2
        threads = threads or _default_threads()
        try:
            if backend == "torch":
                runner = backends.TorchBackend(model_dir, device=device, threads=threads, bf16=bf16)
            else:
                runner = backends.OnnxBackend(model_dir, int8=int8, device=device, threads=threads,
                                              token_types=token_types)
        except ImportError:
            raise
        except Exception as exc:
            raise ModelFolderError(f"{model_dir}: cannot load the weights ({_first_line(exc)})") from exc
        return cls(tokenizer, runner, folder_labels, settings, token_types, batch_size=batch_size,
                   cache_size=cache_size)

    # -- prediction ----------------------------------------------------------------------------------------

    def predict_proba(self, texts: Sequence[str], contexts: Sequence[str] | None = None) -> np.ndarray:
        """Calibrated class probabilities (prior-corrected after `estimate_priors`), one row per text, columns in
        `self.labels` order."""
        return self.infer(texts, contexts)[0]

    def predict(self, texts: Sequence[str], contexts: Sequence[str] | None = None) -> list[str]:
        """The decided label of each text: the top label, unless it is an event scored below its threshold."""
        return [self.labels[i] for i in self.decide(self.predict_proba(texts, contexts))]

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """Label indices after the model folder's per-label thresholds (the top label where none applies)."""
        best = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=np.int64)
        background = self.settings.background
        if not self.settings.thresholds or background not in self.labels:
            return best
        floor = np.array([self.settings.thresholds.get(x, 0.0) for x in self.labels])
        below = probs[np.arange(len(best)), best] < floor[best]
        return np.where(below, self.labels.index(background), best)

    def estimate_priors(self, texts: Sequence[str], contexts: Sequence[str] | None = None) -> np.ndarray:
        """Estimate the label priors of the population `texts` come from (Saerens et al.'s EM on the calibrated
        posteriors) and correct every later posterior for them. Returns the priors."""
        from .calibration import em_priors

        if not self.settings.train_priors:
            raise ModelFolderError("this model folder records no training priors (train_priors in "
                                   f"{SETTINGS_FILE}); retrain it with this version to adjust priors")
        self.dump_priors = None
        probs = self.infer(texts, contexts)[0]
        self.dump_priors, _ = em_priors(probs, np.asarray(self.settings.train_priors))
        return self.dump_priors

    def _adjust(self, probs: np.ndarray) -> np.ndarray:
        if self.dump_priors is None or not len(probs):
            return probs
        from .calibration import shift_priors

        return shift_priors(probs, np.asarray(self.settings.train_priors), self.dump_priors).astype(np.float32)

    def infer(self, texts: Sequence[str], contexts: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and the number of windows of each text, through the cache."""
        if contexts is not None and len(contexts) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(contexts)} contexts")
        use_context = self.settings.context != "none" and contexts is not None
        texts = [normalize_text(t) for t in texts]
        contexts = [normalize_text(c) for c in contexts] if use_context else None
        probs = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        windows = np.zeros(len(texts), dtype=np.int32)
        todo: dict[bytes, list[int]] = {}
        for i, text in enumerate(texts):
            key = cache_key(text, contexts[i] if contexts else "")
            hit = self.cache.get(key)
            if hit is not None:
                probs[i], windows[i] = hit
                self.cache.hits += 1
            elif key in todo:
                todo[key].append(i)
                self.cache.hits += 1
            else:
                todo[key] = [i]
                self.cache.misses += 1
        if todo:
            first = [rows[0] for rows in todo.values()]
            new_probs, new_windows = self._run([texts[i] for i in first], [contexts[i] for i in first] if contexts
                                               else None)
            for (key, rows), p, w in zip(todo.items(), new_probs, new_windows):
                probs[rows], windows[rows] = p, w
                self.cache.put(key, (p, int(w)))
        return self._adjust(probs), windows

    def _run(self, texts: list[str], contexts: list[str] | None) -> tuple[np.ndarray, np.ndarray]:
        enc = encode_windows(self.tokenizer, texts, contexts, self.settings, self.token_types)
        ids = enc["input_ids"]
        logits = np.zeros((len(ids), len(self.labels)), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda w: len(ids[w]))
        pad = self.tokenizer.pad_token_id or 0
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            width = len(ids[batch[-1]])
            input_ids = np.full((len(batch), width), pad, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            types = np.zeros((len(batch), width), dtype=np.int64) if self.token_types else None
            for row, w in enumerate(batch):
                n = len(ids[w])
                input_ids[row, :n] = ids[w]
                mask[row, :n] = 1
                if types is not None:
                    types[row, :n] = enc["token_type_ids"][w]
            logits[batch] = self.backend(input_ids, mask, types)
        window_probs = _softmax(logits / self.settings.temperature)
        owner = np.asarray(enc["owner"], dtype=np.int64)
        weight = np.maximum(np.asarray(enc["weight"], dtype=np.float32), 1.0)
        probs = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        np.add.at(probs, owner, window_probs * weight[:, None])
        probs /= probs.sum(axis=1, keepdims=True)
        return probs, np.bincount(owner, minlength=len(texts))

    # -- articles --------------------------------------------------------------------------------------------

    def score(self, articles: Iterable) -> list[ScoredParagraph]:
        """Split each article (an `Article` or a dict with id/title/text) into its title, body paragraphs and
        related-headline bullets, and score them all in one batched pass."""
        items = []
        for article in articles:
            article_id, title, text = _article_parts(article)
            paragraphs = split_article(title, text)
            contexts = paragraph_contexts(paragraphs, self.settings.context)
            items.extend((article_id, p, c) for p, c in zip(paragraphs, contexts))
        if not items:
            return []
        probs, windows = self.infer([p.text for _, p, _ in items], [c for _, _, c in items])
        return [self.row(article_id, p.index, p.kind, p.text, pr, int(w))
                for (article_id, p, _), pr, w in zip(items, probs, windows)]

    def row(self, article_id: str, index: int, kind: str, text: str, probs: np.ndarray,
            windows: int = 1) -> ScoredParagraph:
        best = int(probs.argmax())
        decided = int(self.decide(probs[None, :])[0])
        return ScoredParagraph(article_id=article_id, paragraph=index, kind=kind, text=text,
                               label=self.labels[decided], score=round(float(probs[decided]), 6),
                               probs={name: round(float(x), 6) for name, x in zip(self.labels, probs)},
                               windows=windows, raw_label=self.labels[best], raw_score=round(float(probs[best]), 6))

    @property
    def cache_stats(self) -> dict:
        calls = self.cache.hits + self.cache.misses
        return {"texts": calls, "scored": self.cache.misses, "from_cache": self.cache.hits,
                "saved_share": round(self.cache.hits / calls, 4) if calls else 0.0}


def _default_threads() -> int:
    """OMP_NUM_THREADS when the user (or Ray, for an actor) set it, else every core this process may use."""
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        return len(os.sched_getaffinity(0))


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:300] + "...") if len(text) > 300 else (text or type(exc).__name__)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
