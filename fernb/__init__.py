"""fernb — a reproducible, notebook-first workbook for facial expression recognition.

Modules: :mod:`fernb.data` (datasets, SynthFER, prepared store, exploration),
:mod:`fernb.faces` (face pipeline, head pose), :mod:`fernb.models` (LANMSFF, HAFEM, the
baselines, model cards), :mod:`fernb.losses` (cross-entropy, the compound loss),
:mod:`fernb.plots` (figures), :mod:`fernb.report` (what notebooks write under
``reports/``), :mod:`fernb.pipeline` (notebooks as DVC stages), :mod:`fernb.paths`.
"""
__version__ = "0.1.0"
