"""The Kubernetes API client (kubernetes_asyncio) for what kopf itself does not do: status writes, scaling.

In a pod it uses the pod's service account; elsewhere the kubeconfig that KUBECONFIG (or ~/.kube/config) names."""

from __future__ import annotations

from kubernetes_asyncio import client, config
from kubernetes_asyncio.config.config_exception import ConfigException

from app.domain.errors import ServiceUnavailable


async def open_kube_api() -> client.ApiClient:
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except ConfigException:
        try:
            await config.load_kube_config(client_configuration=configuration)
        except (ConfigException, OSError) as error:
            raise ServiceUnavailable("the Kubernetes API", "KUBECONFIG", str(error)) from error
    return client.ApiClient(configuration=configuration)
