from __future__ import annotations

import json

from .. import models

HELP = "list the models sceneglot uses, their licence, and whether each is available"


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--prepare", action="store_true",
                        help="assemble and verify every model that can be had (downloads when online)")


def run(args) -> int:
    if args.prepare:
        for model in models.MODELS.values():
            try:
                print(f"{model.name}: {models.path(model.name)}")
            except models.ModelError as exc:
                print(f"{model.name}: unavailable ({exc})")
        return 0
    rows = []
    for model in models.MODELS.values():
        st = models.status(model.name)
        rows.append({"name": model.name, "available": st.available, "where": st.where,
                     "licence": model.license, "task": model.task})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        mark = "ok     " if r["available"] else "missing"
        print(f"{r['name']:<{width}}  {mark}  {r['licence']:<10}  {r['task']}")
        print(f"{'':<{width}}           {r['where']}")
    return 0
