"""Profiles as files: profiles/real.yaml and profiles/paper.yaml name only params.yaml keys, pass the schema,
say why for every key, and are what `make real` / `make paper` run; the paper profile undoes every departure."""
from __future__ import annotations

import os
import re
import subprocess

import pytest
import yaml

from fernb.train import ablations, recipes
from fernb.workbook import profiles

from conftest import BIN, REPO

PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
NAMES = ("real", "paper", "ablations")



def _env(root) -> dict:
    """The environment of a `fernb` subprocess run in ``root``: a stage run earlier in this process set
    FERNB_ROOT (fernb.workbook.stages.run_stage), which would point the command at that other project."""
    return {**os.environ, "FERNB_ROOT": str(root)}


def _params(name: str, dataset: str = "fer2013") -> dict:
    settings = profiles.profile_settings(profiles.read_profile(REPO / "profiles" / f"{name}.yaml"), dataset)
    return profiles.apply_profile(PARAMS, settings)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dataset", ["fer2013", "ferplus"])
def test_every_profile_key_is_a_params_yaml_key_and_the_result_passes_the_schema(name, dataset, tmp_path):
    flags = profiles.dvc_flags(name, dataset, root=REPO)     # raises on a key params.yaml lacks or a bad value
    assert flags[::2] == ["-S"] * (len(flags) // 2)
    settings = profiles.profile_settings(profiles.read_profile(REPO / "profiles" / f"{name}.yaml"), dataset)
    # DVC applies the flags (its own Hydra override code) to params.yaml: the result is the profile applied
    from dvc.utils.hydra import apply_overrides

    copy = tmp_path / "params.yaml"
    copy.write_text((REPO / "params.yaml").read_text())
    apply_overrides(str(copy), flags[1::2])
    expected = profiles.apply_profile(PARAMS, settings)
    expected["data"]["dataset"] = PARAMS["data"]["dataset"]
    assert yaml.safe_load(copy.read_text()) == expected


@pytest.mark.parametrize("name", NAMES)
def test_every_key_carries_its_reason(name):
    for number, line in enumerate((REPO / "profiles" / f"{name}.yaml").read_text().splitlines(), 1):
        if re.match(r"^\s*[a-z_]+(\.[a-z_0-9]+)+\s*:", line):
            assert "#" in line.split(":", 1)[1], f"profiles/{name}.yaml line {number} gives no reason: {line}"


def test_a_key_params_yaml_lacks_is_refused_naming_it(tmp_path):
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "typo.yaml").write_text("hafem.epoch: 3   # a typo\n")
    with pytest.raises(ValueError, match=r"typo.yaml: hafem.epoch is not a key of params.yaml"):
        profiles.dvc_flags("typo", root=tmp_path)
    (tmp_path / "profiles" / "typo.yaml").write_text("hafem.epochs: many   # a wrong type\n")
    with pytest.raises(ValueError, match=r"hafem.epochs = 'many': expected a whole number"):
        profiles.dvc_flags("typo", root=tmp_path)
    (tmp_path / "profiles" / "typo.yaml").write_text("hafem.epochs: [3\n")
    with pytest.raises(ValueError, match="typo.yaml is not valid YAML"):
        profiles.dvc_flags("typo", root=tmp_path)


def test_fernb_profile_prints_the_flags_or_one_error_line(project_copy):
    (project_copy / "profiles").mkdir()
    for name in ("real", "paper"):
        (project_copy / "profiles" / f"{name}.yaml").write_text((REPO / "profiles" / f"{name}.yaml").read_text())
    done = subprocess.run([str(BIN / "fernb"), "profile", "real", "--dataset", "ferplus"], cwd=project_copy, env=_env(project_copy),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "-S hafem.epochs=" in done.stdout and "-S hafem.pretrained=" in done.stdout and "-S transfer.finetune.target=fer2013" in done.stdout
    done = subprocess.run([str(BIN / "fernb"), "profile", "nope"], cwd=project_copy, env=_env(project_copy), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1 and done.stderr.startswith("fernb: error: profile ") and "not found" in done.stderr


def _documentation() -> str:
    """README.md and every docs/ page, as one text: the README is the front page, the docs hold the rest."""
    return "\n".join(p.read_text() for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))])


