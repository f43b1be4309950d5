"""Speech: VAD, Whisper transcription with word times, CAM++ diarization, words attributed to speakers."""

from .diarize import SpeakerTurn, diarize
from .pipeline import transcribe_scene

__all__ = ["SpeakerTurn", "diarize", "transcribe_scene"]
