"""Checkpoint reading, partial loads, refusals, ImageNet initialisation and atomic saving."""
import numpy as np
import pytest
import torch
import torchvision

from libs.networks import ImageModel, RCRNet, VideoModel
from libs.utils.checkpoint import (
    CheckpointError,
    init_from_imagenet,
    load_checkpoint,
    load_training_state,
    read_state_dict,
    save_model,
    save_training_state,
)
from reference_weights import fill_reference_weights


@pytest.fixture(scope="module")
def image_model():
    return fill_reference_weights(ImageModel().eval(), 1)


def assert_same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def test_strict_round_trip(tmp_path, image_model):
    path = tmp_path / "image.pth"
    save_model(image_model, path)
    fresh = ImageModel()
    report = load_checkpoint(fresh, path, strict=True)
    assert report.missing == [] and report.unexpected == []
    assert_same_state(fresh, image_model)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


@pytest.mark.parametrize("wrap", ["module_prefix", "state_dict_entry", "numpy_metadata"])
def test_published_formats(tmp_path, image_model, wrap):
    state = image_model.state_dict()
    if wrap == "module_prefix":
        obj = {f"module.{k}": v for k, v in state.items()}
    elif wrap == "numpy_metadata":  # old files (NVIDIA's FlowNet2) keep numpy scalars beside the weights
        obj = {"state_dict": state, "epoch": np.int64(3), "best_EPE": np.float64(1.5), "arch": "ImageModel"}
    else:
        obj = {"state_dict": state, "epoch": 3}
    torch.save(obj, tmp_path / "ckpt.pth")
    fresh = ImageModel()
    load_checkpoint(fresh, tmp_path / "ckpt.pth", strict=True)
    assert_same_state(fresh, image_model)


def test_saving_a_data_parallel_model_drops_the_prefix(tmp_path, image_model):
    save_model(torch.nn.DataParallel(image_model), tmp_path / "dp.pth")
    assert all(k.startswith("backbone.") for k in read_state_dict(tmp_path / "dp.pth"))


def test_image_to_video_initialisation_reports_ner_keys(tmp_path, image_model):
    save_model(image_model, tmp_path / "image.pth")
    video = VideoModel()
    report = load_checkpoint(video, tmp_path / "image.pth")
    assert report.unexpected == []
    assert report.missing and all(not k.startswith("backbone.") for k in report.missing)
    assert {k.split(".")[0] for k in report.missing} == {
        "convgru_forward", "convgru_backward", "bidirection_conv", "non_local_block", "non_local_block2"}
    assert torch.equal(video.backbone.decoder.conv2.weight, image_model.backbone.decoder.conv2.weight)
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(VideoModel(), tmp_path / "image.pth", strict=True)


def test_three_to_seven_channel_conv1_extension(tmp_path, image_model):
    save_model(image_model.backbone, tmp_path / "rcrnet3.pth")
    net7 = RCRNet(input_channels=7)
    fresh_extra = net7.resnet.conv1.weight[:, 3:].detach().clone()
    report = load_checkpoint(net7, tmp_path / "rcrnet3.pth", strict=True)
    assert report.adapted
    w = net7.resnet.conv1.weight.detach()
    assert torch.equal(w[:, :3], image_model.backbone.resnet.conv1.weight)
    assert torch.equal(w[:, 3:], fresh_extra)


def test_shape_mismatch_is_refused_with_the_file_named(tmp_path, image_model):
    state = image_model.state_dict()
    state["backbone.decoder.conv2.weight"] = torch.zeros(2, 256, 1, 1)
    torch.save(state, tmp_path / "wrong.pth")
    before = ImageModel().state_dict()["backbone.decoder.conv2.bias"].clone()
    model = ImageModel()
    model.backbone.decoder.conv2.bias.data.copy_(before)
    with pytest.raises(CheckpointError, match="wrong.pth.*shapes do not match"):
        load_checkpoint(model, tmp_path / "wrong.pth")
    assert torch.equal(model.backbone.decoder.conv2.bias, before)  # nothing half-loaded


def test_checkpoint_of_another_model_is_refused(tmp_path):
    torch.save({"flownetc.conv1.0.weight": torch.zeros(64, 3, 7, 7)}, tmp_path / "flownet.pth")
    with pytest.raises(CheckpointError, match="no key matches"):
        load_checkpoint(ImageModel(), tmp_path / "flownet.pth")


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", None])
def test_unreadable_or_missing_files(tmp_path, content):
    path = tmp_path / "bad.pth"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match="bad.pth"):
        read_state_dict(path)


def test_imagenet_initialisation_from_torchvision_file(tmp_path):
    torch.manual_seed(0)
    tv = torchvision.models.resnet50(weights=None)
    state = {k: v for k, v in tv.state_dict().items() if not k.endswith("num_batches_tracked")}  # old-style file
    torch.save(state, tmp_path / "resnet50.pth")
    model = ImageModel()
    decoder_before = model.backbone.decoder.conv1.conv.weight.detach().clone()
    init_from_imagenet(model, tmp_path / "resnet50.pth")
    resnet = model.backbone.resnet.state_dict()
    for k, v in state.items():
        assert torch.equal(resnet[k], v), k
    assert torch.equal(model.backbone.decoder.conv1.conv.weight, decoder_before)
    # fresh layers follow the published initialisation
    assert torch.all(model.backbone.aspp.fire.conv.bn.weight == 1)
    assert torch.allclose(model.backbone.decoder.conv2.bias, torch.full((1,), 0.001))
    fan_out = 256 * 3 * 3
    std = model.backbone.aspp.stages.c1.conv.weight.std().item()
    assert abs(std - (2.0 / fan_out) ** 0.5) < 0.1 * (2.0 / fan_out) ** 0.5
    # a truncated ImageNet file (a ResNet key missing) is refused
    del state["layer4.2.conv3.weight"]
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(CheckpointError, match="partial.pth.*missing"):
        init_from_imagenet(ImageModel(), tmp_path / "partial.pth")


def test_imagenet_initialisation_of_seven_channel_backbone(tmp_path):
    tv = torchvision.models.resnet50(weights=None)
    torch.save(tv.state_dict(), tmp_path / "resnet50.pth")
    net7 = RCRNet(input_channels=7)
    init_from_imagenet(net7, tmp_path / "resnet50.pth")
    assert torch.equal(net7.resnet.conv1.weight[:, :3], tv.conv1.weight)


def test_training_state_round_trip_and_refusal(tmp_path, image_model):
    opt = torch.optim.Adam(image_model.parameters(), lr=1e-4)
    save_training_state(tmp_path / "state.pth", image_model, opt, epoch=2, best_score=0.5,
                        args={"lr": 1e-4, "x": object()})
    state = load_training_state(tmp_path / "state.pth")
    assert state["epoch"] == 2 and state["best_score"] == 0.5 and state["args"] == {"lr": 1e-4}
    save_model(image_model, tmp_path / "model.pth")
    with pytest.raises(CheckpointError, match="not a training state"):
        load_training_state(tmp_path / "model.pth")
