"""FlowNet2 (NVIDIA flownet2-pytorch, as vendored by the RCRNet+NER authors).

Stages: FlowNetC -> FlowNetS (``flownets_1``) -> FlowNetS (``flownets_2``) for large
displacements, FlowNetSD for small ones, FlowNetFusion to merge them. Naming: ``x`` is the
(B, 6, H, W) mean-subtracted frame pair, ``*_flow`` are full-resolution flows in pixels,
``resampled_img1`` is frame 1 warped towards frame 0, ``norm_*`` are channel L2 norms.
"""
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn import init

from .flownet_c import FlowNetC
from .flownet_fusion import FlowNetFusion
from .flownet_s import FlowNetS
from .flownet_sd import FlowNetSD
from .interface import check_flow_input
from .ops import ChannelNorm, Resample2d

__all__ = ["FlowNet2"]

SIZE_MULTIPLE = 64  # the encoders downsample six times


class FlowNet2(nn.Module):
    """Optical flow from frame 0 to frame 1.

    Args:
        rgb_max: the value of full intensity in the input (1.0 for [0, 1] frames, 255 for
            the published pipeline's [0, 255] frames).
        div_flow: scale between the sub-networks' flow units and pixels (20, as trained).

    forward(inputs): inputs (B, 3, 2, H, W) RGB, frame 0 at ``[:, :, 0]``, values in
    [0, rgb_max] -> flow (B, 2, H, W) float, in pixels, channel 0 = x (right), 1 = y (down).

    The published network needs H and W to be multiples of 64. Other sizes are handled
    here: the per-sample, per-channel mean is taken over the unpadded frames, the
    normalised frames are replicate-padded on the right and bottom to the next multiple of
    64, and the flow is cropped back to (H, W) (no rescaling, so units stay pixels).
    """

    def __init__(self, rgb_max=1.0, div_flow=20.0):
        super().__init__()
        self.rgb_max = float(rgb_max)
        self.div_flow = float(div_flow)
        self.channelnorm = ChannelNorm()

        self.flownetc = FlowNetC()
        self.upsample1 = nn.Upsample(scale_factor=4, mode="bilinear", align_corners=False)
        self.resample1 = Resample2d()

        self.flownets_1 = FlowNetS(input_channels=12)
        self.upsample2 = nn.Upsample(scale_factor=4, mode="bilinear", align_corners=False)
        self.resample2 = Resample2d()

        self.flownets_2 = FlowNetS(input_channels=12)

        self.flownets_d = FlowNetSD()
        self.upsample3 = nn.Upsample(scale_factor=4, mode="nearest")
        self.upsample4 = nn.Upsample(scale_factor=4, mode="nearest")
        self.resample3 = Resample2d()
        self.resample4 = Resample2d()

        self.flownetfusion = FlowNetFusion()
        self.reset_parameters()

    def reset_parameters(self):
        """NVIDIA's fresh init (uniform biases, Xavier weights); normally overwritten by
        ``load_flownet2_checkpoint``."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                if m.bias is not None:
                    init.uniform_(m.bias)
                init.xavier_uniform_(m.weight)

    def freeze(self):
        """Eval mode and no parameter gradients (FlowNet2 is never trained here)."""
        self.eval()
        self.requires_grad_(False)
        return self

    def forward(self, inputs):
        """inputs (B, 3, 2, H, W) in [0, rgb_max] -> flow (B, 2, H, W) in pixels."""
        check_flow_input(inputs, "FlowNet2")
        b, _, _, h, w = inputs.shape
        rgb_mean = inputs.contiguous().view(b, 3, -1).mean(dim=-1).view(b, 3, 1, 1, 1)
        x = (inputs - rgb_mean) / self.rgb_max
        x = torch.cat((x[:, :, 0], x[:, :, 1]), dim=1)
        pad_h, pad_w = (-h) % SIZE_MULTIPLE, (-w) % SIZE_MULTIPLE
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        flow = self._flow(x)
        return flow[:, :, :h, :w] if pad_h or pad_w else flow

    def _flow(self, x):
        """x (B, 6, H, W), H and W multiples of 64 -> fused flow (B, 2, H, W)."""
        img0, img1 = x[:, :3], x[:, 3:]

        flownetc_flow = self.upsample1(self.flownetc(x) * self.div_flow)
        resampled_img1 = self.resample1(img1, flownetc_flow)
        norm_diff_img0 = self.channelnorm(img0 - resampled_img1)
        concat1 = torch.cat((x, resampled_img1, flownetc_flow / self.div_flow, norm_diff_img0), 1)

        flownets1_flow = self.upsample2(self.flownets_1(concat1) * self.div_flow)
        resampled_img1 = self.resample2(img1, flownets1_flow)
        norm_diff_img0 = self.channelnorm(img0 - resampled_img1)
        concat2 = torch.cat((x, resampled_img1, flownets1_flow / self.div_flow, norm_diff_img0), 1)

        flownets2_flow = self.upsample4(self.flownets_2(concat2) * self.div_flow)
        norm_flownets2_flow = self.channelnorm(flownets2_flow)
        diff_flownets2_img1 = self.channelnorm(img0 - self.resample4(img1, flownets2_flow))

        # Published as-is: FlowNetSD's flow is divided (not multiplied) by div_flow.
        flownetsd_flow = self.upsample3(self.flownets_d(x) / self.div_flow)
        norm_flownetsd_flow = self.channelnorm(flownetsd_flow)
        diff_flownetsd_img1 = self.channelnorm(img0 - self.resample3(img1, flownetsd_flow))

        concat3 = torch.cat((img0, flownetsd_flow, flownets2_flow, norm_flownetsd_flow,
                             norm_flownets2_flow, diff_flownetsd_img1, diff_flownets2_img1), 1)
        return self.flownetfusion(concat3)
