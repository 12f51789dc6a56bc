"""How a server process settles once started, before it serves (`create_app(settle=True)`)."""

from __future__ import annotations

import gc
import sys

# How long the event loop's thread may keep the GIL while another thread (the SQLite writer,
# MQTT's network thread) waits for it: `http.gil_switch_interval_ms`, Python's 5 ms by default.
# 1 ms was tried first (with API load at machine load ~10 an ingest transaction held the write
# gate 19 ms on average instead of 44), but once the ingest had the API's turns to itself
# (`http.concurrent_requests_with_ingest`) it lost in both pairs with API load: bench/ingest.py
# --latency-only --api-load, SQLite, load 2.6-4.0: p99 87.0 and 40.7 ms at 1 ms against 41.9 and
# 38.5 at 5 ms, API 108 and 196 requests/s against 226 and 269; the full bench's backlog drain
# (no flags, SQLite, load 8-12, three pairs) ran at 0.21-0.38 of a bare subscriber against
# 0.54-0.86 at 5 ms (two pairs at load 1-4 were even: 0.66, 0.73 against 0.78, 0.71): the
# loop's thread handing over the GIL five times as often costs more than the waits it saves.


# WebSocket permessage-deflate (`http.ws_per_message_deflate`, off by default). uvicorn offers it
# unless told not to, and browsers and `websockets` clients accept it, so every push was
# compressed on the event loop, per connection (the message is rendered once for all of its
# subscribers; its compression cannot be shared). A vitals push of one reading (~450 bytes of
# JSON) cost 8.9 us of CPU through uvicorn's send path with it against 1.7 us without (websockets
# 15 sans-I/O, 20,000 pushes, machine load ~8): at 2,000 readings/s and one dashboard, 1.4 % of a
# core taken from the loop the readings wait behind, for bandwidth a LAN does not miss (28 bytes
# instead of 450 on loopback). Behind a slow link it can be turned back on.


def settle_heap() -> None:
    """Take what start-up allocated out of the cyclic garbage collector's walks (`gc.freeze`).

    Imported modules, the app, its routes and settings live as long as the process, yet every
    full (generation 2) collection walked them all with the event loop stopped: measured with
    `gc.callbacks` in `emsync serve` under bench/ingest.py, 235-273 ms at machine load ~2 and
    460-720 ms at load 3-5. Frozen objects are never collected, which they would not be anyway;
    `gc.collect()` first, so garbage already there is freed rather than frozen.
    """
    gc.collect()
    gc.freeze()
    if not any(isinstance(callback, FreezeNewModules) for callback in gc.callbacks):
        gc.callbacks.append(FreezeNewModules())


class FreezeNewModules:
    """A `gc.callbacks` entry: after a full collection, if modules were imported since the last
    freeze, freeze again.

    Start-up is not all the importing: the first map load imports pyproj, geopandas and pyrosm,
    the first requests build FastAPI's dependants and pydantic's adapters, and all of that lived
    in the collected heap, walked by every full collection (bench/ingest.py --api-load, counted
    with `gc.callbacks` and `gc.get_objects(2)` 15 s after the freeze: 59,700 objects, 81 modules
    imported since). Each full collection stopped the event loop for 46-57 ms of CPU (load
    13-20), more than the 50 ms publish -> WebSocket budget on its own. With this, the first
    full collection after the imports still costs that, and freezes; the next ones took 11.5,
    18.8, 25.2, 27.3 and 34.0 ms against 53.1 and 57.0 without (paired runs, SQLite and
    PostgreSQL).
    Right after a full collection what is left is alive, so freezing it frees nothing that
    should have been freed; only objects that later become garbage in a cycle (a request in
    flight then) stay: once per wave of imports, not per collection.
    """

    def __init__(self) -> None:
        self.modules = len(sys.modules)

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2 and len(sys.modules) > self.modules:
            self.modules = len(sys.modules)
            gc.freeze()


def settle_for_serving(switch_interval_seconds: float) -> None:
    """`settle_heap`, then the GIL's switch interval (the comment above)."""
    settle_heap()
    sys.setswitchinterval(switch_interval_seconds)
