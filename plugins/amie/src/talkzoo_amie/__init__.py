"""talkzoo-amie: AMIE (Zhu et al., IJCAI 2020, arXiv 1812.06589) as a talkzoo audio → video plugin.

Modules: :mod:`talkzoo_amie.model` (the LightningModule), :mod:`talkzoo_amie.network` (pure
``nn.Module`` parts), :mod:`talkzoo_amie.layers` (building blocks and the MFCC front-end),
:mod:`talkzoo_amie.losses` (Eq. 6-13 and the attention-rate schedule), :mod:`talkzoo_amie.metadata`
(imports no torch).
"""
