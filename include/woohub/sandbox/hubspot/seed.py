"""A seeded portal that overlaps the seeded shop the way a real one does.

Every 5th WooCommerce customer (``people(seed, customers)``, the list the WooCommerce sandbox seeds its
customers from) is already a contact, every other one of those with a differently-cased email; a few
contacts never bought anything; a few HubSpot-created deals ("Upsell: …", "Cross-sell: …", no woo ids) carry
line items based on HubSpot-only products, for the HubSpot→WooCommerce direction.
"""

from __future__ import annotations

import random

from woohub.sandbox.hubspot.store import Portal
from woohub.sandbox.people import Person, people
from woohub.sandbox.server import SeedOptions

DAY_MS = 86_400_000
_SERVICES = [("Installation service", "HS-SVC-INSTALL", "149"), ("Extended warranty (2 years)", "HS-SVC-WARRANTY",
             "79.9"), ("Premium support plan", "HS-SVC-SUPPORT", "299"), ("On-site training", "HS-SVC-TRAINING",
             "450"), ("Gift wrapping", "HS-SVC-GIFT", "4.5")]


def recased(email: str) -> str:
    """The same address as a person might type it into a form: ``Jane.Doe12@Gmail.com``."""
    local, domain = email.split("@", 1)
    return f"{local.title()}@{domain.capitalize()}"


def _contact(person: Person, email: str, stage: str) -> dict[str, str]:
    props = {"email": email, "firstname": person.first_name, "lastname": person.last_name,
             "address": person.address_1, "city": person.city, "zip": person.postcode, "country": person.country,
             "lifecyclestage": stage}
    for key, value in (("phone", person.phone), ("company", person.company), ("state", person.state)):
        if value:
            props[key] = value
    return props


def seed(portal: Portal, options: SeedOptions, now: int) -> None:
    if options.empty:
        return
    rng = random.Random(options.seed)
    base = now - 400 * DAY_MS
    clock = iter(range(base, now, 3_600_000))  # one record an hour, oldest first
    customers = people(options.seed, options.customers)
    overlap = []
    for i, person in enumerate(customers[::5]):
        email = recased(person.email) if i % 2 else person.email
        overlap.append(portal.create("contacts", _contact(person, email, rng.choice(["lead", "customer"])),
                                     next(clock)))
    taken = {p.email for p in customers}
    extra = [p for p in people(options.seed + 7919, max(3, options.customers // 5) * 2) if p.email not in taken]
    hubspot_only = [portal.create("contacts", _contact(p, p.email, rng.choice(["subscriber", "lead"])), next(clock))
                    for p in extra[: max(3, options.customers // 5)]]
    products = [portal.create("products", {"name": name, "hs_sku": sku, "price": price, "hs_product_type": "service",
                                           "description": f"{name} (sold from HubSpot only)"}, next(clock))
                for name, sku, price in _SERVICES]
    buyers = overlap + hubspot_only
    if not buyers:
        return
    stages = ["appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "contractsent", "closedwon"]
    for n in range(max(2, options.customers // 10)):
        contact = rng.choice(buyers)
        kind = "Upsell" if n % 2 == 0 else "Cross-sell"
        chosen = rng.sample(products, rng.randint(1, 3))
        created = next(clock)
        name = f"{kind}: {chosen[0]['properties']['name']} for {contact['properties'].get('firstname', '')} " \
               f"{contact['properties'].get('lastname', '')}".strip()
        deal = portal.create("deals", {"dealname": name, "pipeline": "default", "dealstage": rng.choice(stages),
                                       "deal_currency_code": "USD",
                                       "closedate": created + rng.randint(10, 60) * DAY_MS},
                             created, associations=[{"to": {"id": contact["id"]}, "types": [
                                 {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]}])
        total = 0.0
        for product in chosen:
            quantity = rng.randint(1, 3)
            item = portal.create("line_items", {
                "name": product["properties"]["name"], "quantity": quantity, "price": product["properties"]["price"],
                "hs_product_id": product["id"], "hs_sku": product["properties"]["hs_sku"],
                "hs_line_item_currency_code": "USD"}, created, associations=[{"to": {"id": deal["id"]}, "types": [
                    {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 20}]}])
            total += float(item["properties"]["amount"])
        portal.update("deals", deal, {"amount": round(total, 2)}, created)
