"""Shared pieces of the HubSpot sandbox tests: an HTTP client, the ``hs`` fixture and schema checks.

The required fields below are copied from HubSpot's OpenAPI specs (crm-*-v3.json, crm-associations-v4.json,
auth-oauth-v1.json) so the tests do not read the specs at run time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import requests

TOKEN = "sandbox-token"

REQUIRED = {
    "SimplePublicObject": {"archived", "createdAt", "id", "properties", "updatedAt"},
    "SimplePublicUpsertObject": {"archived", "createdAt", "id", "new", "properties", "updatedAt"},
    "BatchResponse": {"completedAt", "results", "startedAt", "status"},
    "BatchResponseWithErrors": {"completedAt", "results", "startedAt", "status", "numErrors", "errors"},
    "StandardError": {"category", "context", "errors", "links", "message", "status"},
    "Error": {"category", "correlationId", "message"},
    "CollectionResponseWithTotal": {"results", "total"},
    "Property": {"description", "fieldType", "groupName", "label", "name", "options", "type"},
    "Pipeline": {"archived", "createdAt", "displayOrder", "id", "label", "stages", "updatedAt"},
    "PipelineStage": {"archived", "createdAt", "displayOrder", "id", "label", "metadata", "updatedAt"},
    "MultiAssociatedObjectWithLabel": {"associationTypes", "toObjectId"},
    "AssociationSpecWithLabel": {"category", "typeId"},
    "LabelsBetweenObjectPair": {"fromObjectId", "fromObjectTypeId", "labels", "toObjectId", "toObjectTypeId"},
    "PublicDefaultAssociation": {"associationSpec", "from", "to"},
    "PublicAssociationMultiWithLabel": {"from", "to"},
    "AccessTokenResponse": {"access_token", "expires_in", "refresh_token", "token_type", "token_use"},
}


def assert_schema(obj: Any, name: str) -> None:
    assert isinstance(obj, dict), f"{name}: not an object: {obj!r}"
    missing = REQUIRED[name] - set(obj)
    assert not missing, f"{name} lacks required field(s) {sorted(missing)}: {obj!r}"


def assert_record(obj: dict[str, Any]) -> None:
    assert_schema(obj, "SimplePublicObject")
    assert isinstance(obj["id"], str) and obj["id"].isdigit()
    assert all(v is None or isinstance(v, str) for v in obj["properties"].values()), obj["properties"]


def assert_error(response: requests.Response, status: int, category: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert_schema(body, "Error")
    assert body["status"] == "error"
    assert body["category"] == category, body
    uuid.UUID(body["correlationId"])
    return body


class HubSpot:
    """A bare HTTP client for the sandbox (no retries, so every status is visible)."""

    def __init__(self, base_url: str, token: str | None = TOKEN) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.base_url + path, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, json=json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def create(self, object_type: str, properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
        response = self.post(f"/crm/v3/objects/{object_type}", {"properties": properties, **extra})
        assert response.status_code == 201, response.text
        return response.json()

    def batch_create(self, object_type: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create ``rows``; the records in the order of ``rows`` (HubSpot answers in no particular order, so
        each input carries its position as ``objectWriteTraceId`` and the results are put back by it)."""
        created = []
        for start in range(0, len(rows), 100):
            chunk = rows[start:start + 100]
            response = self.post(f"/crm/v3/objects/{object_type}/batch/create", {"inputs": [
                {"properties": p, "objectWriteTraceId": str(n)} for n, p in enumerate(chunk)]})
            assert response.status_code == 201, response.text
            by_trace = {r["objectWriteTraceId"]: r for r in response.json()["results"]}
            created.extend(by_trace[str(n)] for n in range(len(chunk)))
        return created

    def search(self, object_type: str, body: dict[str, Any]) -> requests.Response:
        return self.post(f"/crm/v3/objects/{object_type}/search", body)


def empty_portal(sandbox: Any) -> Iterator[HubSpot]:
    """For each module's ``hs`` fixture: an empty portal, search index delay 0, rate limits out of the way; settings restored afterwards."""
    sandbox.hubspot.reset(empty=True)
    sandbox.hubspot.configure(search_index_delay_seconds=0, ten_second_limit=100_000, search_per_second=100_000)
    yield HubSpot(sandbox.hubspot_url)
    sandbox.hubspot.clear_faults()
    sandbox.hubspot.reset(empty=True)  # also puts the default settings back
