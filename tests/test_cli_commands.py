"""``upbit-stream config init|show`` and ``upbit-stream bench``, run as a person would."""

from __future__ import annotations

import shutil
import stat
import sys
from pathlib import Path

import upbit_stream
from upbit_stream import Settings
from upbit_stream._cli.main import main
from upbit_stream._config.settings_file import render_settings

from cli_helpers import REPO, run_cli


def test_config_init_writes_the_documented_file_and_refuses_to_overwrite(tmp_path):
    done = run_cli("config", "init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    path = tmp_path / "upbit_stream.toml"
    assert done.stdout.startswith("wrote upbit_stream.toml (mode 0600)")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="utf-8") == render_settings()
    assert Settings.load(path) == Settings()

    path.write_text("# my edits\n", encoding="utf-8")
    again = run_cli("config", "init", cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr == "upbit-stream config init: upbit_stream.toml already exists; use --force to replace it\n"
    assert path.read_text(encoding="utf-8") == "# my edits\n"

    path.chmod(0o644)
    forced = run_cli("config", "init", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert path.read_text(encoding="utf-8") == render_settings()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_config_init_to_a_path_and_show_reads_file_and_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # in this process: main() is what the command runs
    assert main(["config", "init", "settings/dev.toml"]) == 1  # no such folder
    assert capsys.readouterr().err.startswith("upbit-stream config init: cannot write settings/dev.toml:")
    (tmp_path / "settings").mkdir()
    assert main(["config", "init", "settings/dev.toml"]) == 0
    path = tmp_path / "settings" / "dev.toml"
    default_line = f"\ninterval = {Settings().heartbeat.interval!r}\n"
    assert path.read_text().count(default_line) == 1
    path.write_text(path.read_text().replace(default_line, "\ninterval = 7.0\n"))
    assert Settings.load(path).heartbeat.interval == 7.0
    capsys.readouterr()
    monkeypatch.setenv("UPBIT_STREAM_CONNECTION_FORMAT", "SIMPLE")
    monkeypatch.delenv("UPBIT_ACCESS_KEY", raising=False)
    monkeypatch.delenv("UPBIT_SECRET_KEY", raising=False)
    assert main(["config", "show", "settings/dev.toml"]) == 0
    out = capsys.readouterr().out
    assert "\ninterval = 7.0  # from settings/dev.toml\n" in out  # the file set every key: each says so
    assert '\nformat = "SIMPLE"  # from UPBIT_STREAM_CONNECTION_FORMAT\n' in out
    assert "#   info:    wss://api.upbit.com/websocket/v1/info" in out
    assert "# API keys: not found: set UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY" in out
    (tmp_path / "one.toml").write_text("[heartbeat]\ninterval = 9\n")
    monkeypatch.setenv("UPBIT_ACCESS_KEY", "access-key-for-the-test-0123")
    monkeypatch.setenv("UPBIT_SECRET_KEY", "secret-key-for-the-test-4567")
    assert main(["config", "show", "one.toml"]) == 0
    out = capsys.readouterr().out
    assert "\ninterval = 9.0  # from one.toml\n" in out and "\ntimeout = 10.0  # default\n" in out
    assert "# API keys: found in UPBIT_ACCESS_KEY / UPBIT_SECRET_KEY (not shown)" in out
    assert "access-key-for-the-test" not in out and "secret-key-for-the-test" not in out
    (tmp_path / "broken.toml").write_text("[heartbeat]\ninterval = 'soon'\n")
    assert main(["config", "show", "broken.toml"]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "heartbeat.interval" in err and "broken.toml" in err


def _checkout(tmp_path: Path, scripts: dict[str, str]) -> Path:
    """A source tree: a copy of the package and a benchmarks/ folder holding ``scripts``."""
    shutil.copytree(Path(upbit_stream.__file__).parent, tmp_path / "upbit_stream",
                    ignore=shutil.ignore_patterns("__pycache__"))
    if scripts:
        (tmp_path / "benchmarks").mkdir()
        for name, text in scripts.items():
            (tmp_path / "benchmarks" / name).write_text(text)
    return tmp_path


def test_bench_without_the_repository_benchmarks_exits_2(tmp_path):
    tree = _checkout(tmp_path / "site", {})
    done = run_cli("bench", cwd=tmp_path, PYTHONPATH=str(tree))
    assert done.returncode == 2
    assert f"no benchmarks at {tree / 'benchmarks'}" in done.stderr and "source repository" in done.stderr
    assert len(done.stderr.splitlines()) == 1


REPORTS = "import sys; print(__file__.rsplit('/', 1)[-1], sys.executable, sys.argv[1:])\n"


def test_bench_runs_each_script_with_this_interpreter_and_says_what_is_missing(tmp_path):
    tree = _checkout(tmp_path / "src", {"bench_core.py": REPORTS, "bench_pipeline.py": REPORTS})
    done = run_cli("bench", "--quick", "--peers", cwd=tmp_path, PYTHONPATH=str(tree))
    assert done.stdout.splitlines() == [
        "== benchmarks/bench_core.py --quick", f"bench_core.py {sys.executable} ['--quick']",
        "== benchmarks/bench_pipeline.py --quick", f"bench_pipeline.py {sys.executable} ['--quick']",
    ]
    missing = tree / "benchmarks" / "compare_peers.py"
    told = [line for line in done.stderr.splitlines() if "the machine was busy" not in line]  # load: a warning
    assert told == [f"upbit-stream bench: {missing} is missing in this checkout; skipped"]
    assert done.returncode == 1
    (tree / "benchmarks" / "compare_peers.py").write_text(REPORTS)
    done = run_cli("bench", "--peers", cwd=tmp_path, PYTHONPATH=str(tree))
    assert done.returncode == 0 and all("the machine was busy" in line for line in done.stderr.splitlines())
    assert done.stdout.splitlines()[-1] == f"compare_peers.py {sys.executable} []"


def test_bench_finds_this_repository(tmp_path):
    assert (REPO / "benchmarks" / "bench_core.py").is_file()
    from upbit_stream._cli.main import benchmarks_dir

    assert benchmarks_dir() == REPO / "benchmarks"


def test_bad_paths_and_a_busy_port_are_one_line_errors_before_any_work(tmp_path):
    record = run_cli("record", "trade:KRW-BTC", "-o", str(tmp_path / "missing" / "x.jsonl"), cwd=tmp_path)
    assert record.returncode == 2 and "no directory" in record.stderr and record.stderr.count("\n") == 1
    replay = run_cli("serve", "--replay", str(tmp_path / "none.jsonl"), cwd=tmp_path)
    assert replay.returncode == 2 and "no recording at" in replay.stderr and "Errno" not in replay.stderr
    suffix = run_cli("watch", "ticker", "KRW-BTC.5", cwd=tmp_path)
    assert suffix.returncode == 2 and "--depth N" in suffix.stderr and "orderbook()" not in suffix.stderr
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        serve = run_cli("serve", "--port", str(port), cwd=tmp_path)
    assert serve.returncode == 1 and f"cannot listen on 127.0.0.1:{port}: the address is in use" in serve.stderr
    assert "Errno" not in serve.stderr


def test_bench_warns_when_the_load_says_the_figures_were_shared():
    from upbit_stream._cli.main import busy_warning

    assert busy_warning(1.5, 2) is None
    warning = busy_warning(3.25, 2)
    assert warning is not None and "load 3.2 on 2 cores" in warning and "may not mean much" in warning
