"""AMIE's networks as pure ``nn.Module`` s (no Lightning): generator, frame discriminator, statistics
network T_θ, mask predictor.

Paper: Zhu et al., "Arbitrary Talking Face Generation via Attentional Audio-Visual Coherence
Learning", IJCAI 2020 (arXiv 1812.06589v2), §3.1-3.3. The text names the parts and their inputs but
gives no layer, width or kernel; all of those are ours (README, "Choices").

Shapes: ``N`` images, ``R`` the working resolution (square), MFCC windows ``(N, 13, 20)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from talkzoo_amie.layers import UpBlock, down_block, num_downsamples

__all__ = ["AudioEncoder", "ImageEncoder", "Generator", "FrameDiscriminator", "StatisticsNetwork", "MaskPredictor", "BOTTLENECK"]

#: side of the encoders' bottleneck feature map in pixels (ours: a 4 x 4 map, flattened, still tells
#: the classifiers where in the face a feature is).
BOTTLENECK = 4


def _widths(n: int, base: int, cap: int) -> list[int]:
    return [min(base * 2**i, cap) for i in range(n)]


class ImageEncoder(nn.Module):
    """Image CNN: ``n`` stride-2 blocks (:func:`~talkzoo_amie.layers.down_block`) from ``R`` px to
    :data:`BOTTLENECK` px, widths ``base, 2 base, ...`` capped at ``cap`` (first block without norm).

    Forward: ``(N, in_channels, R, R)`` → list of the ``n`` feature maps, finest first; the last is
    ``(N, out_channels, 4, 4)``.
    """

    def __init__(self, resolution: int, base: int, cap: int, in_channels: int = 3) -> None:
        super().__init__()
        n = num_downsamples(resolution, BOTTLENECK)
        widths = _widths(n, base, cap)
        self.widths = widths
        self.out_channels = widths[-1]
        chans = [in_channels, *widths]
        self.blocks = nn.ModuleList(down_block(chans[i], chans[i + 1], norm=i > 0) for i in range(n))

    def forward(self, x: Tensor) -> list[Tensor]:
        feats = []
        for block in self.blocks:
            x = block(x)
            feats.append(x)
        return feats


class AudioEncoder(nn.Module):
    """Audio CNN on one MFCC window: ``(N, n_mfcc, steps)`` → ``(N, out_dim)``.

    BatchNorm over the ``n_mfcc`` coefficients (a dataset-level normalisation that keeps each
    window's loudness, which the mouth follows; per-window normalisation would remove it), then
    conv 3x3 (1→c), conv 3x3 stride 2 (c→2c), conv 3x3 stride 2 (2c→4c), LeakyReLU(0.2), a linear
    layer to ``out_dim`` and LeakyReLU. Our choice (the paper: "Audio Encoder", no details).
    """

    def __init__(self, out_dim: int, channels: int = 16, n_mfcc: int = 13, steps: int = 20) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(n_mfcc)
        c = channels
        self.convs = nn.Sequential(
            nn.Conv2d(1, c, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(c, 2 * c, 3, 2, 1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(2 * c, 4 * c, 3, 2, 1), nn.LeakyReLU(0.2, inplace=True),
        )
        h, w = (n_mfcc + 3) // 4, (steps + 3) // 4
        self.fc = nn.Sequential(nn.Linear(4 * c * h * w, out_dim), nn.LeakyReLU(0.2, inplace=True))
        self.out_dim = out_dim

    def forward(self, mfcc: Tensor) -> Tensor:
        x = self.norm(mfcc)[:, None]
        return self.fc(self.convs(x).flatten(1))


class Generator(nn.Module):
    """Talking-face generator (§3.1): Identity Encoder (attended identity image I_f'), Audio Encoder
    (MFCC window a_i), Image Encoder (previous frame f̂_{i-1}), Frame Decoder.

    Fusion (ours): the two image bottlenecks ``(N, C, 4, 4)`` and the audio vector tiled to
    ``4 x 4`` are concatenated and mixed by a 3x3 conv; the decoder upsamples with U-Net skips from
    the Identity Encoder (texture comes from I_f, as §3.1 says it should) and ends in a 3x3 conv and
    a sigmoid (RGB in [0, 1], talkzoo's image range).

    Forward: ``identity (N, 3, R, R), mfcc (N, 13, 20), previous (N, 3, R, R)`` → ``(N, 3, R, R)``.
    """

    def __init__(self, resolution: int, base: int = 64, cap: int = 512, audio_dim: int = 256, audio_channels: int = 32) -> None:
        super().__init__()
        self.identity_encoder = ImageEncoder(resolution, base, cap)
        self.image_encoder = ImageEncoder(resolution, base, cap)
        self.audio_encoder = AudioEncoder(audio_dim, audio_channels)
        widths = self.identity_encoder.widths
        c = widths[-1]
        self.fuse = nn.Sequential(nn.Conv2d(2 * c + audio_dim, c, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True))
        ups = []
        in_c = c
        for i in range(len(widths) - 1, 0, -1):  # to the resolution of skip i-1
            out_c = widths[i - 1]
            ups.append(UpBlock(in_c + (widths[i] if i < len(widths) - 1 else 0), out_c))
            in_c = out_c
        self.ups = nn.ModuleList(ups)
        self.head = nn.Sequential(UpBlock(in_c + widths[0], base), nn.Conv2d(base, 3, 3, 1, 1))

    def encode_identity(self, identity: Tensor) -> list[Tensor]:
        """Identity Encoder features of ``(N, 3, R, R)`` (cacheable when I_f' does not change)."""
        return self.identity_encoder(identity)

    def forward(self, identity: Tensor | list[Tensor], mfcc: Tensor, previous: Tensor) -> Tensor:
        skips = identity if isinstance(identity, list) else self.encode_identity(identity)
        prev = self.image_encoder(previous)[-1]
        audio = self.audio_encoder(mfcc)
        x = torch.cat([skips[-1], prev, audio[:, :, None, None].expand(-1, -1, *prev.shape[-2:])], dim=1)
        x = self.fuse(x)
        n = len(skips)
        for k, up in enumerate(self.ups):
            i = n - 1 - k
            if i < n - 1:
                x = torch.cat([x, skips[i]], dim=1)
            x = up(x)
        x = torch.cat([x, skips[0]], dim=1)
        return torch.sigmoid(self.head(x))


class FrameDiscriminator(nn.Module):
    """Audio-conditioned frame discriminator (§3.1): "an Image CNN, an Audio FC, and a classifier. We
    flatten the output of Image CNN, and the Audio FC then feed concatenated features to the final
    classifier to produce 1-dimensional output".

    Image CNN: :class:`ImageEncoder` to ``(N, C, 4, 4)``, flattened; Audio FC: the flattened MFCC
    window → ``audio_dim`` (LeakyReLU); classifier: linear ``16 C + audio_dim → hidden`` → LeakyReLU →
    linear → 1 logit (widths ours). Forward: ``frame (N, 3, R, R), mfcc (N, 13, 20)`` → ``(N,)`` logits.
    """

    def __init__(self, resolution: int, base: int = 64, cap: int = 512, audio_dim: int = 256, hidden: int = 512,
                 n_mfcc: int = 13, steps: int = 20) -> None:
        super().__init__()
        self.image_cnn = ImageEncoder(resolution, base, cap)
        self.audio_norm = nn.BatchNorm1d(n_mfcc)
        self.audio_fc = nn.Sequential(nn.Linear(n_mfcc * steps, audio_dim), nn.LeakyReLU(0.2, inplace=True))
        flat = self.image_cnn.out_channels * BOTTLENECK * BOTTLENECK
        self.classifier = nn.Sequential(nn.Linear(flat + audio_dim, hidden), nn.LeakyReLU(0.2, inplace=True), nn.Linear(hidden, 1))

    def forward(self, frame: Tensor, mfcc: Tensor) -> Tensor:
        img = self.image_cnn(frame)[-1].flatten(1)
        aud = self.audio_fc(self.audio_norm(mfcc).flatten(1))
        return self.classifier(torch.cat([img, aud], dim=1))[:, 0]


class StatisticsNetwork(nn.Module):
    """The MI estimator's statistics network T_θ (§3.1): "an Image Encoder and an Audio Encoder having
    the same architecture as defined in the generator, followed by a 3-layer classifier with the
    output as a 1-dimension scalar".

    Separate weights from the generator (the text says "same architecture", not shared). Image
    features ``(N, C, 4, 4)`` flattened, concatenated with the audio vector, then linear →
    LeakyReLU(0.2) → linear (``hidden / 2``) → LeakyReLU → linear → 1, no output activation (T is an
    unbounded statistic). Forward: ``frame (N, 3, R, R), mfcc (N, 13, 20)`` → ``(N,)``.
    """

    def __init__(self, resolution: int, base: int = 64, cap: int = 512, audio_dim: int = 256, hidden: int = 512,
                 audio_channels: int = 32) -> None:
        super().__init__()
        self.image_encoder = ImageEncoder(resolution, base, cap)
        self.audio_encoder = AudioEncoder(audio_dim, audio_channels)
        flat = self.image_encoder.out_channels * BOTTLENECK * BOTTLENECK
        half = max(1, hidden // 2)
        self.classifier = nn.Sequential(
            nn.Linear(flat + audio_dim, hidden), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(hidden, half), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(half, 1),
        )

    def forward(self, frame: Tensor, mfcc: Tensor) -> Tensor:
        img = self.image_encoder(frame)[-1].flatten(1)
        return self.classifier(torch.cat([img, self.audio_encoder(mfcc)], dim=1))[:, 0]


class MaskPredictor(nn.Module):
    """Fine-grained lip attention mask (§3.3: "The attention masks of the following generated frame are
    predicted by the previous attention mask and the generated faces").

    Three 3x3 convs ``[M_{i-1}, f̂_{i-1}] (4 ch) → c → c → 1`` with LeakyReLU, a sigmoid, and a product
    with the coarse mask (the prediction refines the mask inside the coarse lip area only, "the
    following frames generation only predict a fine-grained mask area which is close to the lip
    shape"). The last conv starts at zero bias and weights ~0, so the first prediction is half the
    coarse mask. Forward: ``previous_mask (N, 1, R, R), previous_frame (N, 3, R, R), coarse (N, 1, R, R)``
    → ``(N, 1, R, R)`` in [0, 1].
    """

    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(4, channels, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(channels, 1, 3, 1, 1),
        )
        nn.init.normal_(self.net[-1].weight, std=1e-3)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, previous_mask: Tensor, previous_frame: Tensor, coarse: Tensor) -> Tensor:
        return torch.sigmoid(self.net(torch.cat([previous_mask, previous_frame], dim=1))) * coarse
