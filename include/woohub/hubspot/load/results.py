"""What a load step reports (:class:`LoadResult`) and the ledger that collects it while a loader runs.

A loader feeds every record's fate into a :class:`LoadLedger`; :meth:`LoadLedger.finish` then writes the
staging side in one place (id map, dead letters, resolved dead letters) and returns the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from woohub.core.dead_letters import record_failures, resolve_dead_letters
from woohub.core.ledger import save_id_map

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from woohub.hubspot.hook import HubSpotHook

#: HubSpot reports a property that is not defined with this code inside a VALIDATION_ERROR message
MISSING_PROPERTY_CODE = "PROPERTY_DOESNT_EXIST"


class MissingPropertyError(RuntimeError):
    """A property the load writes is not defined in the HubSpot portal: a set-up error, not a record error."""


@dataclass
class LoadResult:
    """The outcome of loading one frame into one HubSpot object type.

    ``created + updated + unchanged + failed`` is the number of distinct source keys in the frame (archived
    and archive requests for unknown records count as unchanged when nothing was written). ``api_calls`` is
    the number of HubSpot calls (every attempt) the load spent, ``failures`` the records dead-lettered by
    this load, ``unlinked_line_items`` the line items that carry no product link.
    """

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    archived: int = 0
    api_calls: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    unlinked_line_items: list[str] = field(default_factory=list)

    def add(self, other: LoadResult) -> None:
        """Add ``other`` (a later chunk of the same load) to this result."""
        for name in ("created", "updated", "unchanged", "failed", "archived", "api_calls"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failures.extend(other.failures)
        self.unlinked_line_items.extend(other.unlinked_line_items)


@dataclass(frozen=True)
class LoadOptions:
    """How a load treats its frame.

    :param source_refs: ``source_key -> "<stream>:<source id>"``, the staged record a later run re-processes
        when the key fails (stored with the dead letter, in the same transaction)
    :param rewrite: write every record even when the ledger holds its hash (a full resync: what a person
        archived in HubSpot is written again)
    """

    source_refs: Mapping[str, str] = field(default_factory=dict)
    rewrite: bool = False


@dataclass
class LoadLedger:
    """Collects what happened to each record of one load (see :meth:`finish`).

    :param object_type: the id map's object type (``product``, ``contact``, ``deal``, ``line_item``)
    :param hook: the hook whose calls are counted
    """

    object_type: str
    hook: HubSpotHook
    result: LoadResult = field(default_factory=LoadResult)
    id_entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    succeeded: list[str] = field(default_factory=list)
    calls_at_start: int = 0
    missing_property: str | None = None
    options: LoadOptions = field(default_factory=LoadOptions)

    @classmethod
    def start(cls, hook: HubSpotHook, object_type: str, options: LoadOptions | None = None) -> LoadLedger:
        """A ledger that counts the hook's calls from now on."""
        return cls(object_type=object_type, hook=hook, calls_at_start=hook.calls_spent(),
                   options=options or LoadOptions())

    def written(
        self, source_key: str, hubspot_id: str, content_hash: str | None, created: bool | None
    ) -> None:
        """A record was written (``created`` tells create from update); remember its id and hash."""
        if created:
            self.result.created += 1
        else:
            self.result.updated += 1
        self.remember(source_key, hubspot_id, content_hash)
        self.succeeded.append(source_key)

    def archived(self, source_key: str, hubspot_id: str, marker: str) -> None:
        """A record was archived in HubSpot; ``marker`` replaces its hash so a re-run skips it."""
        self.result.archived += 1
        self.remember(source_key, hubspot_id, marker)
        self.succeeded.append(source_key)

    def remember(self, source_key: str, hubspot_id: str | None, content_hash: str | None) -> None:
        """Store an id map entry without counting a write (``None`` hash: write again next run)."""
        self.id_entries[source_key] = {
            "source_key": source_key,
            "hubspot_id": hubspot_id,
            "content_hash": content_hash,
        }

    def confirmed(self, source_key: str, hubspot_id: str, content_hash: str | None) -> None:
        """HubSpot already holds what the record would write: remember its id and hash, count it unchanged,
        no call made."""
        self.result.unchanged += 1
        self.remember(source_key, hubspot_id, content_hash)
        self.succeeded.append(source_key)

    def failed(self, source_key: str, code: str, message: str) -> None:
        """A record was not (fully) written; it goes to the dead letter table."""
        self.result.failed += 1
        self.result.failures.append({"source_key": source_key, "error_code": code, "error_message": message,
                                     "source_ref": self.options.source_refs.get(source_key)})
        if MISSING_PROPERTY_CODE in message and self.missing_property is None:
            self.missing_property = message

    def unchanged(self, count: int = 1) -> None:
        """Records whose content matches what was last written: no call was made for them."""
        self.result.unchanged += count

    def finish(self, engine: Engine, run_id: str) -> LoadResult:
        """Persist id map entries and dead letters, and return the result (run counts are the caller's,
        through ``record_counts``).

        :raises MissingPropertyError: when HubSpot rejected records for an undefined property (after the
            staging side is saved, so nothing written is forgotten)
        """
        result = self.result
        result.api_calls = self.hook.calls_spent() - self.calls_at_start
        if self.id_entries:
            save_id_map(engine, self.object_type, list(self.id_entries.values()), run_id)
        record_failures(engine, self.object_type, result.failures, run_id)
        if self.succeeded:
            resolve_dead_letters(engine, self.object_type, self.succeeded)
        if self.missing_property is not None:
            raise MissingPropertyError(
                f"HubSpot rejected {self.object_type} records for an undefined "
                f"property; run ensure_custom_properties: {self.missing_property[:500]}"
            )
        return result
