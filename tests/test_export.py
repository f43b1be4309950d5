from sceneglot.render import export
from sceneglot.render.layout import MAX_LINE
from sceneglot.scene import MediaInfo, Scene, Segment, Speaker
from sceneglot.speech.diarize import SpeakerTurn


def _segs():
    return [
        Segment(id=1, start=3723.5, end=3725.0, text="Second <b> & co", speaker="S1", translation="Segundo"),
        Segment(id=0, start=0.0, end=1.2345, text="Hello\nthere", speaker="S0"),
        Segment(id=2, start=5.0, end=5.0, text="   ", speaker="S0"),
    ]


def _scene(segments=None) -> Scene:
    media = MediaInfo(path="x.mp4", duration=4000.0, fps=25.0, width=1280, height=720, has_audio=True)
    return Scene(media=media, speakers=[Speaker("S0"), Speaker("S1")], segments=segments or _segs())


def test_srt_orders_numbers_and_formats_times():
    srt = export.to_srt(_scene())
    assert srt == (
        "1\n00:00:00,000 --> 00:00:01,234\nS0: Hello there\n\n"
        "2\n01:02:03,500 --> 01:02:05,000\nS1: Second <b> & co\n"
    )


def test_srt_translation_falls_back_to_text():
    srt = export.to_srt(_scene(), use_translation=True, label_speakers=False)
    assert "Segundo" in srt and "Hello there" in srt and "S0:" not in srt


def test_vtt_header_voice_and_escaping():
    vtt = export.to_vtt(_scene())
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.234\n<v S0>Hello there\n")
    assert "<v S1>Second &lt;b&gt; &amp; co" in vtt
    assert vtt.count("-->") == 2


def test_text_files_wrap_with_the_speaker_label_inside_the_line_width():
    text = "We have been working on this project for almost three years now, and it shows."
    scene = _scene([Segment(0, 1.0, 5.0, text, speaker="S0")])
    body = export.to_srt(scene).split("\n")[2:-1]
    assert len(body) == 2 and body[0].startswith("S0: ") and all(len(s) <= MAX_LINE for s in body), body
    assert " ".join(body).removeprefix("S0: ").split() == text.split()
    vtt = export.to_vtt(scene).split("\n")
    assert vtt[3] == "<v S0>" + body[0].removeprefix("S0: ") and vtt[4] == body[1]


def test_text_files_label_a_named_speaker_by_name_inside_the_line_width():
    text = "We have been working on this project for almost three years now."
    scene = _scene([Segment(0, 1.0, 5.0, text, speaker="S0")])
    scene.speakers[0].name = "Maria Fernanda"
    body = export.to_srt(scene).split("\n")[2:-1]
    assert body[0].startswith("Maria Fernanda: ") and all(len(s) <= MAX_LINE for s in body), body
    assert " ".join(body).removeprefix("Maria Fernanda: ").split() == text.split()
    assert "<v Maria Fernanda>" in export.to_vtt(scene)


def test_rttm_lines_sorted_and_empty_turns_dropped():
    turns = [SpeakerTurn(2.0, 3.5, "S1"), SpeakerTurn(0.25, 1.0, "S0"), SpeakerTurn(4.0, 4.0, "S0")]
    text = export.to_rttm(turns, "my clip")
    assert text == (
        "SPEAKER my_clip 1 0.250 0.750 <NA> <NA> S0 <NA> <NA>\n"
        "SPEAKER my_clip 1 2.000 1.500 <NA> <NA> S1 <NA> <NA>\n"
    )


def test_save_helpers_write_files(tmp_path):
    export.save_srt(tmp_path / "a.srt", _scene())
    export.save_vtt(tmp_path / "a.vtt", _scene())
    export.save_rttm(tmp_path / "a.rttm", [SpeakerTurn(0, 1, "S0")], "x")
    assert (tmp_path / "a.srt").read_text().startswith("1\n")
    assert (tmp_path / "a.vtt").read_text().startswith("WEBVTT")
    assert (tmp_path / "a.rttm").read_text().split()[7] == "S0"
