"""`sceneglot doctor`: the devices section names hardware, not remote services."""

from __future__ import annotations

import onnxruntime

from sceneglot.cli import main


def test_devices_list_the_cpu_provider_and_no_remote_one(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    devices = out.split("[devices]\n", 1)[1].split("\n[", 1)[0]
    assert "Azure" not in devices  # onnxruntime's AzureExecutionProvider calls a web endpoint
    assert "onnxruntime providers: CPU" in devices
    local = [p.removesuffix("ExecutionProvider") for p in onnxruntime.get_available_providers() if "Azure" not in p]
    assert all(p in devices for p in local)
