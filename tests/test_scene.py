import json

import pytest

from sceneglot import scene as sc
from sceneglot.errors import InputError


def make_scene() -> sc.Scene:
    return sc.Scene(
        media=sc.MediaInfo(path="in.mp4", duration=12.8, fps=25.0, width=1280, height=720, has_audio=True),
        source_language="en",
        target_language="pt",
        shots=[sc.Shot(0.0, 3.0), sc.Shot(3.0, 12.8)],
        speakers=[sc.Speaker("S0", person="P1", confidence=0.9), sc.Speaker("S1")],
        persons=[sc.Person("P1", tracks=["T0"])],
        tracks=[sc.Track("T0", 0.0, 3.0, boxes=[[0.0, 300, 40, 620, 420]], person="P1", speaking=[[0.0, 1.7]])],
        segments=[
            sc.Segment(0, 0.4, 2.9, "Hello there", speaker="S0", person="P1", language="en", translation="Olá",
                       words=[sc.Word(0.4, 0.7, "Hello", 0.98, "S0"), sc.Word(0.8, 1.1, "there", 0.9, "S0")]),
            sc.Segment(1, 3.2, 4.0, "Hi", speaker="S1", person=None, language="en"),
        ],
    )


def test_round_trip(tmp_path):
    original = make_scene()
    path = sc.save(original, tmp_path / "scene.json")
    loaded = sc.load(path)
    assert loaded == original
    data = json.loads(path.read_text())
    assert data["schema"] == "sceneglot.scene/1"
    assert next(iter(data)) == "schema"
    assert data["segments"][1]["person"] is None
    assert data["tracks"][0]["boxes"] == [[0.0, 300, 40, 620, 420]]


def test_unknown_fields_are_allowed_on_read(tmp_path):
    data = make_scene().to_dict()
    data["extra_field"] = {"anything": 1}
    data["segments"][0]["style"] = "bold"
    path = tmp_path / "scene.json"
    path.write_text(json.dumps(data))
    assert sc.load(path).segments[0].text == "Hello there"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(schema="sceneglot.scene/2"), "expected schema"),
        (lambda d: d["media"].pop("fps"), "'fps' is a required property"),
        (lambda d: d["segments"][0].update(start="0.4"), "segments/0/start"),
        (lambda d: d["segments"][0].update(end=0.1), "ends before it starts"),
        (lambda d: d["segments"][0].update(person="P9"), "unknown person P9"),
        (lambda d: d["segments"][0].update(speaker="S9"), "unknown speaker S9"),
        (lambda d: d["persons"][0]["tracks"].append("T5"), "unknown tracks"),
        (lambda d: d["tracks"][0]["boxes"].append([1.0, 2, 3]), "tracks/0/boxes/1"),
        (lambda d: d["speakers"].append({"id": "S0"}), "duplicate speaker id"),
    ],
)
def test_invalid_scene_is_rejected_on_read(tmp_path, mutate, message):
    data = make_scene().to_dict()
    mutate(data)
    path = tmp_path / "scene.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=message):
        sc.load(path)


def test_invalid_scene_is_rejected_on_write_and_nothing_is_written(tmp_path):
    bad = make_scene()
    bad.segments[0].person = "nobody"
    with pytest.raises(InputError, match="unknown person"):
        sc.save(bad, tmp_path / "scene.json")
    assert list(tmp_path.iterdir()) == []


def test_load_errors_are_one_line(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        sc.load(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(InputError, match="not a JSON file"):
        sc.load(tmp_path / "x.json")
