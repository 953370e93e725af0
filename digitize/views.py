"""Plain-text tables of people and documents for the terminal (not used with --json)."""

from __future__ import annotations

from typing import Any

from digitize.logs import mask_id
from digitize.records import IDENTITY_FIELDS

__all__ = ["format_document", "format_person"]



def _best_fields(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    best: dict[str, dict[str, Any]] = {}
    for f in fields:
        held = best.get(f["name"])
        if held is None or (f["verified"], f["confidence"]) > (
            held["verified"],
            held["confidence"],
        ):
            best[f["name"]] = f
    order = {name: i for i, name in enumerate(IDENTITY_FIELDS)}
    return sorted(best.values(), key=lambda f: order.get(f["name"], 99))


def _field_lines(fields: list[dict[str, Any]]) -> list[str]:
    lines = []
    for f in _best_fields(fields):
        mark = "verified" if f["verified"] else "CHECK"
        failed = (
            f" failed: {', '.join(f['checks_failed'])}" if f["checks_failed"] else ""
        )
        lines.append(
            f"  {f['name']:<16} {f['value']:<40} {f['source']:<4} "
            f"{f['confidence']:.2f} {mark}{failed}"
        )
    return lines


def format_person(person: dict[str, Any]) -> str:
    """A person with their best fields and the documents on file."""
    lines = [
        f"Person {person['id_number']}  {person.get('full_name') or '?'}  "
        f"born {person.get('date_of_birth') or '?'}  sex {person.get('sex') or '?'}",
        "Fields (value, source, confidence):",
        *_field_lines(person.get("fields", [])),
        "Documents on file (đã số hóa):",
    ]
    for doc in person.get("documents", []):
        lines.append(
            f"  {doc['id']}  {doc['paper_types']:<20} {doc['pages']} p  "
            f"{doc['unit']}/{doc['dossier']}  signed {doc['sign_level'] or 'no'}"
        )
    candidates = person.get("candidates", [])
    if candidates:
        lines.append("May also be this person (to confirm or reject):")
    for cand in candidates:
        lines.append(
            f"  #{cand['id']}  {cand['document_id']}  {cand['paper_type']:<20} "
            f"p.{cand['page_idx'] + 1}  same {cand['reason'].replace('_', ' + ')}"
        )
    return "\n".join(lines)


def format_document(doc: dict[str, Any]) -> str:
    """A document's metadata, people, fields and the start of each page's text."""
    lines = [
        f"Document {doc['id']}  {doc['original_name']}  ({doc['format']}, "
        f"{doc['pages']} pages)",
        f"  unit {doc['unit'] or '-'}  dossier {doc['dossier'] or '-'}",
        f"  sha256 {doc['sha256']}",
        f"  signed {doc['sign_level'] or 'no'} by {doc['signer'] or '-'} at "
        f"{doc['signed_at'] or '-'}  validated {'yes' if doc['validated'] else 'no'}",
        "People:",
        *[
            f"  {mask_id(p['id_number'])}  {p['full_name'] or '?'}"
            for p in doc["persons"]
        ],
        "Fields:",
        *_field_lines(doc["fields"]),
        "Pages:",
    ]
    for page in doc["pages_text"]:
        first = " ".join(page["text"].split())[:100]
        lines.append(f"  p.{page['idx'] + 1} turned {page['rotation']}°  {first}")
    return "\n".join(lines)
