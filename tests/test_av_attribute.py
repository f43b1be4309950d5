"""Audio-visual attribution on hand-made records: constraints, ownership, phrases, fusion, fallbacks."""

from __future__ import annotations

import itertools

import numpy as np

from sceneglot import av
from sceneglot.av import attribute as att
from sceneglot.av.attribute import Attribution, AttributionSettings, TurnResult
from sceneglot.av.sync import ENCODER, FLOW
from sceneglot.av.turns import Turn, leader_changes, short_turns
from sceneglot.scene import MediaInfo, Person, Scene, Segment, Shot, Speaker, Track, Word
from sceneglot.speech.diarize import SpeakerTurn

S = AttributionSettings()


def _voice(angle: float) -> np.ndarray:
    """Unit vectors in a plane: cosine distance between angles a and b is 1 - cos(a - b)."""
    v = np.zeros(192)
    v[0], v[1] = np.cos(angle), np.sin(angle)
    return v


def _dist(d: float) -> float:
    return float(np.arccos(1 - d))  # the angle whose voice lies d (cosine distance) from _voice(0)


def test_turns_seen_as_two_people_never_share_a_voice_however_alike():
    a = Turn(0, 2, "S0", _voice(0), {"PA": 4.0, "PB": -2.0})
    b = Turn(2, 4, "S0", _voice(0.01), {"PA": -2.0, "PB": 4.0})
    assert att.cluster_turns([a, b], S) == [0, 1]
    assert att.cluster_turns([a, Turn(2, 4, "S0", _voice(0.01), {"PA": 1.0, "PB": 0.5})], S) == [0, 0]


def test_one_person_recorded_twice_stays_one_speaker_unless_voices_clearly_differ():
    near, far = _dist((S.voice + S.clear) / 2), _dist(S.clear + 0.1)
    a = Turn(0, 2, "S0", _voice(0), {"PA": 4.0})
    b = Turn(5, 7, "S1", _voice(near), {"PA": 4.0})  # beyond `voice`, within `clear`: must-link holds
    assert att.cluster_turns([a, b], S) == [0, 0]
    c = Turn(5, 7, "S1", _voice(far), {"PA": 3.0})
    labels = att.cluster_turns([a, c], S)
    assert labels == [0, 1]
    owners = att._owners([a, c], labels, S)
    # voices that clearly differ on one face: the face keeps the one it is seen saying most strongly; the
    # other is heard from off screen (lips moving to a muted recording, a looped silent face: GRID +3.7)
    assert owners[0][0] == "PA" and owners[1][0] is None


def test_a_voice_heard_while_its_visible_owner_is_silent_is_someone_else():
    seen = Turn(0, 2, "S0", _voice(0), {"PA": 4.0, "PB": -3.0})
    over = Turn(3, 5, "S0", _voice(0.05), {"PA": -3.0, "PB": -3.0})  # same voice, both faces silent
    assert att.cluster_turns([seen, over], S) == [0, 1]


def test_short_turns_cut_at_shots_faces_and_length():
    faces = {"PA": {k: (4.0 if k < 75 else -3.0) for k in range(200)},
             "PB": {k: (-3.0 if k < 75 else 4.0) for k in range(200)}}
    turns = short_turns([SpeakerTurn(0.0, 7.0, "S0")], [Shot(0.0, 6.0), Shot(6.0, 8.0)], faces, S.margin)
    cuts = [round(t.start, 2) for t in turns]
    assert 3.0 in cuts and 6.0 in cuts  # where the speaking face changes, and the shot change
    assert all(t.duration <= 2.0 + 1e-6 for t in turns)
    assert leader_changes(faces, 0.0, 7.0, S.margin) == [3.0]


def _scene(words: list[Word]) -> Scene:
    tracks = [Track("T0", 0.0, 7.96, [[k / 25, 0, 0, 10, 10] for k in range(200)], person="PA",
                    asd=[[k / 25, 3.0] for k in range(200)]),
              Track("T1", 0.0, 7.96, [[k / 25, 20, 0, 30, 10] for k in range(200)], person="PB",
                    asd=[[k / 25, 3.0] for k in range(200)])]
    return Scene(MediaInfo("x.mp4", 8.0, 25.0, 64, 48, True), speakers=[Speaker("S0")],
                 persons=[Person("PA", ["T0"]), Person("PB", ["T1"])], tracks=tracks,
                 segments=[Segment(0, words[0].start, words[-1].end, "x", speaker="S0", words=words)])


