"""A server process freezes its heap again after a full collection that follows new imports
(`core/serving.py`): what lazy imports load is not walked by every later full collection."""

from __future__ import annotations

import gc
import sys
import types
from collections.abc import Iterator

import pytest

from emsync.core.serving import FreezeNewModules

MODULE = "emsync_test_lazily_imported"


@pytest.fixture
def freezer() -> Iterator[FreezeNewModules]:
    callback = FreezeNewModules()
    gc.callbacks.append(callback)
    try:
        yield callback
    finally:
        gc.callbacks.remove(callback)
        sys.modules.pop(MODULE, None)
        gc.unfreeze()


def test_only_a_full_collection_after_an_import_freezes(freezer: FreezeNewModules) -> None:
    frozen = gc.get_freeze_count()
    gc.collect()
    assert gc.get_freeze_count() == frozen  # nothing imported: a full collection froze nothing
    module = types.ModuleType(MODULE)
    module.table = [[n] for n in range(1000)]  # type: ignore[attr-defined]
    sys.modules[MODULE] = module
    gc.collect(1)
    assert gc.get_freeze_count() == frozen  # not a full collection: not yet
    gc.collect()
    assert gc.get_freeze_count() >= frozen + 1000
    collected = {id(obj) for obj in gc.get_objects()}  # every generation but the frozen one
    assert not any(id(row) in collected for row in module.table)
    again, modules = gc.get_freeze_count(), freezer.modules
    gc.collect()
    # The same modules: no second freeze. The freezer records the modules it froze with; the
    # process-wide count can also go down meanwhile (a frozen object freed on another thread of
    # the worker, left by an earlier test: a fresh clone's run saw 3,627,068 -> 3,627,050), never
    # up without a freeze.
    assert freezer.modules == modules
    assert gc.get_freeze_count() <= again
