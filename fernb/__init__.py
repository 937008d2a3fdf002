"""fernb — a reproducible, notebook-first workbook for facial expression recognition.

Modules: :mod:`fernb.data` (datasets, SynthFER, prepared store, exploration),
:mod:`fernb.faces` (face pipeline, head pose), :mod:`fernb.models` (LANMSFF, HAFEM, the
baselines, model cards), :mod:`fernb.train.losses` (cross-entropy, the compound loss),
:mod:`fernb.workbook.plots` (figures), :mod:`fernb.workbook.report` (what notebooks write under
``reports/``), :mod:`fernb.workbook.stages` (notebooks as DVC stages), :mod:`fernb.paths`.
"""
__version__ = "0.1.0"