def test_phrases_split_at_every_attributed_change_word_level_and_fused_scores_follow():
    words = [Word(0.1 + 0.5 * i, 0.5 + 0.5 * i, f"w{i}") for i in range(12)]  # one Whisper segment, 0.1-6.0 s
    scene = _scene(words)
    result = Attribution([TurnResult(Turn(0.0, 3.0, "S0"), 0, "S0", "PA", att.ASD, 0.9),
                          TurnResult(Turn(3.0, 4.5, "S0"), 1, "S1", "PB", att.VOICE, 0.7),
                          TurnResult(Turn(4.5, 6.0, "S0"), 2, "S2", None, att.ASD, 0.8)],
                         [Speaker("S0", "PA"), Speaker("S1", "PB"), Speaker("S2")])
    att.apply(scene, result)
    assert [(s.speaker, s.person, s.evidence) for s in scene.segments] == [
        ("S0", "PA", "asd"), ("S1", "PB", "voice"), ("S2", None, "asd")]
    assert [w.text for w in scene.segments[1].words] == ["w6", "w7", "w8"]
    assert [s.person_confidence for s in scene.segments] == [0.9, 0.7, 0.8]
    assert [s.id for s in scene.speakers] == ["S0", "S1", "S2"]
    a, b = scene.tracks
    assert all(s > 0 for t, s in a.speaking if t < 3.0) and all(s < 0 for t, s in a.speaking if 3.0 <= t < 6.0)
    assert all(s > 0 for t, s in b.speaking if 3.0 <= t < 4.5) and all(s < 0 for t, s in b.speaking if t < 3.0)
    assert all(s < 0 for tr in (a, b) for t, s in tr.speaking if 4.5 <= t < 6.0)  # a voice-over: nobody
    assert [r[1] for r in a.asd] == [3.0] * 200  # the network's own scores are kept


def test_faceless_input_keeps_the_audio_diarization():
    words = [Word(0.1, 0.5, "a", speaker="S0"), Word(1.0, 1.4, "b", speaker="S1")]
    segs = [Segment(0, 0.1, 0.5, "a", speaker="S0", words=[words[0]]),
            Segment(1, 1.0, 1.4, "b", speaker="S1", words=[words[1]])]
    scene = Scene(MediaInfo("x.wav", 2.0, 0.0, 0, 0, True, has_video=False), speakers=[Speaker("S0"), Speaker("S1")],
                  segments=segs)
    before = scene.to_dict()
    result = att.attribute(scene, np.zeros(32000, np.float32), [SpeakerTurn(0.0, 0.6, "S0"),
                                                                  SpeakerTurn(0.9, 1.5, "S1")])
    assert result.method == "audio" and scene.to_dict() == before


def test_asd_cache_key_follows_the_boxes_not_just_their_count():
    a = Track("T0", 0.0, 1.0, [[0.0, 0, 0, 10, 10], [0.04, 0, 0, 10, 10]])
    b = Track("T0", 0.0, 1.0, [[0.0, 0, 0, 10, 10], [0.04, 1, 0, 11, 10]])
    assert av.tracks_key([a]) != av.tracks_key([b])
    assert av.tracks_key([a]) == av.tracks_key([Track("T0", 0.0, 1.0, [list(r) for r in a.boxes])])


