"""Example third-party talkzoo plugin (mesh family); imports no torch at package import."""
