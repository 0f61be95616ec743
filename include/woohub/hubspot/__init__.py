"""Everything woohub does with HubSpot: the hook (``hook``, ``auth``, ``batch``, ``search``) and the load of
mapped records into the CRM (``load``)."""

from woohub.hubspot.hook import HubSpotHook

__all__ = ["HubSpotHook"]
