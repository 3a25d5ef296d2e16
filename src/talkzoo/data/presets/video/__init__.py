"""2D (talking-face video) dataset presets, one module each; see :mod:`talkzoo.data.video` for the
datamodules and :mod:`talkzoo.data.presets.video.base` for the hooks."""