def test_diarization_keeps_its_cam_frames_and_turn_voices_pooled_from_them_match_a_pass_of_their_own():
    """The attribution's voices come from the CAM++ frames the diarization computed (no second pass):
    same turns as diarize(), frames covering the audio, and per-turn embeddings as from a fresh pass."""
    from sceneglot import media
    from sceneglot.av import turns as turns_mod
    from sceneglot.speech.diarize import diarize, diarize_with_voices
    from tests.media_fixtures import DIAR_WAV

    audio = media.read_audio(DIAR_WAV)
    turns, kept = diarize_with_voices(audio)
    assert [(t.start, t.end, t.speaker) for t in turns] == [(t.start, t.end, t.speaker) for t in diarize(audio)]
    assert kept.features.dtype == np.float16 and kept.features.shape == (len(kept.times), 512)
    assert np.all(np.diff(kept.times) > 0) and kept.times[0] < 0.05 and kept.times[-1] > len(audio) / 16000 - 0.05
    own = turns_mod.voice_frames(audio)
    items = [Turn(t.start, t.end, t.speaker) for t in turns if t.end - t.start >= turns_mod.MIN_VOICE]
    shared = [Turn(t.start, t.end, t.audio_speaker) for t in items]
    turns_mod.add_voices(items, audio, own)
    turns_mod.add_voices(shared, audio, kept)
    sims = [float(a.voice @ b.voice) for a, b in zip(items, shared, strict=True)]
    assert len(sims) >= 5 and min(sims) > 0.98  # blocks cut at other places (CMN and context differ a little)


def test_a_change_inside_a_turn_goes_to_the_word_gap_where_the_sound_changes():
    """Two recordings joined at a known sample: of gaps every 0.1 s, the cepstral split of the speech frames
    picks the one nearest the join (turns.acoustic_change)."""
    from sceneglot import media
    from sceneglot.av.turns import acoustic_change
    from sceneglot.speech import vad
    from tests.media_fixtures import DIAR_WAV, JFK

    # JFK from 3 s, then sample.wav's speaker91 alone (21.78-28.5 s in sample.rttm): the join falls in speech
    first, second = media.read_audio(JFK)[3 * 16000:6 * 16000], media.read_audio(DIAR_WAV)[
        int(21.7 * 16000):24 * 16000]
    audio = np.concatenate([first, second])
    join = len(first) / 16000
    speech = vad.speech_regions(audio, 16000)  # the frames that count (words, in the attribution)
    gaps = [round(0.5 + 0.1 * k, 2) for k in range(int((len(audio) / 16000 - 1.0) / 0.1))]
    found = acoustic_change(audio, 0.0, len(audio) / 16000, speech, gaps)
    assert found is not None and abs(found - join) <= 0.1 + 1e-6
    assert acoustic_change(audio, 0.0, 0.5, [(0.0, 0.5)], [0.25]) is None  # too little speech either side


def test_a_few_frames_seen_speaking_at_a_cut_do_not_decide_who_owns_a_voice():
    blip = Turn(2.42, 2.48, "S1", None, {"PA": 4.4, "PB": 2.0})  # 60 ms at a cut: no voice of its own
    long = Turn(2.48, 4.0, "S1", _voice(0), {"PA": 4.0, "PB": 4.5})  # nobody clearly ahead
    owners = att._owners([blip, long], [0, 0], S)
    assert owners[0][0] == "PB"  # from the long turn's faces (PB ahead), not the blip's "seen" PA


def test_a_voice_seen_only_by_the_sync_does_not_take_a_face_light_asd_sees_saying_another():
    """dialogue.mp4's records with its audio after the packet gaps 0.5 ms earlier: the radio voice-over's z on the
    muted listener's lips moves from +2.8 against +0.6 to +2.8 against +0.3 and passes the sync level; its own
    voice is seen by Light-ASD. The radio's z's were picked because they passed, so they are not pooled against it."""
    far = _dist(S.clear + 0.1)
    hers = Turn(3.60, 4.68, "S1", _voice(0), {"adams": 2.5, "hill": 4.6}, {"adams": -3.5, "hill": 0.8})
    radio = Turn(10.04, 12.24, "S1", _voice(far), {"adams": 5.1, "hill": 4.7}, {"adams": 0.3, "hill": 2.8})
    assert att.seen_as(hers, S) == ("hill", att.ASD) and att.seen_as(radio, S) == ("hill", att.SYNC)
    labels = att.cluster_turns([hers, radio], S)
    assert labels == [0, 1]
    owners = att._owners([hers, radio], labels, S)
    assert owners[0][0] == "hill" and owners[1][0] is None


