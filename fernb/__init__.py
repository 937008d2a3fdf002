"""fernb — a reproducible, notebook-first workbook for facial expression recognition.

The folders are the phases, and imports run one way:

- :mod:`fernb.data` — loaders → :class:`~fernb.data.FERData` → prepared store; protocols; SynthFER;
  photographs through the face pipeline;
- :mod:`fernb.faces` — detect → landmarks → align → CLAHE → head pose;
- :mod:`fernb.models` — the networks, model cards, and the path from stored images to a network;
- :mod:`fernb.train` — the one trainer, losses, augmentation and both papers' recipes;
- :mod:`fernb.runs` — what a stage trained and where its checkpoints and predictions are;
- :mod:`fernb.evaluate` — reports over finished runs (never trains);
- :mod:`fernb.realtime` — speed benchmarks, ONNX export, ``fernb predict``;
- :mod:`fernb.workbook` — notebooks as DVC stages, reports, plots;
- :mod:`fernb.papers` — what each paper states, as data.

Beside them: :mod:`fernb.labels`, :mod:`fernb.paths`, :mod:`fernb.machine`,
:mod:`fernb.metrics`, :mod:`fernb.cli`.
"""
__version__ = "0.1.0"
