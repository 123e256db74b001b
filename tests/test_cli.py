"""The command line: help for every command, the sink, settings files."""

from __future__ import annotations

import argparse
import os
import shutil
import smtplib
import stat
import subprocess
import sys

import pytest

from core.sink import free_port
from tui.cli import build_parser, main


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from _commands(sub, (*prefix, name))


def test_every_command_has_help(capsys):
    commands = list(_commands(build_parser()))
    assert ("sink",) in commands and ("config", "init") in commands
    for command in commands:
        with pytest.raises(SystemExit) as exit_:
            main([*command, "--help"])
        assert exit_.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: postroom {' '.join(command)}"), command


def test_top_level_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in ("demo", "sink", "config"):
        assert name in out


def _postroom() -> list[str]:
    script = shutil.which("postroom", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-c", "from tui.cli import main; main()"]


def test_sink_prints_one_line_per_message_received(tmp_path):
    port = free_port()
    maildir = tmp_path / "maildir"
    proc = subprocess.Popen(
        [*_postroom(), "sink", "--port", str(port), "--maildir", str(maildir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "listening on 127.0.0.1" in proc.stdout.readline()
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail(
                "from@example.com",
                ["to@example.org"],
                b"Subject: rehearsal\r\nFrom: from@example.com\r\n\r\nhello\r\n",
            )
        line = proc.stdout.readline()
        assert "from=from@example.com" in line
        assert "to=to@example.org" in line
        assert "subject='rehearsal'" in line
        assert len(list((maildir / "new").iterdir())) == 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert "received 1 message" in proc.stdout.read()


def test_config_init_writes_a_private_commented_file(tmp_path, capsys):
    path = tmp_path / "config.toml"
    assert main(["config", "init", "--config", str(path)]) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "[engine]" in text and "# First wait after a temporary failure." in text
    assert main(["config", "check", "--config", str(path)]) == 0
    assert main(["config", "init", "--config", str(path)]) == 1
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "[engine]\nretry_initial_seconds = 'soon'\n",
            "[engine] retry_initial_seconds: expected int",
        ),
        ("[engine]\nunknown_outcome = 'guess'\n", "must be one of ask, resend, mark_sent"),
        ("[engin]\n", "[engin]: unknown section"),
        ("[engine]\nretries = 3\n", "[engine] retries: unknown key"),
        ("[engine\n", "config.toml: "),
    ],
)
def test_a_bad_settings_file_is_one_line_naming_file_key_and_problem(
    tmp_path, capsys, content, expected
):
    path = tmp_path / "config.toml"
    path.write_text(content)
    assert main(["config", "check", "--config", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert str(path) in err and expected in err


def test_readonly_refuses_changes_from_the_command_line(tmp_path, capsys):
    path = tmp_path / "config.toml"
    assert main(["--readonly", "config", "init", "--config", str(path)]) == 1
    assert "read-only" in capsys.readouterr().err
    assert not path.exists()


def test_postroom_db_environment_variable_picks_the_database(tmp_path, monkeypatch):
    from tui.cli import common

    monkeypatch.setenv("POSTROOM_DB", str(tmp_path / "env.db"))
    assert common.db_path(argparse.Namespace()) == tmp_path / "env.db"
    assert common.db_path(argparse.Namespace(db=tmp_path / "flag.db")) == tmp_path / "flag.db"
    monkeypatch.delenv("POSTROOM_DB")
    expected = tmp_path / "xdg-data" / "postroom" / "postroom.db"
    assert common.db_path(argparse.Namespace()) == expected
