"""The networks match the paper's layer tables (../shared/docs/paper.md)."""

import pytest
import torch

from msdepth.config import ModelConfig
from msdepth.models import MultiScaleDepth, count_parameters, geometry_for


def test_parameter_counts_match_the_paper_geometry():
    model = MultiScaleDepth()
    assert count_parameters(model.coarse) == 70_757_734
    assert count_parameters(model.fine) == 119_437


def test_nyu_geometry_gives_8x6_coarse5_and_74x55_output():
    g = geometry_for(228, 304)
    assert g.coarse5_hw == (6, 8)
    assert g.fc6_in == 8 * 6 * 256 == 12288
    assert g.output_hw == (55, 74)
    assert g.fc7_out == 4070


@pytest.mark.parametrize("stage", ["coarse", "fine"])
def test_output_is_one_log_depth_channel_at_quarter_resolution(stage):
    model = MultiScaleDepth(stage=stage).eval()
    out = model(torch.rand(2, 3, 228, 304))
    assert out.shape == (2, 1, 55, 74)


def test_kitti_geometry_is_configurable_without_code_changes():
    model = MultiScaleDepth(ModelConfig(input_width=576, input_height=172)).eval()
    assert model.geometry.output_hw == (41, 142)
    assert model.coarse.coarse7.out_features == 41 * 142
    assert model(torch.rand(1, 3, 172, 576)).shape == (1, 1, 41, 142)


def test_output_layers_are_linear_and_can_be_negative():
    model = MultiScaleDepth(stage="coarse").eval()
    with torch.no_grad():
        model.coarse.coarse7.bias.fill_(-3.0)
        model.fine.fine4.bias.fill_(-3.0)
        assert (model(torch.rand(1, 3, 228, 304)) < 0).any()
        model.set_stage("fine")
        assert (model(torch.rand(1, 3, 228, 304)) < 0).any()


def test_dropout_only_after_coarse6():
    model = MultiScaleDepth()
    dropouts = [name for name, m in model.named_modules() if isinstance(m, torch.nn.Dropout)]
    assert dropouts == ["coarse.dropout"]
    assert model.coarse.dropout.p == 0.5
    # Active in training (stochastic outputs), inactive in eval (deterministic).
    x = torch.rand(1, 3, 228, 304)
    model.set_stage("coarse").train()
    assert not torch.equal(model(x), model(x))
    model.eval()
    assert torch.equal(model(x), model(x))


def test_fine_stage_freezes_coarse_and_keeps_it_in_eval_mode():
    model = MultiScaleDepth(stage="fine").train()
    assert not model.coarse.training
    assert model.fine.training
    assert all(not p.requires_grad for p in model.coarse.parameters())
    model(torch.rand(2, 3, 228, 304)).mean().backward()
    assert all(p.grad is None for p in model.coarse.parameters())
    assert all(p.grad is not None for p in model.fine.parameters())


def test_fine_output_depends_on_the_coarse_prediction():
    model = MultiScaleDepth(stage="fine").eval()
    x = torch.rand(1, 3, 228, 304)
    a = model(x)
    with torch.no_grad():
        model.coarse.coarse7.bias.add_(1.0)
    assert not torch.allclose(a, model(x))


def test_normalisation_is_part_of_the_model():
    model = MultiScaleDepth()
    assert "rgb_mean" in model.state_dict() and "rgb_std" in model.state_dict()
    x = torch.full((1, 3, 4, 4), 0.5)
    norm = model.normalize(x)
    assert torch.allclose(norm[0, 0], torch.full((4, 4), (0.5 - 0.485) / 0.229))


def test_too_small_input_is_refused_with_a_message():
    with pytest.raises(ValueError, match="too small"):
        MultiScaleDepth(ModelConfig(input_width=32, input_height=32))


def test_fine_network_starts_as_the_identity_on_the_coarse_prediction():
    torch.manual_seed(0)
    model = MultiScaleDepth(ModelConfig(input_width=96, input_height=72)).eval()
    x = torch.rand(2, 3, 72, 96)
    with torch.no_grad():
        coarse = model.set_stage("coarse")(x)
        fine = model.set_stage("fine")(x)
    assert coarse.std() > 0.01  # the coarse prediction depends on the image (He init)
    torch.testing.assert_close(fine, coarse, rtol=0, atol=1e-6)
