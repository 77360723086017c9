"""Batch scoring with a saved model folder: length-sorted batches, no gradients, safetensors only."""
from __future__ import annotations

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer


class Scorer:
    def __init__(self, model_dir: str, batch_size: int = 32, max_length: int = 256, device: str | None = None):
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        # use_safetensors: a model folder is input like any other and must never be unpickled.
        self.model = AutoModelForSequenceClassification.from_pretrained(model_dir, use_safetensors=True)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device).eval()
        self.labels = [self.model.config.id2label[i] for i in range(self.model.config.num_labels)]
        self.batch_size = batch_size
        self.max_length = min(max_length, self.model.config.max_position_embeddings)

    @torch.inference_mode()
    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Class probabilities, rows in the order of `texts`.

        Sorting by length before batching keeps padding (wasted compute) small; the order is restored after.
        """
        probs = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            batch = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt").to(self.device)
            logits = self.model(**batch).logits
            probs[idx] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        return probs
