"""Small helpers shared by test modules."""

from woohub.sandbox.control import free_port

__all__ = ["free_port"]
