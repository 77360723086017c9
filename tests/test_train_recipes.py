"""Fine-tuning recipes for a pretrained encoder: keep the first N layers, freeze the lowest ones, and give
lower layers smaller steps (layer-wise learning-rate decay)."""
import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertModel, TrainingArguments

from training.config import ConfigError, load_config
from training.train import WeightedTrainer, layer_of, load_model


@pytest.fixture(scope="module")
def three_layer_base(tiny_base, tmp_path_factory):
    """A 3-layer BERT with the tiny base's tokenizer, saved as a standard folder."""
    out = tmp_path_factory.mktemp("base3")
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=128)).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def config_for(base, *overrides):
    return load_config("configs/tiny.yaml", [f"model.name_or_path={base}", "model.freeze_embeddings=false",
                                             *overrides])


def test_layer_of_tells_embeddings_encoder_layers_and_the_head_apart():
    assert layer_of("bert.embeddings.word_embeddings.weight") == -1
    assert layer_of("bert.encoder.layer.0.attention.self.query.weight") == 0
    assert layer_of("bert.encoder.layer.11.output.dense.bias") == 11
    assert layer_of("bert.pooler.dense.weight") is None
    assert layer_of("classifier.weight") is None


def test_num_layers_keeps_the_first_layers_of_the_base_with_their_weights(three_layer_base):
    _, model = load_model(config_for(three_layer_base, "model.num_layers=2"))
    base = BertModel.from_pretrained(three_layer_base)
    assert model.config.num_hidden_layers == 2 and len(model.bert.encoder.layer) == 2
    for i in range(2):
        for (name, ours), (_, theirs) in zip(model.bert.encoder.layer[i].named_parameters(),
                                             base.encoder.layer[i].named_parameters()):
            assert torch.equal(ours, theirs), name


def test_more_layers_than_the_base_has_is_a_config_error(three_layer_base):
    with pytest.raises(ConfigError, match="model.num_layers: 4.*3 layers"):
        load_model(config_for(three_layer_base, "model.num_layers=4"))


def test_freeze_layers_freezes_the_embeddings_and_the_lowest_layers_only(three_layer_base):
    _, model = load_model(config_for(three_layer_base, "model.freeze_layers=2"))
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    for name, _ in model.named_parameters():
        depth = layer_of(name)
        assert (name in trainable) == (depth is None or depth >= 2), name


def test_layerwise_lr_decay_gives_each_depth_its_own_rate(three_layer_base, tmp_path):
    _, model = load_model(config_for(three_layer_base, "model.freeze_layers=1"))
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=1e-3, weight_decay=0.01, report_to=[],
                             use_cpu=True)
    optimizer = WeightedTrainer(model=model, args=args, layerwise_lr_decay=0.5).create_optimizer()
    lr_of = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    wd_of = {id(p): group["weight_decay"] for group in optimizer.param_groups for p in group["params"]}
    for name, param in model.named_parameters():
        depth = layer_of(name)
        if depth is not None and depth < 1:
            assert id(param) not in lr_of, f"{name} is frozen yet in the optimizer"
            continue
        expected = 1e-3 if depth is None else 1e-3 * 0.5 ** (3 - depth)
        assert lr_of[id(param)] == pytest.approx(expected), name
        assert wd_of[id(param)] == (0.0 if name.endswith("bias") or "LayerNorm" in name else 0.01), name


def test_without_decay_the_stock_optimizer_has_one_rate(three_layer_base, tmp_path):
    _, model = load_model(config_for(three_layer_base))
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=1e-3, report_to=[], use_cpu=True)
    optimizer = WeightedTrainer(model=model, args=args).create_optimizer()
    assert {group["lr"] for group in optimizer.param_groups} == {1e-3}
