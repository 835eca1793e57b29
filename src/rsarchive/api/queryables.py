"""The queryables document of the STAC APIs with Vietnamese first (issue #21): pgSTAC titles the
document and its three core queryables in English (:func:`rsarchive.api.framework_texts.bilingual_queryables`)."""

from __future__ import annotations

from typing import Any

from stac_fastapi.pgstac.extensions.filter import FiltersClient

from rsarchive.api.framework_texts import bilingual_queryables

__all__ = ["BilingualFiltersClient"]


class BilingualFiltersClient(FiltersClient):  # type: ignore[misc]
    """stac-fastapi-pgstac's queryables, titled Vietnamese first."""

    async def get_queryables(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return bilingual_queryables(await super().get_queryables(*args, **kwargs))
