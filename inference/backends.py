"""Run a sequence classifier's forward pass: PyTorch, or ONNX Runtime (fp32 or dynamic int8).

The ONNX graph is exported once with `torch.onnx.export` (TorchScript exporter, eager attention, which is
what ONNX Runtime's BERT fusion recognises), fused with `onnxruntime.transformers.optimizer`, optionally
quantized to int8, and cached in `MODEL_DIR/onnx/` (or under ~/.cache/ru-news-events/onnx when the model folder
is read-only). The cache records the sha256 of the weights it came from and is rebuilt only when they change.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

log = logging.getLogger("inference.backends")
EXPORT_VERSION = 1  # bump when the export recipe changes, so stale caches are rebuilt
WEIGHTS = "model.safetensors"


def _json_object(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError):
        return {}  # missing or unreadable: the loader reports it
    return value if isinstance(value, dict) else {}


def check_model_folder(model_dir: Path) -> None:
    """Refuse, before any work, folders that would need unpickling or lack what scoring needs."""
    from .classifier import ModelFolderError

    if not model_dir.is_dir():
        raise ModelFolderError(f"{model_dir}: no such model folder")
    if not (model_dir / "config.json").is_file():
        raise ModelFolderError(f"{model_dir}: no config.json; not a transformers model folder")
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise ModelFolderError(f"{model_dir}: config.json is not readable JSON ({exc})") from exc
    if not isinstance(config, dict):
        raise ModelFolderError(f"{model_dir}: config.json is not a JSON object")
    custom = [name for name in ("config.json", "tokenizer_config.json") if "auto_map" in _json_object(model_dir / name)]
    if custom:
        # transformers would ask on a terminal whether to run the folder's code; it is never run here.
        raise ModelFolderError(f"{model_dir}: the model needs custom code (auto_map in {', '.join(custom)}), which "
                               "is never run (trust_remote_code stays off; see SECURITY.md)")
    id2label = config.get("id2label")
    if isinstance(id2label, dict):
        names = list(id2label.values())
        duplicates = sorted({x for x in names if names.count(x) > 1})
        if duplicates:
            raise ModelFolderError(f"{model_dir}: config.json id2label repeats {duplicates}; labels must be "
                                   "distinct")
    if not any(model_dir.glob("*.safetensors")):
        pickled = [p.name for p in model_dir.glob("*.bin")] + [p.name for p in model_dir.glob("*.pt")]
        hint = (f" It holds pickled weights ({', '.join(pickled)}), which are never loaded: unpickling runs "
                "arbitrary code. If you trust the folder, convert it once: `python -c \"from transformers import "
                "AutoModelForSequenceClassification as M; M.from_pretrained('DIR').save_pretrained('DIR', "
                "safe_serialization=True)\"`") if pickled else ""
        raise ModelFolderError(f"{model_dir}: no safetensors weights.{hint}")
    if not any((model_dir / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt")):
        raise ModelFolderError(f"{model_dir}: no tokenizer files (tokenizer.json); save the tokenizer with the model")


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX): elsewhere oneDNN emulates it,
    slower than float32."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


class TorchBackend:
    def __init__(self, model_dir: Path, device: str | None = None, threads: int | None = None, bf16: bool = False):
        import torch
        from transformers import AutoModelForSequenceClassification

        self.torch = torch
        if threads:
            torch.set_num_threads(threads)
        # use_safetensors: a model folder is input like any other and must never be unpickled.
        self.model = AutoModelForSequenceClassification.from_pretrained(model_dir, use_safetensors=True)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if bf16 and self.device.type == "cpu" and not cpu_has_bf16():
            log.warning("bf16 requested but this CPU has no bfloat16 instructions: it will run emulated, "
                        "slower than float32")
        # Weights in bfloat16, not autocast: on AMX cores every matmul then runs in bf16 with no casts between
        # layers (docs/benchmarks.md: label agreement with float32 and speed, side by side).
        self.model.to(self.device, dtype=torch.bfloat16 if bf16 else torch.float32).eval()

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: np.ndarray | None):
        torch = self.torch
        batch = {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(attention_mask)}
        if token_type_ids is not None:
            batch["token_type_ids"] = torch.from_numpy(token_type_ids)
        with torch.inference_mode():
            logits = self.model(**{k: v.to(self.device) for k, v in batch.items()}).logits
        return logits.float().cpu().numpy()


def weights_digest(model_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(model_dir.glob("*.safetensors")):
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


def cache_dir_for(model_dir: Path, digest: str) -> Path:
    """`MODEL_DIR/onnx` when writable, else a per-weights folder under the user's cache."""
    local = model_dir / "onnx"
    try:
        local.mkdir(exist_ok=True)
        probe = local / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
        return local
    except OSError:
        root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ru-news-events" / "onnx"
        folder = root / digest[:16]
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def export_onnx(model_dir: Path, path: Path, token_types: bool) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification

    # Eager attention exports as plain MatMul/Softmax, which ONNX Runtime's BERT optimizer fuses into Attention.
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, use_safetensors=True,
                                                               attn_implementation="eager").eval()
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if token_types else [])
    sample = tuple(torch.ones((2, 16), dtype=torch.long) for _ in names)

    class Logits(torch.nn.Module):  # a plain tuple in, logits out: what the TorchScript exporter traces
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *inputs):
            return self.inner(**dict(zip(names, inputs))).logits

    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    axes["logits"] = {0: "batch"}
    with torch.no_grad():
        torch.onnx.export(Logits(model), sample, str(path), input_names=names, output_names=["logits"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)


def optimize_onnx(src: Path, dst: Path, config) -> None:
    from onnxruntime.transformers import optimizer

    model_type = "bert" if config.model_type in ("bert", "xlm-roberta", "roberta") else config.model_type
    fused = optimizer.optimize_model(str(src), model_type=model_type, num_heads=config.num_attention_heads,
                                     hidden_size=config.hidden_size, opt_level=1, use_gpu=False)
    fused.save_model_to_file(str(dst))


def quantize_onnx(src: Path, dst: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The fused graph has ops whose output types the quantizer cannot infer; it must be told they are float.
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


def prepare_onnx(model_dir: Path, int8: bool, token_types: bool) -> Path:
    """The cached ONNX file for these weights, exported (and quantized) first if the cache does not match."""
    from transformers import AutoConfig

    digest = weights_digest(model_dir)
    folder = cache_dir_for(model_dir, digest)
    manifest_path = folder / "cache.json"
    want = {"weights_sha256": digest, "export_version": EXPORT_VERSION, "token_types": token_types}
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    fused, quantized = folder / "model.onnx", folder / "model.int8.onnx"
    if {k: manifest.get(k) for k in want} != want or not fused.is_file():
        log.info("exporting %s to ONNX in %s", model_dir, folder)
        config = AutoConfig.from_pretrained(model_dir)
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            raw = Path(tmp) / "raw.onnx"
            export_onnx(model_dir, raw, token_types)
            optimize_onnx(raw, Path(tmp) / "fused.onnx", config)
            os.replace(Path(tmp) / "fused.onnx", fused)
        quantized.unlink(missing_ok=True)
        manifest = dict(want)
        manifest_path.write_text(json.dumps(manifest, indent=2))
    if int8 and not quantized.is_file():
        log.info("quantizing %s to int8", fused)
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            quantize_onnx(fused, Path(tmp) / "q.onnx")
            os.replace(Path(tmp) / "q.onnx", quantized)
    return quantized if int8 else fused


class OnnxBackend:
    def __init__(self, model_dir: Path, int8: bool = False, device: str | None = None, threads: int | None = None,
                 token_types: bool = True):
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ImportError("the ONNX backend needs the `onnx` extra: pip install -e '.[onnx]'") from exc
        self.path = prepare_onnx(Path(model_dir), int8, token_types)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        providers = ["CPUExecutionProvider"]
        if device and device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        self.session = ort.InferenceSession(str(self.path), options, providers=providers)
        self.inputs = {i.name for i in self.session.get_inputs()}

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: np.ndarray | None):
        feed = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = token_type_ids if token_type_ids is not None else np.zeros_like(input_ids)
        return self.session.run(["logits"], feed)[0]
