"""Fine-tune a Russian BERT to label news paragraphs with the event they report.

    from training import load_config, train
    metrics = train(load_config("configs/default.yaml"), "runs/default")
"""


def __getattr__(name):
    # Lazy, so that light commands (python -m training.splits) do not import torch and transformers.
    if name == "train":
        from .train import train
        return train
    if name == "load_config":
        from .config import load_config
        return load_config
    raise AttributeError(name)


__all__ = ["load_config", "train"]
