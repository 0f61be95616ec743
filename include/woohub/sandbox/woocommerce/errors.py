"""WooCommerce / WordPress REST error bodies."""

from __future__ import annotations

from typing import Any


class WooError(Exception):
    """An error answer: ``{"code", "message", "data": {"status", ...extra}}`` (or a bare ``data`` value)."""

    def __init__(self, status: int, code: str, message: str, bare_data: bool = False, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.bare_data = bare_data
        self.extra = extra

    def body(self) -> dict[str, Any]:
        if self.bare_data:
            return {"code": self.code, "message": self.message, "data": self.status}
        return {"code": self.code, "message": self.message, "data": {"status": self.status, **self.extra}}


def invalid_param(name: str, message: str, detail_code: str) -> WooError:
    return WooError(
        400, "rest_invalid_param", f"Invalid parameter(s): {name}",
        params={name: message}, details={name: {"code": detail_code, "message": message, "data": None}},
    )


def missing_param(name: str) -> WooError:
    return WooError(400, "rest_missing_callback_param", f"Missing parameter(s): {name}", params=[name])


def invalid_params(errors: dict[str, tuple[str, str, str]]) -> WooError:
    """Several schema failures at once, as ``WP_REST_Request::has_valid_params`` reports them: ``errors`` maps
    each top-level parameter to ``(code, message, path)`` (``path`` = the failing value, e.g.
    ``line_items[0][total]``), in the order of the endpoint's schema."""
    return WooError(
        400, "rest_invalid_param", f"Invalid parameter(s): {', '.join(errors)}",
        params={name: message for name, (_, message, _) in errors.items()},
        details={name: {"code": code, "message": message, "data": {"param": path}}
                 for name, (code, message, path) in errors.items()},
    )
