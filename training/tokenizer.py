"""A WordPiece tokenizer for Russian news, trained here with `tokenizers` (no downloads)."""
from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Iterable, Iterator

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from inference.readers import iter_paragraphs, open_binary, read_labeled

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Lowercase letters only: the normalizer lowercases before the model sees text.
ALPHABET = ("абвгдежзийклмнопрстуфхцчшщъыьэюяіїєґўăâîșțşţ" + string.ascii_lowercase + string.digits
            + string.punctuation + "«»„“”‘’–—…№°€$£¥₽%•·×")


def _normalizer():
    # Lowercase and ё->е like navec; accents are kept because NFD stripping would turn й into и.
    return normalizers.Sequence([
        normalizers.NFC(),
        normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=True),
        normalizers.Replace("ё", "е"),
    ])


def weighted_words(words: list[str], counts: list[int], per_repeat: int = 200, cap: int = 5000) -> Iterator[str]:
    """Navec words as pseudo-text whose word frequencies follow the 1B-token news corpus navec was built on.

    One repeat per `per_repeat` occurrences keeps the frequency ranking (so frequent inflected forms such
    as "провела" become whole tokens) in a few million words instead of a billion.
    """
    for word, count in zip(words, counts):
        yield " ".join([word] * max(1, min(cap, count // per_repeat)))


def number_texts() -> Iterator[str]:
    """Digit strings, so numbers split into digit pieces instead of [UNK] whatever texts the vocabulary saw."""
    numbers = " ".join(f"{i:02d} {i}" for i in range(100))
    for _ in range(3):
        yield numbers


def read_texts(paths: Iterable[str | Path]) -> Iterator[str]:
    """Paragraph texts of labeled files (rows with a `label`) or of article dumps, through the project's readers."""
    for path in paths:
        path = Path(path)
        if _is_labeled(path):
            yield from (row.text for row in read_labeled(path, require_label=False))
        else:
            for _, paragraphs in iter_paragraphs(path):
                yield from (p.text for p in paragraphs)


def _is_labeled(path: Path) -> bool:
    if path.is_dir() or not path.name.endswith((".jsonl", ".jsonl.gz")):
        return False
    with open_binary(path) as handle:
        for raw in handle:
            if raw.strip():
                try:
                    row = json.loads(raw)
                except json.JSONDecodeError:
                    return False
                return isinstance(row, dict) and "label" in row
    return False


def train_tokenizer(texts: Iterable[str], vocab_size: int, model_max_length: int) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", continuing_subword_prefix="##"))
    tok.normalizer = _normalizer()
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIAL_TOKENS,
                                        continuing_subword_prefix="##", show_progress=False,
                                        initial_alphabet=list(ALPHABET))
    tok.train_from_iterator(texts, trainer=trainer)
    # The trainer numbers tokens in hash-map order, which changes from process to process; sorted ids make
    # the same texts give the same tokenizer.json, and the base's rows independent of the build.
    learned = sorted(set(tok.get_vocab()) - set(SPECIAL_TOKENS))
    tok.model = models.WordPiece(vocab={t: i for i, t in enumerate(SPECIAL_TOKENS + learned)},
                                 unk_token="[UNK]", continuing_subword_prefix="##")
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    tok.decoder = decoders.WordPiece(prefix="##")
    # Wrap the trained object directly: BertTokenizerFast(vocab_file=...) can silently rebuild a tiny vocab.
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_max_length=model_max_length,
    )


def save_and_reload(tokenizer: PreTrainedTokenizerFast, folder: str | Path) -> PreTrainedTokenizerFast:
    """Save, load back through AutoTokenizer, and insist the vocabulary survived the round trip."""
    tokenizer.save_pretrained(str(folder))
    reloaded = AutoTokenizer.from_pretrained(str(folder))
    if len(reloaded) != len(tokenizer):
        raise RuntimeError(f"{folder}: tokenizer reloaded with {len(reloaded)} tokens, trained {len(tokenizer)}")
    return reloaded
