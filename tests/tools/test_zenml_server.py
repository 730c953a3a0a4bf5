"""`zenml-server up` refuses to start a server whose tokens would not survive a restart."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from tools import zenml_server


def test_up_without_a_signing_key_says_how_to_make_one_and_starts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(zenml_server.JWT_KEY, raising=False)
    started: list[list[str]] = []
    monkeypatch.setattr(zenml_server.subprocess, "run", lambda command, check: started.append(command))

    result = CliRunner().invoke(zenml_server.zenml_server, ["up"])

    assert result.exit_code == 1
    assert "Set ZENML_SERVER_JWT_SECRET_KEY first" in result.output
    assert "secrets.token_hex(32)" in result.output
    assert started == []

    (tmp_path / ".env").write_text(f"{zenml_server.JWT_KEY}=0123456789abcdef\n")
    result = CliRunner().invoke(zenml_server.zenml_server, ["up"])

    assert result.exit_code == 0, result.output
    assert started == [zenml_server.COMPOSE_UP]


def test_loopback_addresses_are_told_apart_from_reachable_ones() -> None:
    assert zenml_server.is_loopback("http://127.0.0.1:8080")
    assert zenml_server.is_loopback("http://localhost:8080")
    assert zenml_server.is_loopback("http://[::1]:8080")
    assert not zenml_server.is_loopback("http://10.0.0.5:8080")
    assert not zenml_server.is_loopback("https://zenml.internal.example")
