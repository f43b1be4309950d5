from __future__ import annotations

import json
import sys
from dataclasses import asdict

HELP = "the visible speaker's words: Whisper on the sound, kept where Light-ASD sees the face speaking (+ LRW lips)"


def add_arguments(parser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("input", nargs="?", help="video file with sound")
    src.add_argument("--device", metavar="SPEC",
                     help="live FFmpeg input FORMAT:URL (v4l2:/dev/video0, lavfi:GRAPH, ...); "
                          "SPEC+SPEC for a separate camera and microphone")
    parser.add_argument("--roi-video", metavar="OUT.mp4", help="also write the 96x96 mouth crops as a video")
    parser.add_argument("--lrw", metavar="DIR",
                        help="folder with the LRW TCN checkpoints (lrw_resnet18_mstcn_*.pth.tar) and 500-word list")
    parser.add_argument("--engine", choices=("opencv", "onnxruntime"), default="opencv",
                        help="runtime for the LRW ensemble (default opencv)")
    parser.add_argument("--language", default=None, help="spoken language code (default: detected)")
    parser.add_argument("--json", action="store_true", help="print the words as JSON")


def run(args) -> int:
    from ..avsr import lrw, recognize
    from ..files import check_output_path

    checkpoints = lrw.find(args.lrw) if args.lrw else None
    if args.device:
        if args.roi_video:
            check_output_path(args.roi_video)
        return _live(args, recognize, checkpoints)
    from ..media import check_input

    src = check_input(args.input)
    if args.roi_video:
        check_output_path(args.roi_video, src)
    result = recognize.recognise_file(src, language=args.language, checkpoints=checkpoints, engine=args.engine,
                                      roi_video=args.roi_video)
    if args.json:
        print(json.dumps({"input": str(src), "active_speakers": result.asd, "lrw": result.lrw,
                          "words": [asdict(w) for w in result.words]}, indent=1))
    else:
        print(result.lrw, file=sys.stderr)
        for w in result.visible:
            extra = f"  [LRW: {w.lrw} {w.lrw_score:.2f}]" if w.lrw else ""
            print(f"{w.start:8.2f} {w.end:8.2f}  {w.text}{extra}")
        dropped = len(result.words) - len(result.visible)
        print(f"{len(result.visible)} words from the visible speaker, {dropped} heard but not seen said "
              f"({result.asd})", file=sys.stderr)
    return 0


def _live(args, recognize, checkpoints) -> int:
    from ..avsr import capture, lrw

    runner = lrw.Runner(lrw.onnx_path(checkpoints), args.engine) if checkpoints else None
    print(f"{recognize.lrw_status(checkpoints, args.engine)}; words appear at pauses in speech", file=sys.stderr)
    live = recognize.Live(language=args.language, roi_video=args.roi_video, runner=runner,
                          labels=checkpoints.labels if checkpoints else None)

    def emit(w) -> None:
        if args.json:
            print(json.dumps(asdict(w)), flush=True)
        elif w.visible:
            extra = f"  [LRW: {w.lrw} {w.lrw_score:.2f}]" if w.lrw else ""
            print(f"{w.start:8.2f} {w.end:8.2f}  {w.text}{extra}  (latency {w.latency:.2f} s)", flush=True)

    live.run(capture.frames(device=args.device), emit)
    return 0
