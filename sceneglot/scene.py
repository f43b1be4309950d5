"""The typed records every stage passes on, and scene.json ("sceneglot.scene/1") I/O.

Times are seconds from the start of the media; boxes are `[x0, y0, x1, y1]` in
pixels of the decoded (display-oriented) source frame. Stages build these
records; only this module knows the JSON shape, and it validates that shape
against `scene-1.schema.json` both ways, so a file that loads is a file every
stage can trust.
"""

from __future__ import annotations

import copy
import json
import math
import os
from dataclasses import dataclass, field, fields, is_dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import InputError
from .files import atomic_path

SCHEMA = "sceneglot.scene/1"


@dataclass
class MediaInfo:
    path: str
    duration: float
    fps: float
    width: int
    height: int
    has_audio: bool
    has_video: bool = True
    rotation: int = 0
    frame_count: int | None = None
    variable_frame_rate: bool = False
    video_codec: str | None = None
    audio_codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    audio_streams: int = 0
    container: str | None = None
    audio_stream: int | None = None  # which audio stream (0-based among them) the job listened to

    @property
    def frame_rate(self) -> float:
        """The frame rate timing rules run on: 25 where the file states none (audio only, a still, a broken
        header), so a frame period and frame indices always exist."""
        return self.fps if self.fps and self.fps > 0 else 25.0


@dataclass
class Word:
    start: float
    end: float
    text: str
    probability: float = 1.0
    speaker: str | None = None


@dataclass
class Segment:
    id: int
    start: float
    end: float
    text: str
    speaker: str | None = None
    person: str | None = None
    language: str | None = None
    translation: str | None = None
    words: list[Word] = field(default_factory=list)
    person_confidence: float | None = None  # how sure the attribution (speaker and face) is, 0..1
    pivot: str | None = None  # the English a two-leg translation went through; None when direct
    route: str | None = None  # how the translation was made, e.g. "whisper:de>en + bergamot:en>pt"
    # What decided the attribution: "asd" (Light-ASD saw the face speaking, or every visible face
    # silent), "sync" (the face's lips followed this sound clearly better than the other faces', where
    # Light-ASD's lead was weak), "voice" (the voice matched a speaker known from elsewhere),
    # "co-occurrence" (the face was on screen while the voice was heard, tied one to one on lip sync);
    # None: not attributed.
    evidence: str | None = None
    # How well the attributed face's lips follow the phrase's sound: a z against the same lips with the
    # sound shifted 1-15 s (av.sync, pooled over the phrase's turns); None: no face, or too short to tell.
    sync: float | None = None
    translation_edited: bool = False  # set by hand (found by `render`): `translate` keeps it


@dataclass(frozen=True)
class Heard:
    """Whisper's English for a stretch of speech, decoded on the ASR pass (the pivot's X->en leg).

    Kept in the job folder's asr and analysis stages, not in scene.json: the translate stage reads it.
    """

    start: float
    end: float
    language: str  # the spoken language (Whisper's code)
    text: str


@dataclass
class Speaker:
    id: str
    person: str | None = None
    confidence: float | None = None
    name: str | None = None


@dataclass
class Person:
    id: str
    tracks: list[str] = field(default_factory=list)


@dataclass
class Shot:
    start: float
    end: float


@dataclass
class Track:
    """One face followed through one shot.

    `boxes` rows are `[t, x0, y0, x1, y1]`; `speaking` rows are `[t, score]`
    with score > 0 meaning the face is speaking (the network's score fused with
    who is heard); `asd` rows are the network's own `[t, score]`; `landmarks` rows are
    `[t, x_re, y_re, x_le, y_le, x_nose, y_nose, x_rm, y_rm, x_lm, y_lm]`
    (YuNet's five points) when the detector gave them.
    """

    id: str
    start: float
    end: float
    boxes: list[list[float]] = field(default_factory=list)
    person: str | None = None
    speaking: list[list[float]] = field(default_factory=list)
    landmarks: list[list[float]] = field(default_factory=list)
    asd: list[list[float]] = field(default_factory=list)


