"""Data requests and the duties of Decision 81/2010, Art. 8–11.

* :mod:`~rsarchive.requests.models` — the request form and other bodies (pydantic);
* :mod:`~rsarchive.law.calendar` — Vietnamese working days (the clocks, in :mod:`rsarchive.law`);
* :mod:`~rsarchive.requests.lifecycle` — submit, review, approve, refuse, cancel, queues, audit log;
* :mod:`~rsarchive.requests.letters` — the written refusal (HTML and PDF);
* :mod:`~rsarchive.requests.delivery` — fulfilment: catalog search, manifest, licence, fee statement;
* :mod:`~rsarchive.requests.downloads` — signed per-requester links and reading assets;
* :mod:`~rsarchive.requests.fees` — the fee schedule (``fees.toml``, package data or site directory);
* :mod:`~rsarchive.requests.reports` — error reports and their triage;
* :mod:`~rsarchive.requests.coverage` — the coverage check before a foreign purchase;
* :mod:`~rsarchive.requests.purchase`, :mod:`~rsarchive.requests.acquisition` — the purchase opinion
  (Art. 10.2; Decree 03/2019, Art. 15.4) and the station model behind it;
* :mod:`~rsarchive.requests.complaints`, :mod:`~rsarchive.requests.complaint_letters` — complaints (Art. 9.5);
* :mod:`~rsarchive.requests.capability` — satellite-capability questions (Art. 13a);
* :mod:`~rsarchive.requests.paper`, :mod:`~rsarchive.requests.requesters` — paper requests, individual requesters;
* :mod:`~rsarchive.requests.official_letters` — the letterhead of written answers.

Identity (users, roles, clearance, tokens) is :mod:`rsarchive.users.identity`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RequestForm", "Purpose", "due_date", "submit", "approve", "refuse", "cancel", "fulfil",
           "compute_coverage", "coverage_check"]

_NAMES = {
    "RequestForm": "models", "Purpose": "models", "due_date": "calendar", "submit": "lifecycle",
    "approve": "lifecycle", "refuse": "lifecycle", "cancel": "lifecycle", "fulfil": "delivery",
    "compute_coverage": "coverage", "coverage_check": "coverage",
}


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        import importlib

        return getattr(importlib.import_module(f"rsarchive.requests.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'rsarchive.requests' has no attribute {name!r}")
