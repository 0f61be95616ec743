"""HubSpot's error bodies: ``Error`` (top level) and ``StandardError`` (batch items)."""

from __future__ import annotations

import json
import uuid
from typing import Any


def correlation_id() -> str:
    return str(uuid.uuid4())


class ApiError(Exception):
    """An error answer: raising it anywhere in a handler turns into ``status`` with HubSpot's body.

    ``body=None`` with ``empty=True`` gives an empty body (HubSpot's 404 for an unknown record id on GET).
    """

    def __init__(self, status: int, category: str, message: str, *, errors: list[dict[str, Any]] | None = None,
                 context: dict[str, list[str]] | None = None, sub_category: str | None = None,
                 empty: bool = False) -> None:
        super().__init__(message)
        self.status, self.category, self.message = status, category, message
        self.errors, self.context, self.sub_category, self.empty = errors, context, sub_category, empty

    def body(self) -> dict[str, Any] | None:
        if self.empty:
            return None
        body: dict[str, Any] = {"status": "error", "message": self.message,
                                "correlationId": correlation_id(), "category": self.category}
        if self.sub_category:
            body["subCategory"] = self.sub_category
        if self.errors:
            body["errors"] = self.errors
        if self.context:
            body["context"] = self.context
        return body

    def standard(self, extra_context: dict[str, list[str]] | None = None) -> dict[str, Any]:
        """This error as a ``StandardError`` item of a batch response."""
        context = dict(self.context or {})
        context.update(extra_context or {})
        item: dict[str, Any] = {"status": "error", "category": self.category, "message": self.message,
                                "context": context, "errors": self.errors or [], "links": {}}
        if self.sub_category:
            item["subCategory"] = self.sub_category
        return item


def validation(message: str, **kwargs: Any) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message, **kwargs)


def not_found(message: str = "resource not found", **kwargs: Any) -> ApiError:
    return ApiError(404, "OBJECT_NOT_FOUND", message, **kwargs)


class PropertyProblem(Exception):
    """One invalid property value, as HubSpot lists them inside a VALIDATION_ERROR."""

    def __init__(self, name: str, code: str, message: str) -> None:
        super().__init__(message)
        self.name, self.code, self.message = name, code, message


def property_errors(problems: list[PropertyProblem], portal_id: int) -> ApiError:
    """HubSpot's ``Property values were not valid: [...]`` error, with ``errors[].code`` per property."""
    inner = [{"isValid": False, "message": p.message, "error": p.code, "name": p.name,
              "localizedErrorMessage": p.message, "portalId": portal_id} for p in problems]
    return validation(
        "Property values were not valid: " + json.dumps(inner, separators=(",", ":")),
        errors=[{"message": p.message, "code": p.code, "context": {"propertyName": [p.name]}} for p in problems],
    )
