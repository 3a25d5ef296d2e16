"""CelebV (Wu et al., "ReenactGAN: Learning to Reenact Faces via Boundary Transfer", ECCV 2018), as
DaGAN (Hong et al., CVPR 2022) uses it for its cross-identity test.

Release layout ``ROOT/<Celebrity>/Image/*.jpg`` (five celebrities; each ``Image`` folder is read as
one frame sequence in file-name order) and the pair list ``ROOT/celeV_cross_id_evaluation.csv``
(frame paths ``.../<Celebrity>/Image/<file>``). Test only (DaGAN does not train on it). The
release is aligned face images already: read as downloaded (no ``talkzoo data prepare``).

Licence: research use (ReenactGAN release terms).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from talkzoo.data.presets.base import register_preset
from talkzoo.data.presets.video.base import ClipRecord, NoSplit, VideoPreset
from talkzoo.data.spec import FAMILY_REENACT


@register_preset
class CelebV(VideoPreset):
    """CelebV celebrities as frame sequences; DaGAN's cross-identity pairs; test only."""

    name = "celebv"
    title = "CelebV (Wu et al., ReenactGAN, ECCV 2018)"
    source = "DaGAN's CelebV cross-identity test pairs (data/celeV_cross_id_evaluation.csv); test only"
    licence = "research use (ReenactGAN release terms)"
    url = "https://github.com/wywu/ReenactGAN"
    image_size = 256
    families = (FAMILY_REENACT,)
    layout = "ROOT/<Celebrity>/Image/*.jpg (five celebrities) and ROOT/celeV_cross_id_evaluation.csv"
    split_source = "DaGAN's CelebV cross-identity test pairs (data/celeV_cross_id_evaluation.csv); test only"
    get_data = (
        "get CelebV (ReenactGAN, Wu et al. ECCV 2018: https://github.com/wywu/ReenactGAN) and copy DaGAN's "
        "data/celeV_cross_id_evaluation.csv into ROOT"
    )
    pair_files = ("celeV_cross_id_evaluation.csv",)

    def check_root(self, root: Path) -> None:
        """At least one ``<Celebrity>/Image`` folder."""
        if not any(root.glob("*/Image")):
            raise self.missing(root, root / "<Celebrity>" / "Image")

    def list_clips(self, root: Path) -> list[ClipRecord]:
        """One frame-folder clip per celebrity (id = the celebrity's folder name)."""
        return [ClipRecord(d.parent.name, d, d.parent.name, src_fps=self.fps)
                for d in sorted(root.glob("*/Image")) if d.is_dir()]

    def builtin_split(self, split: str, clips: dict[str, ClipRecord], root: Path) -> list[str]:
        """Test: every celebrity; no other split."""
        if split != "test":
            raise NoSplit(
                f"preset 'celebv' has no {split} split: DaGAN uses CelebV only for cross-identity testing; "
                "train on VoxCeleb1 (preset 'voxceleb1')"
            )
        return list(clips)

    def pair_clip_key(self, parts: tuple[str, ...]) -> str:
        """Frame paths are ``<Celebrity>/Image/<file>``: the celebrity names the clip."""
        return parts[-3] if len(parts) >= 3 else parts[-2]

    def write_fixture(self, root: Path, size: int = 32, frames: int = 30, **options: Any) -> Path:
        """``<Celebrity>/Image/P_<tag>_<n>.jpg_<10 digits>.jpg`` for three celebrities and
        ``celeV_cross_id_evaluation.csv``."""
        from talkzoo.testing.video_fixtures import write_frame_folder, write_text

        root = Path(root)
        stars = {"Donald_Trump": "Trump", "Emmanuel_Macron": "Emmanuel", "Theresa_May": "Theresa"}
        names = {}
        for i, (star, tag) in enumerate(stars.items()):
            files = [f"P_{tag}_{100 + k}.jpg_{k + 1:010d}.jpg" for k in range(frames)]
            names[star] = write_frame_folder(root / star / "Image", frames, size, i, files)
        prefix = "/data/fhongac/origDataset/CelebV"
        rows = [f"{prefix}/Donald_Trump/Image/{names['Donald_Trump'][3]},{prefix}/Emmanuel_Macron/Image/{names['Emmanuel_Macron'][7]}",
                f"{prefix}/Theresa_May/Image/{names['Theresa_May'][0]},{prefix}/Donald_Trump/Image/{names['Donald_Trump'][9]}"]
        write_text(root / "celeV_cross_id_evaluation.csv", "source,driving,frame\n" + "\n".join(rows) + "\n")
        return root
