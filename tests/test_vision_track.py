import numpy as np

from sceneglot.vision.faces import Detection
from sceneglot.vision.identity import SFACE_COSINE, cluster, quality
from sceneglot.vision.track import Hit, Kalman, Tracker, TrackSettings, finish, iou


def _hit(frame: int, x: float, y: float, size: float = 100.0) -> Hit:
    box = np.array([x, y, x + size, y + size], dtype=float)
    return Hit(frame=frame, box=box, landmarks=np.zeros(10), score=0.95)


def test_iou_basics():
    a = np.array([0, 0, 10, 10.0])
    assert iou(a, a) == 1.0
    assert iou(a, np.array([20, 20, 30, 30.0])) == 0.0
    assert abs(iou(a, np.array([5, 0, 15, 10.0])) - 1 / 3) < 1e-9


def test_kalman_learns_velocity():
    kf = Kalman(np.array([0, 0, 100, 100.0]), 0)
    for f in range(5, 40, 5):
        kf.update(np.array([f * 4, 0, f * 4 + 100, 100.0]), f)
    pred = kf.predict(45)
    assert abs(pred[0] - 180) < 15


def test_two_faces_keep_their_tracks_and_come_back_after_occlusion():
    tr = Tracker(25.0, TrackSettings(every=5))
    owners = {}
    for f in range(0, 100, 5):
        hits = [_hit(f, 100 + f * 3, 100)]  # moving right 3 px/frame
        if not 40 <= f <= 55:  # the second face is hidden for 4 rounds
            hits.append(_hit(f, 900 - f, 120))
        for h, t in zip(hits, tr.step(f, hits), strict=True):
            owners.setdefault(round(h.box[1]), set()).add(t.key)
    assert owners == {100: {0}, 120: {1}}
    tr.cut(99)
    assert sorted(len(t.hits) for t in tr.finished) == [16, 20]


def test_long_absence_starts_a_new_track_and_cut_closes_everything():
    tr = Tracker(25.0, TrackSettings(every=5, max_gap=0.5))
    for f in (0, 5, 10):
        tr.step(f, [_hit(f, 100, 100)])
    for f in range(15, 45, 5):
        tr.step(f, [])
    tr.step(45, [_hit(45, 100, 100)])
    assert len(tr.finished) == 1 and tr.finished[0].end_frame == 14
    tr.cut(47)
    tr.step(48, [_hit(48, 100, 100)])
    tr.cut(60)
    ends = sorted((t.hits[0].frame, t.end_frame, t.shot) for t in tr.finished)
    assert ends == [(0, 14, 0), (45, 47, 0), (48, 52, 1)]


def test_finish_gives_one_smooth_box_per_frame():
    tr = Tracker(25.0, TrackSettings(every=5))
    rng = np.random.default_rng(0)
    for f in range(0, 50, 5):
        tr.step(f, [_hit(f, 200 + 2 * f + rng.normal(0, 3), 100)])
    tr.cut(49)
    times = np.arange(50) / 25
    track = finish(tr.finished[0], times, "T0")
    assert len(track.boxes) == 50
    assert [row[0] for row in track.boxes] == [round(t, 6) for t in times]
    x0 = np.array([row[1] for row in track.boxes])
    assert np.abs(np.diff(x0, 2)).max() < 2.0  # no jumps at the detection frames
    assert len(track.landmarks) == 10 and len(track.landmarks[0]) == 11


def test_cluster_respects_cannot_link_and_threshold():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=128), rng.normal(size=128)
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    noisy = a + 0.3 * rng.normal(size=128) / np.sqrt(128)
    noisy /= np.linalg.norm(noisy)
    # Tracks 0 and 1 overlap in time: different people even with identical embeddings.
    labels = cluster([a, a, noisy, b], [(0, 10), (5, 15), (20, 30), (40, 50)])
    assert labels[0] != labels[1]
    assert labels[2] in (labels[0], labels[1])
    assert labels[3] not in (labels[0], labels[1])
    assert float(a @ b) < SFACE_COSINE


def _det(nose_x: float) -> Detection:
    lm = np.array([40, 50, 80, 50, nose_x, 70, 45, 90, 75, 90], dtype=float)
    return Detection(box=np.array([20, 20, 100, 110.0]), landmarks=lm, score=0.9, row=np.zeros(15))


def test_quality_prefers_frontal_sharp_faces():
    rng = np.random.default_rng(2)
    sharp = rng.integers(0, 255, size=(112, 112, 3)).astype(np.uint8)
    blurry = np.full((112, 112, 3), 128, np.uint8)
    assert quality(_det(60), 1.0, sharp) > quality(_det(78), 1.0, sharp)
    assert quality(_det(60), 1.0, sharp) > quality(_det(60), 1.0, blurry)
    assert quality(_det(60), 2.0, sharp) > quality(_det(60), 1.0, sharp)


def test_cluster_recovers_people_among_many_tracks():
    rng = np.random.default_rng(3)
    people = rng.normal(size=(6, 128))
    embeddings, spans, truth = [], [], []
    for k in range(120):
        p = k % 6
        e = people[p] + 0.8 * rng.normal(size=128)
        embeddings.append(e / np.linalg.norm(e))
        spans.append((k * 10, k * 10 + 8))
        truth.append(p)
    labels = cluster(embeddings, spans)
    assert len(set(labels)) == 6
    assert all((labels[a] == labels[b]) == (truth[a] == truth[b]) for a in range(120) for b in range(120))
