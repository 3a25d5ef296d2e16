"""3D (audio → mesh) dataset presets in the FaceFormer/CodeTalker layout, one module each; see
:mod:`talkzoo.data.mesh` for the layout and :mod:`talkzoo.data.presets.mesh.base` for the hooks."""
