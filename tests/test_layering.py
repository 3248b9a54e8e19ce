"""The package's rings, checked from the source: the core is pure, transports do not reach into the shell."""

from __future__ import annotations

import ast
import pathlib

import pytest

import upbit_stream as ub

PACKAGE = pathlib.Path(ub.__file__).parent
#: What the pure core may never import: no trio, no sockets, no WebSocket library, no clock-driven I/O.
IMPURE = ("trio", "trio_websocket", "websockets", "wsproto", "socket", "ssl", "asyncio", "selectors", "threading")


def imports_of(path: pathlib.Path) -> set[str]:
    """Absolute module names ``path`` imports (relative imports resolved against the package)."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts[: len(parts) - node.level]
                names.add(".".join((*base, node.module)) if node.module else ".".join(base))
            elif node.module:
                names.add(node.module)
    return names


def modules(ring: str) -> list[pathlib.Path]:
    found = sorted((PACKAGE / ring).glob("*.py"))
    assert found, f"no modules in {ring}"
    return found


@pytest.mark.parametrize("path", modules("_core"), ids=lambda p: p.name)
def test_the_core_imports_no_trio_and_no_io(path):
    for name in imports_of(path):
        root = name.split(".")[0]
        assert root not in IMPURE, f"{path.name} imports {name}"
        if name.startswith("upbit_stream."):
            assert name.startswith("upbit_stream._core"), f"{path.name} imports {name} from outside the core"


@pytest.mark.parametrize("path", modules("_transports"), ids=lambda p: p.name)
def test_transports_never_import_the_shell_or_the_command_line(path):
    for name in imports_of(path):
        assert not name.startswith(("upbit_stream._trio", "upbit_stream._cli")), f"{path.name} imports {name}"


def test_only_the_transports_import_websocket_libraries():
    for path in PACKAGE.rglob("*.py"):
        ring = path.relative_to(PACKAGE).parts[0]
        if ring in ("_transports", "testing"):
            continue
        for name in imports_of(path):
            assert name.split(".")[0] not in ("trio_websocket", "websockets", "wsproto"), f"{path} imports {name}"


def test_every_module_opens_with_a_docstring_and_stays_small():
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        if path.name != "__init__.py" or source.strip():
            assert ast.get_docstring(ast.parse(source)), f"{path} has no opening docstring"
        assert source.count("\n") <= 420, f"{path} has {source.count(chr(10))} lines"


def test_no_module_reaches_into_another_librarys_private_names():
    """No ``trio._core``, no test primitives, no ``getattr(x, "_private")`` on another library's objects."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                if node.module != "__future__" and any(p.startswith("_") for p in node.module.split(".")):
                    offenders.append(f"{path.name}: from {node.module} import …")
                if node.module.startswith("trio.testing") and path.parts[-2] != "testing":
                    offenders.append(f"{path.name}: imports trio.testing")
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if node.value.id in ("trio", "trio_websocket", "websockets", "wsproto") and node.attr.startswith("_"):
                    offenders.append(f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}")
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "getattr" and len(node.args) >= 2:
                name = node.args[1]
                if isinstance(name, ast.Constant) and isinstance(name.value, str) and name.value.startswith("_") \
                        and not name.value.startswith("__"):
                    offenders.append(f"{path.name}:{node.lineno}: getattr(…, {name.value!r})")
            elif isinstance(node, ast.Name) and node.id == "wait_all_tasks_blocked":
                offenders.append(f"{path.name}:{node.lineno}: wait_all_tasks_blocked")
    assert offenders == []


#: The relay's pure core: subject naming, message ids, stream plans, gap decisions.
RELAY_PURE = ("naming.py", "markers.py")


@pytest.mark.parametrize("name", RELAY_PURE)
def test_the_relays_core_imports_no_trio_no_nats_and_no_io(name):
    for imported in imports_of(PACKAGE / "_relay" / name):
        assert imported.split(".")[0] not in (*IMPURE, "nats"), f"{name} imports {imported}"
        if imported.startswith("upbit_stream."):
            assert imported.startswith(("upbit_stream._core", "upbit_stream._relay")), f"{name} imports {imported}"
            assert imported.removeprefix("upbit_stream._relay.") in ("", *(n[:-3] for n in RELAY_PURE)) \
                or imported.startswith("upbit_stream._core"), f"{name} imports {imported}"


def test_only_the_relays_asyncio_side_imports_nats():
    """nats-py is an optional extra: ``import upbit_stream`` must work without it."""
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
        names = {alias.name for node in top if isinstance(node, ast.Import) for alias in node.names}
        names |= {node.module for node in top if isinstance(node, ast.ImportFrom) and node.module and not node.level}
        if any(name.split(".")[0] == "nats" for name in names):
            assert path.relative_to(PACKAGE).as_posix() in ("_relay/nats_side.py", "_relay/nats_publisher.py"), \
                f"{path} imports nats at the top"


def test_the_relay_never_imports_the_command_line():
    for path in modules("_relay"):
        for name in imports_of(path):
            assert not name.startswith("upbit_stream._cli"), f"{path.name} imports {name}"