def test_hand_edited_phrases_fuse_the_speaking_scores_again():
    a, b = (Track(f"T{n}", 0.0, 2.0, [[k / 25, 0, 0, 10, 10] for k in range(50)], person=p,
                  asd=[[k / 25, 2.0] for k in range(50)]) for n, p in enumerate(["PA", "PB"]))
    segs = [Segment(0, 0.0, 1.0, "x", speaker="S0", person="PB")]
    att.fuse_phrases([a, b], segs)
    assert all(s < 0 for t, s in a.speaking if t < 1.0) and all(s > 0 for t, s in b.speaking if t < 1.0)
    assert all(s == 2.0 for t, s in a.speaking if t > 1.05)  # nobody heard: the network's score stays


def _whole_matrix_clusters(items: list[Turn], s: AttributionSettings) -> list[list[int]]:
    """The constrained average linkage written plainly: every merge rescans the whole similarity matrix
    (n^3), under the constraints the module states; the groups of turn indices it ends with."""
    idx = [i for i, t in enumerate(items) if t.voice is not None]
    groups = [[i] for i in idx]

    def person(g):
        seen = {p for i in g if (p := att.seen(items[i], s)) is not None}
        return seen.pop() if len(seen) == 1 else (None if not seen else "many")

    def allowed(g, h):
        pg, ph = person(g), person(h)
        if pg is not None and ph is not None and pg != ph:
            return False
        for who, other in ((pg, h), (ph, g)):  # a seen person visible, silent, during the other's turns
            if who is not None and any(att.silent(items[i], s) and who in items[i].faces for i in other):
                return False
        return True

    for must in (True, False):
        while True:
            best = None
            for x in range(len(groups)):
                for y in range(x + 1, len(groups)):
                    g, h = groups[x], groups[y]
                    if not allowed(g, h) or (must and (person(g) is None or person(g) != person(h))):
                        continue
                    sim = float(np.mean([items[i].voice @ items[j].voice for i in g for j in h]))
                    if best is None or sim > best[0] + 1e-12:
                        best = (sim, x, y)
            if best is None or 1.0 - best[0] > (s.clear if must else s.voice):
                break
            _, x, y = best
            groups[x] = groups[x] + groups.pop(y)
    return sorted(sorted(g) for g in groups)


def test_clustering_kept_across_merges_gives_the_whole_matrix_linkage():
    rng = np.random.default_rng(3)
    for n in (5, 30, 80):
        centres = rng.normal(size=(5, 8))
        items = []
        for k in range(n):
            p = int(rng.integers(5))
            v = centres[p] + 1.2 * rng.normal(size=8)
            faces = {f"P{q}": float(rng.normal(2.5 if q == p else -1.0, 1.5))
                     for q in rng.choice(5, size=int(rng.integers(0, 3)), replace=False)}
            items.append(Turn(k, k + 1, f"S{p}", None if rng.random() < 0.1 else v / np.linalg.norm(v), faces))
        labels = att.cluster_turns(items, S)
        got: dict[int, list[int]] = {}
        for i, lab in enumerate(labels):
            if lab >= 0:
                got.setdefault(lab, []).append(i)
        want = _whole_matrix_clusters(items, S)
        assert sorted(got.values()) == want
        assert 1 < len(want) < sum(t.voice is not None for t in items)  # some turns join, not all


def test_a_word_takes_the_turn_it_overlaps_most_among_many():
    rng = np.random.default_rng(4)
    results = []
    for _ in range(300):
        a = round(float(rng.uniform(0, 600)), 2)
        results.append(TurnResult(Turn(a, round(a + float(rng.uniform(0.2, 2.0)), 2), "S0"), 0,
                                  f"S{rng.integers(3)}", f"P{rng.integers(2)}"))
    by_time = att._TurnsByTime(results)
    for _ in range(500):
        a = round(float(rng.uniform(-5, 605)), 2)
        word = Word(a, round(a + float(rng.choice([0.0, rng.uniform(0.05, 1.5)])), 2), "x")
        total: dict = {}
        for r in results:  # the definition, over every turn
            ov = min(word.end, r.turn.end) - max(word.start, r.turn.start)
            if ov > 0:
                total.setdefault((r.speaker, r.person), []).append((ov, r))
        if total:
            key = max(total, key=lambda k: sum(ov for ov, _ in total[k]))
            assert by_time.turn_of(word) in [r for ov, r in total[key] if ov == max(o for o, _ in total[key])]
        else:
            mid = (word.start + word.end) / 2
            gap = min(max(r.turn.start - mid, mid - r.turn.end) for r in results)
            got = by_time.turn_of(word)
            assert max(got.turn.start - mid, mid - got.turn.end) == gap


