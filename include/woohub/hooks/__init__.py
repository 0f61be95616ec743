"""Airflow hooks for the HubSpot CRM and WooCommerce REST APIs, and the pieces they share."""

from woohub.hooks.http_errors import (
    AmbiguousWriteError,
    ApiHTTPError,
    AuthenticationError,
    DailyLimitError,
    FatalHTTPError,
    RateLimitedError,
    RetryableHTTPError,
)
from woohub.hooks.hubspot import HubSpotHook
from woohub.hooks.outcomes import RecordOutcome
from woohub.hooks.retry import RetryPolicy
from woohub.hooks.woocommerce import WooCommerceHook

__all__ = [
    "AmbiguousWriteError",
    "ApiHTTPError",
    "AuthenticationError",
    "DailyLimitError",
    "FatalHTTPError",
    "HubSpotHook",
    "RateLimitedError",
    "RecordOutcome",
    "RetryPolicy",
    "RetryableHTTPError",
    "WooCommerceHook",
]
