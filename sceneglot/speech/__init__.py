"""Speech: VAD, Whisper transcription with word times, CAM++ diarization, words attributed to speakers.

The package imports nothing itself: `from sceneglot.speech import vad` or `asr` must not pull in torch
(diarize, segmentation and campplus need it), and an init that imports a submodule holds the package's
import lock while it runs, which another thread importing a speech module can deadlock on. Import what
you use from its module: `speech.diarize.diarize`, `speech.pipeline.transcribe_scene`.
"""
