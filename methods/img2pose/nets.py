"""img2pose's network (vitoralbiero/img2pose at fd5473e, ``models.py`` ``FasterDoFRCNN``, ``rpn.py``),
built from torchvision's detection parts so that the authors' checkpoint loads by name.

- ``transform``: torchvision ``GeneralizedRCNNTransform(min_size, max_size, ImageNet mean/std)``
  (the authors' own choice of class): normalise, resize (shorter side to ``min_size``, longer side
  at most ``max_size``, bilinear), pad the batch to a multiple of 32.
- ``backbone``: torchvision ``resnet_fpn_backbone("resnet18")`` (FrozenBatchNorm2d, FPN of 256
  channels, outputs ``0..3`` and ``pool``), as their ``img2pose.py`` builds it.
- ``rpn``: torchvision's ``RPNHead(256, 3)`` and ``RegionProposalNetwork`` with the authors' settings
  (anchors 16..256 px, one size per level, ratios 0.5/1/2: their six sizes meet five feature maps
  and their anchor generator zips the sixth away; NMS 0.4; ``pre_nms_top_n``/``post_nms_top_n``
  at test time). Proposals are ranked on the raw objectness logits as in their ``rpn.py`` (newer
  torchvision ranks sigmoid probabilities, which tie where the sigmoid saturates in float32).
- ``roi_heads`` (:class:`DofRoIHeads`): their two branches on the same proposals, each a
  ``MultiScaleRoIAlign(["0".."3"], 7, 2)`` + ``TwoMLPHead(256*7*7, 1024)``: ``box_*`` -> ``dof_pred``
  (Linear 1024-256, BatchNorm1d, ReLU, Linear 256-12: 6 normalised DoF per class) and ``class_*`` ->
  ``cls_score`` (Linear 1024-2). The post-processing (DoF to the whole image, boxes projected from the
  3D points, NMS) is :mod:`.postprocess`, in numpy as theirs.

:meth:`Img2PoseNet.raw` gives, per image, the proposals (resized-image pixels), the face score
(softmax, class 1), the normalised DoF of class 1 (float32), the resized and original sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

ANCHOR_SIZES = ((16,), (32,), (64,), (128,), (256,))  # the authors' (16..512): five levels use five
ASPECT_RATIOS = ((0.5, 1.0, 2.0),) * len(ANCHOR_SIZES)
IMAGE_MEAN = [0.485, 0.456, 0.406]
IMAGE_STD = [0.229, 0.224, 0.225]
RPN_NMS = 0.4


@dataclass
class RawDetections:
    """One image's network outputs before the authors' post-processing (see module docstring)."""

    proposals: torch.Tensor  # (N, 4) float32, x0 y0 x1 y1 in the resized image
    scores: torch.Tensor  # (N,) float32, softmax face probability
    dofs: torch.Tensor  # (N, 6) float32, normalised (rx, ry, rz, tx, ty, tz) of the face class
    resized: tuple[int, int]  # (h, w) of the resized image
    original: tuple[int, int]  # (h, w) of the input image


def _rpn_class():
    from torchvision.models.detection.rpn import RegionProposalNetwork
    from torchvision.ops import boxes as box_ops

    class LogitRPN(RegionProposalNetwork):
        """torchvision's RPN ranking proposals on raw logits, as the authors' ``rpn.py``."""

        def filter_proposals(self, proposals, objectness, image_shapes, num_anchors_per_level):
            num_images = proposals.shape[0]
            objectness = objectness.detach().reshape(num_images, -1)
            levels = torch.cat([torch.full((n,), i, dtype=torch.int64) for i, n in enumerate(num_anchors_per_level)])
            levels = levels.reshape(1, -1).expand_as(objectness)
            top = self._get_top_n_idx(objectness, num_anchors_per_level)
            batch = torch.arange(num_images)[:, None]
            objectness, levels, proposals = objectness[batch, top], levels[batch, top], proposals[batch, top]
            out_boxes, out_scores = [], []
            for boxes, scores, lvl, shape in zip(proposals, objectness, levels, image_shapes):
                boxes = box_ops.clip_boxes_to_image(boxes, shape)
                keep = box_ops.remove_small_boxes(boxes, self.min_size)
                boxes, scores, lvl = boxes[keep], scores[keep], lvl[keep]
                keep = box_ops.batched_nms(boxes, scores, lvl, self.nms_thresh)[: self.post_nms_top_n()]
                out_boxes.append(boxes[keep])
                out_scores.append(scores[keep])
            return out_boxes, out_scores

    return LogitRPN


class DofPredictor(nn.Module):
    def __init__(self, in_channels: int = 1024, num_classes: int = 2, hidden: int = 256):
        super().__init__()
        self.dof_pred = nn.Sequential(nn.Linear(in_channels, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                                      nn.Linear(hidden, num_classes * 6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dof_pred(x.flatten(start_dim=1))


class ClassPredictor(nn.Module):
    def __init__(self, in_channels: int = 1024, num_classes: int = 2):
        super().__init__()
        self.cls_score = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cls_score(x.flatten(start_dim=1))


class DofRoIHeads(nn.Module):
    """The authors' ``DOFRoIHeads`` at test time: DoF and class logits of every proposal."""

    def __init__(self, out_channels: int = 256):
        super().__init__()
        from torchvision.models.detection.faster_rcnn import TwoMLPHead
        from torchvision.ops import MultiScaleRoIAlign

        def pool():
            return MultiScaleRoIAlign(featmap_names=["0", "1", "2", "3"], output_size=7, sampling_ratio=2)

        self.box_roi_pool, self.class_roi_pool = pool(), pool()
        self.box_head = TwoMLPHead(out_channels * 7 * 7, 1024)
        self.box_predictor = DofPredictor()
        self.class_head = TwoMLPHead(out_channels * 7 * 7, 1024)
        self.class_predictor = ClassPredictor()

    def forward(self, features, proposals, image_shapes) -> tuple[torch.Tensor, torch.Tensor]:
        dof = self.box_predictor(self.box_head(self.box_roi_pool(features, proposals, image_shapes)))
        logits = self.class_predictor(self.class_head(self.class_roi_pool(features, proposals, image_shapes)))
        return dof, logits


