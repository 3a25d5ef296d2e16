"""The iBUG-300W 68-point landmark scheme and its correspondence to MediaPipe FaceMesh's 468 vertices.

iBUG-68 (Sagonas et al., "300 Faces in-the-Wild Challenge", ICCV-W 2013; the Multi-PIE 68-point
markup): jaw line 0-16 (subject's right ear level -> chin 8 -> left), brows 17-21 (right, outer ->
inner) and 22-26 (left, inner -> outer), nose bridge 27-30 (nasion -> tip), nostril base 31-35
(right -> left), right eye 36-41 and left eye 42-47 (corner, two upper-lid points, corner, two
lower-lid points, clockwise in the image), outer lip 48-59 (right corner 48, upper lip to left
corner 54, lower lip back), inner lip 60-67 (right corner 60, upper 61-63, left corner 64, lower
65-67). "Right"/"left" are the subject's: the subject's right is on the image's left.

:data:`IBUG68_FROM_FACEMESH` is talkzoo's canonical table: for each iBUG point, the FaceMesh vertex
(mediapipe 0.10.21 numbering) closest to that point's definition. It is our own choice, made this
way (the derivation ran FaceMesh on ``skimage.data.astronaut()``, a near-frontal portrait):

* fixed anatomical points map to the FaceMesh vertex at the same feature: eye corners 33/133
  (right), 362/263 (left); mouth corners 61/291 (outer), 78/308 (inner); lip midlines 0, 17
  (outer), 13, 14 (inner); chin 152; nasion 168; subnasale 2; nose tip 4 (the bridge vertex
  nearest the camera, smallest MediaPipe z, on the astronaut); outer nostril bases 98/327;
* points defined as spaced along a contour (jaw, lids, lips, nose bridge) take the vertex of the
  corresponding FaceMesh contour whose normalised arc length (measured in the image on the
  astronaut mesh, averaged over each left/right mirror pair of contours so that the table is
  mirror-symmetric) is closest to the iBUG spacing: jaw 9 points at eighths from the oval vertex
  level with the outer eye corner (127 / 356) to the chin; lids and outer lip halves at thirds,
  inner lip halves and the nostril halves at halves, nose bridge at thirds from 168 to 4;
* the brows take the five vertices of FaceMesh's upper brow contour (iBUG brows follow the
  upper edge of the brow).

Left/right iBUG pairs therefore map to FaceMesh mirror pairs (e.g. 36/45 -> 33/263, 48/54 -> 61/291).
Another table (e.g. one chosen by a different rule) shifts points by a pixel or two along the
contours; metrics compare landmarks from ONE table, so that offset cancels.
"""

from __future__ import annotations

import numpy as np

from talkzoo.errors import DataError

__all__ = ["IBUG68_FROM_FACEMESH", "IBUG68_GROUPS", "INNER_LIP_PAIRS", "MOUTH", "facemesh_to_ibug68", "inner_lip_opening"]

#: FaceMesh vertex (0..467) for iBUG-68 point i (index = iBUG point). See the module docstring.
IBUG68_FROM_FACEMESH: tuple[int, ...] = (
    # jaw 0-16: right oval from eye level to the chin, then the left oval back up
    127, 234, 132, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 361, 454, 356,
    # right brow 17-21 (outer -> inner), left brow 22-26 (inner -> outer): upper brow contour
    70, 63, 105, 66, 107,
    336, 296, 334, 293, 300,
    # nose bridge 27-30 (nasion -> tip), nostril base 31-35 (right -> left)
    168, 197, 195, 4,
    98, 97, 2, 326, 327,
    # right eye 36-41: outer corner, upper lid 1/3, 2/3, inner corner, lower lid 2/3, 1/3
    33, 159, 158, 133, 153, 144,
    # left eye 42-47: inner corner, upper lid, outer corner, lower lid
    362, 385, 386, 263, 373, 380,
    # outer lip 48-59: right corner, upper lip, left corner, lower lip
    61, 39, 37, 0, 267, 269, 291, 321, 405, 17, 181, 91,
    # inner lip 60-67: right corner, upper lip, left corner, lower lip
    78, 81, 13, 311, 308, 402, 14, 178,
)

#: iBUG-68 index ranges of the facial parts (Python slices into the 68 points).
IBUG68_GROUPS: dict[str, slice] = {
    "jaw": slice(0, 17),
    "right_brow": slice(17, 22),
    "left_brow": slice(22, 27),
    "nose_bridge": slice(27, 31),
    "nostrils": slice(31, 36),
    "right_eye": slice(36, 42),
    "left_eye": slice(42, 48),
    "outer_lip": slice(48, 60),
    "inner_lip": slice(60, 68),
}

#: The mouth points (outer and inner lip), as used by the LMD metric.
MOUTH = slice(48, 68)

#: Upper/lower inner-lip point pairs facing each other (61-67, 62-66, 63-65).
INNER_LIP_PAIRS: tuple[tuple[int, int], ...] = ((61, 67), (62, 66), (63, 65))


def inner_lip_opening(landmarks: np.ndarray) -> np.ndarray:
    """Mouth opening per face: the mean distance of the facing inner-lip points (:data:`INNER_LIP_PAIRS`).

    Args:
        landmarks: ``(..., 68, 2)`` iBUG-68 points in pixels (NaN where no face was found).

    Returns:
        ``(...)`` float array in pixels (NaN where the landmarks are NaN).

    Raises:
        ValueError: the last two axes are not ``(68, 2)``.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape[-2:] != (68, 2):
        raise ValueError(f"inner_lip_opening: expected (..., 68, 2) landmarks, got {lm.shape}")
    return np.mean([np.linalg.norm(lm[..., a, :] - lm[..., b, :], axis=-1) for a, b in INNER_LIP_PAIRS], axis=0)


def facemesh_to_ibug68(mesh: np.ndarray) -> np.ndarray:
    """Select the 68 iBUG points from FaceMesh vertices.

    Args:
        mesh: ``(..., 468, D)`` FaceMesh vertices (any float dtype, any D, e.g. 2 for pixels,
            3 with depth), in mediapipe 0.10.21 vertex order.

    Returns:
        ``(..., 68, D)`` array of the same dtype: ``mesh[..., IBUG68_FROM_FACEMESH, :]``.

    Raises:
        DataError: the vertex axis (second to last) is not 468 long.
    """
    mesh = np.asarray(mesh)
    if mesh.ndim < 2 or mesh.shape[-2] != 468:
        raise DataError(f"FaceMesh vertices: expected shape (..., 468, D), got {tuple(mesh.shape)}")
    return mesh[..., list(IBUG68_FROM_FACEMESH), :]
