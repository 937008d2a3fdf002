"""Every claim the two papers make, as data, and the one helper that sets ours beside them.

Two files per paper: ``<paper>.py`` holds what the paper states, as printed (its tables and
numbers, as data); ``<paper>_claims.py`` reads those numbers as the claims ledger's claims,
each with its checks. The ledger's machinery stands beside them.

What the papers state, and what they are read against:

- :mod:`fernb.papers.hafem`: HAFEM's claims (``CLAIMS``), Tables 1–3 (``TABLE1``, ``TABLE2``, ``TABLE3``), its stated
  hardware (``HARDWARE``), recipe (``RECIPE``) and its disputed points (``DISPUTED``);
- :mod:`fernb.papers.lanmsff`: LANMSFF's claims (``CLAIMS``), Tables II–XII (``TABLES``), recipe (``RECIPE``), the official
  code's disagreements with the paper (``CODE_VS_PAPER``), :func:`~fernb.papers.lanmsff.information_density`
  and :func:`~fernb.papers.lanmsff.density_claims`;
- :mod:`fernb.papers.published`: what other work reports (``CROSS_DATASET``, ``STATE_OF_THE_ART``)
  and what the publishers describe (``DATASET_FACTS``), with sources;
- :mod:`fernb.papers.datasets`: FER2013's and FERPlus' class counts per split, counted from the
  publishers' files (``SPLIT_COUNTS``), and which datasets' test splits share images with their
  training splits (``LEAKY_DATASETS``).

The claims ledger (notebook 06), every claim of both papers with its checks (recomputation
from the paper's own numbers, plausibility, measurement keys) and their verdicts:

- :mod:`fernb.papers.hafem_claims` / :mod:`fernb.papers.lanmsff_claims`: each paper's claims,
  one function per table or section of the paper (:func:`~fernb.papers.hafem_claims.hafem_claims`,
  :func:`~fernb.papers.lanmsff_claims.lanmsff_claims`), with the text around the tables in
  :mod:`fernb.papers.hafem_related_claims` (HAFEM's §1–§2 and references) and
  :mod:`fernb.papers.lanmsff_text_claims` (LANMSFF's sentences and Table I);
- :mod:`fernb.papers.claim`: the records (``Claim``, ``Check``) and the small constructors the
  claims files build them with;
- :mod:`fernb.papers.checks`: the recomputations a consistency or plausibility check runs, with
  the printing conventions a paper may use, and the verdicts' meanings;
- :mod:`fernb.papers.findings`: the root causes flagged checks belong to, with their severity;
- :mod:`fernb.papers.ledger`: the machinery — every claim (``claims``), the headline claims,
  the measurements' verdicts, the ledger table (``ledger``) and its findings (``findings_table``).

And the helper:

- :func:`versus_paper`: one row per stated item — the paper's value, ours, and the ``gap``
  (numbers), ``same`` (settings) or ``ours / paper`` (rates).

Pure data and small pure functions: nothing here imports the rest of :mod:`fernb`.
"""
from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from . import hafem, lanmsff, published

__all__ = ["hafem", "lanmsff", "published", "STATED_RECIPES", "versus_paper", "is_number", "same_as_stated"]

# Each paper's stated training recipe, by the name fernb.train.recipes gives the recipe.
STATED_RECIPES: dict[str, dict[str, Any]] = {"hafem": hafem.RECIPE, "lanmsff": lanmsff.RECIPE}

COMPARE = ("gap", "same", "ratio")


def is_number(value) -> bool:
    """A real number that is not a boolean (a setting ``True`` is compared, not subtracted)."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def same_as_stated(ours, stated) -> str:
    """``"yes"`` / ``"no"``, or ``""`` where the paper states nothing (``None``) or its
    statement is disputed (a string that says so)."""
    if stated is None or (isinstance(stated, str) and "disputed" in stated):
        return ""
    return "yes" if ours == stated else "no"


def _missing(value) -> bool:
    return value is None or (is_number(value) and np.isnan(value))


def versus_paper(stated: Mapping, ours: Mapping, *, key: str = "claim", unit: str | Mapping | None = None,
                 extra: Mapping[str, Mapping] | None = None, compare: str | None = None,
                 columns: tuple[str, str] = ("paper", "ours"), drop_missing: bool = False,
                 not_stated: str | None = None) -> pd.DataFrame:
    """One row per item of ``stated`` (the paper's values, as printed), indexed by ``key``.

    Columns: ``columns[0]`` (the paper's value), ``columns[1]`` (``ours[item]``; NaN where
    ``ours`` lacks it, or the row is left out with ``drop_missing``), then one column per
    ``extra`` mapping (``{column: {item: value}}``, NaN where missing), then the comparison:

    - ``"gap"``: ours − paper, where both are numbers (NaN otherwise);
    - ``"same"``: ``"yes"`` / ``"no"``, ``""`` where the paper states nothing or is disputed
      (:func:`same_as_stated`);
    - ``"ratio"``: a column ``"ours / paper"``.

    ``compare=None`` picks ``"gap"`` when every stated value is a number, else ``"same"``.
    ``unit`` adds a ``unit`` column: one string for every row, or a mapping per item.
    ``not_stated`` replaces a stated ``None`` in the paper's column (e.g. ``"not stated"``).
    """
    extra = dict(extra or {})
    if compare is None:
        compare = "gap" if all(is_number(v) for v in stated.values()) else "same"
    if compare not in COMPARE:
        raise ValueError(f"compare must be one of {COMPARE}, got {compare!r}")
    paper_col, ours_col = columns
    result_col = {"gap": "gap", "same": "same", "ratio": "ours / paper"}[compare]
    names = [paper_col, ours_col, *extra, result_col] + (["unit"] if unit is not None else [])
    rows = []
    for item, claim in stated.items():
        mine = ours.get(item)
        if drop_missing and _missing(mine):
            continue
        row = {key: item, paper_col: not_stated if (claim is None and not_stated is not None) else claim,
               ours_col: np.nan if mine is None else mine}
        for column, values in extra.items():
            value = values.get(item)
            row[column] = np.nan if value is None else value
        if compare == "same":
            row[result_col] = same_as_stated(mine, claim)
        elif is_number(mine) and is_number(claim):
            row[result_col] = mine - claim if compare == "gap" else mine / claim
        else:
            row[result_col] = np.nan
        if unit is not None:
            row["unit"] = unit.get(item) if isinstance(unit, Mapping) else unit
        rows.append(row)
    return pd.DataFrame(rows, columns=[key, *names]).set_index(key)
