"""Unit tests of the speech stage's pure parts: no model is loaded here."""

import itertools

import numpy as np
import pytest

from sceneglot.scene import Segment, Word
from sceneglot.speech import asr, cluster, fbank, metrics, phrases, vad
from sceneglot.speech.diarize import Segmented, _absorb_short, aggregate, windows
from sceneglot.speech.turns import SpeakerTurn, exclusive


def W(start, end, text, speaker=None):
    return Word(start, end, text, 0.9, speaker)


def test_attribution_takes_largest_overlap_and_keeps_continuity():
    turns = [SpeakerTurn(0.0, 2.0, "S0"), SpeakerTurn(1.5, 4.0, "S1"), SpeakerTurn(6.0, 7.0, "S0")]
    words = [W(0.1, 0.5, "a"), W(1.4, 1.9, "b"), W(1.6, 1.9, "c"), W(2.5, 3.0, "d"), W(4.5, 4.8, "e"),
             W(5.8, 6.2, "f")]
    phrases.attribute(words, turns)
    # "b": 0.4 s with S0 vs 0.4 s with S1 -> tie keeps the previous speaker; "c" fully in the overlap -> tie again.
    assert [w.speaker for w in words] == ["S0", "S0", "S0", "S1", "S1", "S0"]


def test_attribution_overlap_prefers_the_bigger_share():
    turns = [SpeakerTurn(0.0, 1.1, "S0"), SpeakerTurn(1.0, 3.0, "S1")]
    words = [W(0.9, 1.6, "x")]
    phrases.attribute(words, turns)
    assert words[0].speaker == "S1"


def test_attribution_finds_the_turns_under_each_word_in_any_order_of_turns():
    """The turns a word weighs are found by bisection: a long turn that began early still counts for a word
    late inside it, past hundreds of short turns that began after it, and shuffled turns give the same."""
    turns = [SpeakerTurn(2.5 * k, 2.5 * k + 2.0, f"S{k % 3}") for k in range(1200)]  # 2 s each, 0.5 s apart
    turns.append(SpeakerTurn(1000.0, 1500.0, "S9"))  # over turns 400..599
    words, expected = [], []
    for k in range(1200):
        x, over = 2.5 * k, 400 <= k <= 599
        words.append(W(x + 1.5, x + 2.3, "end"))  # 0.5 s of its turn, 0.3 s of the pause after it
        expected.append("S9" if over else f"S{k % 3}")  # all 0.8 s under S9
        words.append(W(x + 2.35, x + 2.4, "gap"))  # no short turn: the nearest is the next one (0.125 s)
        expected.append("S9" if over else f"S{min(k + 1, 1199) % 3}")
    rng = np.random.default_rng(0)
    for order in (range(len(turns)), rng.permutation(len(turns))):
        got = [W(w.start, w.end, w.text) for w in words]
        phrases.attribute(got, [turns[i] for i in order])
        assert [w.speaker for w in got] == expected


def test_rejoin_cuts_at_speaker_language_and_pause_and_joins_across_whisper_segments():
    seg1 = Segment(0, 0.0, 2.0, "", language="en",
                   words=[W(0.0, 0.4, "Hello", "S0"), W(0.5, 0.9, "there", "S0")])
    seg2 = Segment(1, 1.0, 5.0, "", language="en",
                   words=[W(1.0, 1.3, "my", "S0"), W(1.35, 1.8, "friend.", "S0"), W(1.9, 2.2, "Hi", "S1"),
                          W(4.0, 4.3, "again", "S1")])
    seg3 = Segment(2, 4.4, 5.0, "", language="pl", words=[W(4.4, 4.9, "cześć", "S1")])
    out = phrases.rejoin([seg2, seg1, seg3])
    assert [(s.text, s.speaker, s.language) for s in out] == [
        ("Hello there my friend.", "S0", "en"), ("Hi", "S1", "en"), ("again", "S1", "en"), ("cześć", "S1", "pl")]
    assert [s.id for s in out] == [0, 1, 2, 3]
    assert out[0].start == 0.0 and out[0].end == 1.8


