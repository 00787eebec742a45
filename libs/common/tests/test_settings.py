"""Settings: environment first, then the YAML file named by KEYRELAY_CONFIG, then defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyrelay.common.settings import KeyrelaySettings


class DemoSettings(KeyrelaySettings):
    demo_listen: str = "127.0.0.1:1"


def test_defaults_suit_the_embedded_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEYRELAY_CONFIG", raising=False)
    monkeypatch.delenv("KEYRELAY_DATA_DIR", raising=False)
    settings = DemoSettings()
    assert settings.data_dir == Path(".keyrelay")
    assert settings.tls_path == Path(".keyrelay/tls")
    assert settings.demo_listen == "127.0.0.1:1"


def test_environment_beats_yaml_file_beats_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "keyrelay.yaml"
    config.write_text("nats_url: nats://from-yaml:4222\ndemo_listen: 0.0.0.0:9\nlog_level: DEBUG\n")
    monkeypatch.setenv("KEYRELAY_CONFIG", str(config))
    monkeypatch.setenv("KEYRELAY_LOG_LEVEL", "WARNING")
    settings = DemoSettings()
    assert settings.nats_url == "nats://from-yaml:4222"
    assert settings.demo_listen == "0.0.0.0:9"
    assert settings.log_level == "WARNING"


def test_yaml_file_that_is_not_a_mapping_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("- just\n- a list\n")
    monkeypatch.setenv("KEYRELAY_CONFIG", str(config))
    with pytest.raises(ValueError, match="must hold a mapping"):
        DemoSettings()
