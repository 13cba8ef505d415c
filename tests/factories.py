"""Small factories for tests: a two-regency region, a plan, keys, tokens and scans."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from labels.payload import Label, sign
from server.access import create_device, create_token
from server.ledger.chain import append_records, backfill_records
from server.ledger.records import DEADLINES, LABEL_KEYS, LOCATIONS, PACKAGES
from server.models import Deadline, Location, Package

# (code, name, level, parent code, dapil)
REGION_ROWS = [
    ("35", "Jawa Timur", "province", None, ""),
    ("3513", "Kabupaten Probolinggo", "regency", "35", ""),
    ("351301", "Sukapura", "district", "3513", ""),
    ("3513010001", "Ngadisari", "village", "351301", ""),
    ("3513010001001", "TPS 001 Ngadisari", "tps", "3513010001", "DPR-JATIM-2;DPRDP-JATIM-11;DPRDK-3513-1"),
    ("3513010001002", "TPS 002 Ngadisari", "tps", "3513010001", "DPR-JATIM-2;DPRDP-JATIM-11;DPRDK-3513-1"),
    ("3513010002", "Wonotoro", "village", "351301", ""),
    ("3513010002001", "TPS 001 Wonotoro", "tps", "3513010002", "DPR-JATIM-2;DPRDP-JATIM-11;DPRDK-3513-1"),
    ("351302", "Kraksaan", "district", "3513", ""),
    ("3513020001", "Patokan", "village", "351302", ""),
    ("3513020001001", "TPS 001 Patokan", "tps", "3513020001", "DPR-JATIM-2;DPRDP-JATIM-11;DPRDK-3513-2"),
    ("3514", "Kabupaten Pasuruan", "regency", "35", ""),
    ("351401", "Purwodadi", "district", "3514", ""),
    ("3514010001", "Cowek", "village", "351401", ""),
    ("3514010001001", "TPS 001 Cowek", "tps", "3514010001", "DPR-JATIM-2;DPRDP-JATIM-10;DPRDK-3514-1"),
]

# Ballot types and the dapil prefix each carries (None: no dapil).
BALLOTS = {"SS-PPWP": None, "SS-DPR": "DPR-", "SS-DPD": None, "SS-DPRDP": "DPRDP-",
           "SS-DPRDK": "DPRDK-"}


@dataclass
class Region:
    """The locations of the test region, by code."""

    locations: dict[str, Location] = field(default_factory=dict)

    def __getitem__(self, code: str) -> Location:
        return self.locations[code]

    def tps_codes(self, under: str = "35") -> list[str]:
        """Return the TPS codes under a region."""
        return [c for c, loc in self.locations.items()
                if loc.level == "tps" and c.startswith(under)]


def make_region(session, rows=REGION_ROWS) -> Region:
    """Insert the test region's locations, chained as the importer chains them."""
    backfill_records(session)  # the item types the first migration seeded
    region = Region()
    for code, name, level, parent, dapil in rows:
        parent_loc = region.locations.get(parent) if parent else None
        loc = Location(code=code, name=name, level=level, parent_id=parent_loc.id if parent_loc else None,
                       path=Location.make_path(parent_loc, code), dapil=dapil)
        session.add(loc)
        session.flush()
        region.locations[code] = loc
    append_records(session, LOCATIONS, Location.id.in_([loc.id for loc in region.locations.values()]))
    return region


def tps_dapil(tps: Location, item_type: str) -> str:
    """Return the dapil a ballot of this type carries at this TPS ('' for none)."""
    prefix = BALLOTS.get(item_type)
    if not prefix:
        return ""
    return next(d for d in tps.dapils if d.startswith(prefix))


def make_plan(session, region: Region, tps_codes=None, item_types=("SS-DPR", "KOTAK"),
              quantity: int = 300) -> dict[str, Package]:
    """Insert one package of each item type for each TPS; return them by package id."""
    packages = {}
    for code in tps_codes or region.tps_codes():
        tps = region[code]
        for item in item_types:
            pid = f"{code}-{item}"
            pkg = Package(package_id=pid, item_type=item, quantity=quantity, destination_id=tps.id,
                          dapil=tps_dapil(tps, item))
            session.add(pkg)
            packages[pid] = pkg
    session.flush()
    append_records(session, PACKAGES, Package.id.in_([p.id for p in packages.values()]))
    return packages


