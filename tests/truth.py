"""Test fixture: scenes built from the evaluation truth files (turns + boxes) and fixed phrases.

The renderer's tests, benchmark and documentation frames need a Scene whose
faces and speakers are known exactly, independent of the detection and
recognition stages: this takes them from `../shared/eval/scenes/*.json`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sceneglot.media import probe
from sceneglot.scene import Person, Scene, Segment, Speaker, Track, Word

# Real English phrases (one per turn) with their Portuguese translation.
PHRASES = {
    "cut2": [
        ("I think the hardest part was the first year.", "Acho que a parte mais difícil foi o primeiro ano."),
        ("What made you keep going when it got tough?", "O que fez você continuar quando ficou difícil?"),
        ("My family, and a lot of stubbornness.", "Minha família, e muita teimosia."),
        ("That is a good answer. Thank you for coming.", "É uma boa resposta. Obrigado por ter vindo."),
    ],
    "twoshot": [
        ("We have been working on this project for almost three years now.",
         "Estamos trabalhando neste projeto há quase três anos."),
        ("And every single day we learn something new.", "E todos os dias aprendemos algo novo."),
    ],
}


def scene_from_truth(
    truth_path: str | os.PathLike,
    phrases: list[tuple[str, str | None]],
    video_path: str | os.PathLike | None = None,
    source_language: str = "en",
    target_language: str | None = "pt",
) -> Scene:
    """One segment per turn (phrase k for turn k), one track per on-screen person per turn.

    Boxes are repeated once per video frame, as the face tracker writes them;
    words get evenly spread times so layout can split at word gaps.
    """
    truth = json.loads(Path(truth_path).read_text(encoding="utf-8"))
    video = Path(video_path) if video_path else Path(truth_path).with_name(truth["video"])
    media = probe(video)
    fps = media.fps or 25.0
    labels = sorted({t["speaker"] for t in truth["turns"]} | {p["person"] for t in truth["turns"]
                                                              for p in t["on_screen"]})
    person_id = {label: f"P{i}" for i, label in enumerate(labels)}
    speaker_id = {label: f"S{i}" for i, label in enumerate(labels)}
    tracks: list[Track] = []
    segments: list[Segment] = []
    for k, turn in enumerate(truth["turns"]):
        a, b = float(turn["start"]), min(float(turn["end"]), media.duration)
        frames = [i / fps for i in range(round(a * fps), round(b * fps))]
        for p in turn["on_screen"]:
            tracks.append(Track(
                id=f"T{len(tracks)}", start=a, end=b, person=person_id[p["person"]],
                boxes=[[round(t, 4), *map(float, p["box"])] for t in frames],
                speaking=[[round(t, 4), 1.0 if p["speaking"] else -1.0] for t in frames],
            ))
        if k >= len(phrases):
            continue
        text, translation = phrases[k]
        on = {p["person"] for p in turn["on_screen"]}
        s0, s1 = a + 0.2, b - 0.2
        tokens = text.split()
        step = (s1 - s0) / len(tokens)
        words = [Word(round(s0 + i * step, 3), round(s0 + (i + 0.9) * step, 3), w, 1.0, speaker_id[turn["speaker"]])
                 for i, w in enumerate(tokens)]
        segments.append(Segment(
            id=k, start=round(s0, 3), end=round(s1, 3), text=text, translation=translation,
            speaker=speaker_id[turn["speaker"]],
            person=person_id[turn["speaker"]] if turn["speaker"] in on else None,
            language=source_language, words=words,
        ))
    persons = [Person(pid, [t.id for t in tracks if t.person == pid]) for pid in person_id.values()]
    speakers = [Speaker(sid, person_id[label]) for label, sid in speaker_id.items()]
    return Scene(media=media, source_language=source_language, target_language=target_language,
                 speakers=speakers, persons=persons, tracks=tracks, segments=segments)
