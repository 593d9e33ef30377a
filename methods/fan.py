"""``fan``: face-alignment's 2D FAN (Bulat & Tzimiropoulos 2017) landmarks -> ``cv2.solvePnP``
(paper Table 1 "FAN (12 points)").

The network is ``face_alignment.models.FAN(4)`` with the library's 2D weights
``2DFAN4-11f355bf06.pth.tar``. face-alignment would download them into
``$TORCH_HOME/hub/checkpoints/``; posebench never downloads: it reads the file from there (or
``weights=PATH``) and fails with a one-line instruction when it is absent. The library's own face
detector (S3FD, more weights to download) is not used: the face box comes from the ``box`` option
(:mod:`posebench.detect`) and is turned into FAN's centre/scale as face-alignment does (centre of
the box moved up by 0.12 of its height, scale = (w + h) / reference, where the reference is the
detector's declared calibration, ``reference_scale`` in :mod:`posebench.detect`: 195 for dlib
boxes, 165 for YuNet boxes, 195 for a detector that declares none). ``box=auto`` (default) uses the protocol's box where the sample has
one, else the default detector's (a bare photo). For the protocol's box (AFLW2000: Hopenet's loose crop, which already sits
higher on the face) the centre is the box centre and the reference is 195 x 1.76, the loose box's
average growth over the tight point box, so FAN sees about the face size it was trained on.
Crops are 256x256 RGB in [0, 1]; with ``flip=true`` (face-alignment's default) the heatmaps of the
mirrored crop are added. Landmarks are the heatmap maxima with the library's quarter-pixel
refinement, mapped back to image pixels.

Options: ``points=12`` (default, :data:`posebench.landmarks.FAN_12_POINTS`; why these 12: see
:mod:`posebench.landmarks`), ``68`` or comma-separated indices;
``box``, ``detector_model``; ``setup``, ``solver``, ``guard``, ``focal``, ``face`` (see ``landmark_pose``);
``weights``, ``flip``, ``threads`` (torch CPU threads; 0 = torch's default).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from posebench.detect import BOX_MODES
from posebench.errors import SampleFailure, UsageError, WeightsError
from posebench.fileio import existing_file
from posebench.landmarks import parse_points
from posebench.method import Estimate, FaceInput, Method, prepare_each
from posebench.options import Domain
from posebench.pose import Pose
from posebench.registry import register_method

from .landmark_pose import LANDMARK_DOMAINS, LandmarkPose

FAN_FILE = "2DFAN4-11f355bf06.pth.tar"
FAN_URL = "https://www.adrianbulat.com/downloads/python-fan/2DFAN4-11f355bf06.pth.tar"

#: The reference scale of a protocol box (Hopenet's loose crop: 1.76 x the tight point box); a
#: detector's box uses the detector's own (``reference_scale``, :mod:`posebench.detect`).
PROTOCOL_REFERENCE_SCALE = 195.0 * 1.76
CENTER_Y_OFFSET = 0.12
CROP = 256


def default_weights_path() -> Path:
    """The 2D FAN weights: ``<weights folder>/fan/<file>`` when ``posebench data download fan`` put
    them there, else where face-alignment keeps them: ``$TORCH_HOME/hub/checkpoints/<file>``."""
    import torch.hub

    from posebench.paths import weights_dir

    ours = weights_dir() / "fan" / FAN_FILE
    return ours if ours.is_file() else Path(torch.hub.get_dir()) / "checkpoints" / FAN_FILE


def fan_points(points: str) -> np.ndarray | None:
    """The landmark selection of ``points`` (see :func:`posebench.landmarks.parse_points`)."""
    return parse_points(points)


def load_fan(path: Path):
    """FAN(4) with the state dict in ``path`` (loaded with ``weights_only=True``), eval mode."""
    import torch
    from face_alignment.models import FAN

    path = existing_file(path, "FAN weights", hint=f" (place {FAN_FILE}, official: {FAN_URL}, in {path.parent}/ "
                                                   "or pass --option weights=PATH)")
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        net = FAN(4)
        net.load_state_dict(state)
    except Exception as exc:  # a corrupt or wrong file: one line, not a traceback
        raise WeightsError(f"cannot load FAN weights {path}: {str(exc).splitlines()[0][:200]}") from None
    return net.eval()


@register_method(
    "fan",
    "face-alignment 2D FAN landmarks (12 points; 68 as an option) -> solvePnP (paper Table 1 'FAN (12 points)'); "
    f"needs {FAN_FILE} in $TORCH_HOME/hub/checkpoints",
    domains={"threads": Domain(ge=0, le=1024), "box": Domain(choices=BOX_MODES), **LANDMARK_DOMAINS},
)
class FanMethod(Method):
    name = "fan"
    needs = frozenset({"image", "weights"})
    version = "2"
    batch_size = 8

    def __init__(self, points: str = "12", box: str = "auto", detector_model: str = "", weights: str = "",
                 flip: bool = True, setup: str = "weak-perspective", solver: str = "auto", guard: str = "auto", focal: float = 1.0,
                 face: str = "default", threads: int = 0):
        if threads < 0:
            raise UsageError("threads must be >= 0")
        super().__init__()
        self.box, self.detector_model = box, detector_model
        self.faces = self.use_face_source(box, detector_model)
        self.fit = LandmarkPose(face, solver, focal, fan_points(points), setup=setup, guard=guard)
        self.path = Path(weights) if weights else default_weights_path()
        self.net = load_fan(self.path)
        self.reads("weights", self.path)
        self.flip, self.threads = bool(flip), int(threads)

    def describe(self) -> str:
        return self.fit.describe()

    @property
    def weights_hash(self) -> str | None:
        """Digest of the 3D face model (the FAN weights file's digest is in the identity's ``files``)."""
        return self.fit.model_hash

    def _center_scale(self, box, source: str = "") -> tuple[np.ndarray, float]:
        """FAN's centre and scale for a box from ``source`` (``""`` = protocol box, else a detector)."""
        x0, y0, x1, y1 = box
        w, h = x1 - x0, y1 - y0
        center = np.array([x0 + w / 2.0, y0 + h / 2.0])
        if source:
            center[1] -= h * CENTER_Y_OFFSET
        reference = self.faces.reference_scale(source) if source else PROTOCOL_REFERENCE_SCALE
        return center, (w + h) / reference

    def landmarks_batch(self, faces: Sequence[FaceInput]) -> list[np.ndarray | SampleFailure]:
        """68 x 2 landmarks (image pixels) per face, or the failure."""
        import torch
        from face_alignment.utils import crop, flip, get_preds_fromhm

        def prepare(f: FaceInput):
            img = f.rgb()
            box, source = self.faces.find(img, f.box, f.box_source)
            center, scale = self._center_scale(box, source)
            if not scale > 0:
                raise SampleFailure("empty face box")
            return crop(img, center, scale).transpose(2, 0, 1).astype(np.float32) / 255.0, (center, scale, source)

        out, prepared, where = prepare_each(faces, prepare)
        if not prepared:
            return out
        crops, geo = [p[0] for p in prepared], [p[1] for p in prepared]
        self._sources = {i: g[2] for i, g in zip(where, geo)}
        old = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                x = torch.from_numpy(np.stack(crops))
                hm = self.net(x)[-1]
                if self.flip:
                    hm = hm + flip(self.net(flip(x))[-1], is_label=True)
                hm = hm.float().numpy()
        finally:
            torch.set_num_threads(old)
        for k, i in enumerate(where):
            center, scale, _ = geo[k]
            _, pts_img, _ = get_preds_fromhm(hm[k : k + 1], center, scale)
            out[i] = np.asarray(pts_img, float).reshape(68, 2)
        return out

    def estimate_batch(self, faces: Sequence[FaceInput]) -> list[Pose | SampleFailure]:
        res: list[Pose | SampleFailure] = []
        self._sources = {}
        for i, (f, lm) in enumerate(zip(faces, self.landmarks_batch(faces))):
            if isinstance(lm, SampleFailure):
                res.append(lm)
                continue
            try:
                pose = self.fit.pose(lm, f.image_size)
                source = self._sources.get(i, "")
                res.append(Estimate.of(pose, detector=source) if source else pose)
            except SampleFailure as exc:
                res.append(exc)
        return res
