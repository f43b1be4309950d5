"""Scenes the attribution was never tuned on, re-edited from the shared clips, with truth derived from theirs.

Each scene is a list of pieces (video clip, its span, the clip whose sound plays over it, where that sound
starts). A piece whose sound is its own keeps the source truth (speakers, faces, who speaks); a piece with
another clip's sound laid over it is a voice-over: the heard speaker comes from the sound's truth (the JFK
recording is one speaker) and every visible face is silent, though its lips keep moving to the muted
original. Cut points fall inside turns as well as at them, and the order differs from the source.
Built with the ffmpeg command line (trim + concat, sound resampled to 48 kHz stereo).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
JFK = EVAL / "speech" / "jfk.flac"

# name -> pieces: (video clip, start, end, sound clip (None: its own), sound start)
SCENES: dict[str, list[tuple[str, float, float, str | None, float]]] = {
    # cut2 re-ordered, cut inside turns: A, B, B (two shots of one person in a row), A
    "cut2-recut": [("cut2", 7.0, 9.4, None, 0), ("cut2", 3.5, 6.3, None, 0), ("cut2", 10.0, 12.7, None, 0),
                   ("cut2", 0.5, 3.0, None, 0)],
    # cut4 with JFK over farah's shot (her lips move, silent), then young, then oliver again
    "cut4-voiceover": [("cut4", 0.0, 2.6, None, 0), ("cut4", 2.6, 4.8, "jfk", 0.3), ("cut4", 7.4, 11.4, None, 0),
                       ("cut4", 4.8, 7.4, None, 0)],
    # twoshot reversed, with JFK over the two-shot in the middle (the left woman's lips keep moving)
    "twoshot-voiceover": [("twoshot", 4.5, 8.0, None, 0), ("twoshot", 0.0, 3.5, "jfk", 3.2),
                          ("twoshot", 0.5, 4.5, None, 0)],
    # dialogue re-ordered: the radio voice-over in the middle, between the two women
    "dialogue-recut": [("dialogue", 2.5, 5.0, None, 0), ("dialogue", 0.0, 2.5, None, 0),
                       ("dialogue", 10.3, 13.0, None, 0), ("dialogue", 7.0, 10.0, None, 0),
                       ("dialogue", 5.0, 7.0, None, 0)],
}


def _truth(clip: str) -> dict:
    if clip == "jfk":
        return {"turns": [{"start": 0.0, "end": 11.0, "speaker": "jfk", "on_screen": []}]}
    return json.loads((EVAL / "scenes" / f"{clip}.json").read_text())


def truth_of(pieces: list[tuple[str, float, float, str | None, float]]) -> dict:
    """The re-edited scene's truth: per piece, the sound's turns inside it (shifted to the new time), each with
    the faces visible at that moment in the video's truth, speaking only where the sound is the video's own."""
    turns, at = [], 0.0
    for video, v0, v1, sound, s0 in pieces:
        own = sound is None
        heard = _truth(video if own else sound)
        offset = (v0 if own else s0) - at  # sound time = new time + offset
        seen = _truth(video)["turns"]
        cuts = {round(at, 3), round(at + v1 - v0, 3)}
        for u in heard["turns"] + seen:
            base = (offset if u in heard["turns"] else v0 - at)
            cuts |= {round(t - base, 3) for t in (u["start"], u["end"]) if at < t - base < at + v1 - v0}
        for a, b in zip(sorted(cuts), sorted(cuts)[1:], strict=False):
            mid_sound, mid_video = (a + b) / 2 + offset, (a + b) / 2 + v0 - at
            speaker = next((u["speaker"] for u in heard["turns"] if u["start"] <= mid_sound < u["end"]), None)
            face = next((u for u in seen if u["start"] <= mid_video < u["end"]), None)
            if speaker is None:
                continue
            on_screen = [{"person": f"{video}:{o['person']}", "box": o["box"], "speaking": own and o["speaking"]}
                         for o in (face["on_screen"] if face else [])]
            who = f"{video if own else sound}:{speaker}"
            if turns and turns[-1]["speaker"] == who and turns[-1]["on_screen"] == on_screen \
                    and abs(turns[-1]["end"] - a) < 1e-6:
                turns[-1]["end"] = round(b, 3)
            else:
                turns.append({"start": round(a, 3), "end": round(b, 3), "speaker": who, "on_screen": on_screen})
        at += v1 - v0
    return {"video": "", "duration": round(at, 3), "turns": turns}


def build(name: str, folder: Path) -> tuple[Path, dict]:
    """The scene's video (made once in `folder`) and its truth."""
    pieces = SCENES[name]
    out = folder / f"{name}.mp4"
    if not out.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        inputs, filters = [], []
        for n, (video, v0, v1, sound, s0) in enumerate(pieces):
            inputs += ["-i", str(EVAL / "scenes" / f"{video}.mp4")]
            vi = len(inputs) // 2 - 1
            if sound is not None:
                inputs += ["-i", str(JFK if sound == "jfk" else EVAL / "scenes" / f"{sound}.mp4")]
            ai = len(inputs) // 2 - 1
            a0 = v0 if sound is None else s0
            filters.append(f"[{vi}:v]trim={v0}:{v1},setpts=PTS-STARTPTS[v{n}]")
            filters.append(f"[{ai}:a]atrim={a0}:{a0 + v1 - v0},asetpts=PTS-STARTPTS,"
                           f"aformat=sample_rates=48000:channel_layouts=stereo[a{n}]")
        chain = "".join(f"[v{n}][a{n}]" for n in range(len(pieces)))
        filters.append(f"{chain}concat=n={len(pieces)}:v=1:a=1[v][a]")
        tmp = out.with_suffix(".part.mp4")
        subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", ";".join(filters),
                        "-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18",
                        "-r", "25", "-c:a", "aac", "-b:a", "160k", str(tmp)], check=True)
        tmp.replace(out)
    return out, truth_of(pieces)
