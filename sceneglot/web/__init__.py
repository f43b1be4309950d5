"""`sceneglot serve`: the job API (FastAPI), its SQLite job store, the worker pool and the static page.

Nothing here computes a stage: the worker hands each job to `sceneglot.jobs`,
the same code the CLI runs, and the page only calls the REST API.
"""
