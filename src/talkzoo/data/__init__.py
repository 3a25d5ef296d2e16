"""Datamodules, datasets, typed batches and data specs for every task family."""
