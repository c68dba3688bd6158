"""Settings: flags over env over defaults, one validation path, secrets redacted."""

from __future__ import annotations

import pytest

from eduscore.config import Settings, env_name


def test_defaults_are_valid() -> None:
    s = Settings()
    assert (s.port, s.metrics_port, s.threshold) == (50051, 9100, 3.0)


def test_env_then_flags_take_precedence() -> None:
    env = {"EDUSCORE_PORT": "6000", "EDUSCORE_THRESHOLD": "2.5", "EDUSCORE_LOG_FORMAT": "json"}
    assert Settings.from_env(env).port == 6000
    s = Settings.from_args(["--port", "7000"], env)
    assert (s.port, s.threshold, s.log_format) == (7000, 2.5, "json")
    s = Settings.from_args(["--max-queue-bytes", "2000000"], {"EDUSCORE_MAX_QUEUE_BYTES": "5"})
    assert s.max_queue_bytes == 2_000_000
    assert Settings.from_env({"EDUSCORE_MAX_QUEUE_BYTES": "3000000"}).max_queue_bytes == 3_000_000


def test_every_field_has_an_env_var_and_flag() -> None:
    import argparse

    from eduscore.config import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    help_text = parser.format_help()
    for name in Settings.__dataclass_fields__:
        assert env_name(name) in help_text
        assert "--" + name.replace("_", "-") in help_text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": 5.5}, "threshold=5.5"),
        ({"threshold": float("nan")}, "threshold=nan"),
        ({"port": 70000}, "port=70000"),
        ({"max_batch_size": 0}, "max_batch_size=0"),
        ({"max_queue_bytes": 999_999}, "--max-snippet-bytes=1000000 exceeds --max-queue-bytes"),
        ({"tls_cert": "a.pem"}, "tls_cert and tls_key"),
        ({"log_format": "xml"}, "log_format='xml'"),
        ({"max_file_units": 0}, "max_file_units=0"),
    ],
)
def test_bad_values_name_the_field(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        Settings(**kwargs)


def test_max_file_units_defaults_to_the_scorers_limit() -> None:
    """config is a leaf (imports nothing of eduscore), so the default is written twice."""
    from eduscore.scoring.files import MAX_FILE_UNITS

    assert Settings().max_file_units == MAX_FILE_UNITS
    assert Settings.from_args(["--max-file-units", "8"]).max_file_units == 8
    assert Settings.from_env({"EDUSCORE_MAX_FILE_UNITS": "16"}).max_file_units == 16


def test_bad_env_value_names_the_variable() -> None:
    with pytest.raises(ValueError, match="EDUSCORE_PORT='abc'"):
        Settings.from_env({"EDUSCORE_PORT": "abc"})


def test_secrets_are_redacted() -> None:
    assert Settings(auth_token="hunter2").redacted()["auth_token"] == "***"


def test_readme_settings_table_lists_every_setting() -> None:
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme[readme.index("## Settings") : readme.index("## Metrics")]
    documented = set(re.findall(r"`EDUSCORE_([A-Z_]+)`", table))
    assert documented == {name.upper() for name in Settings.__dataclass_fields__}