@dataclass
class Scene:
    media: MediaInfo
    source_language: str | None = None
    target_language: str | None = None
    shots: list[Shot] = field(default_factory=list)
    speakers: list[Speaker] = field(default_factory=list)
    persons: list[Person] = field(default_factory=list)
    tracks: list[Track] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    schema: str = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        data = _plain(self)
        return {"schema": data.pop("schema"), **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scene:
        validate(data)
        return cls(
            media=_build(MediaInfo, data["media"]),
            source_language=data.get("source_language"),
            target_language=data.get("target_language"),
            shots=[_build(Shot, s) for s in data.get("shots", [])],
            speakers=[_build(Speaker, s) for s in data.get("speakers", [])],
            persons=[_build(Person, p) for p in data.get("persons", [])],
            tracks=[_build(Track, t) for t in data.get("tracks", [])],
            segments=[
                _build(Segment, {**s, "words": [_build(Word, w) for w in s.get("words", [])]})
                for s in data.get("segments", [])
            ],
        )

    def track(self, track_id: str) -> Track:
        return next(t for t in self.tracks if t.id == track_id)


def _build(cls, data: dict[str, Any]):
    """Keep known fields; unknown ones are allowed in the file but not carried."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def _plain(obj: Any) -> Any:
    """dataclasses.asdict without its deep copy of every number (7 s for an hour's rows; this: well under 1 s)."""
    kind = type(obj)
    if kind in (float, int, str, bool) or obj is None:
        return obj
    if kind is list or kind is tuple:
        return kind(_plain(x) for x in obj)
    if kind is dict:
        return {k: _plain(v) for k, v in obj.items()}
    if is_dataclass(obj):
        return {f.name: _plain(getattr(obj, f.name)) for f in fields(obj)}
    return copy.deepcopy(obj)


@cache
def json_schema() -> dict[str, Any]:
    text = resources.files("sceneglot").joinpath("scene-1.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


@cache
def _validator():
    import jsonschema

    schema = json_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


# A track's per-frame rows and their width: checked here in one pass, since walking every number
# through the JSON Schema validator took ~1 s per minute of input (an hour's scene: about a minute).
ROWS = {"boxes": 5, "speaking": 2, "asd": 2, "landmarks": 11}


def _bad_rows(rows: Any, width: int) -> int | None:
    """Index of the first row that is not `width` numbers (None: all good; -1: not a list at all)."""
    if not isinstance(rows, list):
        return -1
    for i, row in enumerate(rows):
        if not (type(row) is list and len(row) == width and all(type(x) in (float, int) for x in row)):
            return i
    return None


def _slim(data: dict[str, Any]) -> dict[str, Any]:
    """`data` with the tracks' row arrays checked and emptied (the rest is left to the schema)."""
    tracks = data.get("tracks")
    if not isinstance(tracks, list):
        return data
    slim = []
    for n, track in enumerate(tracks):
        if not isinstance(track, dict):
            slim.append(track)
            continue
        for key, width in ROWS.items():
            if key in track and (i := _bad_rows(track[key], width)) is not None:
                where = f"tracks/{n}/{key}" + (f"/{i}" if i >= 0 else "")
                raise InputError(f"scene.json invalid at {where}: expected {'rows of ' if i >= 0 else 'a list of '}"
                                 f"{width} numbers")
        slim.append({k: ([] if k in ROWS else v) for k, v in track.items()})
    return {**data, "tracks": slim}


def validate(data: dict[str, Any]) -> None:
    """Raise InputError naming the first problem: shape (JSON Schema), then meaning."""
    import jsonschema

    error = jsonschema.exceptions.best_match(_validator().iter_errors(_slim(data)))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise InputError(f"scene.json invalid at {where}: {error.message}")
    _check_meaning(data)


def _check_meaning(data: dict[str, Any]) -> None:
    def bad(msg: str) -> InputError:
        return InputError(f"scene.json invalid: {msg}")

    def finite(*values: float) -> bool:
        return all(math.isfinite(v) for v in values)

    for kind in ("shots", "tracks", "segments"):
        for i, item in enumerate(data.get(kind, [])):
            if not finite(item["start"], item["end"]) or item["end"] < item["start"]:
                raise bad(f"{kind}[{i}] ends before it starts")
    track_ids = [t["id"] for t in data.get("tracks", [])]
    person_ids = [p["id"] for p in data.get("persons", [])]
    speaker_ids = [s["id"] for s in data.get("speakers", [])]
    for name, ids in (("track", track_ids), ("person", person_ids), ("speaker", speaker_ids)):
        if len(ids) != len(set(ids)):
            raise bad(f"duplicate {name} id")
    persons, speakers, tracks = set(person_ids), set(speaker_ids), set(track_ids)
    for p in data.get("persons", []):
        if missing := set(p["tracks"]) - tracks:
            raise bad(f"person {p['id']} refers to unknown tracks {sorted(missing)}")
    refs = [(t.get("person"), f"track {t['id']}") for t in data.get("tracks", [])]
    refs += [(s.get("person"), f"speaker {s['id']}") for s in data.get("speakers", [])]
    refs += [(s.get("person"), f"segment {s['id']}") for s in data.get("segments", [])]
    for ref, owner in refs:
        if ref is not None and ref not in persons:
            raise bad(f"{owner} refers to unknown person {ref}")
    for s in data.get("segments", []):
        if s.get("speaker") is not None and s["speaker"] not in speakers:
            raise bad(f"segment {s['id']} refers to unknown speaker {s['speaker']}")


JSON_FORMAT = {"ensure_ascii": False, "indent": 1, "allow_nan": False}  # scene.json's bytes: dumps and save


def _checked(scene: Scene) -> dict[str, Any]:
    data = scene.to_dict()
    validate(data)
    return data


def dumps(scene: Scene) -> str:
    return json.dumps(_checked(scene), **JSON_FORMAT) + "\n"


def save(scene: Scene, path: str | os.PathLike) -> Path:
    """Validate, then write atomically: a reader never sees half a scene.

    Streamed (json.dump), the same bytes as dumps: with indent, dumps makes every number's text its own
    string and joins them at the end, ~9x the file at once (an hour's 25 MiB scene: ~230 MiB)."""
    data = _checked(scene)
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, **JSON_FORMAT)
        fh.write("\n")
    return Path(path)


def load(path: str | os.PathLike) -> Scene:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"no such file: {p}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not a JSON file: {p} ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise InputError(f"{p}: expected schema {SCHEMA!r}, found {found!r}")
    return Scene.from_dict(data)
