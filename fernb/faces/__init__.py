"""Faces in the wild: detection, 68 landmarks, alignment, CLAHE and head pose.

* :mod:`fernb.faces.align` — 5 points, the template, the ×1.3 box, bicubic warps, CLAHE.
* :mod:`fernb.faces.backends` — face-alignment (FAN) and the offline OpenCV fallback.
* :mod:`fernb.faces.pipeline` — :class:`FacePipeline`: one image to an aligned crop, cached.
* :mod:`fernb.faces.pose` — yaw/pitch/roll from 68 landmarks (``cv2.solvePnP``).
* :mod:`fernb.data.photos` — a publisher's file list to a FERData of aligned faces.
"""
from fernb.faces.align import align_face, apply_clahe, crop_box, enlarge_box, five_points, template_points
from fernb.faces.backends import fan_status, get_backend
from fernb.faces.pipeline import FacePipeline, FaceResult

__all__ = ["align_face", "apply_clahe", "crop_box", "enlarge_box", "five_points", "template_points",
           "fan_status", "get_backend", "FacePipeline", "FaceResult"]
