"""RCRNet, ImageModel and VideoModel: state-dict layout, reference numerics, shapes, training."""
import pytest
import torch

from libs.modules.non_local import non_local_aggregate
from libs.networks import ImageModel, RCRNet, VideoModel
from reference_weights import fill_reference_weights, reference_clip


def shapes(module):
    return {k: list(v.shape) for k, v in module.state_dict().items()}


@pytest.fixture(scope="module")
def video_model():
    return VideoModel(output_stride=16).eval()


def test_image_model_matches_manifest(manifest):
    assert shapes(ImageModel()) == manifest["ImageModel"]


def test_video_model_matches_manifest(video_model, manifest):
    assert shapes(video_model) == manifest["VideoModel_os16"]


def test_seven_channel_rcrnet_matches_fgplg_backbone(manifest):
    expected = {k[len("backbone."):]: v for k, v in manifest["FGPLG"].items() if k.startswith("backbone.")}
    assert shapes(RCRNet(n_classes=1, output_stride=16, input_channels=7)) == expected


def test_output_stride_8_has_the_same_keys(manifest):
    assert shapes(VideoModel(output_stride=8)) == manifest["VideoModel_os16"]


def test_image_model_reproduces_reference(reference_dir):
    fx = torch.load(reference_dir / "image_model_os16_64.pt")
    model = fill_reference_weights(ImageModel().eval(), fx["seed"])
    with torch.no_grad():
        out = model(fx["input"])
    scale = max(1.0, fx["output"].abs().max().item())
    assert out.shape == fx["output"].shape
    assert (out - fx["output"]).abs().max().item() < 1e-4 * scale


def test_video_model_reproduces_reference(reference_dir, video_model):
    # The default, batched backbone; test_batched_backbone_equals_per_frame ties it to the
    # published frame-by-frame order with a batch of 2.
    fx = torch.load(reference_dir / "video_model_os16_64x3.pt")
    fill_reference_weights(video_model, fx["seed"])
    with torch.no_grad():
        outs = video_model(fx["clip"])
    assert len(outs) == len(fx["outputs"])
    for out, expected in zip(outs, fx["outputs"]):
        scale = max(1.0, expected.abs().max().item())
        assert (out - expected).abs().max().item() < 1e-4 * scale


def test_batched_backbone_equals_per_frame(video_model):
    fill_reference_weights(video_model, 3)
    clip = reference_clip(frames=4, batch=2, height=48, width=40, seed=5)
    with torch.no_grad():
        batched = video_model(clip)
        video_model.batched_backbone = False
        per_frame = video_model(clip)
        video_model.batched_backbone = True
    for a, b in zip(batched, per_frame):
        assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("os_, expected", [
    (16, [(16, 16), (8, 8), (4, 4), (4, 4)]),
    (8, [(16, 16), (8, 8), (8, 8), (8, 8)]),
])
def test_feature_sizes_per_output_stride(os_, expected):
    net = RCRNet(output_stride=os_).eval()
    with torch.no_grad():
        feats = net.feat_conv(torch.randn(1, 3, 64, 64))
    assert [tuple(f.shape[-2:]) for f in feats] == expected
    assert [f.shape[1] for f in feats] == [256, 512, 1024, 256]


@pytest.mark.parametrize("height, width", [(50, 70), (33, 97)])
def test_arbitrary_input_sizes_and_batch(height, width):
    model = ImageModel().eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, height, width))
    assert out.shape == (2, 1, height, width)


def test_video_model_clip_lengths_and_sizes(video_model):
    for t in (1, 2):
        clip = reference_clip(frames=t, batch=2, height=50, width=70, seed=t)
        with torch.no_grad():
            outs = video_model(clip)
        assert [tuple(o.shape) for o in outs] == [(2, 1, 50, 70)] * t
    with pytest.raises(ValueError):
        video_model([])


def test_batch_elements_are_independent(video_model):
    fill_reference_weights(video_model, 4)
    clip = reference_clip(frames=3, batch=2, height=32, width=32, seed=9)
    with torch.no_grad():
        both = video_model(clip)
        second = video_model([f[1:] for f in clip])
    for a, b in zip(both, second):
        assert torch.allclose(a[1:], b, atol=1e-5)


def test_non_local_orders_agree():
    g = torch.Generator().manual_seed(0)
    theta, phi, gx = (torch.randn(2, 8, n, generator=g) for n in (20, 20, 20))
    naive = torch.einsum("bci,bcj,bdj->bdi", theta, phi, gx) / 20
    assert torch.allclose(non_local_aggregate(theta, phi, gx), naive, atol=1e-5)
    theta, phi, gx = (torch.randn(1, 16, 5, generator=g) for _ in range(3))  # N < C: affinity order
    naive = torch.einsum("bci,bcj,bdj->bdi", theta, phi, gx) / 5
    assert torch.allclose(non_local_aggregate(theta, phi, gx), naive, atol=1e-5)


def test_fresh_non_local_block_is_identity():
    model = VideoModel()
    x = torch.randn(1, 256, 2, 3, 3)
    assert torch.equal(model.non_local_block(x), x)


def test_training_step_reaches_every_parameter_with_frozen_bn():
    torch.manual_seed(0)
    model = VideoModel().train()
    # A fresh W would block the gradient to theta/phi/g (W = 0), so start from random weights.
    fill_reference_weights(model, 11)
    bn_before = {k: v.clone() for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}
    assert all(not m.training for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    clip = reference_clip(frames=2, batch=1, height=32, width=32, seed=2)
    labels = [torch.rand(1, 1, 32, 32) for _ in clip]
    loss = sum(torch.nn.functional.binary_cross_entropy_with_logits(o, y) for o, y in zip(model(clip), labels))
    loss.backward()
    no_grad = [n for n, p in model.named_parameters()
               if p.requires_grad and (p.grad is None or p.grad.abs().sum() == 0)]
    # fc and avgpool are unused by design (kept only so checkpoints load strictly).
    assert [n for n in no_grad if not n.startswith("backbone.resnet.fc.")] == []
    for k, v in model.state_dict().items():
        if k in bn_before:
            assert torch.equal(v, bn_before[k]), k


def test_train_keeps_bn_frozen_but_image_model_trains_bn():
    video = VideoModel().train()
    assert all(not m.training for m in video.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert video.bidirection_conv.training
    image = ImageModel().train()
    assert all(m.training for m in image.modules() if isinstance(m, torch.nn.BatchNorm2d))
    frozen = ImageModel(freeze_bn=True).train()
    assert all(not m.training for m in frozen.modules() if isinstance(m, torch.nn.BatchNorm2d))
