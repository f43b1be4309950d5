"""sceneglot: live-translated, speaker-anchored subtitles for video of people talking."""

__version__ = "0.1.0"
