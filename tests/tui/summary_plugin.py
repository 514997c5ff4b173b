"""pytest plugin (used by test_summary_fit): records the summary of every Finding built."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from typing import Any

from signer_tui import model

SEEN: dict[str, set[str]] = defaultdict(set)
_ORIGINAL = model.Finding.__init__


def _recording(self: model.Finding, *args: Any, **kwargs: Any) -> None:
    _ORIGINAL(self, *args, **kwargs)
    SEEN[f"{self.id} {self.status.value}"].add(self.summary)


model.Finding.__init__ = _recording  # type: ignore[method-assign]


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    out = os.environ.get("SUMMARY_FIT_OUT")
    if out:
        data = {key: sorted(texts) for key, texts in SEEN.items()}
        with open(out, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