def test_make_real_and_make_paper_read_their_profile_and_repeat_none_of_it():
    """The Makefile runs `fernb profile NAME`; neither it nor the documentation (README.md, docs/*.md)
    carries a copy of a profile's settings (a Makefile variable such as SEEDS may still override a key)."""
    makefile = (REPO / "Makefile").read_text()
    docs = _documentation()
    for name in NAMES:
        target = makefile[makefile.index(f"\n{name}:"):]
        target = target[:target.index("\n\n")]
        assert f"fernb profile {name}" in target and "$$flags" in target
        for dataset in ("fer2013", "ferplus"):
            flags = profiles.dvc_flags(name, dataset, root=REPO)[1::2]
            for flag in flags:
                key = flag.split("=", 1)[0]
                assert not re.search(rf"-S '?{re.escape(key)}=(?!\$\()", makefile), f"the Makefile repeats {key}"
            copied = [flag for flag in flags if re.search(rf"-S '?{re.escape(flag)}'?(\s|$)", docs)]
            assert len(copied) < 2, f"README.md or docs/ repeats profiles/{name}.yaml: {copied}"


def test_the_paper_profile_restores_every_stated_setting():
    """The CPU default departs from both papers on purpose; profiles/paper.yaml must undo every departure
    but what no file can give (ImageNet weights the user may not have)."""
    params = _params("paper")
    hafem = recipes.hafem(params["hafem"], params["train"])
    lanmsff = recipes.lanmsff(params["lanmsff"], params["train"])
    assert [n for n in hafem.notes if not n.startswith("pretrained")] == []
    assert lanmsff.notes == []
    assert hafem.seeds == lanmsff.seeds == [0, 1, 2]
    assert len(recipes.hafem(PARAMS["hafem"], PARAMS["train"]).notes) > 3   # the CPU default does depart
    # The ablation ladders at the papers' settings, five seeds: each ladder's top row is stage 01's / 02's
    # configuration (so its seeds are read back, not retrained) and Figure 3's first row is a ResNet-50.
    cells = ablations.expand(params["ablations"]["ladders"], {"hafem": params["hafem"], "lanmsff": params["lanmsff"]},
                             params["train"], params["ablations"])
    assert {c.seed for c in cells} == {0, 1, 2, 3, 4}
    top = next(c for c in cells if c.variant == "+recipe loss")
    assert top.recipe.model_kwargs == hafem.model_kwargs and top.recipe.config == hafem.config
    whole = next(c for c in cells if c.variant == "whole")
    assert whole.recipe.model_kwargs == lanmsff.model_kwargs and whole.recipe.config == lanmsff.config
    assert next(c for c in cells if c.variant == "ResNet").recipe.model_kwargs["backbone"] == "resnet50"


def test_the_real_profile_is_the_full_training_split_and_lists_its_departures():
    """profiles/real.yaml: both recipes on the full training split, and what departs from the papers is
    exactly the scale the file's comments give (notebooks 01 / 02's recipe table prints the same notes)."""
    params = _params("real")
    hafem = recipes.hafem(params["hafem"], params["train"])
    lanmsff = recipes.lanmsff(params["lanmsff"], params["train"])
    assert hafem.config.max_train is None and lanmsff.config.max_train is None
    assert lanmsff.config.offline_x4 and lanmsff.model_kwargs["bn_momentum"] == 0.01   # the code's set and momentum
    hafem_off = {n.split(" = ")[0] for n in hafem.notes}
    lanmsff_off = {n.split(" = ")[0] for n in lanmsff.notes}
    assert {"backbone", "img_size", "epochs", "warmup_epochs"} <= hafem_off, hafem.notes
    assert lanmsff_off == {"img_size", "epochs", "drop_rate", "plateau_patience", "patience"}, lanmsff.notes
    assert params["transfer"]["finetune"]["target"] == "ferplus"
    assert _params("real", "ferplus")["transfer"]["finetune"]["target"] == "fer2013"
