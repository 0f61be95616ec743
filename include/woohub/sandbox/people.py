"""Deterministic fake people shared by both sandboxes' seeds.

WooCommerce customers and guest buyers, and the contacts a HubSpot portal already holds before the first
sync, are drawn from the same list for a seed, so the two sides overlap the way a real shop's do: some
customers are already in the CRM (sometimes with a differently-cased email), some CRM contacts never bought.
"""

from __future__ import annotations

from dataclasses import dataclass

from faker import Faker

# Locales give unicode names and addresses (accents, umlauts, CJK) as a real international shop has.
_LOCALES = {"en_US": 6, "en_GB": 2, "de_DE": 2, "fr_FR": 2, "es_ES": 1, "ja_JP": 1, "pl_PL": 1}
_COUNTRY = {"en_US": "US", "en_GB": "GB", "de_DE": "DE", "fr_FR": "FR", "es_ES": "ES", "ja_JP": "JP", "pl_PL": "PL"}


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    email: str
    phone: str  # "" when the person gave none
    company: str
    address_1: str
    address_2: str
    city: str
    state: str
    postcode: str
    country: str


def people(seed: int, count: int) -> list[Person]:
    """``count`` distinct people (unique lower-cased emails) for ``seed``; the same call gives the same list,
    and a shorter list is a prefix of a longer one (``people(s, 50) == people(s, 75)[:50]``), so a shop
    seeded with more people than the CRM still shares the CRM's people."""
    fake = Faker(list(_LOCALES), use_weighting=True)
    fake.seed_instance(seed)
    # A multi-locale Faker has no ``random`` of its own (it raises); each locale's generator has one seeded
    # by seed_instance, so draw the shared choices from the en_US one.
    rng = fake["en_US"].random
    result: list[Person] = []
    seen: set[str] = set()
    for _attempt in range(count * 20):  # each person draws only from the state the previous ones left
        if len(result) == count:
            break
        locale = rng.choices(list(_LOCALES), weights=list(_LOCALES.values()))[0]
        local = fake[locale]
        first, last = local.first_name(), local.last_name()
        email = f"{_ascii(first)}.{_ascii(last)}{rng.randint(1, 999)}@{fake['en_US'].free_email_domain()}"
        email = email.lower()
        if email in seen:
            continue
        seen.add(email)
        result.append(
            Person(
                first_name=first,
                last_name=last,
                email=email,
                phone="" if rng.random() < 0.25 else fake["en_US"].numerify("555-01##"),
                company=local.company() if rng.random() < 0.2 else "",
                address_1=local.street_address(),
                address_2="" if rng.random() < 0.8 else f"Apt {rng.randint(1, 99)}",
                city=local.city(),
                state=fake["en_US"].state_abbr() if locale == "en_US" else "",
                postcode=local.postcode(),
                country=_COUNTRY[locale],
            )
        )
    return result


def _ascii(text: str) -> str:
    """An email-safe local part for a unicode name (romanised where possible, else a stable hex stand-in)."""
    import unicodedata

    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    folded = "".join(ch for ch in folded if ch.isalnum())
    return folded or text.encode("utf-8").hex()[:8]
