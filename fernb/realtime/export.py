"""ONNX export of any fernb model, checked against PyTorch and run with ONNX Runtime.

>>> path = export_onnx(model, "lanmsff.onnx")          # dynamic batch; input "image", output "logits"
>>> check_onnx(model, path)                           # {'max_abs_diff': 3.7e-08, 'bound': 0.0001, ...}
>>> session = onnx_session(path)                      # CPU, or CUDA with onnxruntime-gpu
>>> logits = session.run(None, {"image": batch})[0]

The graph is the model in eval mode from the input adapter to the logits: it takes float32
``(N, C, H, W)`` in [0, 1] with ``C, H, W`` the model's own input (``model.in_chans`` ×
``model.input_size``) and any batch size, and returns ``(N, K)`` logits (the embedding is
dropped: deployment needs the class scores only). The export uses PyTorch's current
exporter (``torch.export`` + onnxscript, ``dynamo=True``); the model's ``fernb_config`` and
class names travel in the file's metadata so a reader knows what it holds.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from scipy.special import softmax
from torch import nn

__all__ = ["ONNX_BOUND", "Logits", "export_onnx", "onnx_session", "check_onnx", "onnx_metadata"]

# Largest |ONNX − PyTorch| logit accepted in float32. Both run the same float32 arithmetic in
# a different order (fused kernels, other reductions); we measure 1e-8 to 1e-6 on fernb's
# models, so 1e-4 leaves two orders of magnitude and still catches a wrong graph (a dropped
# layer, train-mode BatchNorm or dropout move logits by 1e-2 or more).
ONNX_BOUND = 1e-4


class Logits(nn.Module):
    """``model(x).logits``: the part of a fernb model's output a deployed graph returns."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        return out[0] if isinstance(out, tuple) else out


def _input_shape(model: nn.Module, input_shape: Sequence[int] | None) -> tuple[int, ...]:
    if input_shape is not None:
        return tuple(int(v) for v in input_shape)
    if not hasattr(model, "in_chans") or not hasattr(model, "input_size"):
        raise ValueError("give input_shape=(C, H, W): this model has no in_chans/input_size attributes")
    return (int(model.in_chans), *map(int, model.input_size))


def export_onnx(model: nn.Module, path: str | os.PathLike, *, input_shape: Sequence[int] | None = None,
                dynamic_batch: bool = True, opset: int | None = None, classes: Sequence[str] | None = None) -> Path:
    """Write ``model`` (eval mode, on the CPU) as a self-contained ONNX file and return its path.

    ``input_shape`` is one sample ``(C, H, W)`` (default: the model's own input); with
    ``dynamic_batch`` the batch dimension is symbolic (``batch``), else fixed at 2. The file
    is written next to its destination and renamed into place, so an interrupted export
    never leaves a truncated model behind. The model's training mode and device are restored.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = _input_shape(model, input_shape)
    was_training, device = model.training, next(model.parameters()).device
    graph = Logits(model).cpu().eval()
    example = (torch.rand(2, *shape),)
    kwargs: dict = dict(input_names=["image"], output_names=["logits"], dynamo=True, external_data=False,
                        verbose=False)
    if dynamic_batch:
        kwargs["dynamic_shapes"] = {"x": {0: torch.export.Dim("batch", min=1, max=65536)}}
    if opset is not None:
        kwargs["opset_version"] = opset
    tmp = path.with_name(path.name + ".tmp")
    try:
        with contextlib.redirect_stdout(io.StringIO()):   # the exporter prints its progress
            program = torch.onnx.export(graph, example, **kwargs)
        meta = {"fernb_config": json.dumps(getattr(model, "fernb_config", {}), default=str),
                "input": f"float32 (N, {', '.join(map(str, shape))}) in [0, 1]", "output": "logits (N, K)"}
        if classes is not None:
            meta["classes"] = json.dumps(list(classes))
        program.model.metadata_props.update(meta)   # onnx_ir model: plain str -> str
        program.save(tmp, external_data=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        model.to(device).train(was_training)
    return path


def onnx_metadata(path: str | os.PathLike) -> dict:
    """The metadata :func:`export_onnx` stored (``fernb_config`` and ``classes`` decoded)."""
    import onnx  # deferred: onnx and ONNX Runtime load hundreds of MB; only export and checks need them

    model = onnx.load(str(path), load_external_data=False)
    meta = {p.key: p.value for p in model.metadata_props}
    for key in ("fernb_config", "classes"):
        if key in meta:
            meta[key] = json.loads(meta[key])
    return meta


def onnx_session(path: str | os.PathLike, device: str | torch.device = "cpu", threads: int | None = None):
    """An ONNX Runtime session for ``path``: the CUDA provider on a CUDA ``device`` when this
    onnxruntime build has it (``onnxruntime-gpu``), else the CPU provider with ``threads``
    intra-op threads (default: torch's thread count, so the two libraries are compared fairly).
    ``session.get_providers()[0]`` says which one runs."""
    import onnxruntime as ort  # deferred, as onnx above

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX model {path} does not exist")
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads or torch.get_num_threads())
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    providers = ["CPUExecutionProvider"]
    device = torch.device(device)
    if device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, ("CUDAExecutionProvider", {"device_id": device.index or 0}))
    return ort.InferenceSession(str(path), sess_options=options, providers=providers)


def check_onnx(model: nn.Module, onnx_model, *, batch_sizes: Sequence[int] = (1, 3), input_shape: Sequence[int] | None = None,
               seed: int = 0, bound: float = ONNX_BOUND) -> dict:
    """Compare ONNX Runtime's logits with PyTorch's on random inputs of several batch sizes.

    ``onnx_model`` is a path or a session. Returns ``max_abs_diff`` (logits),
    ``max_prob_diff`` (softmax probabilities), ``same_argmax`` (share of rows whose top
    class agrees), ``batch_sizes``, ``bound`` and ``ok`` (``max_abs_diff <= bound``).
    The model runs on the CPU in float32, eval mode; its mode and device are restored.
    """
    session = onnx_session(onnx_model) if isinstance(onnx_model, (str, os.PathLike)) else onnx_model
    shape = _input_shape(model, input_shape)
    was_training, device = model.training, next(model.parameters()).device
    net = Logits(model).cpu().eval()
    gen = torch.Generator().manual_seed(seed)
    diffs, prob_diffs, agree, rows = [], [], 0, 0
    try:
        for n in batch_sizes:
            x = torch.rand(n, *shape, generator=gen)
            with torch.inference_mode():
                ref = net(x).float().numpy()
            out = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
            if out.shape != ref.shape:
                raise ValueError(f"ONNX output shape {out.shape} != PyTorch {ref.shape} at batch {n}")
            diffs.append(float(np.abs(out - ref).max()))
            p_ref, p_out = softmax(ref, axis=1), softmax(out, axis=1)
            prob_diffs.append(float(np.abs(p_out - p_ref).max()))
            agree += int((p_ref.argmax(1) == p_out.argmax(1)).sum())
            rows += n
    finally:
        model.to(device).train(was_training)
    worst = max(diffs)
    return {"max_abs_diff": worst, "max_prob_diff": max(prob_diffs), "same_argmax": agree / rows,
            "batch_sizes": list(batch_sizes), "bound": bound, "ok": bool(worst <= bound)}
