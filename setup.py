"""The one thing pyproject.toml cannot say: which files the shipped model has.

A wheel carries every file under models/current at build time, directory by directory, to
`<prefix>/share/eduscore/models/current/` (config.default_model_dir finds it there), so a
retrained model that adds or drops files (encoder/, fast/static/, ...) ships whole without an
edit here. tests/test_wheel.py fails if a tracked model file is missing from the wheel.
"""

from pathlib import Path

from setuptools import setup

MODEL = Path("models") / "current"
TARGET = Path("share") / "eduscore" / "models" / "current"


def model_files() -> list[tuple[str, list[str]]]:
    """(install directory, [source files]) for every directory under models/current."""
    by_dir: dict[str, list[str]] = {}
    for path in sorted(MODEL.rglob("*")):
        if path.is_file():
            target = TARGET / path.parent.relative_to(MODEL)
            by_dir.setdefault(target.as_posix(), []).append(path.as_posix())
    return sorted(by_dir.items())


setup(data_files=model_files())
