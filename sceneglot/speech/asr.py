"""Whisper transcription (faster-whisper) with word times and a language per speech chunk.

The file is cut at VAD pauses into chunks; each chunk's language is detected
on its own, so an interview that switches language keeps each phrase in the
language it was said in. Short or uncertain chunks are limited to languages
heard confidently elsewhere in the file (Whisper guesses wildly on 1 s of
audio). Known failure modes are filtered after decoding: text over silence or
music (subtitle-credit lines, low-confidence no-speech segments), repetition
loops, words placed outside any speech; and the opposite one: speech the beam
search left without words (a whole sentence, now and then) is decoded again
on its own.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from .. import jobs, models
from ..scene import Heard, Segment, Word
from . import vad

SR = 16000
# Lines Whisper learned from subtitle files and emits over silence or music.
CREDITS = re.compile(
    r"(subtitles? (by|made by|created by)|amara\.org|transcri(bed|ption) by|captions? by|"
    r"thanks? (you )?for watching|please subscribe|like and subscribe|www\.|\.com\b|"
    r"napisy (stworzone|wykonane|by|przez)|dzięki za obejrzenie|untertitel (der|von|im auftrag)|"
    r"sous-titr(es|age)|sottotitoli|legendas? (pela|por)|subtítulos (realizados|por))",
    re.IGNORECASE,
)
LEAD, TAIL = 0.4, 0.2  # seconds of context decoded around each chunk
WINDOW = 30.0  # seconds of audio in one Whisper window (its encoder's input)
NO_SPACE_LANGS = {"zh", "ja", "th", "lo", "my", "yue", "bo"}


@dataclass
class AsrOptions:
    # A store name or a CTranslate2 model folder (a larger Whisper, e.g.); $SCENEGLOT_WHISPER overrides the default.
    model: str = field(default_factory=models.default_whisper)
    beam_size: int = 5
    chunk_gap: float = 0.5  # pause (s) at which the audio is cut into language chunks
    max_chunk: float = 30.0
    short_chunk: float = 2.0  # chunks shorter than this do not vote for the file's languages
    min_language_prob: float = 0.6
    min_detect: float = 1.0  # chunks shorter than this take their neighbour's language
    # Chunks in a language for which this says True also get Whisper's English (the translate task decoded on
    # the chunk's own encoder output; transcribe_with_english returns it): the pivot's X->en leg.
    english: Callable[[str], bool] | None = None
    # That English rides in the transcription's batch (CPU: about half a decode of its own); english_batched False,
    # or on CUDA, it is a decode of its own with beam english_beam (benchmarks/translate_pivot.py --quality).
    english_batched: bool = True
    english_beam: int = 5


def load_model(name: str = "whisper-base"):
    """The shared, cached Whisper model (see models.whisper)."""
    return models.whisper(name)


@dataclass
class Chunk:
    start: float
    end: float
    language: str | None = None
    probability: float = 0.0
    probs: dict[str, float] | None = None


def detect_languages(model, audio: np.ndarray, chunks: list[Chunk], opts: AsrOptions) -> None:
    """Set each chunk's language; unsure or short chunks choose among the file's confident languages."""
    for c in chunks:
        if c.end - c.start < opts.min_detect:
            continue  # an encoder pass per blip is slow and its guess is noise: inherit below
        piece = audio[int(c.start * SR):int(c.end * SR)]
        lang, prob, probs = model.detect_language(piece)
        c.language, c.probability, c.probs = lang, prob, dict(probs)
    known = [c for c in chunks if c.language]
    for c in chunks:
        if c.language is None and known:
            near = min(known, key=lambda k: max(k.start - c.end, c.start - k.end))
            c.language, c.probability, c.probs = near.language, 0.0, near.probs
    confident = {c.language for c in chunks
                 if c.probability >= opts.min_language_prob and c.end - c.start >= opts.short_chunk}
    if not confident:  # no chunk is sure: pool the evidence, weighted by duration
        total: dict[str, float] = {}
        for c in chunks:
            for k, p in (c.probs or {}).items():
                total[k] = total.get(k, 0.0) + p * (c.end - c.start)
        confident = {max(total, key=total.get)} if total else set()
    for c in chunks:
        unsure = c.probability < opts.min_language_prob or c.end - c.start < opts.short_chunk
        if unsure and confident and c.language not in confident:
            c.language = max(confident, key=lambda k: (c.probs or {}).get(k, 0.0))


def _join_same_language(chunks: list[Chunk], gap: float, max_len: float) -> list[Chunk]:
    out: list[Chunk] = []
    for c in chunks:
        if out and out[-1].language == c.language and c.start - out[-1].end < gap and c.end - out[-1].start <= max_len:
            out[-1].end = c.end
        else:
            out.append(Chunk(c.start, c.end, c.language, c.probability))
    return out


def transcribe(
    audio: np.ndarray, *, language: str | None = None, regions: list[tuple[float, float]] | None = None,
    options: AsrOptions | None = None, progress=None,
) -> list[Segment]:
    """Segments (speaker unset) with words and language, times in seconds of `audio`."""
    return transcribe_with_english(audio, language=language, regions=regions, options=options, progress=progress)[0]


def transcribe_with_english(
    audio: np.ndarray, *, language: str | None = None, regions: list[tuple[float, float]] | None = None,
    options: AsrOptions | None = None, progress=None,
) -> tuple[list[Segment], list[Heard]]:
    """transcribe(), and Whisper's English for the chunks `options.english` asks for (timed lines)."""
    opts = options or AsrOptions()
    segments, english = _transcribe(audio, language, regions, opts, progress)
    return number(segments), english


