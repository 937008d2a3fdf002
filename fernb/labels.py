"""One canonical label space for every dataset in the workbook.

Every loader maps its publisher's own label order onto ``CANONICAL`` so that a model
trained on one dataset can be evaluated on another (cross-dataset notebook 04). The
7-class view drops contempt, which sits last on purpose: the 7-class space is a prefix
of the 8-class one, so class indices never move between the two views.
"""
from __future__ import annotations

CANONICAL: tuple[str, ...] = (
    "neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt",
)
SEVEN: tuple[str, ...] = CANONICAL[:7]

# Publisher label orders, index = the publisher's integer code.
FER2013_ORDER: tuple[str, ...] = (
    # fer2013.csv `emotion`: 0=Angry 1=Disgust 2=Fear 3=Happy 4=Sad 5=Surprise 6=Neutral
    "anger", "disgust", "fear", "happy", "sad", "surprise", "neutral",
)
FER2013_FOLDERS: dict[str, str] = {
    # Kaggle image-folder class names (msambare/fer2013 `archive.zip`)
    "angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happy",
    "neutral": "neutral", "sad": "sad", "surprise": "surprise",
}
FERPLUS_VOTES: tuple[str, ...] = (
    # label.csv / fer2013new.csv vote columns, in file order
    "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
    "contempt", "unknown", "NF",
)
FERPLUS_TO_CANONICAL: dict[str, str] = {
    "neutral": "neutral", "happiness": "happy", "surprise": "surprise",
    "sadness": "sad", "anger": "anger", "disgust": "disgust", "fear": "fear",
    "contempt": "contempt",
}


def class_names(num_classes: int) -> tuple[str, ...]:
    """The canonical class list for a 7- or 8-class problem."""
    if num_classes not in (7, 8):
        raise ValueError(f"num_classes must be 7 or 8 (canonical FER label space), got {num_classes}")
    return CANONICAL[:num_classes]


def index_of(name: str) -> int:
    """Canonical index of a canonical class name."""
    try:
        return CANONICAL.index(name)
    except ValueError:
        raise ValueError(f"{name!r} is not a canonical class; expected one of {CANONICAL}") from None