def test_rejoin_sentence_end_with_pause_starts_new_phrase_and_long_phrases_split():
    words = [W(0.0, 0.3, "One"), W(0.3, 0.6, "two"), W(0.6, 0.9, "three."), W(1.3, 1.6, "Four")]
    for w in words:
        w.speaker = "S0"
    out = phrases.rejoin([Segment(0, 0, 2, "", language="en", words=words)])
    assert [s.text for s in out] == ["One two three.", "Four"]
    long = [W(i * 0.5, i * 0.5 + 0.4, f"w{i}" + ("," if i == 9 else ""), "S0") for i in range(20)]
    out = phrases.rejoin([Segment(0, 0, 10, "", language="en", words=long)])
    assert len(out) >= 2 and all(s.end - s.start <= 7.0 for s in out)
    assert out[0].words[-1].text == "w9,"


def test_unheard_finds_speech_left_without_words():
    regions = [(0.0, 4.9), (5.05, 14.0)]
    seg = Segment(0, 2.2, 9.0, "", language="en",
                  words=[W(2.2, 2.6, "my"), W(2.7, 4.4, "orientation"), W(4.9, 6.7, "perspective"), W(9.0, 12.8, "x")])
    assert asr.unheard(regions, [seg], 0.0, 14.0) == [(0.0, 2.2), (6.7, 9.0), (12.8, 14.0)]
    # a pause inside a region, or a region's pad, shorter than SKIPPED is not speech left out
    assert asr.unheard(regions, [seg], 0.0, 14.0, shortest=2.4) == []
    assert asr.unheard([(3.0, 3.5)], [], 0.0, 14.0) == [] and asr.unheard([(3.0, 4.5)], [], 0.0, 4.0) == [(3.0, 4.0)]


def test_drop_loops_and_hallucination_filters():
    said = ["I", "said"] + ["thank", "you"] * 4 + ["ok"]
    words = [W(i, i + 0.5, t) for i, t in enumerate(said)]
    assert [w.text for w in asr.drop_loops(words)] == ["I", "said", "thank", "you", "ok"]
    keep = [W(0, 1, "very"), W(1, 2, "very"), W(2, 3, "good")]
    assert len(asr.drop_loops(keep)) == 3
    assert asr.hallucinated("Subtitles by the Amara.org community", 0.1, -0.3, 1.2)
    assert asr.hallucinated("Napisy stworzone przez społeczność Amara.org", 0.1, -0.3, 1.2)
    assert asr.hallucinated("la la la la la la la la", 0.1, -0.3, 3.1)
    assert asr.hallucinated("Okay.", 0.8, -0.9, 0.8)
    assert not asr.hallucinated("Thank you for coming today.", 0.1, -0.3, 1.1)


def test_language_guard_moves_short_unsure_chunks_to_file_languages():
    class Fake:
        def detect_language(self, piece):
            n = len(piece) / 16000
            if n > 3:
                return ("pl", 0.95, [("pl", 0.95), ("en", 0.03)]) if n > 4 else ("en", 0.9, [("en", 0.9)])
            return "nn", 0.3, [("nn", 0.3), ("pl", 0.25), ("en", 0.2)]

    chunks = [asr.Chunk(0, 3.5), asr.Chunk(4, 9), asr.Chunk(10, 11.5), asr.Chunk(12, 12.5)]
    asr.detect_languages(Fake(), np.zeros(16000 * 13, np.float32), chunks, asr.AsrOptions())
    assert [c.language for c in chunks] == ["en", "pl", "pl", "pl"]


def test_cluster_counts_and_bounds():
    rng = np.random.default_rng(0)
    centres = np.linalg.qr(rng.normal(size=(192, 3)))[0].T
    emb = np.concatenate([c + 0.25 * rng.normal(size=(12, 192)) / np.sqrt(192) for c in centres])
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    labels = cluster.cluster(emb)
    assert len(set(labels)) == 3 and labels[0] == 0
    assert len(set(cluster.cluster(emb, num_speakers=2))) == 2
    assert len(set(cluster.cluster(emb, max_speakers=2))) == 2
    same = np.repeat(centres[:1], 10, axis=0) + 0.01 * rng.normal(size=(10, 192))
    assert len(set(cluster.cluster(same))) == 1
    assert len(set(cluster.cluster(same, min_speakers=2))) == 2


