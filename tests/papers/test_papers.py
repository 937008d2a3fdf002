"""The papers' claims as data (fernb.papers) and the one helper that sets ours beside them."""
from __future__ import annotations

import ast
import math

import nbformat
import numpy as np
import pandas as pd
import pytest

from fernb import papers
from fernb.papers import hafem, lanmsff, versus_paper

from conftest import REPO


def test_versus_paper_gives_the_gap_of_numbers():
    table = versus_paper({"accuracy": 94.7, "auc": 0.982, "f1": 93.9}, {"accuracy": 60.0, "auc": 0.5},
                         key="metric", extra={"seeds": {"accuracy": 3}}, unit="%")
    assert list(table.index) == ["accuracy", "auc", "f1"] and table.index.name == "metric"
    assert list(table.columns) == ["paper", "ours", "seeds", "gap", "unit"]
    assert table.at["accuracy", "gap"] == pytest.approx(60.0 - 94.7)
    assert table.at["auc", "gap"] == pytest.approx(0.5 - 0.982)
    assert np.isnan(table.at["f1", "ours"]) and np.isnan(table.at["f1", "gap"])   # not measured: not invented
    assert np.isnan(table.at["auc", "seeds"]) and table.at["accuracy", "seeds"] == 3
    dropped = versus_paper({"accuracy": 94.7, "f1": 93.9}, {"accuracy": 60.0}, drop_missing=True)
    assert list(dropped.index) == ["accuracy"]
    ratio = versus_paper({"a": 50}, {"a": 25.0}, compare="ratio", columns=("paper FPS", "our FPS"))
    assert ratio.at["a", "ours / paper"] == pytest.approx(0.5) and "gap" not in ratio.columns
    empty = versus_paper({}, {}, compare="gap")
    assert empty.empty and list(empty.columns) == ["paper", "ours", "gap"]


def test_versus_paper_says_whether_settings_are_the_same():
    stated = {"lr": 1e-3, "batch_size": None, "num_layers": "1 or 6 (disputed)", "amp": "fp16", "pretrained": True}
    ours = {"lr": 1e-3, "batch_size": 64, "num_layers": 1, "amp": "bf16", "pretrained": 1.0}
    table = versus_paper(stated, ours, key="setting", not_stated="not stated")   # mixed values: compared, not subtracted
    assert "gap" not in table.columns
    assert table["same"].to_dict() == {"lr": "yes", "batch_size": "", "num_layers": "", "amp": "no", "pretrained": "yes"}
    assert table.at["batch_size", "paper"] == "not stated"
    with pytest.raises(ValueError, match="compare"):
        versus_paper(stated, ours, compare="diff")
    assert papers.is_number(3) and papers.is_number(np.float32(2.5)) and not papers.is_number(True)


def _sources(where: str) -> list[str]:
    """The code of a notebook (its code cells) or of a package module (a path under the repository)."""
    if where.endswith(".ipynb"):
        return [c.source for c in nbformat.read(REPO / "notebooks" / where, 4).cells if c.cell_type == "code"]
    return [(REPO / where).read_text()]


def _names_used(where: str, module: str) -> set[str]:
    """``papers.<module>.NAME`` attributes the code reads (also through ``from fernb.papers import
    <module> as alias``), and names it imports from ``fernb.papers.<module>``."""
    found = set()
    for source in _sources(where):
        tree = ast.parse(source)
        aliases = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                   and node.module == "fernb.papers" for a in node.names if a.name == module}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                    and node.value.attr == module and isinstance(node.value.value, ast.Name)
                    and node.value.value.id == "papers"):
                found.add(node.attr)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
                found.add(node.attr)
            if isinstance(node, ast.ImportFrom) and node.module == f"fernb.papers.{module}":
                found |= {a.name for a in node.names}
    return found


