"""The HubSpot load layer: writes the mapping layer's frames into HubSpot, exactly once per change.

Each loader takes a :class:`~woohub.hubspot.hook.HubSpotHook`, the staging engine, a frame and the run id,
skips records whose content hash matches the id map (no call at all), writes the rest in batches of 100,
books per-record failures as dead letters (never aborting the batch), and returns a :class:`LoadResult`.
Only set-up and systemic errors raise: :class:`MissingPropertyError`, authentication, daily limit, or
HubSpot still failing after the hook's retries.
"""

from woohub.hubspot.load.contacts import load_contacts
from woohub.hubspot.load.deals import load_deals
from woohub.hubspot.load.line_items import load_line_items
from woohub.hubspot.load.products import load_products
from woohub.hubspot.load.properties import ensure_custom_properties
from woohub.hubspot.load.results import LoadOptions, LoadResult, MissingPropertyError

__all__ = [
    "LoadOptions",
    "LoadResult",
    "MissingPropertyError",
    "ensure_custom_properties",
    "load_contacts",
    "load_deals",
    "load_line_items",
    "load_products",
]