def test_a_word_timed_into_the_previous_voice_is_clipped_to_its_own_turns():
    # Whisper's first word after a change starts 0.14 s early, in the pause and the other voice; a zero-length
    # word in the pause, nearer the turn before, is said next to the word after it: each goes to its word's
    # turn's phrase, timed inside that turn.
    words = [Word(0.2, 0.6, "a"), Word(0.6, 2.3, "b"), Word(2.36, 2.6, "At"), Word(2.6, 3.0, "c"),
             Word(3.25, 3.25, "To"), Word(3.25, 3.6, "the"), Word(3.6, 4.0, "end")]
    scene = _scene(words)
    result = Attribution([TurnResult(Turn(0.1, 2.22, "S0"), 0, "S0", "PA", att.ASD, 0.9),
                          TurnResult(Turn(2.42, 2.48, "S1"), 1, "S1", "PB", att.ASD, 0.9),
                          TurnResult(Turn(2.48, 3.1, "S1"), 1, "S1", "PB", att.ASD, 0.9),
                          TurnResult(Turn(3.45, 4.2, "S0"), 0, "S0", "PA", att.ASD, 0.9)],
                         [Speaker("S0", "PA"), Speaker("S1", "PB")])
    att.apply(scene, result)
    assert [[w.text for w in s.words] for s in scene.segments] == [["a", "b"], ["At", "c"], ["To", "the", "end"]]
    assert [(s.person, s.start, s.end) for s in scene.segments] == [("PA", 0.2, 2.22), ("PB", 2.42, 3.0),
                                                                     ("PA", 3.45, 4.0)]
    at, to = words[2], words[4]
    assert (at.start, at.end) == (2.42, 2.6) and (to.start, to.end) == (3.45, 3.45)


def test_a_zero_length_word_between_two_voices_goes_with_the_word_after_it():
    # dialogue.mp4 on CI's CPU: Whisper times "a" zero-length at 7.04 s, between "in" (ending there) and "use"
    # (starting there); the diarization changes 3 ms later, the edit point is 7.0 s. "a" is heard where "use"
    # begins: it opens the second voice's phrase, timed at its turn's start. Elsewhere a tie keeps the word before.
    words = [Word(6.4, 6.74, "perspective"), Word(6.74, 7.04, "in"), Word(7.04, 7.04, "a"), Word(7.04, 7.26, "use"),
             Word(7.26, 7.5, "the")]
    scene = _scene(words)
    result = Attribution([TurnResult(Turn(5.068, 7.043, "S0"), 0, "S0", "PA", att.ASD, 0.9),
                          TurnResult(Turn(7.043, 13.978, "S1"), 1, "S1", "PB", att.ASD, 0.9)],
                         [Speaker("S0", "PA"), Speaker("S1", "PB")])
    att.apply(scene, result)
    assert [[w.text for w in s.words] for s in scene.segments] == [["perspective", "in"], ["a", "use", "the"]]
    assert (words[2].start, words[2].end) == (7.043, 7.043)
    # a word with length in a pause, as far from the words either side: the word before's, as before
    words = [Word(1.0, 1.5, "one"), Word(2.0, 2.2, "um"), Word(2.7, 3.0, "two")]
    scene = _scene(words)
    result = Attribution([TurnResult(Turn(0.9, 1.6, "S0"), 0, "S0", "PA", att.ASD, 0.9),
                          TurnResult(Turn(2.6, 3.1, "S1"), 1, "S1", "PB", att.ASD, 0.9)],
                         [Speaker("S0", "PA"), Speaker("S1", "PB")])
    att.apply(scene, result)
    assert [[w.text for w in s.words] for s in scene.segments] == [["one", "um"], ["two"]]


