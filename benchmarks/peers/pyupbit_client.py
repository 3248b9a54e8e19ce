"""pyupbit: ``WebSocketManager`` (a child process: websockets + json.loads, then mp.Queue to the parent).

pyupbit hard-codes the URL in a local variable, so a subclass patches ``websockets.connect`` inside
the child process (peers.md §5). Only ``pyupbit/websocket_api.py`` is loaded: ``import pyupbit``
would also import pandas and requests for the REST API, which would inflate its RSS for nothing
the stream uses.
"""

from __future__ import annotations

import importlib.util
import os
import types

import _harness

DECODES = "json.loads into dicts (floats) in a child process, then pickled through mp.Queue(1000) to the parent"


def load_websocket_api() -> types.ModuleType:
    package = importlib.util.find_spec("pyupbit")
    if package is None or not package.submodule_search_locations:
        raise ImportError("pyupbit is not installed")
    path = os.path.join(next(iter(package.submodule_search_locations)), "websocket_api.py")
    spec = importlib.util.spec_from_file_location("pyupbit_websocket_api", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def main() -> None:
    options = _harness.args()
    meter = _harness.Meter(options, "pyupbit", DECODES)
    websocket_api = load_websocket_api()

    class LocalWebSocketManager(websocket_api.WebSocketManager):
        def run(self) -> None:
            import websockets

            original = websockets.connect
            websockets.connect = lambda uri, **kw: original(options.url, **kw)
            super().run()

    def consume() -> None:
        manager = LocalWebSocketManager(options.type, [options.code])
        tick = meter.tick
        while True:
            data = manager.get()
            if data.__class__ is dict:
                tick(data["timestamp"])

    _harness.run_guarded(meter, consume)


if __name__ == "__main__":
    main()
