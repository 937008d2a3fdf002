"""What makes a notebook a DVC stage, and what it leaves behind.

- :mod:`.stages` — ``fernb run``: a stage's parameters from ``params.yaml`` (papermill), checked against
  :mod:`.params_schema` before any work, its executed notebook and HTML;
- :mod:`.params_schema` — ``params.yaml``'s schema (pydantic): one line per wrong key, value and what is allowed;
- :mod:`.profiles` — ``profiles/*.yaml`` (real-data, paper and ablation scales) as ``dvc exp run -S`` flags;
- :mod:`.notebooks` — ``fernb notebooks``: parameters cells generated from ``params.yaml``, each notebook
  paired with a percent-format ``.py`` (jupytext) that reviews as text;
- :mod:`.index_page` — ``reports/index.html``, the reports' front page;
- :mod:`.report` — :class:`~.report.Report`: figures, tables, metrics and plots under ``reports/``;
- :mod:`.plots` — every figure the notebooks draw;
- :mod:`.results` — ``fernb results``: a real-data run's pixel-free outputs exported to
  ``results/<dataset>/`` with their provenance, checked (no faces), and the README's table.
"""
