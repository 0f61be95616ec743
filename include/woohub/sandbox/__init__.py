"""Sandbox emulators of the HubSpot CRM and WooCommerce REST APIs, served as real HTTP servers.

Start both with ``python -m woohub.sandbox``; drive them from tests with :class:`SandboxControl`.
"""

from woohub.sandbox.control import SandboxControl
from woohub.sandbox.server import FaultRule, SandboxServer, SeedOptions

__all__ = ["FaultRule", "SandboxControl", "SandboxServer", "SeedOptions"]
