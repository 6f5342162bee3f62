"""ImageModel (RCRNet) and VideoModel (RCRNet+NER).

Naming legend: a clip is a list of T frames ``(B, 3, H, W)``; ``(T*B, ...)`` tensors are
frame-major (all batch elements of frame 0 first), the order of ``torch.cat(clip)``.
"""
import torch
from torch import nn

from libs.modules import ConvGRUCell, NonLocalBlock3d

from .rcrnet import RCRNet

__all__ = ["ImageModel", "VideoModel", "freeze_batchnorm"]


def freeze_batchnorm(module):
    """Put every BatchNorm layer of ``module`` in eval mode (running statistics frozen).

    The affine parameters stay trainable, as in the published ``freeze_bn``.
    """
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
    return module


class _FrozenBNMixin:
    """``train()`` that keeps BatchNorm in eval mode when ``self.frozen_bn`` is set.

    The published code called ``freeze_bn()`` once, so any later ``model.train()`` silently
    unfroze it; overriding ``train`` makes the frozen state survive.
    """

    frozen_bn = False

    def train(self, mode=True):
        super().train(mode)
        if mode and self.frozen_bn:
            freeze_batchnorm(self)
        return self


class ImageModel(_FrozenBNMixin, nn.Module):
    """Spatial model for single images: ``(B, 3, H, W) -> (B, 1, H, W)`` logits."""

    def __init__(self, output_stride=16, freeze_bn=False):
        super().__init__()
        self.backbone = RCRNet(n_classes=1, output_stride=output_stride, input_channels=3)
        self.frozen_bn = freeze_bn

    def forward(self, frame):
        return self.backbone(frame)


class VideoModel(_FrozenBNMixin, nn.Module):
    """RCRNet+NER: clip of T frames ``[(B, 3, H, W)] * T`` -> T logits ``(B, 1, H, W)``.

    NER = non-local block -> deep bidirectional ConvGRU -> non-local block, on the ASPP
    features ``(B, 256, T, h, w)``. The backbone's BatchNorm stays frozen (eval mode) in
    training, as in the published code; that makes frames independent in the backbone,
    so by default all T*B frames go through ``feat_conv`` and ``seg_conv`` as one batch
    (``batched_backbone=False`` gives the published frame-by-frame order, same numbers).
    """

    def __init__(self, output_stride=16, batched_backbone=True):
        super().__init__()
        self.backbone = RCRNet(n_classes=1, output_stride=output_stride, input_channels=3)
        self.convgru_forward = ConvGRUCell(256, 256, 3)
        self.convgru_backward = ConvGRUCell(256, 256, 3)
        self.bidirection_conv = nn.Conv2d(512, 256, 3, padding=1)
        self.non_local_block = NonLocalBlock3d(256, 128)
        self.non_local_block2 = NonLocalBlock3d(256, 128)
        self.batched_backbone = batched_backbone
        self.frozen_bn = True
        freeze_batchnorm(self)

    def _spatial_features(self, clip):
        """``[(B, 3, H, W)] * T -> l1, l2, l3 (T*B, ...), top (B, 256, T, h, w)``."""
        t, b = len(clip), clip[0].shape[0]
        if self.batched_backbone:
            l1, l2, l3, top = self.backbone.feat_conv(torch.cat(clip, dim=0))
        else:
            feats = [self.backbone.feat_conv(frame) for frame in clip]
            l1, l2, l3, top = (torch.cat(f, dim=0) for f in zip(*feats))
        top = top.reshape(t, b, *top.shape[1:]).permute(1, 2, 0, 3, 4)
        return l1, l2, l3, top

    def _recurrent(self, feats):
        """Deep bidirectional ConvGRU: ``(B, 256, T, h, w) -> [(B, 256, h, w)] * T``.

        The forward cell starts from the first frame's feature; the backward cell runs on
        the forward cell's outputs, starting from the last of them.
        """
        steps = feats.unbind(dim=2)
        forward, hidden = [], steps[0]
        for x in steps:
            hidden = self.convgru_forward(x, hidden)
            forward.append(hidden)
        backward, hidden = [], forward[-1]
        for x in reversed(forward):
            hidden = self.convgru_backward(x, hidden)
            backward.append(hidden)
        backward.reverse()
        return [torch.tanh(self.bidirection_conv(torch.cat(fb, dim=1))) for fb in zip(forward, backward)]

    def forward(self, clip):
        if isinstance(clip, torch.Tensor):
            raise TypeError(
                "VideoModel expects a list of T tensors (B, 3, H, W); use list(x.unbind(1)) on (B, T, 3, H, W)"
            )
        if len(clip) < 1:
            raise ValueError("VideoModel needs a clip of at least one frame")
        size = clip[0].shape[-2:]
        l1, l2, l3, top = self._spatial_features(list(clip))
        feats = self._recurrent(self.non_local_block(top))
        feats = self.non_local_block2(torch.stack(feats, dim=2))
        t, b = len(clip), clip[0].shape[0]
        top = feats.permute(2, 0, 1, 3, 4).reshape(t * b, *feats.shape[1:2], *feats.shape[3:])
        if self.batched_backbone:
            logits = self.backbone.seg_conv(l1, l2, l3, top, size)
            return list(logits.split(b, dim=0))
        return [
            self.backbone.seg_conv(*(f[i * b:(i + 1) * b] for f in (l1, l2, l3, top)), size)
            for i in range(t)
        ]
