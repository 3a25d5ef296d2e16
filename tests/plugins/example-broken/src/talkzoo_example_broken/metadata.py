"""Fails on import, as a plugin with a missing dependency would."""

import talkzoo_dependency_that_does_not_exist  # noqa: F401

PLUGIN = None
