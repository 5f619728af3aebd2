"""`loa sim` options for delivery: where the receivers' public key comes from."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.cli.sim_cmd import public_key_for
from devices.protocol.signing import KeyFileError, SigningKey


def test_the_default_is_the_controllers_public_key_file(tmp_path: Path) -> None:
    key = SigningKey.generate().public
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "controller.pub").write_text(key.text() + "\n", encoding="utf-8")
    found = public_key_for(tmp_path, None)
    assert found is not None
    assert found.text() == key.text()


def test_without_a_key_file_the_receivers_get_none_and_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert public_key_for(tmp_path, None) is None
    assert "no controller key" in capsys.readouterr().out


def test_the_option_takes_the_key_or_a_file_holding_it(tmp_path: Path) -> None:
    key = SigningKey.generate().public
    given = public_key_for(tmp_path, key.text())
    assert given is not None
    assert given.text() == key.text()
    path = tmp_path / "elsewhere.pub"
    path.write_text(key.text(), encoding="utf-8")
    from_file = public_key_for(tmp_path, str(path))
    assert from_file is not None
    assert from_file.text() == key.text()


def test_a_bad_key_names_where_it_came_from(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="--public-key"):
        public_key_for(tmp_path, "not-a-key")
    path = tmp_path / "garbled.pub"
    path.write_text("garbage", encoding="utf-8")
    with pytest.raises(KeyFileError, match=r"garbled\.pub"):
        public_key_for(tmp_path, str(path))