def transcribe_window(track, start: float, end: float, *, language: str | None = None,
                      options: AsrOptions | None = None, progress=None) -> tuple[list[Segment], list[Heard]]:
    """transcribe() on the samples of `track` (a soundtrack.Soundtrack) from `start` to `end` s, read alone:
    (segments, Whisper's English when options.english asks), times in seconds of the whole track.

    The window's chunk languages are chosen among the languages heard confidently in the window.
    """
    opts = options or AsrOptions()
    segments, english = _transcribe(track.read(start, end), language, None, opts, progress)
    offset = round(start, 3)
    for s in segments:
        s.start, s.end = round(s.start + offset, 3), round(s.end + offset, 3)
        for w in s.words:
            w.start, w.end = round(w.start + offset, 3), round(w.end + offset, 3)
    return segments, [Heard(round(h.start + offset, 3), round(h.end + offset, 3), h.language, h.text)
                      for h in english]


def transcribe_windows(track, windows, *, language: str | None = None, options: AsrOptions | None = None,
                       step=None) -> list[Segment]:
    """transcribe() of a long soundtrack window by window (windows.speech_windows): only one window's
    audio is read at a time. `step(seconds_done, seconds_total)` is called before every chunk."""
    opts = options or AsrOptions()
    total = round(track.duration, 3)
    segments: list[Segment] = []
    english: list[Heard] = []
    for w in windows:
        def progress(chunks, w=w):
            for c in chunks:
                if step is not None:
                    step(round(min(total, w.start + c.start), 3), total)
                yield c
        found, lines = transcribe_window(track, w.start, w.end, language=language, options=opts, progress=progress)
        segments += found
        english += lines
    return number(segments)


def number(segments: list[Segment]) -> list[Segment]:
    """Segments (of one window or of all windows, in order) as one transcription: ids 0, 1, ..."""
    for i, s in enumerate(segments):
        s.id = i
    return segments


