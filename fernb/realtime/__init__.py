"""Real time: speed, export and inference on new images, from finished runs (:mod:`fernb.runs`).

- :mod:`.bench` — the benchmark harness (variants, batch sweeps, ONNX, op profiles, end to end): numbers;
- :mod:`.fps_report` — notebook 07's report over them: tables beside the papers, targets, sentences, metrics;
- :mod:`.export` — ONNX export checked against PyTorch;
- :mod:`.predict` — ``fernb predict``: a checkpoint and its face pipeline, scoring faces frame by frame;
- :mod:`.media` — what it reads: images, folders, videos and webcams as RGB frames;
- :mod:`.annotate` — what it writes: rows per face (CSV, JSON Lines), annotated images and videos.
"""
