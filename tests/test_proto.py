"""The generated stubs in service/eduscore/v1 are exactly what `make proto` produces."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import ROOT


def test_generated_code_matches_proto(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{ROOT / 'proto'}",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            f"--grpc_python_out={tmp_path}",
            str(ROOT / "proto" / "eduscore" / "v1" / "eduscore.proto"),
        ],
        check=True,
    )
    generated = sorted(p.name for p in (tmp_path / "eduscore" / "v1").iterdir())
    assert generated == ["eduscore_pb2.py", "eduscore_pb2.pyi", "eduscore_pb2_grpc.py"]
    for name in generated:
        fresh = (tmp_path / "eduscore" / "v1" / name).read_text()
        committed = (ROOT / "service" / "eduscore" / "v1" / name).read_text()
        assert fresh == committed, f"{name} drifted from proto/: run `make proto`"
