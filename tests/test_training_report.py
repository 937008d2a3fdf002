"""fernb.evaluate.results (the training notebooks' report): notebook 02's sentences and its offline ×4 figure."""
from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from fernb.evaluate import results as res
from fernb.papers import lanmsff as lanmsff_paper


def _run(**info):
    base = {"seed": 1, "epochs_run": 4, "train_rows_per_epoch": 12000, "train_images": 3000, "best_epoch": 3,
            "amp": "off", "environment": {"device": "cpu"}}
    return SimpleNamespace(info={**base, **info}, history=pd.DataFrame({"train_images_per_s": [100.0, 300.0, 250.0]}))


def _recipe(offline_x4=True, epochs=5):
    return SimpleNamespace(config=SimpleNamespace(epochs=epochs, offline_x4=offline_x4))


def test_the_run_sentence_says_what_trained_and_that_the_last_weights_are_tested():
    assert res.lanmsff_run_text(_run(), _recipe()) == (
        "Seed 1 ran **4** of 5 epochs over 12,000 training rows per epoch (3,000 faces ×4); the lowest validation "
        "loss came at epoch 3, and the last epoch's weights are tested. Training ran at about 250 images/s on `cpu`.")
    assert "(each training face once, no offline ×4 set);" in res.lanmsff_run_text(_run(), _recipe(offline_x4=False))


def test_the_numerics_sentence_names_the_choice_and_the_batchnorm_momentum():
    chosen = {"label": "bf16 autocast", "chosen_by": "probe", "reason": "1.4x faster"}
    assert res.lanmsff_numerics_text(_run(numerics=chosen), 0.01, 0.01) == (
        "Seed 1 trained in **bf16 autocast** (probe: 1.4x faster); BatchNorm momentum 0.01 (the code's 0.01).")
    # a run from before numerics were recorded: its amp, and no reason
    assert res.lanmsff_numerics_text(_run(), 0.1, 0.01) == (
        "Seed 1 trained in **off** (not recorded: set by the train section); BatchNorm momentum 0.1 (not the code's 0.01).")


def test_the_paper_accuracy_sentence_with_and_without_a_claim_for_the_dataset():
    versus = pd.DataFrame({"ours (mean)": [80.25], "gap": [-3.75]}, index=["accuracy"])
    text = res.paper_accuracy_text(versus, {"accuracy": 84.0, "ID": 213}, {}, dataset="kdef", seeds=3, density=150.4,
                                   departs=True)
    assert text == ("The paper reports **84.0 %** on kdef; this run measures **80.2 %** (-3.8 points) over 3 seed(s). "
                    "Its information density, accuracy ÷ parameters in millions, is 150 here against the paper's 213. "
                    "This run departs from the code's settings (section 2), so it is not the paper-scale test.")
    assert res.paper_accuracy_text(versus, {"accuracy": 84.0}, {}, dataset="kdef", seeds=3, density=150.4,
                                   departs=False).endswith("against the paper's —.")
    claims = {"fer2013": {"accuracy": 70.0}, "ablation_kdef": {"accuracy": 90.0}, "params": {"keras_total": 1}}
    assert res.paper_accuracy_text(versus, None, claims, dataset="synthfer", seeds=1, density=99.6, departs=True) == (
        "The paper reports nothing on **synthfer**; its accuracy claims are for fer2013 (70.0 %). "
        "Information density here (accuracy ÷ parameters in millions): 100.")
    listed = res.paper_accuracy_text(versus, None, lanmsff_paper.CLAIMS, dataset="synthfer", seeds=1, density=1.0,
                                     departs=False)
    assert "ablation" not in listed and "KDEF" in listed.upper()


def test_the_offline_figure_has_a_column_per_face_and_a_row_per_kind():
    kinds = ("original", "mirror", "rotate", "crop")
    images = np.stack([np.full((8, 8), 10 * i, dtype=np.uint8) for i in range(8)])   # two faces, four copies each
    example = SimpleNamespace(images=images, angles=[7, -3])
    fig = res.offline_x4_figure(example, [2, 0], ("angry", "disgust", "fear"), kinds)
    axes = np.asarray(fig.axes).reshape(4, 2)
    assert [ax.get_title() for ax in axes[0]] == ["fear", "angry"]
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["original", "mirror", "rotate\n+7°", "crop"]
    assert all(ax.get_ylabel() == "" for ax in axes[:, 1])
    assert axes[1, 1].images[0].get_array()[0, 0] == 50                 # face 1's second copy: face-major order
    assert fig.get_size_inches() == pytest.approx((2.8, 6.0))
