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

# ----------------------------------------------------------------- in-the-wild datasets
RAFDB_CODES: dict[int, str] = {
    # RAF-DB basic, EmoLabel/list_patition_label.txt: 1=Surprise 2=Fear 3=Disgust
    # 4=Happiness 5=Sadness 6=Anger 7=Neutral
    1: "surprise", 2: "fear", 3: "disgust", 4: "happy", 5: "sad", 6: "anger", 7: "neutral",
}
AFFECTNET_CODES: dict[int, str] = {
    # AffectNet manually annotated training.csv / validation.csv `expression`:
    # 0=Neutral 1=Happy 2=Sad 3=Surprise 4=Fear 5=Disgust 6=Anger 7=Contempt
    # (8=None, 9=Uncertain, 10=Non-Face are not expressions: see AFFECTNET_NOT_EXPRESSIONS)
    0: "neutral", 1: "happy", 2: "sad", 3: "surprise", 4: "fear", 5: "disgust", 6: "anger", 7: "contempt",
}
AFFECTNET_NOT_EXPRESSIONS: dict[int, str] = {8: "none", 9: "uncertain", 10: "non_face"}
KDEF_CODES: dict[str, str] = {
    # KDEF file names: letters 5-6 are the expression
    "AF": "fear", "AN": "anger", "DI": "disgust", "HA": "happy", "NE": "neutral", "SA": "sad", "SU": "surprise",
}
KDEF_POSES: dict[str, float] = {
    # KDEF file names: the trailing code is the camera angle. FL/FR = full left/right
    # profile, HL/HR = half left/right, S = straight. In fernb's yaw convention (positive =
    # nose toward the image right), a left profile shows the subject's left cheek with the
    # nose toward the image left: negative yaw.
    "FL": -90.0, "HL": -45.0, "S": 0.0, "HR": 45.0, "FR": 90.0,
}
CKPLUS_CODES: dict[int, str] = {
    # CK+ Emotion/Sxxx/nnn/*_emotion.txt: 0=neutral 1=anger 2=contempt 3=disgust 4=fear
    # 5=happy 6=sadness 7=surprise
    0: "neutral", 1: "anger", 2: "contempt", 3: "disgust", 4: "fear", 5: "happy", 6: "sad", 7: "surprise",
}

FACIAL_EXPRESSIONS_LABELS: dict[str, str] = {
    # muxspace/facial_expressions data/legend.csv `emotion`, matched case-insensitively (the file
    # writes both "sadness" and "SADNESS"): the lower-cased name -> the canonical class
    "neutral": "neutral", "happiness": "happy", "surprise": "surprise", "sadness": "sad", "anger": "anger",
    "disgust": "disgust", "fear": "fear", "contempt": "contempt",
}


def canonical_index(code, mapping: dict, num_classes: int = 8, *, dataset: str = "") -> int | None:
    """The canonical index of a publisher's ``code`` under ``mapping``, or None when the class
    is outside a ``num_classes`` view (contempt in the 7-class view).

    Raises ValueError for a code the publisher never uses.
    """
    if code not in mapping:
        raise ValueError(f"{dataset + ': ' if dataset else ''}label {code!r} is not a known code; "
                         f"expected one of {sorted(mapping)}")
    index = index_of(mapping[code])
    return index if index < num_classes else None
