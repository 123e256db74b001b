"""Writes sample_data/subscribers.csv: 5,000 synthetic people, deterministic.

Includes what real exports contain: malformed addresses, duplicates that
differ by case, role addresses and an internationalised domain. Run it
again only to change the sample: `python sample_data/make_subscribers.py`.
"""

import csv
import random
from pathlib import Path

FIRST = [
    "Ada",
    "Alan",
    "Anna",
    "Ben",
    "Carla",
    "Chen",
    "Dara",
    "Elif",
    "Emil",
    "Eva",
    "Femi",
    "Grace",
    "Hana",
    "Ivan",
    "Jon",
    "Kai",
    "Lea",
    "Luis",
    "Maya",
    "Mia",
    "Nils",
    "Noor",
    "Omar",
    "Pia",
    "Raj",
    "Rosa",
    "Sam",
    "Tara",
    "Uma",
    "Yara",
    "Zoe",
]
LAST = [
    "Lovelace",
    "Turing",
    "Berg",
    "Okafor",
    "Silva",
    "Chen",
    "Novak",
    "Kaya",
    "Larsen",
    "Rossi",
    "Adeyemi",
    "Hopper",
    "Sato",
    "Petrov",
    "Snow",
    "Weber",
    "Costa",
    "Moreau",
    "Patel",
    "Garcia",
    "Nakamura",
    "Khan",
    "Haddad",
    "Lind",
    "Rao",
    "Diaz",
    "Ito",
    "Byrne",
    "Iyer",
    "Aziz",
    "Quinn",
]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example.com", "münchen.example"]
COUNTRIES = ["DE", "FR", "GB", "US", "NL", "SE", "ES", "IT", "PL", "JP"]
PLANS = ["free", "pro", "team"]


def main() -> None:
    rng = random.Random(20261204)
    rows = []
    for n in range(4_950):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first}.{last}.{n}@{rng.choice(DOMAINS)}".lower()
        signed_up = f"202{rng.randint(3, 6)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        rows.append([email, first, last, rng.choice(COUNTRIES), rng.choice(PLANS), signed_up])
    # Duplicates differing by case, role addresses, malformed rows.
    for n in range(20):
        email, *rest = rows[n * 7]
        local, domain = email.split("@")
        rows.append([f"{local}@{domain.upper()}", *rest])
    for role in (
        "postmaster",
        "abuse",
        "noreply",
        "info",
        "support",
        "admin",
        "sales",
        "webmaster",
        "billing",
        "hostmaster",
    ):
        rows.append([f"{role}@example.com", "", "", "US", "free", "2024-01-01"])
    for bad in (
        "not-an-address",
        "missing-at.example.com",
        "two@@example.com",
        "trailing.dot.@example.com",
        "space in@example.com",
        "@example.com",
        "nobody@",
        "comma,name@example.com",
        "x@-bad-.example",
        'quote"@example.com',
        "a@b",
        "",
        "unicode-\u00e9@",
        "dots..in@example.com",
        "<angle@example.com>",
        "semi;colon@example.com",
        "tab\tchar@example.com",
        "very" + "long" * 70 + "@example.com",
        "no-tld@localhost",
        "ip@[300.1.1.1]",
    ):
        rows.append([bad, "Broken", "Row", "DE", "free", "2025-02-02"])
    rng.shuffle(rows)
    out = Path(__file__).with_name("subscribers.csv")
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first_name", "last_name", "country", "plan", "signed_up"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {out}")


if __name__ == "__main__":
    main()