class Img2PoseNet(nn.Module):
    """img2pose's Faster R-CNN with the 6-DoF head (ResNet-18 FPN), eval mode only."""

    def __init__(self, min_size: int = 400, max_size: int = 1400, rpn_pre_nms_top_n: int = 500,
                 rpn_post_nms_top_n: int = 10):
        super().__init__()
        from torchvision.models.detection.anchor_utils import AnchorGenerator
        from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
        from torchvision.models.detection.rpn import RPNHead
        from torchvision.models.detection.transform import GeneralizedRCNNTransform

        self.transform = GeneralizedRCNNTransform(min_size, max_size, IMAGE_MEAN, IMAGE_STD)
        self.backbone = resnet_fpn_backbone(backbone_name="resnet18", weights=None)
        anchors = AnchorGenerator(ANCHOR_SIZES, ASPECT_RATIOS)
        head = RPNHead(self.backbone.out_channels, anchors.num_anchors_per_location()[0])
        self.rpn = _rpn_class()(anchors, head, 0.5, 0.3, 256, 0.5, dict(training=6000, testing=rpn_pre_nms_top_n),
                                dict(training=2000, testing=rpn_post_nms_top_n), RPN_NMS)
        self.rpn.min_size = 1e-3  # the authors' rpn.py
        self.roi_heads = DofRoIHeads(self.backbone.out_channels)
        self.eval()

    def normalised(self, images: list[torch.Tensor]):
        """torchvision's transform of (3, H, W) float images in [0, 1]: the padded batch (ImageList)."""
        return self.transform(images)[0]

    @torch.inference_mode()
    def raw(self, images: list[torch.Tensor]) -> list[RawDetections]:
        """The network's outputs for (3, H, W) float32 RGB images in [0, 1] (``ToTensor``)."""
        batch = self.normalised(images)
        features = self.backbone(batch.tensors)
        proposals, _ = self.rpn(batch, features)
        dof, logits = self.roi_heads(features, proposals, batch.image_sizes)
        scores = torch.softmax(logits, -1)[:, 1]
        dof = dof.reshape(dof.shape[0], -1, 6)[:, 1]
        out, start = [], 0
        for img, props, size in zip(images, proposals, batch.image_sizes):
            n = props.shape[0]
            out.append(RawDetections(props, scores[start : start + n], dof[start : start + n], (int(size[0]), int(size[1])),
                                     (int(img.shape[-2]), int(img.shape[-1]))))
            start += n
        return out
