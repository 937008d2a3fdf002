"""Real time: speed, export and inference on new images, from finished runs (:mod:`fernb.runs`).

- :mod:`.bench` — the benchmark harness of notebook 07 (variants, batch sweeps, ONNX, end to end);
- :mod:`.export` — ONNX export checked against PyTorch;
- :mod:`.predict` — ``fernb predict``: faces in images, folders, videos and webcams, scored.
"""
