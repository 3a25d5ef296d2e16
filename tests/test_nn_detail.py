"""talkzoo.nn.detail: working-size outputs brought back with the source's fine detail."""

import pytest
import torch
import torch.nn.functional as F

from talkzoo.errors import DataError
from talkzoo.nn.detail import detail_layer, resize_square, upsample_with_detail


def _identity_grid(n: int, size: int) -> torch.Tensor:
    theta = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).expand(n, 2, 3)
    return F.affine_grid(theta, (n, 3, size, size), align_corners=True)


def test_round_trip_of_the_source_is_the_source():
    torch.manual_seed(0)
    src = torch.rand(2, 3, 64, 64)
    low = resize_square(src, 16)
    assert low.shape == (2, 3, 16, 16)
    out = upsample_with_detail(low, src)
    assert out.shape == src.shape
    torch.testing.assert_close(out, src, atol=1e-6, rtol=0)
    # the identity warp (at the working size, resized inside) changes nothing either
    out = upsample_with_detail(low, src, _identity_grid(2, 16), torch.ones(2, 1, 16, 16))
    torch.testing.assert_close(out, src, atol=1e-5, rtol=0)


def test_plain_upsampling_without_detail_differs_from_the_source():
    torch.manual_seed(0)
    src = torch.rand(1, 3, 64, 64)
    low = resize_square(src, 16)
    plain = F.interpolate(low, size=(64, 64), mode="bilinear", align_corners=False)
    assert (plain - src).abs().mean() > 0.1  # random texture is all detail
    # weight 0 everywhere: no detail is added
    out = upsample_with_detail(low, src, weight=torch.zeros(1, 1, 8, 8))
    torch.testing.assert_close(out, plain)


def test_detail_follows_the_grid():
    """A grid that samples 4 px to the right moves the detail 4 px to the left (interior pixels)."""
    torch.manual_seed(0)
    src = torch.rand(1, 1, 64, 64)
    shift = 4 * 2.0 / 63  # 4 px in align_corners=True units
    grid = _identity_grid(1, 64).clone()
    grid[..., 0] += shift
    low = torch.zeros(1, 1, 16, 16)
    out = upsample_with_detail(low, src, grid)
    expected = detail_layer(src, 16)[..., :, 4:]
    torch.testing.assert_close(out[..., :, :-4], expected, atol=1e-5, rtol=0)


def test_same_size_returns_the_output_and_bad_shapes_are_refused():
    x = torch.rand(1, 3, 32, 32)
    assert upsample_with_detail(x, torch.rand(1, 3, 32, 32)) is x
    assert torch.count_nonzero(detail_layer(x, 32)) == 0
    with pytest.raises(DataError, match="agree in batch and channels"):
        upsample_with_detail(torch.rand(2, 3, 8, 8), torch.rand(1, 3, 32, 32))