def test_windows_and_turn_smoothing():
    wins = windows([(0.0, 4.0), (5.0, 5.3), (6.0, 7.0)], 1.5, 0.75, 0.4)
    assert wins[0] == (0.0, 1.5) and wins[-2] == (2.5, 4.0) and wins[-1] == (6.0, 7.0)
    assert all(e - s <= 1.5 for s, e in wins)
    turns = _absorb_short([[0.0, 2.0, 0], [2.0, 2.1, 1], [2.1, 4.0, 0], [4.0, 6.0, 1]], 0.25)
    assert turns == [[0.0, 4.0, 0], [4.0, 6.0, 1]]


def test_fbank_matches_kaldi_conventions():
    t = np.arange(16000) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    feats = fbank.fbank(tone, cmn=False)
    assert feats.shape == (1 + (16000 - 400) // 160, 80)
    banks = fbank.mel_banks()
    peak_bin = int(np.argmax(banks[round(1000 * 512 / 16000)]))
    assert int(np.argmax(feats.mean(0))) == peak_bin
    assert fbank.fbank(np.zeros(100, np.float32)).shape == (0, 80)
    assert np.allclose(fbank.fbank(tone).mean(0), 0, atol=1e-3)


def test_merge_regions():
    regions = [(0.0, 1.0), (1.2, 2.0), (3.0, 4.0), (4.1, 40.0)]
    assert vad.merge_regions(regions, 0.5, 30.0) == [(0.0, 2.0), (3.0, 4.0), (4.1, 40.0)]


def test_wer():
    assert metrics.wer("Ask not, what your country", "ask what your county") == 0.4


def test_der_hand_computed_cases():
    ref = [SpeakerTurn(0, 10, "a"), SpeakerTurn(5, 6, "b"), SpeakerTurn(10, 20, "b")]  # 21 s of speaker time
    p = metrics.der_parts(ref, [SpeakerTurn(0, 10, "X"), SpeakerTurn(10, 20, "Y")])
    assert (p.miss, p.false_alarm, p.confusion, p.total) == pytest.approx((1, 0, 0, 21))  # the overlap's b missed
    swapped = [SpeakerTurn(0, 8, "Y"), SpeakerTurn(8, 20, "X")]  # Y=a, X=b: 2 s confused, 1 s overlap missed
    p = metrics.der_parts(ref, swapped)
    assert (p.miss, p.false_alarm, p.confusion) == pytest.approx((1, 0, 2)) and p.der == pytest.approx(3 / 21)
    assert metrics.der(ref, []) == pytest.approx(1.0)
    extra = [SpeakerTurn(0, 20, "X"), SpeakerTurn(0, 20, "Y")]  # everyone talks all the time
    p = metrics.der_parts(ref, extra)
    assert (p.miss, p.false_alarm, p.confusion) == pytest.approx((0, 19, 0))  # 40 s said, 21 s true, none confused
    # Times are exact, not on a grid; a speaker's own overlapping turns count once.
    assert metrics.der([SpeakerTurn(0.0, 1.0, "a")], [SpeakerTurn(0.0, 0.333, "X"), SpeakerTurn(0.2, 1.0, "X")]) == 0
    assert metrics.der([SpeakerTurn(0.0, 1.0, "a")], [SpeakerTurn(0.0, 0.9995, "X")]) == pytest.approx(0.0005)


def test_der_honours_the_uem():
    ref = [SpeakerTurn(0, 10, "a"), SpeakerTurn(10, 20, "b")]
    hyp = [SpeakerTurn(0, 20, "X"), SpeakerTurn(25, 30, "Y")]
    p = metrics.der_parts(ref, hyp, uem=[(5.0, 15.0)])
    assert (p.miss, p.false_alarm, p.confusion, p.total) == pytest.approx((0, 0, 5, 10))
    assert metrics.der_parts(ref, hyp).false_alarm == pytest.approx(5)  # default: 0 to the last end


def test_der_matches_pyannote_metrics():
    """Cross-check against pyannote.metrics (MIT, test-only dependency): same figures on random
    overlapping turns, with and without a UEM."""
    from pyannote.core import Annotation, Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    rng = np.random.default_rng(7)

    def turns(names, n):
        out = []
        for _ in range(n):
            s = float(rng.uniform(0, 60))
            out.append(SpeakerTurn(round(s, 3), round(s + float(rng.uniform(0.2, 6)), 3), str(rng.choice(names))))
        return out

    def annotation(ts):
        ann = Annotation()
        for i, t in enumerate(ts):
            ann[Segment(t.start, t.end), i] = t.speaker
        return ann.support()  # merge a speaker's own overlapping turns, as NIST md-eval does (and we do)

    for trial in range(20):
        ref, hyp = turns(["a", "b", "c"], 25), turns(["X", "Y", "Z", "W"], 25)
        uem = [(3.0, 41.5), (44.0, 58.0)] if trial % 2 else None
        ours = metrics.der_parts(ref, hyp, uem)
        metric = DiarizationErrorRate(collar=0.0, skip_overlap=False)
        extent = Timeline([Segment(a, b) for a, b in uem or [(0.0, max(t.end for t in ref + hyp))]])
        theirs = metric(annotation(ref), annotation(hyp), uem=extent, detailed=True)
        assert ours.der == pytest.approx(theirs["diarization error rate"], abs=1e-6)
        assert ours.miss == pytest.approx(theirs["missed detection"], abs=1e-6)
        assert ours.false_alarm == pytest.approx(theirs["false alarm"], abs=1e-6)
        assert ours.confusion == pytest.approx(theirs["confusion"], abs=1e-6)


def test_aggregate_keeps_overlap_across_chunks_and_merges_split_speakers():
    act = np.zeros((2, 589, 3), bool)
    act[0, 0:300, 0] = 1  # chunk 0 (starts at 0 s): A on frames 0-299, B on 250-399 -> overlap 250-299
    act[0, 250:400, 1] = 1
    off = round(16000 / 270)  # chunk 1 starts 1 s later; its local speakers come in another order
    act[1, 0:300 - off, 2] = 1
    act[1, 250 - off:400 - off, 0] = 1
    act[1, 450 - off:500 - off, 1] = 1  # a voice only chunk 1 hears, unassigned (too short to embed)
    total = 652
    speech = np.zeros(total, np.float32)
    speech[:400] = 1
    speech[450:500] = 0.5  # heard by one of the two chunks covering it
    overlap = np.zeros(total, np.float32)
    overlap[250:300] = 1
    seg = Segmented([0, 16000], act, speech, overlap, [], 176000)
    active = aggregate(seg, {(0, 0): 0, (0, 1): 1, (1, 2): 0, (1, 0): 1}, 2)
    assert active.shape == (total, 2)
    assert active[:250, 0].all() and not active[:250, 1].any()
    assert active[250:300].all()  # both speakers in the overlap
    assert active[300:400, 1].all() and not active[300:400, 0].any()
    assert not active[400:].any()  # the unassigned voice adds no speaker, and nothing after it
    one = Segmented([0], act[:1], speech[:593], np.zeros(593, np.float32), [], 160000)
    merged = aggregate(one, {(0, 0): 0, (0, 1): 0}, 1)
    assert merged[:400, 0].all() and not merged[400:].any()


def test_exclusive_view_gives_each_instant_one_speaker():
    turns = [SpeakerTurn(0.0, 5.0, "S0"), SpeakerTurn(2.0, 2.3, "S1"), SpeakerTurn(4.5, 8.0, "S1"),
             SpeakerTurn(9.0, 10.0, "S0")]
    out = exclusive(turns)
    # The back-channel inside S0's turn gives way; at the hand-over S1 starts where S0 stops.
    assert [(t.start, t.end, t.speaker) for t in out] == [(0.0, 5.0, "S0"), (5.0, 8.0, "S1"), (9.0, 10.0, "S0")]
    assert all(a.end <= b.start for a, b in itertools.pairwise(out))
    assert exclusive([]) == []
