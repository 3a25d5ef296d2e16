"""Example third-party talkzoo plugin (video family); imports no torch at package import."""
