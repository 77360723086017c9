import json

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

from training.navec_vectors import load_word_vectors
from training.tokenizer import ALPHABET


def test_base_saves_reloads_and_keeps_its_vocabulary(tiny_base):
    card = json.loads((tiny_base / "base_card.json").read_text())
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    model = AutoModel.from_pretrained(tiny_base, use_safetensors=True)
    assert len(tokenizer) == card["embedding_seeding"]["vocab"] == model.config.vocab_size
    # 3000 asked for, plus the alphabet the trainer is told to keep whole.
    assert 3000 <= len(tokenizer) <= 3000 + len(ALPHABET)
    assert model.config.hidden_size == 300 and model.config.num_hidden_layers == 1
    seeding = card["embedding_seeding"]
    assert seeding["navec_exact"] > 1000 and seeding["navec_mean_of_words"] > 100
    assert sum(seeding[k] for k in ("navec_exact", "navec_mean_of_words", "random")) == seeding["vocab"]


def test_a_navec_word_gets_its_navec_vector(tiny_base):
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    weights = AutoModel.from_pretrained(tiny_base, use_safetensors=True).get_input_embeddings().weight.detach()
    vectors = load_word_vectors()
    for word in ("президент", "россии", "газ"):
        ids = tokenizer(word, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1, f"{word} should be one token, got {tokenizer.tokenize(word)}"
        row = weights[ids[0]].numpy()
        navec = vectors.get(word)
        cosine = float(row @ navec / (np.linalg.norm(row) * np.linalg.norm(navec)))
        assert cosine > 0.999, word


def test_seeded_neighbours_are_semantic(tiny_base):
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    weights = AutoModel.from_pretrained(tiny_base, use_safetensors=True).get_input_embeddings().weight.detach()
    weights = torch.nn.functional.normalize(weights, dim=-1)

    def vec(word):
        [i] = tokenizer(word, add_special_tokens=False)["input_ids"]
        return weights[i]

    # Pretrained knowledge: a random init would put these at cosine ~0.
    assert float(vec("нефть") @ vec("газ")) > 0.3
    assert float(vec("нефть") @ vec("газ")) > float(vec("нефть") @ vec("суд")) + 0.1


def test_tokenizer_folds_case_and_yo_like_navec_and_never_loses_digits(tiny_base):
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    assert tokenizer.tokenize("ЕЩЁ") == tokenizer.tokenize("еще")
    assert tokenizer.unk_token not in tokenizer.tokenize("Вывезли 1 245,5 т зерна — «Русагротранс» №7 (+12%)")


def _first_layers(init: str):
    """Hidden states of a fresh 3-layer encoder over one random paragraph, and what a bag of words predicts."""
    from transformers import BertConfig, BertForMaskedLM

    from training.bootstrap import mean_pool_init

    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=500, hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
                                       intermediate_size=128, max_position_embeddings=64))
    with torch.no_grad():  # seeded vectors are larger than BERT's 0.02 default
        model.get_input_embeddings().weight.normal_(0, 0.1)
    if init == "mean_pool":
        mean_pool_init(model)
    model.eval()
    with torch.no_grad():
        hidden = model.bert(torch.randint(5, 500, (1, 20)), output_hidden_states=True).hidden_states
    words = hidden[0][0]
    bag = torch.nn.functional.layer_norm(words + words.mean(0), words.shape[-1:])
    return [h[0] for h in hidden], bag


def _cos(a, b):
    return torch.nn.functional.cosine_similarity(a, b, dim=-1).min().item()


def test_mean_pool_init_hands_every_position_the_mean_word_vector():
    hidden, bag = _first_layers("mean_pool")
    assert _cos(hidden[1], bag) > 0.999
    # the later blocks start as the identity, so the bag of vectors reaches the classifier intact
    assert _cos(hidden[3], hidden[1]) > 0.999


def test_random_init_leaves_cls_blind_to_the_paragraph():
    hidden, bag = _first_layers("random")
    assert _cos(hidden[1], bag) < 0.99
    assert _cos(hidden[1], hidden[0]) > 0.99  # each position still mostly itself


def test_tokenizer_numbers_tokens_in_a_fixed_order():
    from training.tokenizer import SPECIAL_TOKENS, train_tokenizer

    # The trainer's own ids follow hash-map order, which changes from process to process.
    texts = ["Президент провел телефонный разговор с премьер-министром.",
             "Экспорт зерна вырос на 12%, поставки в Египет продолжаются."] * 5
    vocab = train_tokenizer(iter(texts), 5000, 128).get_vocab()
    tokens = sorted(vocab, key=vocab.get)
    assert tokens[:len(SPECIAL_TOKENS)] == SPECIAL_TOKENS
    assert tokens[len(SPECIAL_TOKENS):] == sorted(tokens[len(SPECIAL_TOKENS):])
    assert sorted(vocab.values()) == list(range(len(vocab)))


def test_random_rows_follow_the_token_not_its_id(tiny_base):
    from training.bootstrap import token_random_rows

    rows = token_random_rows(["##7", "€", "##7"], 300, 0.02, seed=42)
    assert np.array_equal(rows[0], rows[2]) and not np.allclose(rows[0], rows[1])
    assert abs(float(rows.std()) - 0.02) < 0.005
    # In a built base, a token navec cannot seed holds exactly its keyed row.
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    weights = AutoModel.from_pretrained(tiny_base, use_safetensors=True).get_input_embeddings().weight.detach()
    [unk] = token_random_rows(["[UNK]"], 300, 0.02, seed=42)
    assert np.allclose(weights[tokenizer.unk_token_id].numpy(), unk)
