from __future__ import annotations

import importlib.metadata
import os
import platform

from .. import __version__, models

HELP = "report the environment: versions, CPU/GPU, usable backends and models"

_PACKAGES = ["av", "numpy", "opencv-python-headless", "onnxruntime", "faster-whisper", "ctranslate2", "torch"]


def add_arguments(parser) -> None:
    pass


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


# onnxruntime providers that run nothing on this machine: Azure forwards the model to a remote endpoint.
_REMOTE_PROVIDERS = {"AzureExecutionProvider"}


def _devices() -> list[str]:
    """Hardware sceneglot can compute on, and which onnxruntime providers reach it (CPU included)."""
    found = [f"cpu ({os.cpu_count()} cores)"]
    try:
        import onnxruntime

        providers = [p.removesuffix("ExecutionProvider") for p in onnxruntime.get_available_providers()
                     if p not in _REMOTE_PROVIDERS]
        if providers:
            found.append("onnxruntime providers: " + ", ".join(providers))
    except ImportError:
        pass
    try:
        import ctranslate2

        if ctranslate2.get_cuda_device_count():
            found.append(f"cuda ({ctranslate2.get_cuda_device_count()} device(s), ctranslate2)")
    except ImportError:
        pass
    if models.cuda_present():
        found.append("NVIDIA GPU driver present")
    return found


def _runs_on() -> list[str]:
    """Which device each part of a job uses here (models.placement, and the video encoder that opens)."""
    import av

    from .. import media
    from ..render import quality

    lines = [f"{part}: {where}" for part, where in models.placement().items()]
    choices = quality.for_machine(quality.DEFAULT)
    used = next((e.codec for e in choices[:-1] if media.encoder_opens(e.codec)), choices[-1].codec)
    why = ""
    if used == "libx264" and models.cuda_present():
        why = " (GPU present, but h264_nvenc does not open)" if "h264_nvenc" in av.codecs_available else \
            " (GPU present, but this FFmpeg has no h264_nvenc)"
    lines.append(f"video encoding: {used} ({'gpu, NVENC' if used != 'libx264' else 'cpu'}){why}")
    return lines


def sections() -> dict[str, list[str]]:
    """The report as titled lines: environment, packages, devices, models, backends."""
    out: dict[str, list[str]] = {
        "sceneglot": [f"version {__version__}", f"python {platform.python_version()} on {platform.platform()}",
                      f"model cache {models.home()}",
                      f"model path {os.environ.get('SCENEGLOT_MODEL_PATH') or '(unset)'}",
                      f"offline {models.offline()}"],
        "packages": [f"{p} {_version(p)}" for p in _PACKAGES],
        "devices": _devices(),
        "runs on": _runs_on(),
        "models": [],
    }
    for model in models.MODELS.values():
        st = models.status(model.name)
        out["models"].append(f"{model.name}: {'ok' if st.available else 'MISSING'} ({st.where})")
    from ..av import method as asd_method

    which, why = asd_method()
    out["models"].append(f"active speakers: {'Light-ASD' if which == 'light-asd' else 'LIP-MOTION FALLBACK'} ({why})")
    from ..avsr.capture import opencv_audio

    cv_audio, why = opencv_audio()
    lrw = os.environ.get("SCENEGLOT_LRW")
    out["avsr"] = [f"capture: {'OpenCV AudioIO' if cv_audio else 'PyAV (OpenCV gives no audio here)'}: {why}",
                   f"LRW lip-reading: {'checkpoints in ' + lrw if lrw else 'off'} (non-commercial weights, not "
                   "shipped: `sceneglot avsr --lrw DIR`)"]
    from ..translate import available

    out["translation"] = [f"{b.name}: {'ok' if b.available else 'unavailable'} ({b.pairs})"
                          + ("" if b.available else f"; {b.how}") for b in available()]
    return out


def run(args) -> int:
    for title, lines in sections().items():
        print(f"[{title}]")
        for line in lines:
            print(f"  {line}")
    return 0
