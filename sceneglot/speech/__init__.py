"""Speech: VAD, Whisper transcription with word times, CAM++ diarization, words attributed to speakers.

The package imports nothing itself: `from sceneglot.speech import vad` or `asr` must not pull in the
diarization's runtime (diarize, segmentation and campplus load onnxruntime sessions; torch only to export
them), and an init that imports a submodule holds the package's import lock while it runs, which another
thread importing a speech module can deadlock on. Import what you use from its module:
`speech.diarize.diarize`, `speech.pipeline.transcribe_scene`.
"""