def _transcribe(audio: np.ndarray, language: str | None, regions: list[tuple[float, float]] | None,
                opts: AsrOptions, progress) -> tuple[list[Segment], list[Heard]]:
    audio = np.asarray(audio, np.float32).reshape(-1)
    if regions is None:
        with jobs.part("vad"):
            regions = vad.speech_regions(audio, SR, threshold=0.5, min_silence=0.3, pad=0.2)
    spans = vad.merge_regions(regions, opts.chunk_gap, opts.max_chunk)
    chunks = [Chunk(s, e, language, 1.0) for s, e in spans if e - s >= 0.25]
    if not chunks:
        return [], []
    with jobs.part("load"):
        model = load_model(opts.model)
    if language is None:
        if model.model.is_multilingual:
            with jobs.part("language"):
                detect_languages(model, audio, chunks, opts)
        else:
            for c in chunks:
                c.language = "en"
        chunks = _join_same_language(chunks, gap=1.5, max_len=opts.max_chunk)
    segments: list[Segment] = []
    english: list[Heard] = []
    for c in progress(chunks) if progress else chunks:
        found, lines = _decode_chunk(model, audio, c, regions, opts)
        found = sorted(found + _skipped_again(model, audio, c, regions, found, opts), key=lambda s: s.start)
        segments += found
        english += unrepeated(lines, found)
    return segments, english


# Seconds of detected speech without a word that mean Whisper left speech out. A pause inside one VAD region is
# shorter than the VAD's min_silence (0.3 s), and a region's pads add 0.2 s each side, so 0.7 s without a word
# is the VAD's own; the four shared scenes' wordless stretches are at most 0.81 s (cut2). Whisper's beam drops
# whole sentences now and then (a stretch of 2.2 s on dialogue.mp4 with its audio after 5.18 s moved 0.5 ms
# earlier, two on the dialogue-recut re-edit), so a second is well clear of both.
SKIPPED = 1.0


def unheard(regions: list[tuple[float, float]], segments: list[Segment], start: float, end: float,
            shortest: float = SKIPPED) -> list[tuple[float, float]]:
    """The stretches of detected speech (`regions`) within start..end that no word of `segments` overlaps,
    those at least `shortest` seconds long."""
    words = sorted((w.start, w.end) for s in segments for w in s.words)
    out = []
    for a, b in regions:
        a, b = max(a, start), min(b, end)
        at = a
        for ws, we in words:
            if we <= at or ws >= b:
                continue
            if ws - at >= shortest:
                out.append((at, ws))
            at = max(at, we)
        if b - at >= shortest:
            out.append((at, b))
    return out


def _skipped_again(model, audio: np.ndarray, chunk: Chunk, regions, found: list[Segment],
                   opts: AsrOptions) -> list[Segment]:
    """The chunk's speech its decode left without words (unheard), each stretch decoded on its own (with the
    usual context around it) and the words said inside it kept. The English of the pivot is not asked for
    there: a sentence the ASR pass's English does not cover is translated from its own audio anyway."""
    alone = replace(opts, english=None)
    out = []
    for a, b in unheard(regions, found, chunk.start, chunk.end):
        again, _ = _decode_chunk(model, audio, Chunk(a, b, chunk.language, chunk.probability, chunk.probs),
                                 regions, alone)
        for seg in again:
            words = [w for w in seg.words if a <= (w.start + w.end) / 2 <= b]
            if words:
                out.append(Segment(id=0, start=words[0].start, end=words[-1].end,
                                   text=join_words(words, chunk.language), language=chunk.language, words=words))
    return out


