"""Example third-party talkzoo plugin (reenact family); imports no torch at package import."""
