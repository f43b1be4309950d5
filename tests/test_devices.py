"""Where models and the encoder run: the CPU without a GPU, CUDA (and NVENC) asked for when one is present.

The selection functions are fed the real lists of this machine's libraries (onnxruntime's providers,
CTranslate2's device count, FFmpeg's encoders) and, for the GPU case, the same lists with the CUDA entry
a GPU build reports; the sessions, models and writers are then built for real and asked what they use.
"""

from __future__ import annotations

import av
import ctranslate2
import numpy as np
import onnxruntime

from sceneglot import media, models
from sceneglot.cli import main
from sceneglot.render import quality


def test_onnxruntime_uses_cuda_only_when_the_build_has_it():
    here = onnxruntime.get_available_providers()
    assert models.onnx_providers(here) == (["CUDAExecutionProvider", "CPUExecutionProvider"]
                                           if "CUDAExecutionProvider" in here else ["CPUExecutionProvider"])
    gpu_build = [*here, "CUDAExecutionProvider", "TensorrtExecutionProvider"]  # what onnxruntime-gpu lists
    assert models.onnx_providers(gpu_build) == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert "AzureExecutionProvider" not in models.onnx_providers(here)


def test_a_real_session_runs_on_the_chosen_provider():
    session = models.onnx_session(models.file("silero-vad"), threads=1)
    chosen = models.onnx_providers(onnxruntime.get_available_providers())
    assert session.get_providers() == chosen
    if not models.cuda_present():
        assert session.get_providers() == ["CPUExecutionProvider"]


def test_whisper_runs_where_ctranslate2_sees_a_device():
    count = ctranslate2.get_cuda_device_count()
    assert models.whisper_device(count) == (("cuda", "float16") if count else ("cpu", "int8"))
    assert models.whisper_device(1) == ("cuda", "float16")
    model = models.whisper("whisper-tiny.en")
    assert model.model.device == ("cuda" if count else "cpu")
    assert model.model.compute_type.startswith(models.whisper_device(count)[1])  # int8 weights: "int8_float32"


def test_whisper_is_kept_per_thread_count(monkeypatch):
    """A model loaded with every core is not handed to a run asked for one thread (a Ray task's CPUs, or the
    Ray test's local side): CTranslate2's text can depend on its threads."""
    monkeypatch.setenv("SCENEGLOT_THREADS", "2")
    two = models.whisper("whisper-tiny.en")
    monkeypatch.setenv("SCENEGLOT_THREADS", "1")
    one = models.whisper("whisper-tiny.en")
    assert one is models.whisper("whisper-tiny.en")
    if not ctranslate2.get_cuda_device_count():
        assert one is not two
    models.whisper.cache_clear()
    assert models.whisper("whisper-tiny.en") is not one


def test_diarization_sessions_run_on_the_chosen_provider():
    """Segmentation and CAM++ run from their ONNX exports through models.onnx_session, as the active-speaker
    model does: CUDA requested when the onnxruntime build has it (onnx_providers above), else the CPU."""
    from sceneglot.speech import campplus, segmentation

    chosen = models.onnx_providers(onnxruntime.get_available_providers())
    for session in (segmentation.load(), campplus.load()[0]):
        assert session.get_providers() == chosen
        if not models.cuda_present():
            assert session.get_providers() == ["CPUExecutionProvider"]
    emb = campplus.embed([np.random.default_rng(0).standard_normal((200, 80)).astype(np.float32)])
    assert emb.shape == (1, 192) and np.isclose(np.linalg.norm(emb), 1.0, atol=1e-4)


def test_face_models_use_opencvs_cuda_backend_only_when_the_build_has_a_device():
    import cv2

    from sceneglot.vision.faces import FaceDetector
    from tests.media_fixtures import CUT2

    count = cv2.cuda.getCudaEnabledDeviceCount()
    assert models.opencv_cuda_devices() == count
    assert models.opencv_dnn(count) == ((cv2.dnn.DNN_BACKEND_CUDA, cv2.dnn.DNN_TARGET_CUDA) if count else
                                        (cv2.dnn.DNN_BACKEND_DEFAULT, cv2.dnn.DNN_TARGET_CPU))
    assert models.opencv_dnn(1) == (cv2.dnn.DNN_BACKEND_CUDA, cv2.dnn.DNN_TARGET_CUDA)
    frame = next(media.iter_frames(CUT2, size=(640, 360)))
    assert FaceDetector((640, 360)).detect(frame.image)  # the detector built with that choice finds the face


def test_nvenc_is_tried_first_with_a_gpu_and_libx264_otherwise():
    codecs = av.codecs_available
    assert [e.codec for e in quality.encoders("balanced", codecs, cuda=False)] == ["libx264"]
    with_gpu = [e.codec for e in quality.encoders("balanced", codecs, cuda=True)]
    assert with_gpu == (["h264_nvenc", "libx264"] if "h264_nvenc" in codecs else ["libx264"])
    assert [e.codec for e in quality.encoders("best", {"libx264"}, cuda=True)] == ["libx264"]  # a build without it


def test_the_writer_falls_back_to_libx264_when_nvenc_does_not_open(tmp_path):
    encoders = quality.encoders("fast", av.codecs_available, cuda=True)
    out = tmp_path / "out.mp4"
    with media.VideoWriter(out, 25, 128, 96, encoders=encoders) as w:
        for k in range(5):
            w.write(np.full((96, 128, 3), 40 * k, np.uint8))
    opens = media.encoder_opens("h264_nvenc")
    assert w.encoder.codec == ("h264_nvenc" if opens and len(encoders) > 1 else "libx264")
    if not models.cuda_present():
        assert not opens  # no driver: NVENC is in the FFmpeg build but cannot open
    assert media.probe(out).video_codec == "h264"
    assert len(list(media.iter_frames(out))) == 5


def test_doctor_says_where_each_part_runs(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    section = out.split("[runs on]\n", 1)[1].split("\n[", 1)[0]
    parts = ["active speakers", "speech recognition", "diarization", "faces", "video encoding"]
    assert all(any(line.strip().startswith(p) for line in section.splitlines()) for p in parts), section
    if not models.cuda_present():
        assert "cuda" not in section.replace("CUDA backend", "")
        assert "video encoding: libx264 (cpu)" in section
