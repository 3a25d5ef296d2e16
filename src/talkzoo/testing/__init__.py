"""Test support for talkzoo and its plugins: synthetic datamodules, layout fixtures and the
plugin conformance suite (:class:`~talkzoo.testing.conformance.ModelConformance`)."""

from talkzoo.testing.conformance import ModelConformance
from talkzoo.testing.synthetic import (
    SyntheticMeshDataModule,
    SyntheticReenactmentDataModule,
    SyntheticVideoDataModule,
)

__all__ = [
    "ModelConformance",
    "SyntheticMeshDataModule",
    "SyntheticVideoDataModule",
    "SyntheticReenactmentDataModule",
]