def test_a_voice_is_refused_a_face_only_on_the_views_of_the_lips_its_speaker_model_was_measured_on():
    """follows' speaker model (follow, follow_spread) was measured on each turn's z pooled from both views of the
    lips (Light-ASD's encoder rows and the mouth's flow): each turn's record says which views its z pools
    (Turn.views, from sync.Sync.views), and only a z on both may refuse the face a voice it is seen saying."""
    both, flow = {"PA": (ENCODER, FLOW)}, {"PA": (FLOW,)}
    out_of_step = [Turn(0, 1.2, "S0", _voice(0), {"PA": 4.0}, {"PA": -2.8}, views=both)]
    assert att.follows("PA", out_of_step, S)[0] is False
    assert att._owners(out_of_step, [0], S)[0][0] is None  # heard from off screen
    assert att._owners(out_of_step, [0], S)[0][1] == att.SYNC
    alone = [Turn(0, 1.2, "S0", _voice(0), {"PA": 4.0}, {"PA": -2.8}, views=flow)]  # a GRID sentence, flow only
    assert att.follows("PA", alone, S)[0] is True and att._owners(alone, [0], S)[0][0] == "PA"
    in_step = [Turn(0, 1.2, "S0", _voice(0), {"PA": 4.0}, {"PA": 1.0}, views=both)]
    assert att.follows("PA", in_step, S)[0] is True


def test_of_two_voices_a_face_is_seen_saying_the_logit_decides_only_where_no_sync_was_measured():
    """twoshot-voiceover's records (benchmarks/reedit.py): the left face is seen saying JFK's voice over its muted
    lips at +5.3 and its own at +4.3; its lips follow each at z 0.81 and 0.82 per root second, over 2.7 and 3.0 s.
    Its own voice is the one the lips are likelier a speaker's on (more speech at the same rate); with no sync
    measured, the logit decides."""
    both = {"PA": (ENCODER, FLOW)}
    jfk = [Turn(3.5, 4.8, "S1", _voice(0), {"PA": 5.3}, {"PA": 0.81 * 1.3 ** 0.5}, views=both),
           Turn(5.5, 6.9, "S1", _voice(0), {"PA": 5.3}, {"PA": 0.81 * 1.4 ** 0.5}, views=both)]
    own = [Turn(6.9, 8.4, "S2", _voice(2), {"PA": 4.3}, {"PA": 0.82 * 1.5 ** 0.5}, views=both),
           Turn(8.9, 10.4, "S2", _voice(2), {"PA": 4.3}, {"PA": 0.82 * 1.5 ** 0.5}, views=both)]
    assert att.speaking_odds("PA", own, S) > att.speaking_odds("PA", jfk, S)
    assert att.own_voice("PA", {1: jfk, 2: own}, S) == 2
    unmeasured = {c: [Turn(t.start, t.end, "", faces=dict(t.faces)) for t in ts] for c, ts in ((1, jfk), (2, own))}
    assert att.own_voice("PA", unmeasured, S) == 1
    labels = att.cluster_turns(jfk + own, S)
    assert labels == [0, 0, 1, 1]  # the voices clearly differ: two clusters
    owners = att._owners(jfk + own, labels, S)
    assert owners[1][0] == "PA" and owners[0][0] is None


def test_of_two_voices_a_face_is_seen_saying_one_another_visible_face_could_be_saying_is_given_up_first():
    """twoshot's records at margin 1: the left face is seen saying its own voice (+5.1, the right face silent at
    -1.5) and, by a lead of 1.1, the right face's (+4.8 against +3.7: its lips keep moving, muted). Its lips follow
    its own voice weakly (z 0.26 over 3.4 s) and hers no worse (0.29 over 1.8 s), so the lips alone would keep
    hers; but hers may be the right face's, and its own voice nobody else's: it keeps its own."""
    both = {"PA": (ENCODER, FLOW), "PB": (ENCODER, FLOW)}
    own = [Turn(0.0, 1.7, "S0", _voice(0), {"PA": 5.1, "PB": -1.5}, {"PA": 0.19, "PB": -0.7}, views=both),
           Turn(1.7, 3.4, "S0", _voice(0), {"PA": 5.1, "PB": -1.5}, {"PA": 0.19, "PB": -0.7}, views=both)]
    hers = [Turn(4.3, 6.1, "S1", _voice(2), {"PA": 4.8, "PB": 3.7}, {"PA": 0.29, "PB": 1.2}, views=both)]
    assert att.speaking_odds("PA", hers, S) > att.speaking_odds("PA", own, S)
    assert att.own_voice("PA", {0: own, 1: hers}, S) == 0


