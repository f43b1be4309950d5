"""Who said it, on which face: audio-visual diarization and attribution of every word.

Speakers are decided from voices and faces together, on short turns (see
`turns.py`). A turn is *seen* as person P's when P's raw Light-ASD logit over
it is above `speak` and at least `margin` above the other visible faces' (a
face alone on screen: `margin` above `speak`, the network's boundary), unless
another face's lips follow the turn's sound clearly better; where no face leads
by `margin`, a face whose lips follow the sound `sync` standard deviations
better than the others' (lip-sound sync, `sync.py`: a z against the same lips
with the sound shifted) is seen speaking. A turn is *silent* when faces are
visible and every logit is below `silent`. Turns are then clustered by voice
(average-linkage cosine distance) under constraints:

- cannot-link: turns seen as different persons; a turn seen as P and a silent
  turn during which P is visible (P does not speak there, so that voice is not P's);
- must-link: turns seen as the same person join first unless their voices are
  `clear` apart (a person filmed with two microphones stays one speaker);
- other turns join by voice up to `voice`.

A cluster with seen turns belongs to that person, unless that face's lips, pooled over those turns,
follow its sound clearly less than a speaker's lips follow their own voice (`follows`: Light-ASD scores
lips moving to a muted recording as speaking, so a voice-over on such a face is heard from off screen,
evidence "sync"); of several such clusters
(voices that clearly differ) the face keeps, of those no other visible face
could be saying (if any), the one under which its lips are likeliest a
speaker's (pooled lip-sound sync, follows' speaker model against chance; with
no sync measured, the one it is seen saying most strongly), among those
Light-ASD sees it saying if any (a voice seen only by the sync was chosen on
the same z's), the others are heard from off screen. The rest are
matched one to one to persons who own no cluster yet, on how far each face's
lips follow the cluster's speech ahead of the other faces' (Light-ASD's lead
where no sync is measured); what stays unmatched is heard from off screen.
Every person is one speaker id, on screen or off; each off-screen cluster is
another. A turn's phrase goes to the speaker's face only while that face is
visible and not silent, so reverse shots and voice-overs get no face.
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..scene import Scene, Segment, Speaker, Track, Word
from . import AttributionSettings
from . import turns as turns_mod
from .features import FPS
from .sync import ENCODER, FLOW
from .turns import Turn

if TYPE_CHECKING:
    from ..speech.phrases import PhraseRules
    from ..speech.turns import SpeakerTurn, VoiceFrames

__all__ = ["Attribution", "AttributionSettings", "Sync", "TurnResult", "attribute", "diarize_av", "fuse_phrases"]

ASD, VOICE, COOCCURRENCE, SYNC = "asd", "voice", "co-occurrence", "sync"
MODELLED = frozenset({ENCODER, FLOW})  # the views of the lips follows' speaker model was measured on, pooled
BLOCK_ROWS = 256  # cluster_turns: similarity rows made at once (256 x 2500 float64: 5 MB)
MAX_PAUSE = 1.0  # s: a pause this short between two turns of one person is still that person speaking


@dataclass
class TurnResult:
    turn: Turn
    cluster: int
    speaker: str | None = None
    person: str | None = None
    evidence: str | None = None
    confidence: float = 0.0


@dataclass
class Attribution:
    turns: list[TurnResult] = field(default_factory=list)
    speakers: list[Speaker] = field(default_factory=list)
    method: str = "audio-visual"  # or "audio" (no faces: the audio diarization unchanged)


def _phi(x: float) -> float:
    """The standard normal distribution function."""
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 30.0), -30.0)))


def _sync_lead(t: Turn, person: str) -> float | None:
    """How far `person`'s lips follow the turn's sound ahead of the best other visible face's, in units of
    that difference's standard deviation under chance (each z is unit-variance there; a face alone on
    screen is compared with chance itself, z 0). None: no z for that person or for a visible rival."""
    if person not in t.sync:
        return None
    rivals = [p for p in t.faces if p != person]
    if not rivals:
        return t.sync[person]
    if any(p not in t.sync for p in rivals):
        return None
    return (t.sync[person] - max(t.sync[p] for p in rivals)) / math.sqrt(2.0)


def seen_as(t: Turn, s: AttributionSettings) -> tuple[str | None, str | None]:
    """(the person seen speaking during the turn, if any is clearly; ASD or SYNC: what showed it).

    Light-ASD's lead decides unless another visible face's lips follow the sound better by more than
    `sync` standard deviations (lips moving to a muted recording score as high as a speaker's); where its
    lead is under `margin`, the face whose lips follow the sound by that much, if the network does not
    score it silent, is seen speaking."""
    if not t.faces:
        return None, None
    ranked = sorted(((v, p) for p, v in t.faces.items()), reverse=True)
    best, person = ranked[0]
    # the lead is over the next face, or for a face alone on screen over the network's own boundary: a lone
    # silent face scores +1 to +2 while another voice talks (GRID, benchmarks/avsr.py), a speaking one +4
    runner_up = ranked[1][0] if len(ranked) > 1 else s.speak
    if best >= s.speak and best - runner_up >= s.margin:
        if any((lead := _sync_lead(t, q)) is not None and lead > s.sync for q in t.faces if q != person):
            return None, None  # another face's lips follow this sound clearly better: undecided
        return person, ASD
    leads = {p: lead for p in t.faces if (lead := _sync_lead(t, p)) is not None}
    follow = max(leads, key=leads.get, default=None)
    if follow is not None and leads[follow] > s.sync and t.faces[follow] >= s.speak:
        return follow, SYNC
    return None, None


def seen(t: Turn, s: AttributionSettings) -> str | None:
    """The person seen speaking during the turn, if any is clearly (seen_as)."""
    return seen_as(t, s)[0]


def silent(t: Turn, s: AttributionSettings) -> bool:
    return bool(t.faces) and max(t.faces.values()) < s.silent


def cluster_turns(items: list[Turn], s: AttributionSettings) -> list[int]:
    """Constrained average-linkage clustering of the turns that have voices; -1 for the others.

    Per cluster: the person it is seen as (-1: none) and the persons seen silent while it speaks; two
    clusters may merge only if that leaves one person seen and no seen person silent. The state is
    kept as arrays updated on each merge, so the cost stays that of plain average linkage."""
    idx = [i for i, t in enumerate(items) if t.voice is not None]
    labels = [-1] * len(items)
    if not idx:
        return labels
    vecs = np.stack([items[i].voice for i in idx]).astype(np.float64)
    n = len(idx)
    people = sorted({p for i in idx for p in items[i].faces})
    seen_by = np.array([people.index(p) if (p := seen(items[i], s)) is not None else -1 for i in idx])
    mute = np.zeros((n, len(people) + 1), bool)  # the last column stands for "nobody": never muted
    for k, i in enumerate(idx):
        if silent(items[i], s):
            mute[k, [people.index(p) for p in items[i].faces]] = True

    def blocked_row(a: int) -> np.ndarray:
        pa = seen_by[a]
        both = (pa >= 0) & (seen_by >= 0) & (seen_by != pa)
        return both | (mute[:, pa] if pa >= 0 else False) | mute[a, seen_by]

    total = vecs @ vecs.T  # sums of pairwise similarities between clusters
    del vecs
    size = np.ones(n)
    members = [[k] for k in range(n)]
    alive = np.ones(n, bool)
    blocked = np.empty((n, n), bool)  # filled a row at a time: no list of rows beside it
    for a in range(n):
        blocked[a] = blocked_row(a)

    def barred(rows: np.ndarray, must: bool) -> np.ndarray:  # which of these rows' pairs may not merge now
        out = blocked[rows] | ~alive[None, :] | ~alive[rows, None]
        if must:  # only clusters seen as the same person
            out |= (seen_by[rows, None] < 0) | (seen_by[rows, None] != seen_by[None, :])
        return out

    def sims(rows: np.ndarray, must: bool) -> np.ndarray:
        """Rows of the average-linkage similarity, barred pairs and the diagonal -inf: each entry
        total[i, j] / (size[i] * size[j]), the value a kept matrix would hold for it."""
        out = total[rows] / (size[rows, None] * size[None, :])
        out[barred(rows, must)] = -np.inf
        out[np.arange(len(rows)), rows] = -np.inf
        return out

    def argmax_rows(rows: np.ndarray, must: bool) -> tuple[np.ndarray, np.ndarray]:
        """Each row's first largest similarity's column and value, a block of rows at a time."""
        cols, vals = np.empty(len(rows), np.intp), np.empty(len(rows))
        for k in range(0, len(rows), BLOCK_ROWS):
            block = sims(rows[k:k + BLOCK_ROWS], must)
            cols[k:k + BLOCK_ROWS] = np.argmax(block, axis=1)
            vals[k:k + BLOCK_ROWS] = block[np.arange(len(block)), cols[k:k + BLOCK_ROWS]]
        return cols, vals

    # Average linkage over the similarity sums kept across merges: a merge of b into a changes only row
    # and column a of `total` (and retires b), and each row's best pair is refreshed where it involved a
    # or b. Recomputing the matrix per merge made n merges cost n^3 (an hour's ~2500 voiced turns:
    # minutes). The similarity itself is not kept as a second n x n matrix (nor made whole at each
    # phase): the rows a refresh reads are computed from `total`, a block at a time, to the same values,
    # so the pair chosen is still the one a whole-matrix argmax picks, ties included.
    everyone = np.arange(n)
    for must in (True, False):
        best_col, best = argmax_rows(everyone, must)
        while True:
            a = int(np.argmax(best))  # the first row holding the largest value, at its first column
            b = int(best_col[a])
            if 1.0 - best[a] > (s.clear if must else s.voice):
                break
            total[a, :] += total[b, :]
            total[:, a] += total[:, b]
            size[a] += size[b]
            alive[b] = False
            members[a] += members[b]
            seen_by[a] = max(seen_by[a], seen_by[b])  # at most one of them is a person (else blocked)
            mute[a] |= mute[b]
            blocked[a, :] = blocked[:, a] = blocked_row(a)
            column = total[:, a] / (size * size[a])
            column[barred(np.array([a]), must)[0]] = -np.inf  # barring is symmetric
            column[a] = -np.inf
            gained = (column > best) | ((column == best) & (best_col > a))
            best[gained], best_col[gained] = column[gained], a
            stale = np.flatnonzero((best_col == b) | (best_col == a) & ~gained)
            stale = np.union1d(stale, [a, b])
            best_col[stale], best[stale] = argmax_rows(stale, must)
    groups = sorted((members[k] for k in range(n) if alive[k]), key=min)
    for lab, group in enumerate(groups):
        for k in group:
            labels[idx[k]] = lab
    return labels


def _attach_short(items: list[Turn], labels: list[int], s: AttributionSettings) -> list[int]:
    """Turns too short for a voice join: the cluster seen as their person, else a neighbour with their
    audio label (nearest in time), else the nearest voiced turn; with no voiced turn at all, the audio label."""
    out = list(labels)
    voiced = [i for i, lab in enumerate(labels) if lab >= 0]
    by_person: dict[str, int] = {}
    for i in voiced:
        p = seen(items[i], s)
        if p is not None:
            by_person.setdefault(p, labels[i])
    audio_ids: dict[str, int] = {}
    base = max(labels, default=-1) + 1
    anyone = _Nearest(items, voiced)
    same = {who: _Nearest(items, [j for j in voiced if items[j].audio_speaker == who])
            for who in {items[j].audio_speaker for j in voiced}}
    for i, t in enumerate(items):
        if out[i] >= 0:
            continue
        p = seen(t, s)
        if p is not None and p in by_person:
            out[i] = by_person[p]
            continue
        pool = same.get(t.audio_speaker) or anyone
        if pool.js:
            out[i] = labels[pool((t.start + t.end) / 2)]
        else:
            out[i] = audio_ids.setdefault(t.audio_speaker, base + len(audio_ids))
    return out


class _Nearest:
    """Turns by the middle of their time, for _attach_short: the one whose middle is nearest a time (ties: the
    first in the turns' order), by bisection (a scan of every voiced turn per short turn made it quadratic)."""

    def __init__(self, items: list[Turn], js: list[int]) -> None:
        self.js = sorted(js, key=lambda j: ((items[j].start + items[j].end) / 2, j))
        self.mids = [(items[j].start + items[j].end) / 2 for j in self.js]

    def __call__(self, mid: float) -> int:
        """The nearest one's index: the first at or after `mid`, or the first of the run of equal middles
        just before it (sorted by (middle, index), so each run's first has the lowest index)."""
        p = bisect.bisect_left(self.mids, mid)
        sides = ([p] if p < len(self.mids) else []) + ([bisect.bisect_left(self.mids, self.mids[p - 1])] if p else [])
        return self.js[min(sides, key=lambda k: (abs(self.mids[k] - mid), self.js[k]))]


class Sync(NamedTuple):
    """How well a face's lips follow the sound heard over some turns: a measure and its standard error
    when the lips have nothing to do with the sound (decisions compare two faces or two voices by
    their difference against sqrt(se1^2 + se2^2))."""

    value: float
    se: float


def sync(person: str, items: list[Turn]) -> Sync | None:
    """`person`'s lip-sound sync over the turns (sync.py's z per turn, against the same lips with the sound
    shifted), pooled: sum(w z) / sqrt(sum(w^2)) with w the square root of each turn's length (Liptak's
    weighted Stouffer), itself unit-variance under chance. None: no turn with a z for that face."""
    found = [(math.sqrt(t.duration), t.sync[person]) for t in items if person in t.sync]
    if not found:
        return None
    w = np.array([x for x, _ in found])
    return Sync(float(w @ np.array([z for _, z in found]) / math.sqrt(float(w @ w))), 1.0)


def _speaker_model(seconds: float, s: AttributionSettings) -> tuple[float, float]:
    """(mean, variance) of a speaking face's pooled sync over `seconds` of its own voice (follows)."""
    return s.follow * math.sqrt(seconds), 1.0 + s.follow_spread ** 2 * seconds


def follows(person: str, mine: list[Turn], s: AttributionSettings) -> tuple[bool, float]:
    """(whether `person`'s lips may be saying the voice heard over `mine`, the turns it is seen saying it;
    how sure a "no" is). A speaking face's pooled sync over D seconds is about normal, mean `s.follow` sqrt(D)
    and variance 1 + (`s.follow_spread`^2) D (the z's own unit noise, and faces that follow their sound more
    or less well: a phone-band recording, a face half turned away); lips moving to a muted recording under
    another voice stay at chance (z 0). "This face says this voice" is rejected when the pooled z falls
    `s.sync` standard deviations below that (a one-sided test at the level `sync` stands for): a weak sync
    on a true speaker is kept, lips clearly out of step with the voice are not. Kept: no turn with a z, or
    a turn whose z rests on other views of the lips than the model was measured on (MODELLED, the turn's
    Turn.views): from the flow alone a GRID speaker's lips scored z -2.8 over his own 1.2 s sentence
    (tests/test_avsr_command.py, where the AVSR tool keeps no encoder rows)."""
    found = [t for t in mine if person in t.sync]
    pooled = sync(person, found)
    if pooled is None or any(set(t.views.get(person, ())) != MODELLED for t in found):
        return True, 0.0
    mean, var = _speaker_model(sum(t.duration for t in found), s)
    deviation = (pooled.value - mean) / math.sqrt(var)
    return deviation >= -s.sync, 1.0 - _phi(deviation)


def speaking_odds(person: str, mine: list[Turn], s: AttributionSettings) -> float | None:
    """How much more likely `person`'s pooled lip sync over `mine` is if the face says the voice heard there
    than if its lips move to something else: the log likelihood ratio of follows' speaker model,
    N(follow sqrt(D), 1 + follow_spread^2 D), against chance, N(0, 1). It weighs a z by how much speech it
    rests on (the same z per root second says more over more seconds). None: no turn with a z."""
    found = [t for t in mine if person in t.sync]
    pooled = sync(person, found)
    if pooled is None:
        return None
    z = pooled.value
    mean, var = _speaker_model(sum(t.duration for t in found), s)
    return -(z - mean) ** 2 / (2 * var) - 0.5 * math.log(var) + z * z / 2


def own_voice(person: str, spans: dict[int, list[Turn]], s: AttributionSettings | None = None) -> int:
    """Of several clearly different voices (clusters -> the turns it is seen saying each) one face is seen
    saying, the one that is its own.

    A voice heard while another visible face is not silent (its logit at `speak` or above over most of that
    speech) may be that face's, and the co-occurrence match can give it there; a voice no other visible face
    could be saying has no such explanation, so the face's own voice is looked for among those first (all of
    them where every voice has another such face, or none has). Among them, the voice under which its lips
    are likeliest a speaker's rather than lips moving to something else (speaking_odds: follows' speaker
    model against chance, from the pooled sync over each voice), when every one has a sync to weigh; else
    the voice it is seen saying most strongly (mean raw logit). Light-ASD's logit is no evidence between such
    voices: on a face whose lips move to its own muted recording it is as high as on the face speaking, or
    higher (a re-edit of twoshot with JFK's voice over the left face's shot, benchmarks/reedit.py: +5.3 under
    JFK, +4.3 under its own voice, the lips' sync z per root second 0.81 and 0.82; deciding by the logit
    wherever the z's were within their standard error gave JFK's voice that face and its own voice to
    nobody), so it decides only where no sync was measured. Odds that differ little (0.10 there) are a weak
    decision, but on the better part of the evidence there is."""
    s = s or AttributionSettings()

    def contested(mine: list[Turn]) -> bool:
        heard = sum(t.duration for t in mine)
        rival = sum(t.duration for t in mine if any(v >= s.speak for q, v in t.faces.items() if q != person))
        return rival > heard / 2

    alone = [c for c in spans if not contested(spans[c])]
    spans = {c: spans[c] for c in alone} if alone else spans
    strength, odds = {}, {}
    for c, mine in spans.items():
        strength[c] = sum(t.duration * t.faces[person] for t in mine) / max(sum(t.duration for t in mine), 1e-6)
        found = speaking_odds(person, mine, s)
        if found is not None:
            odds[c] = found
    if len(odds) == len(spans) and len(odds) > 1:
        return max(spans, key=lambda c: (odds[c], strength[c]))
    return max(spans, key=lambda c: strength[c])


def _owners(items: list[Turn], labels: list[int], s: AttributionSettings) -> dict[int, tuple[str | None, str, float]]:
    """Cluster -> (person, how it was decided, confidence).

    Clusters with turns seen speaking (among the turns with a voice) belong to that person. The others
    are matched one to one to the persons who own none, maximising the lead of that person's pooled lip
    sync (else raw ASD) over the other faces during the cluster's speech; a pair is possible only where
    the face is on screen for most of that speech, never seen silent during it, and not behind another
    face's sync by more than the standard error of that difference. A face seen saying a cluster keeps it
    only if its lips may be saying it (follows, which decides from each turn's sync record)."""
    clusters = sorted(set(labels))
    owner: dict[int, tuple[str | None, str, float]] = {}
    refused: dict[int, tuple[str, float]] = {}  # cluster -> the face seen saying it whose lips do not follow it
    for c in clusters:
        votes: dict[str, float] = {}
        shown_by: dict[str, set[str]] = {}  # person -> what showed them speaking (ASD, SYNC) in this cluster
        for t, lab in zip(items, labels, strict=True):
            # only turns long enough to have a voice: the clustering's constraints came from the same turns,
            # and a face's mean over a few frames (a turn of 20-60 ms at a cut) says little
            p, shown = seen_as(t, s) if lab == c and t.voice is not None else (None, None)
            if p is not None:
                votes[p] = votes.get(p, 0.0) + t.duration
                shown_by.setdefault(p, set()).add(shown)
        if votes:
            person = max(votes, key=votes.get)
            heard = sum(t.duration for t, lab in zip(items, labels, strict=True) if lab == c)
            how = ASD if ASD in shown_by[person] else SYNC
            # Light-ASD scores lips moving to a muted recording as speaking: the voice is the face's only if
            # its lips are not clearly out of step with it (a voice-over on a face that mouths something else)
            ok, sure = follows(person, [t for t, lab in zip(items, labels, strict=True) if lab == c
                                        and t.voice is not None and seen(t, s) == person], s)
            if ok:
                owner[c] = (person, how, round(min(1.0, votes[person] / max(heard, 1e-6)), 3))
            else:
                refused[c] = (person, round(sure, 3))
    # Voices that clearly differ (they stayed apart under must-link) seen on one face are not all that
    # person's: the face is seen saying one of them, and lips moving to a muted recording fool Light-ASD
    # as well. The face keeps its own voice (own_voice); the others are heard from off screen.
    # A voice the face is seen saying only by the sync (no turn of it by Light-ASD) is not compared with one
    # Light-ASD sees it saying: its turns were picked because their z's passed `sync`, so pooling those z's
    # again favours it (one test per turn and face passes a 5 % level now and then: dialogue's muted listener
    # reaches z +2.8 during the radio), while Light-ASD's lead is not chosen on the z.
    for person in {p for p, _, _ in owner.values()}:
        held = [c for c in owner if owner[c][0] == person]
        if len(held) > 1:
            spans = {c: [t for t, lab in zip(items, labels, strict=True) if lab == c and t.voice is not None
                         and seen(t, s) == person] for c in [c for c in held if owner[c][1] == ASD] or held}
            keep = own_voice(person, spans, s)
            for c in held:
                if c != keep:
                    del owner[c]
    taken = {p for p, _, _ in owner.values()}
    rest = [c for c in clusters if c not in owner]
    everyone = sorted({p for t in items for p in t.faces})
    free = [p for p in everyone if p not in taken]
    if rest and free:
        gain = np.full((len(rest), len(free)), -np.inf)
        for i, c in enumerate(rest):
            mine = [t for t, lab in zip(items, labels, strict=True) if lab == c]
            heard = sum(t.duration for t in mine)
            for j, p in enumerate(free):
                if refused.get(c, (None,))[0] == p:
                    continue  # its lips were shown not to follow this voice
                on = [t for t in mine if p in t.faces]
                shown = sum(t.duration for t in on)
                if shown < turns_mod.VISIBLE * heard or any(t.faces[p] < s.silent for t in on):
                    continue  # mostly off screen, or seen silent while this voice speaks: not p's voice
                mine_sync = sync(p, on)
                if mine_sync is not None:
                    others = [x for q in everyone if q != p and (x := sync(q, on)) is not None]
                    rival = max(others, key=lambda x: x.value, default=Sync(0.0, mine_sync.se))
                    lead = mine_sync.value - rival.value
                    if lead < -math.hypot(mine_sync.se, rival.se):
                        continue  # another face's lips follow this voice better, by more than the noise
                else:
                    lead = sum(t.duration * (t.faces[p] - max((v for q, v in t.faces.items() if q != p),
                                                              default=0.0)) for t in on) / shown
                gain[i, j] = lead
        finite = np.where(np.isfinite(gain), gain, -1e9)
        rows, cols = linear_sum_assignment(-finite)
        for i, j in zip(rows, cols, strict=True):
            if np.isfinite(gain[i, j]):
                owner[rest[i]] = (free[j], COOCCURRENCE, round(_sigmoid(4 * gain[i, j]) * 0.5 + 0.25, 3))
    for c in clusters:  # heard from off screen; SYNC: over a face whose lips were shown not to follow it
        owner.setdefault(c, (None, SYNC, refused[c][1]) if c in refused else (None, VOICE, 1.0))
    return owner


def diarize_av(turns: list[SpeakerTurn], scene: Scene, audio: np.ndarray,
               motion: dict[str, list[list[float]]] | None = None,
               settings: AttributionSettings | None = None,
               voices: VoiceFrames | None = None, sync_of: turns_mod.SyncOf | None = None) -> Attribution:
    """Speakers and faces per short turn, from the audio turns, the shots, the tracks' raw scores, the
    audio (`voices`: the CAM++ frame features the diarization kept, speech.diarize.diarize_with_voices;
    None: one pass of their own over the turns) and how each track's lips follow the sound (`sync_of`,
    from Light-ASD's encoder features; None: from the mouth motion asd.score_tracks measured, `motion`)."""
    s = settings or AttributionSettings()
    faces = turns_mod.face_scores(scene.tracks)
    if not faces or not turns:
        return _audio_only(turns)
    items = turns_mod.short_turns(turns, scene.shots, faces, s.margin)
    if not items:
        return _audio_only(turns)
    turns_mod.add_face_evidence(items, faces)
    # two views of each face's lips where the asd stage kept both (Light-ASD's encoder rows, the mouth's flow),
    # each turn's z naming those it pools (Turn.views: follows' speaker model was measured on both pooled)
    sync_of = turns_mod.pooled_sync_of(sync_of, turns_mod.motion_sync_of(motion, audio) if motion else None)
    if sync_of is not None:
        turns_mod.add_sync(items, scene.tracks, sync_of)
    if voices is None:
        voices = turns_mod.voice_frames(audio, min(t.start for t in items) - 0.1, max(t.end for t in items) + 0.1)
    turns_mod.add_voices(items, audio, voices)
    labels = _attach_short(items, cluster_turns(items, s), s)
    owner = _owners(items, labels, s)
    # One speaker id per person (however many voice clusters it owns), one per off-screen cluster.
    first: dict[object, float] = {}
    for t, lab in zip(items, labels, strict=True):
        key = owner[lab][0] or ("off", lab)
        first[key] = min(first.get(key, math.inf), t.start)
    ids = {key: f"S{n}" for n, key in enumerate(sorted(first, key=first.get))}
    results = []
    for t, lab in zip(items, labels, strict=True):
        person, how, conf = owner[lab]
        r = TurnResult(t, lab, ids[person or ("off", lab)])
        p, shown = seen_as(t, s)
        if p is not None and p == person and shown == ASD:
            others = [v for q, v in t.faces.items() if q != p]
            lead = t.faces[p] - max(others) if others else t.faces[p]
            r.person, r.evidence, r.confidence = p, ASD, _sigmoid(t.faces[p]) * _sigmoid(lead)
        elif p is not None and p == person:  # its lips follow this sound: P(lead > 0) under the sync's noise
            r.person, r.evidence, r.confidence = p, SYNC, _phi(_sync_lead(t, p))
        elif person is not None and person in t.faces and t.faces[person] >= s.silent:
            r.person, r.evidence, r.confidence = person, VOICE if how in (ASD, SYNC) else how, conf
        elif person is None and how == SYNC:  # a voice-over on a face mouthing something else: off screen
            r.evidence, r.confidence = SYNC, conf
        else:  # the speaker's face is not on screen (or is seen silent): heard from off screen
            r.evidence = VOICE if person is not None or not t.faces else ASD
            r.confidence = conf if not t.faces else 1.0 - _sigmoid(max(t.faces.values()))
        r.confidence = round(float(r.confidence), 3)
        results.append(r)
    words = sorted((w for seg in scene.segments for w in seg.words), key=lambda w: w.start)
    _refine(results, voices, audio, words)
    speakers = []
    for key, sid in sorted(ids.items(), key=lambda kv: int(kv[1][1:])):
        person = key if isinstance(key, str) else None
        mine = [r for r in results if r.speaker == sid]
        conf = sum(r.confidence * r.turn.duration for r in mine) / max(sum(r.turn.duration for r in mine), 1e-6)
        speakers.append(Speaker(sid, person, round(conf, 3)))
    return Attribution(results, speakers)


def _refine(results: list[TurnResult], voices: VoiceFrames, audio: np.ndarray, words: list[Word]) -> None:
    """Move each change of speaker at a turn cut by length only (the two turns may each hold some of
    both voices) to the gap between words where the sound changes (turns.acoustic_change); where no
    gap leaves enough speech either side, to where the CAM++ voices change, from the two centroids."""
    near = _NearWords(words)
    cents: dict[int, np.ndarray] = {}
    for c in {r.cluster for r in results}:
        vs = [r.turn.voice for r in results if r.cluster == c and r.turn.voice is not None]
        if vs:
            m = np.mean(vs, axis=0)
            cents[c] = m / max(float(np.linalg.norm(m)), 1e-8)
    for a, b in itertools.pairwise(results):
        if (b.turn.cut == "length" and a.speaker != b.speaker and a.cluster in cents and b.cluster in cents
                and abs(b.turn.start - a.turn.end) < 1e-3):
            speech, gaps = near(a.turn.start, b.turn.end)
            t = turns_mod.acoustic_change(audio, a.turn.start, b.turn.end, speech, gaps)
            if t is None:
                t = turns_mod.refine_change(voices, a.turn.start, b.turn.end, cents[a.cluster], cents[b.cluster],
                                            gaps)
            if t is not None:
                a.turn.end = b.turn.start = t


class _NearWords:
    """The words' spans and the gaps between consecutive words near a stretch of time, for _refine: what
    acoustic_change and refine_change use of them (passing every word's span and gap to each change of
    speaker made an hour's refinement quadratic: ~9000 words at each of its changes, a Python loop each)."""

    def __init__(self, words: list[Word]) -> None:
        self.speech = [(w.start, w.end) for w in words]
        self.gaps = [(x.end + y.start) / 2 for x, y in itertools.pairwise(words)]
        self.start, self.end = np.array([w.start for w in words]), np.array([w.end for w in words])
        self.at = np.array(self.gaps)

    def __call__(self, lo: float, hi: float) -> tuple[list[tuple[float, float]], list[float]]:
        """(the spans of the words within a second of [lo, hi]: acoustic_change's speech frames lie inside
        it; the gaps strictly inside (lo, hi), the only ones either function may choose), in the words' order."""
        near = np.flatnonzero((self.start < hi + 1.0) & (self.end > lo - 1.0))
        inside = np.flatnonzero((self.at > lo) & (self.at < hi))
        return [self.speech[i] for i in near], [self.gaps[i] for i in inside]


def _audio_only(turns: list[SpeakerTurn]) -> Attribution:
    """No faces: the audio diarization's turns and speakers, unchanged."""
    results = [TurnResult(Turn(t.start, t.end, t.speaker), 0, t.speaker, None, VOICE, 1.0) for t in turns]
    ids = sorted({t.speaker for t in turns}, key=lambda x: int(x[1:]))
    return Attribution(results, [Speaker(i) for i in ids], method="audio")


class _TurnsByTime:
    """The results' turns indexed by time, so that each word weighs only the turns it can overlap (a scan
    of every turn per word made an hour's attribution quadratic: ~9000 words x ~2500 turns)."""

    def __init__(self, results: list[TurnResult]) -> None:
        self.results = results
        self.order = sorted(range(len(results)), key=lambda i: results[i].turn.start)
        self.starts = [results[i].turn.start for i in self.order]
        # The latest end among the turns up to each place in start order: where a word's overlaps can begin.
        self.reach = np.maximum.accumulate([results[i].turn.end for i in self.order]) if results else np.zeros(0)
        self.start = np.array([r.turn.start for r in results], np.float64)
        self.end = np.array([r.turn.end for r in results], np.float64)

    def turn_of(self, word: Word) -> TurnResult | None:
        """The turn a word belongs to: of the (speaker, face) pairs heard while it is said, the one it overlaps
        most in all (a word across a cut-up turn is not split by the cut), and that pair's longest overlap;
        a word no turn overlaps, the nearest turn. Turns are weighed in the results' order (ties: the first)."""
        got = self.heard(word)
        if got is not None:
            return got[0]
        if not self.results:
            return None
        mid = (word.start + word.end) / 2
        return self.results[int(np.argmin(np.maximum(self.start - mid, mid - self.end)))]

    def heard(self, word: Word) -> tuple[TurnResult, float, float] | None:
        """turn_of's turn for a word some turn overlaps, with the span its pair's turns that it overlaps
        cover (first start, last end): where that pair is heard while the word is said. None: no overlap."""
        lo = int(np.searchsorted(self.reach, word.start, side="right"))  # the turns before end by word.start
        hi = bisect.bisect_left(self.starts, word.end)  # the turns after start at word.end or later
        total: dict[tuple[str | None, str | None], float] = {}
        longest: dict[tuple[str | None, str | None], tuple[float, TurnResult]] = {}
        span: dict[tuple[str | None, str | None], tuple[float, float]] = {}
        for i in sorted(self.order[lo:hi]):
            r = self.results[i]
            ov = min(word.end, r.turn.end) - max(word.start, r.turn.start)
            if ov > 0:
                key = (r.speaker, r.person)
                total[key] = total.get(key, 0.0) + ov
                a, b = span.get(key, (r.turn.start, r.turn.end))
                span[key] = (min(a, r.turn.start), max(b, r.turn.end))
                if ov > longest.get(key, (0.0, r))[0]:
                    longest[key] = (ov, r)
        if not total:
            return None
        key = max(total, key=total.get)
        return longest[key][1], *span[key]


def _place(words: list[Word], by_time: _TurnsByTime) -> dict[int, TurnResult]:
    """Each word's turn (by id), and its times moved inside where that turn's speaker is heard.

    Why move them: Whisper's word times drift by a tenth of a second or so with the sound (a 1 ms shift
    of dialogue.mp4's sound after a gap moved words 0.14 s) and often reach into the pause or the other
    voice beside a word, most at a sentence's first word after a change of speaker; kept, such a word's
    time lies mostly in the previous speaker's turn while it sits in the next one's phrase. A word's
    speaker is the pair of turns it overlaps most, so its start and end are clipped to the span those
    turns cover while it is said. A word no turn overlaps (said in a pause, or timed zero-length
    there) goes with the neighbouring word nearest to it in time that some turn does hear, the word
    it is said next to, and is put at the nearer edge of where that word's speaker is heard; with no
    such neighbour, at the nearest turn's. Between two words with no gap either side (a zero-length word
    inside a run of speech, at a change of speaker: its time says nothing of which side it is on), it goes
    with the word after it: Whisper's alignment gives a word each of its tokens' onsets, and a word on
    which it spends no frame the onset of the next word, where it is heard."""
    order = sorted(words, key=lambda w: w.start)
    heard = [by_time.heard(w) for w in order]
    # the nearest heard word before and after each place in time order (-1: none), in one pass each way
    prevs, nexts, last = [], [-1] * len(order), -1
    for i, got in enumerate(heard):
        prevs.append(last)
        last = i if got is not None else last
    last = -1
    for i in range(len(order) - 1, -1, -1):
        nexts[i] = last
        last = i if heard[i] is not None else last
    owner: dict[int, TurnResult] = {}
    for i, (w, got) in enumerate(zip(order, heard, strict=True)):
        if got is None:
            # (gap, tie rank, neighbour): on equal gaps a zero-length word goes with the word after it (Whisper
            # times a word its alignment spends no frame on at the next word's onset), any other with the one before
            onset = w.end - w.start <= 1e-6
            near = [(round(w.start - order[j].end, 6), int(onset), j) for j in (prevs[i],) if j >= 0]
            near += [(round(order[j].start - w.end, 6), int(not onset), j) for j in (nexts[i],) if j >= 0]
            if near:
                r, a, b = heard[min(near)[2]]
            elif (r := by_time.turn_of(w)) is not None:
                a, b = r.turn.start, r.turn.end
            else:
                continue
        else:
            r, a, b = got
        owner[id(w)] = r
        start, end = min(max(w.start, a), b), max(min(w.end, b), a)
        w.start, w.end = start, max(end, start)
    return owner


def apply(scene: Scene, result: Attribution, rules: PhraseRules | None = None) -> None:
    """Words take their turn's speaker and face, their times inside it (_place); phrases are rebuilt so none
    spans two of either."""
    from ..speech import phrases

    if result.method == "audio":
        return
    owner = _place([w for seg in scene.segments for w in seg.words], _TurnsByTime(result.turns))
    for seg in scene.segments:
        for w in seg.words:
            if id(w) in owner:
                w.speaker = owner[id(w)].speaker

    def person(w: Word) -> str | None:
        r = owner.get(id(w))
        return r.person if r else None

    scene.segments = phrases.rejoin(scene.segments, rules, same=lambda a, b: person(a) == person(b))
    for seg in scene.segments:
        rs = [owner[id(w)] for w in seg.words if id(w) in owner]
        seg.person = person(seg.words[0]) if seg.words else None
        if rs:
            weight = [max(w.end - w.start, 1e-3) for w in seg.words if id(w) in owner]
            votes: dict[str, float] = {}
            for r, wt in zip(rs, weight, strict=True):
                votes[r.evidence or VOICE] = votes.get(r.evidence or VOICE, 0.0) + wt
            seg.evidence = max(votes, key=votes.get)
            seg.person_confidence = round(sum(r.confidence * wt for r, wt in zip(rs, weight, strict=True))
                                          / sum(weight), 3)
            if seg.person is not None:
                heard = list({id(r.turn): r.turn for r in rs if r.person == seg.person}.values())
                found = sync(seg.person, heard)
                seg.sync = None if found is None else round(found.value, 2)
    used = {s.speaker for s in scene.segments}
    scene.speakers = [sp for sp in result.speakers if sp.id in used]
    fuse(scene.tracks, result)


def fuse(tracks: list[Track], result: Attribution) -> None:
    """tracks[].speaking from tracks[].asd and who is heard: while speech is attributed, the face it is
    attributed to is speaking and every other face is not; pauses shorter than MAX_PAUSE between turns
    of one face count as that face's; where nobody is heard the network's score stays."""
    spans = sorted((r.turn.start, r.turn.end, r.person) for r in result.turns)
    who: dict[int, str | None] = {}
    for n, (a, b, p) in enumerate(spans):
        for k in range(math.ceil(a * FPS - 1e-6), math.floor(b * FPS - 1e-6) + 1):
            who[k] = p
        if n + 1 < len(spans) and p is not None and spans[n + 1][2] == p and spans[n + 1][0] - b < MAX_PAUSE:
            for k in range(math.floor(b * FPS - 1e-6) + 1, math.ceil(spans[n + 1][0] * FPS - 1e-6)):
                who[k] = p
    for tr in tracks:
        rows = []
        for t, score in tr.asd:
            k = round(t * FPS)
            if k in who and tr.person is not None:
                score = abs(score) if who[k] == tr.person else -abs(score)
                if score == 0:
                    score = 1e-3 if who[k] == tr.person else -1e-3
            rows.append([t, round(float(score), 3)])
        tr.speaking = rows


def fuse_phrases(tracks: list[Track], segments: list[Segment]) -> None:
    """fuse() from the phrases as they now stand (after hand edits): while a phrase is heard, its person's
    face is speaking and every other face is not."""
    fuse(tracks, Attribution([TurnResult(Turn(s.start, s.end, s.speaker or ""), -1, s.speaker, s.person)
                              for s in segments]))


def attribute(scene: Scene, audio: np.ndarray, turns: list[SpeakerTurn],
              motion: dict[str, list[list[float]]] | None = None,
              settings: AttributionSettings | None = None,
              voices: VoiceFrames | None = None, sync_of: turns_mod.SyncOf | None = None) -> Attribution:
    """The audio-visual stage after ASD: reads tracks[].asd (raw Light-ASD), fills speakers, phrases
    (split at every change of speaker or face, with person, evidence and confidence) and the fused
    tracks[].speaking. Audio-only or faceless input keeps the audio diarization unchanged."""
    result = diarize_av(turns, scene, audio, motion, settings, voices, sync_of)
    if result.method == "audio":
        for tr in scene.tracks:
            tr.speaking = [list(r) for r in tr.asd]
        return result
    apply(scene, result)
    return result
