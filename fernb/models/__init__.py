"""Models of both papers behind one factory, their model cards, and layer-wise learning-rate groups.

- :func:`create_model` / :func:`list_models` / :func:`save_model` / :func:`load_model` (:mod:`.factory`);
- :class:`HAFEM` (:mod:`.hafem`), :class:`LANMSFF` (:mod:`.lanmsff`), the Table 3 baselines
  (:mod:`.baselines`), all returning :class:`FEROutput` ``(logits, embedding)``;
- :func:`model_card` (:mod:`.card`): parameters, BN statistics, Keras-style total, FLOPs, per component;
- :func:`layer_decay_param_groups`: optimiser groups with the learning rate decayed from head to stem.
"""
# fernb.progress before any timm import: inside a Jupyter kernel without ipywidgets, the first import of
# tqdm.auto (timm's, through huggingface_hub) warns unless fernb.progress made it quietly (fernb/progress.py)
import fernb.progress  # noqa: F401

from .backbones import PretrainedWeightsMissing
from .baselines import BASELINE_MODELS, TimmClassifier
from .card import ModelCard, count_parameters, model_card
from .common import FEROutput, InputAdapter, layer_decay_param_groups
from .factory import create_model, list_models, load_model, register_model, save_model
from .hafem import HAFEM, transformer_parameters
from .lanmsff import LANMSFF

__all__ = ["FEROutput", "InputAdapter", "layer_decay_param_groups", "create_model", "list_models", "load_model",
           "register_model", "save_model", "HAFEM", "transformer_parameters", "LANMSFF", "BASELINE_MODELS", "TimmClassifier",
           "PretrainedWeightsMissing", "ModelCard", "count_parameters", "model_card"]