def test_a_short_turn_joins_the_nearest_voiced_turn_of_its_audio_label_as_a_scan_of_all_would():
    rng = np.random.default_rng(11)
    for n in (3, 40, 200):
        items, labels = [], []
        for _ in range(n):  # start times on a coarse grid: middles tie, the first turn in order wins
            a = float(rng.integers(0, 2 * n)) / 2
            voiced = rng.random() < 0.6
            items.append(Turn(a, a + (1.0 if voiced else 0.2) * rng.integers(1, 3), f"S{rng.integers(3)}"))
            labels.append(int(rng.integers(4)) if voiced else -1)
        got = att._attach_short(items, labels, S)
        voiced = [i for i, lab in enumerate(labels) if lab >= 0]
        for i, t in enumerate(items):
            if labels[i] >= 0:
                continue
            pool = [j for j in voiced if items[j].audio_speaker == t.audio_speaker] or voiced
            mid = (t.start + t.end) / 2
            if pool:  # as _attach_short scanned them before (stop 26)
                assert got[i] == labels[min(pool, key=lambda j: abs((items[j].start + items[j].end) / 2 - mid))]


def test_a_change_of_speaker_is_refined_from_the_words_near_it_as_from_all_of_them():
    from sceneglot.av import turns
    from sceneglot.speech.turns import VoiceFrames

    rng = np.random.default_rng(2)
    audio = rng.normal(size=16000 * 40).astype(np.float32)
    t, words = 0.0, []
    while t < 39:
        t += float(rng.uniform(0.05, 0.4))
        words.append(Word(t, t + float(rng.uniform(-0.02, 0.6)), "w"))  # some end before they start, some overlap
        t += float(rng.uniform(0, 0.5))
    words.sort(key=lambda w: w.start)
    speech = [(w.start, w.end) for w in words]
    gaps = [(x.end + y.start) / 2 for x, y in itertools.pairwise(words)]
    times = 0.0125 + 0.02 * np.arange(1990)
    voices = VoiceFrames(times, rng.normal(size=(len(times), 512)).astype(np.float16))
    left, right = rng.normal(size=192), rng.normal(size=192)
    near = att._NearWords(words)
    for lo in (0.0, 3.3, 17.9, 36.0):
        hi = lo + 3.7
        mine, inside = near(lo, hi)
        assert turns.acoustic_change(audio, lo, hi, mine, inside) == turns.acoustic_change(audio, lo, hi, speech, gaps)
        assert (turns.refine_change(voices, lo, hi, left, right, inside)
                == turns.refine_change(voices, lo, hi, left, right, gaps))


def test_a_turns_sync_is_measured_on_the_track_covering_most_of_it_among_many():
    from sceneglot.av import turns

    rng = np.random.default_rng(4)
    tracks = []
    for k in range(300):
        a = float(rng.integers(0, 3000)) / 4
        tracks.append(Track(f"T{k}", a, a, [[a + i / 25, 0, 0, 1, 1] for i in range(int(rng.integers(5, 400)))],
                            person=f"P{rng.integers(3)}"))
    items = []
    for _ in range(400):
        a = float(rng.uniform(0, 760))
        items.append(Turn(a, a + float(rng.uniform(0.02, 2)), "S0", faces={f"P{q}": 1.0 for q in range(3)}))
    asked: list[tuple[str, int, int]] = []
    turns.add_sync(items, tracks, lambda tid, lo, hi: asked.append((tid, lo, hi)))
    want = []
    for t in items:  # every track of the person, as add_sync scanned them before (stop 26)
        frames = turns.frames_of(t)
        if not len(frames):
            continue
        lo, hi = int(frames[0]), int(frames[-1]) + 1
        for person in t.faces:
            spans = [(tr.id, round(tr.boxes[0][0] * 25), round(tr.boxes[-1][0] * 25) + 1) for tr in tracks
                     if tr.person == person]
            best = max([(min(hi, b) - max(lo, a), tid, max(lo, a), min(hi, b)) for tid, a, b in spans], default=None)
            if best is not None and best[0] > 0:
                want.append(best[1:])
    assert asked == want and len(want) > 100
