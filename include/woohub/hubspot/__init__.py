"""Everything woohub does with HubSpot: the hook (``hook``, ``auth``, ``batch``, ``search``), the extract of
changed deals and contacts into staging (``extract``) with their validation frames (``checks``), and the
load of mapped records into the CRM (``load``, including the deal write-back of HubSpot -> WooCommerce)."""

from woohub.hubspot.hook import HubSpotHook

__all__ = ["HubSpotHook"]
