"""Where each Action Unit acts in a SynthFER image: landmark regions and the renderer's own record.

Two sources, united in a sample's ``au_masks`` (:mod:`fernb.data.synthfer`): :func:`au_region_masks`,
the FACS region of each AU derived from any 68 iBUG landmarks (so it also serves stored or
fitted landmarks of real data), and :class:`AUTrace`, the renderer's record of every drawn
primitive an AU moves, gates or strengthens in this face (:mod:`fernb.data.synthfer_render`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from fernb.data.synthfer_face import AU_INDEX, AUS, MIRROR, ONE, SHIFT, ipts

__all__ = ["au_region_masks", "AUTrace"]


# --------------------------------------------------------------------------------------
# AU region masks from landmarks
# --------------------------------------------------------------------------------------
def au_region_masks(landmarks: np.ndarray, image_size: int, aus: Sequence[str] = AUS,
                    visible: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Boolean (S,S) region where each AU acts, derived from 68 iBUG landmarks.

    Brows/forehead for AU1 (inner) and AU2 (outer), brows and glabella for AU4, upper
    eyelids for AU5, eyes for AU7, cheeks and eye corners for AU6, nose for AU9, mouth-corner
    neighbourhoods for AU12 (up toward the nose), AU14, AU15 (down toward the chin) and AU20
    (outward), lips for AU16 (lower), AU23 and AU25, lower lip, chin and jaw for AU26.
    ``visible`` (bool (68,), optional) drops the face side whose key landmarks are hidden.
    Works for any stored landmarks (e.g. ``FERData.landmarks[i]``).
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (68, 2):
        raise ValueError(f"landmarks must be (68,2), got {lm.shape}")
    unknown = [a for a in aus if a not in AU_INDEX]
    if unknown:
        raise ValueError(f"unknown AUs {unknown}; expected names from {AUS}")
    vis = np.ones(68, bool) if visible is None else np.asarray(visible, bool)
    iod = max(float(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0))), 1e-3)
    unit = max(iod, float(np.linalg.norm(lm[27] - lm[8])) * 0.45, 1.0)   # survives profile foreshortening
    up = lm[27] - lm[8]
    up = up / (np.linalg.norm(up) + 1e-9)                                 # face "up" direction in the image
    mouth_w = max(float(np.linalg.norm(lm[48] - lm[54])), 0.5 * unit)
    out = {}

    def hull(canvas, pts):
        pts = np.asarray(pts, dtype=np.float64)
        if len(pts) >= 3:
            cv2.fillConvexPoly(canvas, cv2.convexHull(ipts(pts)), 1, cv2.LINE_8, SHIFT)
        elif len(pts):
            for q in pts:
                cv2.circle(canvas, tuple(ipts(q)), int(0.1 * unit * ONE), 1, -1, cv2.LINE_8, SHIFT)

    def disc(canvas, center, radius):
        cv2.circle(canvas, tuple(ipts(center)), max(int(radius * ONE), ONE), 1, -1, cv2.LINE_8, SHIFT)

    def sides(idx_right):
        idx_right = np.asarray(idx_right)
        res = []
        for idx in (idx_right, MIRROR[idx_right]):
            if vis[idx].mean() >= 0.5:
                res.append(idx)
        return res

    for au in aus:
        m = np.zeros((image_size, image_size), np.uint8)
        if au == "AU1":
            for idx in sides([19, 20, 21]):
                hull(m, np.concatenate([lm[idx], lm[idx] + up * 0.45 * unit]))
        elif au == "AU2":
            for idx in sides([17, 18, 19]):
                hull(m, np.concatenate([lm[idx], lm[idx] + up * 0.45 * unit]))
        elif au == "AU4":
            idx = [i for i in (19, 20, 21, 22, 23, 24) if vis[i]] or [21, 22]
            hull(m, np.concatenate([lm[idx], lm[idx] + up * 0.2 * unit, lm[[27]], lm[idx] - up * 0.12 * unit]))
        elif au == "AU5":
            for idx in sides([36, 37, 38, 39]):
                hull(m, np.concatenate([lm[idx], lm[idx] + up * 0.15 * unit]))
        elif au == "AU7":
            for idx in sides([36, 37, 38, 39, 40, 41]):
                c = lm[idx].mean(0)
                hull(m, c + (lm[idx] - c) * 1.35)
        elif au == "AU6":
            for idx in sides([36, 41, 40, 1, 2, 31]):
                eye_out = lm[idx[0]] + (lm[idx[0]] - lm[idx[2]]) * 0.6
                hull(m, np.concatenate([lm[idx], [eye_out]]))
        elif au == "AU9":
            idx = [i for i in range(27, 36) if vis[i]] or [30]
            hull(m, np.concatenate([lm[idx], lm[[21, 22]] * 0.3 + lm[[27, 27]] * 0.7]))
        elif au in ("AU12", "AU14", "AU15", "AU20"):
            for idx in sides([48, 31]):
                corner, ala = lm[idx[0]], lm[idx[1]]
                if au == "AU12":
                    hull(m, [corner, ala, corner + (corner - lm[62]) * 0.25 + up * 0.15 * mouth_w,
                             corner - up * 0.15 * mouth_w])
                    disc(m, corner, 0.22 * mouth_w)
                elif au == "AU14":
                    disc(m, corner, 0.2 * mouth_w)
                elif au == "AU15":
                    disc(m, corner - up * 0.1 * mouth_w, 0.22 * mouth_w)
                    hull(m, [corner, corner - up * 0.5 * mouth_w, corner + (lm[8] - corner) * 0.4])
                else:
                    out_dir = corner - lm[51] * 0.5 - lm[57] * 0.5
                    hull(m, [corner + out_dir * 0.35 + up * 0.12 * mouth_w, corner + out_dir * 0.35 - up * 0.15 * mouth_w,
                             corner - out_dir * 0.25 + up * 0.08 * mouth_w, corner - out_dir * 0.25 - up * 0.1 * mouth_w])
        elif au == "AU16":
            hull(m, lm[[48, 54, 55, 56, 57, 58, 59, 64, 65, 66, 67, 60]])
        elif au == "AU23":
            c = lm[48:60].mean(0)
            hull(m, c + (lm[48:60] - c) * 1.1)
        elif au == "AU25":
            c = lm[60:68].mean(0)
            hull(m, np.concatenate([c + (lm[60:68] - c) * 1.25, lm[[50, 52, 56, 58]]]))
        elif au == "AU26":
            idx = [i for i in range(4, 13) if vis[i]] or [8]
            hull(m, np.concatenate([lm[idx], lm[[48, 54, 57]]]))
        out[au] = m.astype(bool)
    return out


# --------------------------------------------------------------------------------------
# The renderer's own record of where each AU changes the pixels
# --------------------------------------------------------------------------------------
_TRACE_LEVEL = 1                     # blurred record >= 1 grey level: any pixel the drawing can reach


class AUTrace:
    """Per-AU masks, at the 2x render canvas, of every drawn primitive an AU moves, gates or strengthens.

    A primitive is recorded for AU ``a`` when ``a`` moves one of the landmarks it is anchored
    to (``moves``, from the displacement table and the jaw drop) or sets its existence,
    strength or colour (``gates``). A *gated* primitive is recorded as drawn (filled, with its
    thickness): switching the AU off can remove or re-colour all of it. A primitive that ``a``
    only *moves* is recorded as its outline band, widened by ``delta[a]``, how far ``a`` moves
    those landmarks in this face (2x-canvas pixels; 0 when ``a`` is inactive): a uniformly
    coloured shape whose vertices move by at most d changes only within d of its outline.
    Each primitive carries ``value``, the most it can change a pixel it covers (grey levels:
    255 for a shape, the darkening of a texture curve); ``finish`` blurs the record with the
    sample's own blur kernel (the renderer blurs the 2x canvas before INTER_AREA) and keeps
    the pixels where that blurred bound reaches ``_TRACE_LEVEL``.
    """

    def __init__(self, R: int, moves: np.ndarray, delta: np.ndarray):
        self.R, self.moves, self.delta = R, moves, delta
        self.ops: dict[int, list] = {}        # AU index -> [(value, draw(canvas, value))]
        self.regions: dict[int, np.ndarray] = {}

    def targets(self, idx, gates=(), geo=None):
        """[(AU index, gated, grow px)] for a primitive anchored to landmarks ``idx``."""
        idx = np.asarray(idx, int).ravel()
        gated = {AU_INDEX[g] for g in gates}
        movers = set(np.flatnonzero(self.moves[:, idx].any(1)).tolist()) if idx.size else set()
        out = []
        for a in sorted(gated | movers):
            grow = float(self.delta[a, idx].max()) if idx.size else 0.0
            grow += float((geo or {}).get(AUS[a], 0.0))
            out.append((a, a in gated, int(math.ceil(grow - 1e-6)) if grow > 1e-6 else 0))
        return out

    def _add(self, a, value, draw):
        self.ops.setdefault(a, []).append((int(value), draw))

    def lines(self, runs, thickness, idx, gates=(), geo=None, value=255):
        """Open polylines ``runs`` (shifted int points, as drawn) of width ``thickness``."""
        for a, _, grow in self.targets(idx, gates, geo):
            t = thickness + 2 * grow + 2
            self._add(a, value, lambda c, v, t=t: cv2.polylines(c, runs, False, v, t, cv2.LINE_8, SHIFT))

    def shape(self, pts, idx, gates=(), geo=None, outline=1, value=255):
        """A filled polygon (shifted int points, as drawn) with an outline of width ``outline``."""
        for a, gated, grow in self.targets(idx, gates, geo):
            t = outline + 2 * grow + 2
            if gated:
                self._add(a, value, lambda c, v: cv2.fillPoly(c, [pts], v, cv2.LINE_8, SHIFT))
            self._add(a, value, lambda c, v, t=t: cv2.polylines(c, [pts], True, v, t, cv2.LINE_8, SHIFT))

    def ellipse(self, centre, axes, angle, idx, gates=(), geo=None, value=255):
        """A filled ellipse (shifted int centre and axes, as drawn)."""
        for a, _, grow in self.targets(idx, gates, geo):
            ax = (axes[0] + (grow + 1) * ONE, axes[1] + (grow + 1) * ONE)
            self._add(a, value, lambda c, v, ax=ax: cv2.ellipse(c, centre, ax, angle, 0, 360, v, -1, cv2.LINE_8,
                                                                 SHIFT))

    def area(self, au: str, region: np.ndarray):
        """A bool (R,R) region (e.g. where the head silhouette moves) for ``au``, value 255."""
        a = AU_INDEX[au]
        self.regions[a] = region if a not in self.regions else self.regions[a] | region

    def finish(self, S: int, sigma: float) -> dict[str, np.ndarray]:
        """Output-resolution bool masks: the sample's blur spread, then any 2x2 block."""
        out = {}
        for au in AUS:
            a = AU_INDEX[au]
            if a not in self.ops and a not in self.regions:
                out[au] = np.zeros((S, S), bool)
                continue
            canvas = np.zeros((self.R, self.R), np.uint8)
            for value, draw in sorted(self.ops.get(a, []), key=lambda op: op[0]):   # ascending: the max wins
                draw(canvas, value)
            if a in self.regions:
                canvas[self.regions[a]] = 255
            spread = cv2.GaussianBlur(canvas, (0, 0), sigma) >= _TRACE_LEVEL
            out[au] = spread.reshape(S, 2, S, 2).any(axis=(1, 3))
        return out
