"""Arguments of ``upbit-stream``: ``--help`` at every level, and one-line errors (exit 2) for bad input.

The whole table runs through ``main()`` in this process (what a shell would print, without paying
an interpreter start per case); a sample runs as real ``python -m upbit_stream`` processes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import clean_env, run_cli
from upbit_stream._cli.main import main

HELP_LEVELS = [
    [], ["demo"], ["watch"], ["watch", "ticker"], ["watch", "orderbook"], ["watch", "trade"], ["record"],
    ["serve"], ["config"], ["config", "init"], ["config", "show"], ["bench"],
]

T = ["record", "ticker:KRW-BTC", "-o", "x.jsonl"]
BAD = {
    "no command": ([], "the following arguments are required: COMMAND"),
    "unknown command": (["wach"], "invalid choice: 'wach'"),
    "no view": (["watch"], "the following arguments are required: view"),
    "unknown view": (["watch", "candles", "KRW-BTC"], "invalid choice: 'candles'"),
    "no codes": (["watch", "trade"], "the following arguments are required: CODE"),
    "lower-case code": (["watch", "ticker", "krw-btc"], "codes are upper-case, like 'KRW-BTC': got 'krw-btc'"),
    "not a code": (["watch", "trade", "BTC"], "code 'BTC' is not a market code like 'KRW-BTC'"),
    "depth 7": (["watch", "orderbook", "KRW-BTC", "--depth", "7"], "depth must be one of 1, 5, 15, 30: got '7'"),
    "depth word": (["watch", "orderbook", "KRW-BTC", "--depth", "deep"], "depth must be one of"),
    "two orderbook codes": (["watch", "orderbook", "KRW-BTC", "KRW-ETH"], "unrecognized arguments: KRW-ETH"),
    "bad seconds": (["watch", "ticker", "KRW-BTC", "--seconds", "soon"], "not a duration: 'soon'"),
    "bad url": (["watch", "ticker", "KRW-BTC", "--url", "http://example.com"], "expected a ws:// or wss:// URL"),
    "unknown type": (["record", "tickr:KRW-BTC", "-o", "x.jsonl"], "unknown type 'tickr'"),
    "bad candle interval": (["record", "candle.2m:KRW-BTC", "-o", "x.jsonl"], "unknown type 'candle.2m'"),
    "record lower-case": (["record", "trade:KRW-BTC,krw-eth", "-o", "x.jsonl"], "codes are upper-case"),
    "record type without codes": (["record", "orderbook", "-o", "x.jsonl"], "orderbook needs market codes"),
    "my_asset with codes": (["record", "my_asset:KRW-BTC", "-o", "x.jsonl"], "my_asset takes no codes"),
    "no output": (["record", "ticker:KRW-BTC"], "the following arguments are required: -o/--output"),
    "bad rotate size": ([*T, "--rotate-size", "100XB"], "not a size: '100XB'"),
    "zero rotate size": ([*T, "--rotate-size", "0"], "size must be at least one byte"),
    "bad rotate interval": ([*T, "--rotate-every", "1w"], "not a duration: '1w'"),
    "zero rotate interval": ([*T, "--rotate-every", "0s"], "duration must be positive"),
    "bad format": ([*T, "--format", "XML"], "format must be one of DEFAULT, SIMPLE, JSON_LIST, SIMPLE_LIST"),
    "bad count": ([*T, "--count", "0"], "expected a whole number above 0"),
    "record depth": ([*T, "--depth", "10"], "depth must be one of"),
    "serve port": (["serve", "--port", "x"], "expected a whole number from 0 to 65535: got 'x'"),
    "serve port range": (["serve", "--port", "99999"], "expected a whole number from 0 to 65535: got '99999'"),
    "serve negative rate": (["serve", "--rate", "-5"], "expected a number from 0: got '-5'"),
    "serve idle timeout": (["serve", "--idle-timeout", "-1"], "expected a number above 0: got '-1'"),
    "demo zero rate": (["demo", "--rate", "0"], "expected a number above 0: got '0'"),
    "serve keys": (["serve", "--keys", "nocolon"], "expected ACCESS:SECRET"),
    "no config action": (["config"], "the following arguments are required: ACTION"),
    "bench extra": (["bench", "--fast"], "unrecognized arguments: --fast"),
}


def _run_main(args, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as stopped:
        main(args)
    out, err = capsys.readouterr()
    return stopped.value.code, out, err


def _check_usage_error(status, out, err, message):
    assert status == 2, err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("upbit-stream") and ": error: " in lines[0] and lines[0].endswith("--help)")
    assert message in lines[0]


@pytest.mark.parametrize("name", list(BAD))
def test_bad_arguments_get_one_line_and_exit_2(capsys, monkeypatch, tmp_path, name):
    args, message = BAD[name]
    _check_usage_error(*_run_main(args, capsys, monkeypatch, tmp_path), message)
    assert list(tmp_path.iterdir()) == []  # nothing written, nothing started


@pytest.mark.parametrize("name", ["unknown type", "lower-case code", "bad rotate size", "depth 7"])
def test_bad_arguments_from_a_shell(tmp_path, name):
    args, message = BAD[name]
    done = run_cli(*args, cwd=tmp_path)
    _check_usage_error(done.returncode, done.stdout, done.stderr, message)
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("level", HELP_LEVELS, ids=lambda level: " ".join(level) or "top")
def test_help_at_every_level(capsys, monkeypatch, tmp_path, level):
    status, text, err = _run_main([*level, "--help"], capsys, monkeypatch, tmp_path)
    assert status == 0 and err == ""
    assert text.startswith(f"usage: {' '.join(['upbit-stream', *level])}")
    assert all(len(line) <= 100 for line in text.splitlines()), max(text.splitlines(), key=len)
    paragraphs = text.split("\n\n")
    assert len(paragraphs) >= 3  # usage, a description, the options
    if level in ([], ["watch"], ["config"]):
        listed = {"": ["demo", "watch", "record", "serve", "config", "bench"],
                  "watch": ["ticker", "orderbook", "trade", "announcements", "indicators"], "config": ["init", "show"]}[" ".join(level)]
        for name in listed:  # each sub-command listed with a one-line summary
            assert any(line.split()[:1] == [name] and len(line.split()) > 2 for line in text.splitlines()), name


def test_python_dash_m_and_the_installed_script_print_the_same_help(tmp_path):
    module = run_cli("--help", cwd=tmp_path, COLUMNS="100")
    assert module.returncode == 0 and module.stdout.startswith("usage: upbit-stream [-h] [--version] COMMAND ...")
    assert "exit status: 0 done (also after SIGTERM), 1 failed, 2 bad arguments, 130 Ctrl-C." in module.stdout
    script = Path(sys.executable).with_name("upbit-stream")
    if not script.exists():
        pytest.skip("upbit-stream is not installed beside this interpreter")
    installed = subprocess.run([str(script), "--help"], cwd=tmp_path, env=clean_env(COLUMNS="100"),
                               capture_output=True, text=True, timeout=30)
    assert installed.returncode == 0 and installed.stdout == module.stdout


def test_version(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("upbit-stream ") and out.strip().split()[1][0].isdigit()