def _decode_chunk(model, audio: np.ndarray, chunk: Chunk, regions,
                  opts: AsrOptions) -> tuple[list[Segment], list[Heard]]:
    # Whisper drops the first word when speech starts at sample 0: give it a little lead-in.
    t0 = max(0.0, chunk.start - LEAD)
    piece = audio[int(t0 * SR):int((chunk.end + TAIL) * SR)]
    wanted = opts.english is not None and chunk.language not in (None, "en") and opts.english(chunk.language)
    prompt = english_prompt(model, chunk.language) if wanted and opts.english_batched else None
    # No hallucination_silence_threshold: faster-whisper's skip drops a window's first segment and all after it and
    # decodes again from 1 s on (a new 30 s window) wherever that segment and the next score as "anomalous", which
    # Whisper base's short word times on quick speech do (8 words' sum of 15 x (0.133 s - duration) at 3 or more):
    # dialogue.mp4's first sentence scores 7.6, 6 of the first-window segments of the 8 scenes and re-edits and jfk
    # score so; the next one's plain score alone kept each, and with dialogue's audio 5 % faster it does not, and
    # the first sentence was lost. Text over silence is for the VAD chunks, hallucinated() and _in_speech to refuse.
    with model.keeping_encodings() as encoded, model.riding(prompt, english_cap(min(len(piece) / SR, WINDOW))) as ride:
        raw, _info = model.transcribe(
            piece, language=chunk.language, beam_size=opts.beam_size, word_timestamps=True, vad_filter=False,
            condition_on_previous_text=False, compression_ratio_threshold=2.4, log_prob_threshold=-1.0,
            no_speech_threshold=0.6, hallucination_silence_threshold=None,
        )
        raw = list(raw)
    # The English of the first 30 s window (its encoder output, the ride's decode on it). A chunk is at most
    # max_chunk long, so that window holds all of its speech; faster-whisper decodes a second window where the
    # first one's last segment ends before the window does (it seeks back to that timestamp: 2 windows for 4
    # copies of deyu's speech in 29.4 s), and that window is the end of the first one again, whose English the
    # first window's already has (another decode, and lines that say it twice). Only audio past the piece's 30 s
    # (at most the chunk's last LEAD s, and TAIL) is not in it: a sentence the English leaves uncovered is
    # decoded from its own audio.
    seconds = min(len(piece) / SR, WINDOW)
    out = []
    for seg in raw:
        if hallucinated(seg.text, seg.no_speech_prob, seg.avg_logprob, seg.compression_ratio):
            continue
        words = [Word(round(t0 + w.start, 3), round(t0 + w.end, 3), w.word.strip(),
                      round(float(w.probability), 4)) for w in (seg.words or []) if w.word.strip()]
        words = [w for w in drop_loops(words) if _in_speech(w, regions)]
        if not words:
            continue
        out.append(Segment(id=0, start=words[0].start, end=words[-1].end, text=join_words(words, chunk.language),
                           language=chunk.language, words=words))
    # Repeated lines are judged against the chunk's whole transcript (unrepeated), once it is complete.
    english = english_lines(model, encoded[0], chunk.language, t0, seconds, opts.english_beam,
                            ride.result if ride else None) if wanted and encoded else []
    return out, english


def unrepeated(lines: list[Heard], segments: list[Segment], alike: float = 0.8) -> list[Heard]:
    """`lines` without those repeating the line before, except where the transcript's words under the repeat
    say again what those under the line before said (difflib ratio of the two texts at least `alike`): then
    the English repeats because the speech does (a take said twice in one window), not because Whisper's
    English loops past the speech (no words there, or other words). With no `segments` every repeat goes."""
    import difflib

    def under(line: Heard) -> str:
        return " ".join(w.text for s in segments for w in s.words if line.start <= (w.start + w.end) / 2 <= line.end)

    out: list[Heard] = []
    for line in lines:
        if out and out[-1].text == line.text:
            a, b = under(out[-1]), under(line)
            if not (a and b and difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio() >= alike):
                continue
        out.append(line)
    return out


# The English's own bound, in Whisper tokens (text and timestamps) for a window of `seconds`: ENGLISH_BASE +
# ENGLISH_RATE per second, enforced while it is decoded (models._Riding; a decode of its own: max_length).
# benchmarks/translate_pivot.py --bound measures it: on the five multilingual clips' windows (6.0-9.1 s) the
# English takes 2.2 (de) to 5.8 (zh, dense news) tokens per second; the rate is twice the densest, and with
# any clip left out, twice the densest of the other four still holds it (zh against ja's 3.4 -> 6.8). Whisper
# base's English, let run without VAD on the whole deyu clip, loops to Whisper's 224 tokens; this stops it.
# The base keeps a short chunk's line (two timestamps and a few words) above the rate's share.
ENGLISH_BASE, ENGLISH_RATE = 16, 12.0


