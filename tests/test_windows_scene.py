"""A long scene.json: per-frame rows are checked in one pass, with the JSON Schema's verdict."""

from __future__ import annotations

import json

import jsonschema
import pytest

from sceneglot import scene as sc
from sceneglot.errors import InputError


def _long(minutes: int = 8) -> dict:
    """`minutes` of one face on screen, 25 fps rows (boxes, speaking, asd), landmarks every 5th frame."""
    tracks, persons = [], []
    for n in range(minutes):
        t0 = n * 60.0
        ts = [round(t0 + k / 25, 6) for k in range(1500)]
        tracks.append(sc.Track(f"T{n}", ts[0], ts[-1], boxes=[[t, 300.5, 40, 620, 420] for t in ts],
                               person=f"P{n % 3}", speaking=[[t, 0.5] for t in ts], asd=[[t, -1] for t in ts],
                               landmarks=[[t, *range(10)] for t in ts[::5]]))
    for p in range(3):
        persons.append(sc.Person(f"P{p}", tracks=[t.id for t in tracks if t.person == f"P{p}"]))
    media = sc.MediaInfo(path="in.mp4", duration=60.0 * minutes, fps=25.0, width=1280, height=720, has_audio=True)
    return sc.Scene(media=media, tracks=tracks, persons=persons).to_dict()


def _schema_says(data) -> bool:
    """The plain schema walk over every number (the reference; slow)."""
    return jsonschema.validators.validator_for(sc.json_schema())(sc.json_schema()).is_valid(data)


@pytest.mark.parametrize(("mutate", "where"), [
    (None, None),
    (lambda d: d["tracks"][5]["boxes"][900].__setitem__(2, True), "tracks/5/boxes/900"),
    (lambda d: d["tracks"][5]["speaking"][3].__setitem__(1, "0.5"), "tracks/5/speaking/3"),
    (lambda d: d["tracks"][5]["asd"].__setitem__(3, [1.0]), "tracks/5/asd/3"),
    (lambda d: d["tracks"][0].__setitem__("landmarks", {"0": 1}), "tracks/0/landmarks"),
])
def test_rows_checked_as_the_schema_would(tmp_path, mutate, where):
    data = _long()
    if mutate:
        mutate(data)
    path = tmp_path / "scene.json"
    path.write_text(json.dumps(data))
    assert _schema_says(data) == (where is None)  # the full schema walk's verdict (slow, the reference)
    if where is None:
        scene = sc.load(path)
        assert len(scene.tracks) == 8 and len(scene.tracks[7].boxes) == 1500
    else:
        with pytest.raises(InputError, match=where):
            sc.load(path)
