"""An in-memory emulator of the HubSpot CRM API (objects, search, properties, pipelines, associations v4,
OAuth, rate limits, an app's webhook subscriptions and deliveries), served by :class:`woohub.sandbox.server.SandboxServer`."""

from woohub.sandbox.hubspot.api import HubSpotApi

__all__ = ["HubSpotApi"]
