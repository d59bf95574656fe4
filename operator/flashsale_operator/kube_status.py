"""Writes a FlashSale's status through the status subresource (a JSON merge patch of `status` only)."""

from __future__ import annotations

import logging
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from flashsale_operator.spec import Resource

GROUP, VERSION, PLURAL = "flashsale.io", "v1alpha1", "flashsales"
log = logging.getLogger(__name__)


class KubeStatus:
    def __init__(self, api: client.ApiClient) -> None:
        self._objects = client.CustomObjectsApi(api)

    async def write(self, ref: Resource, status: dict[str, Any]) -> bool:
        """Whether it was written (False: the FlashSale is gone)."""
        try:
            await self._objects.patch_namespaced_custom_object_status(  # type: ignore[call-arg]
                GROUP,
                VERSION,
                ref.namespace,
                PLURAL,
                ref.name,
                {"status": status},
                _content_type="application/merge-patch+json",  # the stubs omit it; the client takes it
            )
        except ApiException as error:
            if error.status == 404:  # deleted meanwhile: nothing left to report on
                log.debug("%s/%s is gone; status not written", ref.namespace, ref.name)
                return False
            raise
        return True
