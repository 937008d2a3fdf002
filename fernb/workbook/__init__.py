"""What makes a notebook a DVC stage, and what it leaves behind.

- :mod:`.stages` — ``fernb run``: a stage's parameters from ``params.yaml`` (papermill), its
  executed notebook and HTML, the report index;
- :mod:`.report` — :class:`~.report.Report`: figures, tables, metrics and plots under ``reports/``;
- :mod:`.plots` — every figure the notebooks draw;
- :mod:`.results` — ``fernb results``: a real-data run's pixel-free outputs exported to
  ``results/<dataset>/`` with their provenance, checked (no faces), and the README's table.
"""
