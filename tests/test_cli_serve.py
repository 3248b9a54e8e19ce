"""``upbit-stream serve --tls / --tls-dir / --control`` as a person runs them, and the checks across its options."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest
import trio

from cli_helpers import CLI, clean_env, run_cli
from serve_helpers import control, served


@pytest.mark.parametrize(("args", "message"), [
    (["--loop"], "--loop only applies with --replay FILE"),
    (["--pace", "fast"], "--pace only applies with --replay FILE"),
    (["--loop", "--pace", "recorded"], "--loop and --pace only apply with --replay FILE"),
    (["--verbatim"], "--verbatim only applies with --replay FILE"),
    (["--blast-rate", "100"], "--blast-rate only applies with --blast"),
    (["--blast", "--blast-rate", "-5"], "--blast-rate must be a number above 0: got -5"),
    (["--port", "8765", "--control", "8765"], "--control 8765 is the exchange's own --port"),
    (["--control", "65536"], "expected a port from 0 to 65535 (0: any free port): got '65536'"),
    (["--control", "-1"], "expected a port from 0 to 65535 (0: any free port): got '-1'"),
])
def test_option_combinations_are_one_line_usage_errors(tmp_path, args, message):
    done = run_cli("serve", *args, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr


async def test_serve_tls_and_control_print_what_a_client_needs_and_clean_up(tmp_path):
    with served("--tls", "--control", "0", "--rate", "0", cwd=tmp_path) as fake:
        assert fake.public_url.startswith("wss://127.0.0.1:")
        assert fake.ca_path is not None and fake.control_port is not None
        ca_line = next(line for line in fake.lines if "TLS CA:" in line)
        assert f"SSL_CERT_FILE={fake.ca_path}" in ca_line and "removed on exit" in ca_line
        assert [i for i, line in enumerate(fake.lines) if "TLS CA:" in line or "control:" in line] < [
            i for i, line in enumerate(fake.lines) if "test keys" in line]
        assert await control(fake.control_port, "connections", "tick 2") == ["ok public=0 private=0 info=0", "ok 2"]
        context = ssl.create_default_context(cafile=fake.ca_path)
        host, port = fake.public_url.removeprefix("wss://").split("/")[0].split(":")
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                assert tls.version() is not None
        ca = Path(fake.ca_path)
        assert ca.is_file()
    assert not ca.parent.exists()


async def test_serve_tls_dir_keeps_the_ca_and_implies_tls(tmp_path):
    folder = tmp_path / "certs"
    with served("--tls-dir", str(folder), "--rate", "0", cwd=tmp_path) as fake:
        assert fake.public_url.startswith("wss://") and fake.ca_path == str(folder / "ca.pem")
        assert fake.control_port is None
        assert "kept" in next(line for line in fake.lines if "TLS CA:" in line)
    assert (folder / "ca.pem").is_file() and (folder / "server.pem").is_file()


def test_a_busy_control_port_is_a_one_line_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_cli("serve", "--control", str(port), cwd=tmp_path)
    assert done.returncode == 1 and f"127.0.0.1:{port}: the address is in use" in done.stderr
    assert done.stderr.count("\n") == 1


def test_serve_help_names_the_new_options(tmp_path):
    done = run_cli("serve", "--help", cwd=tmp_path, COLUMNS="100")
    assert done.returncode == 0
    for option in ("--tls", "--tls-dir DIR", "--control PORT", "SSL_CERT_FILE"):
        assert option in done.stdout


async def test_a_trio_client_reaches_serve_over_wss_with_only_the_ca_file(tmp_path):
    with served("--tls", "--rate", "20", cwd=tmp_path) as fake:
        done = await trio.run_process(
            [*CLI, "watch", "trade", "KRW-BTC", "--url", fake.public_url, "--seconds", "2"],
            capture_stdout=True, capture_stderr=True, check=False, cwd=tmp_path,
            env={**clean_env(), "SSL_CERT_FILE": fake.ca_path, "COLUMNS": "100"})
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        assert b"KRW-BTC" in done.stdout