def make_schedule(session, region: Region, start: dt.datetime) -> None:
    """Insert deadlines: regency at start, then a day per level down to the TPS."""
    rows = [Deadline(region_id=region["35"].id, level=level, deadline=start + dt.timedelta(days=i))
            for i, level in enumerate(("regency", "district", "village", "tps"))]
    session.add_all(rows)
    session.flush()
    append_records(session, DEADLINES, Deadline.id.in_([d.id for d in rows]))


def label_text(package: Package, key, version: int | None = None) -> str:
    """Return the signed QR text of a package's label."""
    return sign(Label(package.package_id, package.item_type, package.destination.code,
                      package.quantity, package.dapil, version or package.label_version), key).text


def token(session, role: str = "admin", region: str = "3513") -> str:
    """Create an API token and return it."""
    return create_token(session, role, region, name=f"test-{role}")


def device_token(session, location: str) -> str:
    """Register a device at a location and return its token."""
    return create_device(session, location)[1]


def scan(code: str, location: str, action: str = "receive", at: dt.datetime | None = None,
         **extra) -> dict:
    """Return one scan as the API takes it."""
    at = at or dt.datetime(2024, 2, 10, 8, 0, tzinfo=dt.timezone.utc)
    body = {"id": str(uuid.uuid4()), "code": code, "location": location, "action": action,
            "scanned_at": at.isoformat()}
    body.update(extra)
    return body


def trust_key(session, private_key) -> str:
    """Trust a signing key's public half on the server; return its key id."""
    from labels.keys import public_pem
    from labels.payload import key_id_for
    from server.models import LabelKey

    key_id = key_id_for(private_key.public_key())
    session.add(LabelKey(key_id=key_id, public_key_pem=public_pem(private_key.public_key()),
                         name="test"))
    session.flush()
    append_records(session, LABEL_KEYS, LabelKey.key_id == key_id)
    return key_id


def principal(role: str = "admin", region_path: str = "/35/", location_path: str | None = None):
    """Return a Principal without a token (for calling the domain functions directly)."""
    from server.access import Principal

    code = [c for c in region_path.split("/") if c][-1]
    return Principal(role=role, region_code=code, region_path=region_path, name=f"test-{role}",
                     location_path=location_path)


def post(session, scans: list, who=None, now=None) -> list[dict]:
    """Ingest scans as the API would (admin of the province by default) and commit."""
    from server.ingest.batch import ingest_batch

    results = ingest_batch(session, scans, who or principal(), now=now)
    session.commit()
    return results


def tamper(text: str, position: int = -10) -> str:
    """Return a label text with one signature character changed (always a different one)."""
    chars = list(text)
    chars[position] = "B" if chars[position] == "A" else "A"
    return "".join(chars)


def photo_bytes(fmt: str = "JPEG", size=(200, 100), orientation: int | None = None,
                gps: bool = False, seed: int = 0) -> bytes:
    """Return a real image made with Pillow: left half red, right half blue (``seed`` varies it).

    ``orientation`` writes an EXIF orientation tag (6: the camera was turned, the
    viewer must rotate 90 degrees clockwise); ``gps`` a GPS position and camera make.
    """
    import io

    from PIL import Image

    image = Image.new("RGB", size, (0, seed % 256, 255))
    image.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    out = io.BytesIO()
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if gps:
        exif[0x010F] = "JejakCam"
        exif[0x8825] = {1: "S", 2: (7.0, 56.0, 30.0), 3: "E", 4: (113.0, 13.0, 0.0)}
    kwargs = {"exif": exif.tobytes()} if len(exif) else {}
    image.save(out, fmt, **kwargs)
    return out.getvalue()
