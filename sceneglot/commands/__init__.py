"""Sub-commands of the `sceneglot` CLI, one module each (see sceneglot/cli.py)."""