# Notebook 07 reads the papers' claims through its report module (fernb/realtime/fps_report.py).
@pytest.mark.parametrize("where,module,expected", [
    ("01_hafem.ipynb", "hafem", {"CLAIMS", "DISPUTED"}),
    ("02_lanmsff.ipynb", "lanmsff", {"CLAIMS", "CODE_VS_PAPER", "information_density"}),
    ("fernb/realtime/fps_report.py", "hafem", {"CLAIMS"}),
    ("fernb/realtime/fps_report.py", "lanmsff", {"CLAIMS", "density_claims"}),
])
def test_every_claim_block_is_where_the_notebooks_look(where, module, expected):
    used = _names_used(where, module)
    assert expected <= used
    assert all(hasattr(getattr(papers, module), name) for name in used)


def test_claim_blocks_hold_what_the_notebooks_read():
    for name in ("fer2013", "rafdb", "affectnet", "ferplus"):
        assert isinstance(hafem.CLAIMS[name]["accuracy"], float)
    assert hafem.CLAIMS["fps"] == {"value": 52, "hardware": hafem.HARDWARE}
    assert all(isinstance(k, tuple) and len(k) == 2 for k in hafem.CLAIMS["confusions"])
    # Table 3's HAFEM row is the paper's headline claim; its ResNet-50 row is the ablation's start
    assert {k: hafem.TABLE3["HAFEM"][k] for k in hafem.CLAIMS["fer2013"]} == hafem.CLAIMS["fer2013"]
    assert hafem.TABLE3["HAFEM"]["fps"] == hafem.CLAIMS["fps"]["value"]
    assert hafem.TABLE3["ResNet-50"]["accuracy"] == hafem.CLAIMS["ablation_fer2013"]["ResNet-50"]
    assert hafem.CLAIMS["ablation_fer2013"]["+compound loss"] == hafem.CLAIMS["fer2013"]["accuracy"]
    assert papers.STATED_RECIPES == {"hafem": hafem.RECIPE, "lanmsff": lanmsff.RECIPE}
    assert hafem.RECIPE["batch_size"] is None and "disputed" in hafem.RECIPE["num_layers"]
    assert hafem.RECIPE["d_ff"] == 2 * hafem.RECIPE["d_model"] == 4096
    assert lanmsff.RECIPE["img_size"] == 64 and lanmsff.RECIPE["batch_size"] == 32
    assert len(lanmsff.CODE_VS_PAPER) == 6 and len(hafem.DISPUTED) == 6


def test_lanmsff_consistency_checks_hold_from_the_new_place():
    # ID = accuracy ÷ parameters in millions with the 358K count, truncated
    for name, claimed in lanmsff.density_claims().items():
        assert math.floor(lanmsff.CLAIMS[name]["accuracy"] / 0.358) == claimed
        assert int(lanmsff.information_density(lanmsff.CLAIMS[name]["accuracy"],
                                               lanmsff.CLAIMS["params"]["keras_total"])) == claimed
    assert lanmsff.density_claims() == {"fer2013": 196, "ferplus": 242}
    density = lanmsff.information_density(pd.Series([50.0, np.nan]), pd.Series([2e6, 1e6]))
    assert density.iloc[0] == pytest.approx(25.0) and np.isnan(density.iloc[1])
    # the paper's "Var 0.66" is neither the population nor the sample variance of its own per-pose numbers
    per_pose = lanmsff.CLAIMS["kdef"]["per_pose"]
    stated = lanmsff.CLAIMS["kdef"]["pose_variance"]
    assert all(abs(np.var(list(per_pose.values()), ddof=d) - stated) > 0.1 for d in (0, 1))
    assert lanmsff.CLAIMS["ablation_kdef"]["whole"] == {"accuracy": lanmsff.CLAIMS["kdef"]["accuracy"],
                                                        "pose_variance": stated, "per_pose": per_pose}
    # Table XII's Var, every row: the population variance of the six printed numbers (five poses and the
    # overall accuracy, their mean), i.e. 5/6 of the five poses' population variance
    for row in lanmsff.CLAIMS["ablation_kdef"].values():
        six = [*row["per_pose"].values(), row["accuracy"]]
        assert np.var(six) == pytest.approx(row["pose_variance"], abs=0.012)   # the printed numbers are rounded