def english_cap(seconds: float) -> int:
    """At most this many tokens of Whisper's English for a window of `seconds` (see ENGLISH_RATE)."""
    return int(ENGLISH_BASE + ENGLISH_RATE * seconds)


def english_prompt(model, language: str) -> list[int]:
    """The decoder prompt of Whisper's translate task from `language`, with timestamps."""
    from faster_whisper.tokenizer import Tokenizer

    return list(Tokenizer(model.hf_tokenizer, True, task="translate", language=language).sot_sequence)


def english_lines(model, encoded, language: str, offset: float, seconds: float, beam_size: int = 5,
                  decoded=None) -> list[Heard]:
    """Whisper's translate task on a window's encoder output (`decoded`: already done in the
    transcription's batch): timed English lines.

    Whisper base, let run past the speech, repeats its last line; so the
    tokens are bounded while they are decoded (english_cap), and lines outside the audio, too short to
    hold speech, or compressing like a loop are dropped. A line repeating the one before is kept: whether it
    is a loop is unrepeated's to judge, by the transcript under it (a take said twice in one window,
    eluosi's two copies 0.5 s apart, has its English line twice, over each copy).
    A sentence these lines do not cover is translated from its own audio by the whisper translator instead.
    """
    from faster_whisper.tokenizer import Tokenizer

    tokenizer = Tokenizer(model.hf_tokenizer, True, task="translate", language=language)
    prompt = list(tokenizer.sot_sequence)
    cap = english_cap(seconds)
    if decoded is None:
        decoded = model.model.generate(encoded, [prompt], beam_size=beam_size,
                                       max_length=models.whisper_max_length(len(prompt), cap),
                                       suppress_blank=True, suppress_tokens=[-1])[0]
    first = tokenizer.timestamp_begin
    lines: list[Heard] = []
    start, text = None, []
    for token in decoded.sequences_ids[0][:cap]:
        if token < first:
            text.append(token)
            continue
        at = (token - first) * 0.02
        if start is None:
            start = at
            continue
        line = tokenizer.decode(text).strip()
        start, end, text = min(start, seconds), min(at, seconds), []
        if line and end - start >= 0.3 and not _loops(line):
            lines.append(Heard(round(offset + start, 3), round(offset + end, 3), language, line))
        start = None
    return lines


def _loops(text: str) -> bool:
    data = text.encode()
    return len(data) / max(1, len(zlib.compress(data))) > 2.4


def hallucinated(text: str, no_speech_prob: float, avg_logprob: float, compression_ratio: float) -> bool:
    """Whisper's classic inventions: credit lines, confident-silence text, degenerate repetition."""
    if CREDITS.search(text):
        return True
    if no_speech_prob > 0.5 and avg_logprob < -0.7:
        return True
    return compression_ratio > 2.4 or avg_logprob < -1.5


def drop_loops(words: list[Word], max_repeats: int = 2) -> list[Word]:
    """Cut an n-gram (n <= 4) repeated more than `max_repeats` times in a row down to one copy."""
    toks = [re.sub(r"\W", "", w.text.lower()) for w in words]
    keep = list(range(len(words)))
    for n in (1, 2, 3, 4):
        i, out = 0, []
        while i < len(keep):
            gram = [toks[k] for k in keep[i:i + n]]
            reps = 1
            while [toks[k] for k in keep[i + reps * n:i + (reps + 1) * n]] == gram:
                reps += 1
            if reps > max_repeats and len(gram) == n:
                out += keep[i:i + n]
                i += reps * n
            else:
                out.append(keep[i])
                i += 1
        keep = out
    return [words[k] for k in keep]


def _in_speech(word: Word, regions: list[tuple[float, float]], slack: float = 0.6) -> bool:
    mid = (word.start + word.end) / 2
    return any(s - slack <= mid <= e + slack for s, e in regions)


def join_words(words: list[Word], language: str | None) -> str:
    sep = "" if language in NO_SPACE_LANGS else " "
    return sep.join(w.text for w in words).strip()
