"""`sceneglot serve`: the web page and the REST job API on one port (see sceneglot/web/)."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import sys
from pathlib import Path

from ..errors import InputError

HELP = "web app + job API: upload a video, follow it, fix who said what, re-render, download"
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def add_arguments(parser) -> None:
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; any other than loopback needs --token)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--jobs", metavar="DIR", default="sceneglot-jobs",
                        help="job store: DIR/jobs.sqlite and one folder per job (default ./sceneglot-jobs)")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="jobs run at once (default 1)")
    parser.add_argument("--token", help="require Authorization: Bearer TOKEN on every API request "
                                        "(default: $SCENEGLOT_TOKEN)")
    parser.add_argument("--max-upload", default="2G", metavar="SIZE",
                        help="largest upload, in bytes or with K/M/G (default 2G)")
    parser.add_argument("--public-origin", action="append", default=[], metavar="URL",
                        help="origin the page is served under behind a proxy that rewrites Host, e.g. "
                             "https://subs.example.org (repeatable): its requests pass the Origin check")
    from . import options

    options.add_ray(parser)


def parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", text, re.IGNORECASE)
    if not m or float(m.group(1)) <= 0:
        raise InputError(f"--max-upload must be a size such as 500M or 2G, not {text!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, made here so a taken port is one clear line, not a server log."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InputError(f"cannot resolve --host {host!r} ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    sock.set_inheritable(True)
    return sock


def run(args) -> int:
    from ..web.app import Config, is_loopback

    token = args.token or os.environ.get("SCENEGLOT_TOKEN") or None
    loopback = is_loopback(args.host)
    if not loopback and not token:
        raise InputError(f"refusing to listen on {args.host} without --token (or SCENEGLOT_TOKEN): "
                         "anyone who can reach it could run jobs and read every file")
    if token is not None and len(token) < 12:
        raise InputError("--token must be at least 12 characters")
    if not 0 < args.port < 65536:
        raise InputError(f"--port must be between 1 and 65535, not {args.port}")
    if args.workers < 1:
        raise InputError("--workers must be at least 1")
    max_upload = parse_size(args.max_upload)
    root = Path(args.jobs)
    if root.exists() and not root.is_dir():
        raise InputError(f"--jobs is not a folder: {root}")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot make --jobs folder {root} ({exc.strerror})") from None
    if not os.access(root, os.W_OK):
        raise InputError(f"--jobs folder is not writable: {root}")
    if args.ray:  # the worker processes run each job's stages on this cluster (commands/options.ray_executor)
        os.environ["SCENEGLOT_RAY"], os.environ["SCENEGLOT_RAY_CPUS"] = args.ray, str(max(1, args.ray_cpus))
    sock = _listen(args.host, args.port)

    import uvicorn

    from ..web.app import create_app, public_origin

    app = create_app(Config(root=root.resolve(), workers=args.workers, token=token, max_upload=max_upload,
                            loopback=loopback, origins=tuple(public_origin(o) for o in args.public_origin)))
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"sceneglot: serving http://{shown}:{sock.getsockname()[1]}/ (jobs in {root}, {args.workers} worker(s))",
          file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2,
                                           lifespan="on"))
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C after its graceful shutdown
        server.run(sockets=[sock])
    print("sceneglot: server stopped", file=sys.stderr)
    return 0
