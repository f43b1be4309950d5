"""Sentence joining across subtitle cuts and proportional splitting of translations, on real transcripts."""

from __future__ import annotations

import pytest
from media_fixtures import EVAL, JFK

from sceneglot.scene import Segment, Word
from sceneglot.translate.sentences import ends_sentence, join, split, spread

STM = EVAL / "diarization" / "sample.stm"


def stm_lines() -> list[tuple[str, float, float, str]]:
    rows = []
    for line in STM.read_text().splitlines():
        parts = line.split(maxsplit=5)
        rows.append((parts[2], float(parts[3]), float(parts[4]), parts[5]))
    return rows


def cut_like_subtitles(speaker: str, start: float, end: float, text: str, max_chars: int) -> list[tuple]:
    """Cut one utterance into subtitle-sized pieces at word boundaries, times in proportion to length."""
    pieces, cur = [], []
    for word in text.split():
        if cur and len(" ".join([*cur, word])) > max_chars:
            pieces.append(" ".join(cur))
            cur = []
        cur.append(word)
    pieces.append(" ".join(cur))
    total = sum(len(p) for p in pieces)
    out, t = [], start
    for p in pieces:
        dt = (end - start) * len(p) / total
        out.append((speaker, t, t + dt, p))
        t += dt
    return out


def stm_segments(max_chars: int = 24) -> list[Segment]:
    rows = [c for r in stm_lines() for c in cut_like_subtitles(*r, max_chars=max_chars)]
    return [Segment(id=i, start=s, end=e, text=t, speaker=spk, language="en") for i, (spk, s, e, t) in enumerate(rows)]


def test_join_rebuilds_the_real_utterances_from_subtitle_cuts():
    segments = stm_segments()
    assert len(segments) > len(stm_lines())  # the cuts really split sentences
    sentences = join(segments)
    # Each STM line ends with ., ? or !, so the joined sentences are exactly the transcript's utterances.
    assert [(s.speaker, s.text) for s in sentences] == [(r[0], r[3]) for r in stm_lines()]
    for s in sentences:
        assert s.indices == tuple(range(s.indices[0], s.indices[-1] + 1))
        assert s.start == segments[s.indices[0]].start and s.end == segments[s.indices[-1]].end


def test_join_stops_at_speaker_change_long_pause_and_language():
    segs = [
        Segment(0, 0.0, 1.0, "so I was", speaker="A", language="en"),
        Segment(1, 1.1, 2.0, "thinking that", speaker="B", language="en"),
        Segment(2, 2.1, 3.0, "we could", speaker="B", language="en"),
        Segment(3, 6.0, 7.0, "maybe go", speaker="B", language="en"),
        Segment(4, 7.1, 8.0, "vamos", speaker="B", language="es"),
        Segment(5, 8.1, 8.5, "   ", speaker="B", language="es"),
    ]
    assert [s.indices for s in join(segs)] == [(0,), (1, 2), (3,), (4,)]


def test_ends_sentence():
    assert ends_sentence("Hello?") and ends_sentence("Done.\u201d") and ends_sentence("好。")
    assert not ends_sentence("Okay, then") and not ends_sentence("Mr")


def test_split_follows_source_proportions_and_prefers_punctuation():
    parts = ["And so, my fellow Americans,", "ask not what your country can do for you,",
             "ask what you can do for your country."]
    pt = ("E assim, meus colegas americanos, não perguntem o que seu país pode fazer por você, "
          "perguntem o que vocês podem fazer pelo seu país.")
    pieces = split(pt, [len(p) for p in parts])
    assert pieces == ["E assim, meus colegas americanos,", "não perguntem o que seu país pode fazer por você,",
                      "perguntem o que vocês podem fazer pelo seu país."]


def test_split_edge_cases():
    assert split("Olá", [3, 9]) == ["", "Olá"]  # one word: it goes to the longer piece
    assert split("", [1, 1]) == ["", ""]
    assert split("uma frase", [5]) == ["uma frase"]
    assert split("你好世界我们", [1, 1], "zh") == ["你好世", "界我们"]
    pieces = split("a b c d e f g h", [1, 1, 1, 1])
    assert all(pieces) and " ".join(pieces) == "a b c d e f g h"


def test_split_keeps_every_word_once_on_real_transcript():
    segments = stm_segments(max_chars=16)
    for sentence in join(segments):
        fake = " ".join(w.upper() for w in sentence.text.split())  # same words, known order
        pieces = spread(sentence, fake, "en")
        assert len(pieces) == len(sentence.indices)
        assert " ".join(p for p in pieces if p) == fake
        # With an identical-length "translation" each cut lands on its source cut, or one word off
        # where a comma is right beside it (the punctuation preference).
        def cuts(texts):
            out, n = [], 0
            for t in texts[:-1]:
                n += len(t.split())
                out.append(n)
            return out

        for got, want in zip(cuts(pieces), cuts(list(sentence.parts)), strict=True):
            assert abs(got - want) <= 1, (pieces, sentence.parts)


@pytest.mark.slow
def test_real_asr_cuts_rejoined_translated_and_realigned():
    """faster-whisper words on JFK -> subtitle cuts -> one sentence -> Bergamot -> pieces in the right places."""
    from faster_whisper import WhisperModel

    from sceneglot import models
    from sceneglot.translate.base import Phrase, Request
    from sceneglot.translate.bergamot import BergamotTranslator

    model = WhisperModel(str(models.path("whisper-base")), device="cpu", compute_type="int8", cpu_threads=2)
    result, _ = model.transcribe(str(JFK), language="en", word_timestamps=True, beam_size=1)
    words = [w for seg in result for w in seg.words]
    assert len(words) > 15
    # Cut into subtitles of at most 42 characters, as a subtitle layout would.
    segments, cur = [], []
    for w in words:
        if cur and len("".join(x.word for x in [*cur, w]).strip()) > 42:
            segments.append(cur)
            cur = []
        cur.append(w)
    segments.append(cur)
    segs = [Segment(i, ws[0].start, ws[-1].end, "".join(w.word for w in ws).strip(), speaker="JFK", language="en",
                    words=[Word(w.start, w.end, w.word.strip(), w.probability) for w in ws])
            for i, ws in enumerate(segments)]
    assert len(segs) >= 3
    sentences = join(segs)
    assert len(sentences) < len(segs)  # cuts were joined back into sentences
    longest = max(sentences, key=lambda s: len(s.indices))
    req = Request((Phrase(0, longest.text, "JFK", longest.start, longest.end),), "en", "pt")
    (pt,) = BergamotTranslator().translate(req)
    pieces = spread(longest, pt, "pt")
    assert len(pieces) == len(longest.indices) and all(pieces)
    assert " ".join(pieces) == " ".join(pt.split())
    # Each piece carries the meaning of its own source cut: country/você/país land where the English said them.
    for src, piece in zip(longest.parts, pieces, strict=True):
        ratio = len(piece) / len(pt)
        share = len(src) / len(longest.text)
        assert abs(ratio - share) < 0.2, (src, piece)
        if "Americans" in src:
            assert "americanos" in piece.lower()
