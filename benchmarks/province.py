"""Generate a whole province (East Java at 2024 scale) as import CSVs, and load it into PostgreSQL.

    python benchmarks/province.py --out /tmp/jatim                     # CSVs only
    python benchmarks/province.py --out /tmp/jatim --scans             # + ~8.4 M scans
    python benchmarks/province.py --out /tmp/jatim --scans --load postgresql://postgres@127.0.0.1/jatim
    python benchmarks/province.py --out /tmp/small --regencies 2       # a quick slice
    python benchmarks/province.py --out /tmp/two --packages 100000 --national postgresql://postgres@127.0.0.1/two

Writes into ``--out``:

* ``locations.csv`` (``code,name,level,parent_code,dapil``): 1 province, 38
  regencies (real names and BPS codes), 666 districts, 8,494 villages and
  120,666 TPS, parents before children;
* ``packages.csv`` (``package_id,item_type,quantity,destination,dapil``): the
  14 packages of ``server.demo.region.tps_equipment`` per TPS, ~1.69 M rows;
* ``schedule.csv`` (``level,deadline``): the February 2024 deadlines;
* with ``--scans``, ``scans.csv`` (``uuid,package_id,location,action,scanned_at,
  raw_code``): five handoffs per package (regency receive and dispatch,
  district receive and dispatch, village receive), ~8.4 M rows.

The first three are exactly what ``jejak-server import-*`` take.  ``--load``
upgrades the schema with the server's migrations, then COPYs the files
(``cursor.copy``) into an empty database with ids, ``Location.path`` and
foreign keys filled as the server would, derives ``package_states`` from the
scans as ingest would, resets the id sequences and runs ANALYZE.  Bulk-loaded
scans are not in the ledger's hash chain (``verify-log`` is not meaningful on
such a database).  Scan ``raw_code`` is a label text of the real layout; its
signature is real only with ``--key PRIVATE.pem`` (otherwise a digest that
no server verifies: enough for storage and query benchmarks, not for ingest).
Everything is deterministic for a given ``--seed``.

``--national URL`` (issue 15): provinces 35 and a second one of the same shape,
36 (codes renamed), ``--packages`` each, are generated with scans and loaded
into the empty database one after the other; after each load the sweep runs
and regency 3501's anomalies, progress, custody (50 packages) and scan-log page
are timed through the app, with the ``scan_events`` partitions its scan-log
plan reads; then the ratio two provinces / one, and the national progress
rollup from the maintained summary (``jejak-server progress-summary``).
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime as dt
import hashlib
import random
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.demo.region import KECAMATAN, apportion, tps_equipment  # noqa: E402

# (BPS code, name, kecamatan count) - the 38 regencies and cities of East Java.
REGENCIES = [
    ("3501", "Kabupaten Pacitan", 12), ("3502", "Kabupaten Ponorogo", 21),
    ("3503", "Kabupaten Trenggalek", 14), ("3504", "Kabupaten Tulungagung", 19),
    ("3505", "Kabupaten Blitar", 22), ("3506", "Kabupaten Kediri", 26),
    ("3507", "Kabupaten Malang", 33), ("3508", "Kabupaten Lumajang", 21),
    ("3509", "Kabupaten Jember", 31), ("3510", "Kabupaten Banyuwangi", 25),
    ("3511", "Kabupaten Bondowoso", 23), ("3512", "Kabupaten Situbondo", 17),
    ("3513", "Kabupaten Probolinggo", 24), ("3514", "Kabupaten Pasuruan", 24),
    ("3515", "Kabupaten Sidoarjo", 18), ("3516", "Kabupaten Mojokerto", 18),
    ("3517", "Kabupaten Jombang", 21), ("3518", "Kabupaten Nganjuk", 20),
    ("3519", "Kabupaten Madiun", 15), ("3520", "Kabupaten Magetan", 18),
    ("3521", "Kabupaten Ngawi", 19), ("3522", "Kabupaten Bojonegoro", 28),
    ("3523", "Kabupaten Tuban", 20), ("3524", "Kabupaten Lamongan", 27),
    ("3525", "Kabupaten Gresik", 18), ("3526", "Kabupaten Bangkalan", 18),
    ("3527", "Kabupaten Sampang", 14), ("3528", "Kabupaten Pamekasan", 13),
    ("3529", "Kabupaten Sumenep", 27), ("3571", "Kota Kediri", 3), ("3572", "Kota Blitar", 3),
    ("3573", "Kota Malang", 5), ("3574", "Kota Probolinggo", 5), ("3575", "Kota Pasuruan", 4),
    ("3576", "Kota Mojokerto", 3), ("3577", "Kota Madiun", 3), ("3578", "Kota Surabaya", 31),
    ("3579", "Kota Batu", 3),
]
# DPR dapil (East Java 1-11) of each regency, by the last two code digits.
DPR = {"78": 1, "15": 1, "13": 2, "14": 2, "74": 2, "75": 2, "10": 3, "11": 3, "12": 3, "09": 4,
       "08": 4, "07": 5, "73": 5, "79": 5, "05": 6, "72": 6, "06": 6, "71": 6, "04": 6, "20": 7,
       "21": 7, "02": 7, "01": 7, "03": 7, "19": 8, "77": 8, "18": 8, "17": 8, "16": 8, "76": 8,
       "22": 9, "23": 9, "25": 10, "24": 10, "26": 11, "27": 11, "28": 11, "29": 11}
VILLAGES, TPS, DISTRICTS = 8494, 120666, 666
SCHEDULE = [("regency", "2024-02-08"), ("district", "2024-02-10"), ("village", "2024-02-12"),
            ("tps", "2024-02-13")]
SCAN_START = dt.datetime(2024, 2, 5, 1, 0)  # naive UTC, like the database
KEY_ID_FAKE = "AAAAAAAA"


def plan(regency_count: int, seed: int):
    """Yield the location rows (code, name, level, parent, dapil, voters) of the province."""
    rng = random.Random(seed)
    regencies = REGENCIES[:regency_count]
    districts = sum(n for _c, _n, n in regencies)
    villages_total = round(VILLAGES * districts / DISTRICTS)
    tps_total = round(TPS * villages_total / VILLAGES)
    village_counts = apportion(villages_total, [rng.uniform(0.5, 1.5) for _ in range(districts)], 3)
    tps_counts = apportion(tps_total, [rng.uniform(0.4, 1.6) for _ in range(villages_total)], 1)
    yield ("35", "Jawa Timur", "province", "", "", 0)
    d_index = v_index = 0
    for code, name, n_districts in regencies:
        yield (code, name, "regency", "35", "", 0)
        dprd_p = f"DPRDP-JATIM-{11 if code == '3513' else (int(code[2:]) % 14) + 1}"
        dprd_k_count = max(1, min(7, round(n_districts / 4)))
        for d in range(1, n_districts + 1):
            district = f"{code}{d:02d}"
            real = KECAMATAN[d - 1][1] if code == "3513" else None
            yield (district, real or f"Kecamatan {name.split(' ', 1)[1]} {d:02d}", "district",
                   code, "", 0)
            dapils = ";".join([f"DPR-JATIM-{DPR[code[2:]]}", dprd_p,
                               f"DPRDK-{code}-{(d - 1) * dprd_k_count // n_districts + 1}"])
            for v in range(village_counts[d_index]):
                village = f"{district}{2001 + v}"
                yield (village, f"Desa {district}-{v + 1:02d}", "village", district, "", 0)
                for t in range(1, tps_counts[v_index] + 1):
                    yield (f"{village}{t:03d}", f"TPS {t:03d}", "tps", village, dapils,
                           rng.randint(180, 300))
                v_index += 1
            d_index += 1


def fake_signature(text: str) -> str:
    """Return a deterministic 103-character base32 stand-in for a signature."""
    digest = hashlib.sha512(text.encode("ascii")).digest()
    return base64.b32encode(digest).decode("ascii").rstrip("=")


def renamed(rows, province: str):
    """Yield the plan's rows as another province's: the codes' leading ``35`` replaced."""
    for code, name, level, parent, dapil, voters in rows:
        if level == "province" and province != "35":
            name = f"Provinsi {province}"
        yield (province + code[2:], name, level, province + parent[2:] if parent else "",
               dapil, voters)


def generate(out: Path, regency_count: int, seed: int, scans: bool, key=None,
             province: str = "35", packages: int | None = None) -> dict:
    """Write locations, packages, schedule (and scans) CSVs into out; return row counts.

    ``province`` renames the codes (``36``: a second province of the same shape);
    ``packages`` stops after the TPS that reaches that many packages.
    """
    out.mkdir(parents=True, exist_ok=True)
    counts = {"locations": 0, "packages": 0, "scans": 0}
    rng = random.Random(seed + 1)
    signer = None
    if key is not None:
        from labels.payload import Label, sign

        signer = lambda p, t, d, q, dap: sign(Label(p, t, d, q, dap), key).text  # noqa: E731
    with open(out / "locations.csv", "w", newline="", encoding="utf-8") as lf, \
            open(out / "packages.csv", "w", newline="", encoding="utf-8") as pf:
        lw, pw = csv.writer(lf), csv.writer(pf)
        lw.writerow(["code", "name", "level", "parent_code", "dapil"])
        pw.writerow(["package_id", "item_type", "quantity", "destination", "dapil"])
        sf = open(out / "scans.csv", "w", newline="", encoding="utf-8") if scans else None
        sw = csv.writer(sf) if sf else None
        if sw:
            sw.writerow(["uuid", "package_id", "location", "action", "scanned_at", "raw_code"])
        try:
            for code, name, level, parent, dapil, voters in renamed(plan(regency_count, seed),
                                                                    province):
                if packages is not None and counts["packages"] >= packages:
                    break
                lw.writerow([code, name, level, parent, dapil])
                counts["locations"] += 1
                if level != "tps":
                    continue
                path = [code[:4], code[:6], code[:10]]
                for package_id, item, qty, pdapil in tps_equipment(code, voters, dapil.split(";")):
                    pw.writerow([package_id, item, qty, code, pdapil])
                    counts["packages"] += 1
                    if not sw:
                        continue
                    if signer:
                        raw = signer(package_id, item, code, qty, pdapil)
                    else:
                        body = f"J1.{KEY_ID_FAKE}.{package_id}.{item}.{code}.{pdapil}.{qty}.1"
                        raw = body + "." + fake_signature(body)
                    at = SCAN_START + dt.timedelta(minutes=rng.randrange(0, 3 * 24 * 60))
                    for where, action, gap in ((path[0], "receive", 0), (path[0], "dispatch", 20),
                                               (path[1], "receive", 600), (path[1], "dispatch", 30),
                                               (path[2], "receive", 900)):
                        at += dt.timedelta(minutes=gap + rng.randrange(0, 60))
                        sw.writerow([uuid.UUID(int=rng.getrandbits(128), version=4), package_id,
                                     where, action, at.isoformat(sep=" "), raw])
                        counts["scans"] += 1
        finally:
            if sf:
                sf.close()
    with open(out / "schedule.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["level", "deadline"])
        w.writerows(SCHEDULE)
    return counts


def load(out: Path, url: str) -> dict:
    """COPY the generated CSVs into an empty PostgreSQL database at url; return row counts."""
    import psycopg
    from sqlalchemy.engine import make_url

    from server.db import Database
    from server.importers.plan import parse_deadline

    from server.partitions import ensure_partitions

    sa_url = make_url(url)
    if sa_url.drivername == "postgresql":
        sa_url = sa_url.set(drivername="postgresql+psycopg")
    database = Database(sa_url.render_as_string(hide_password=False))
    database.upgrade()
    with open(out / "locations.csv", newline="", encoding="utf-8") as f:
        province = next(csv.DictReader(f))["code"]
    with database.engine.begin() as conn:
        # The province's scan_events partition before its scans arrive (server/partitions.py).
        ensure_partitions(conn, [province])
    database.dispose()
    dsn = sa_url.set(drivername="postgresql").render_as_string(hide_password=False)
    counts = {}
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM locations WHERE code = %s", (province,))
        if cur.fetchone()[0]:
            raise SystemExit(f"{sa_url.database}: province {province} is already loaded")
        # Ids go on after what is there (another province loaded first).
        base = {}
        for table in ("locations", "packages", "scan_events"):
            cur.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
            base[table] = cur.fetchone()[0]
        now = dt.datetime.utcnow().replace(microsecond=0)
        ids: dict[str, tuple[int, str]] = {}
        with open(out / "locations.csv", newline="", encoding="utf-8") as f, cur.copy(
                "COPY locations (id, code, name, level, parent_id, path, dapil) FROM STDIN") as cp:
            for n, row in enumerate(csv.DictReader(f), base["locations"] + 1):
                parent = ids.get(row["parent_code"]) if row["parent_code"] else None
                path = (parent[1] if parent else "/") + row["code"] + "/"
                ids[row["code"]] = (n, path)
                cp.write_row((n, row["code"], row["name"], row["level"],
                              parent[0] if parent else None, path, row["dapil"]))
        counts["locations"] = len(ids)
        package_ids: dict[str, int] = {}
        with open(out / "packages.csv", newline="", encoding="utf-8") as f, cur.copy(
                "COPY packages (id, package_id, item_type, quantity, destination_id, dapil, "
                "label_version, created_at) FROM STDIN") as cp:
            for n, row in enumerate(csv.DictReader(f), base["packages"] + 1):
                package_ids[row["package_id"]] = n
                cp.write_row((n, row["package_id"], row["item_type"], int(row["quantity"]),
                              ids[row["destination"]][0], row["dapil"], 1, now))
        counts["packages"] = len(package_ids)
        cur.execute("SELECT count(*) FROM deadlines")
        if not cur.fetchone()[0]:  # one national schedule
            with open(out / "schedule.csv", newline="", encoding="utf-8") as f, cur.copy(
                    "COPY deadlines (region_id, level, deadline) FROM STDIN") as cp:
                for row in csv.DictReader(f):
                    cp.write_row((None, row["level"], parse_deadline(row["deadline"])))
        counts["scans"] = 0
        states: dict[int, list] = {}
        if (out / "scans.csv").exists():
            level_of = {code: len(code) for code in ids}  # 4 regency, 6 district, 10 village
            column = {4: 0, 6: 1, 10: 2}
            with open(out / "scans.csv", newline="", encoding="utf-8") as f, cur.copy(
                    "COPY scan_events (id, uuid, package_id, claimed_package, label_version, "
                    "raw_code, location_id, action, disposition, container_raw, seal, operator, "
                    "scanned_at, received_at, offline, counted, province) FROM STDIN") as cp:
                for n, row in enumerate(csv.DictReader(f), base["scan_events"] + 1):
                    at, package = row["scanned_at"], package_ids[row["package_id"]]
                    location = ids[row["location"]][0]
                    cp.write_row((n, row["uuid"], package, row["package_id"], 1, row["raw_code"],
                                  location, row["action"], "ok", "", "", "generator", at, at,
                                  False, True, province))
                    # The derived state ingest would keep (server/models.py):
                    # first receipt per level, first dispatch, last sighting.
                    state = states.setdefault(package, [None, None, None, None, None, None])
                    if row["action"] == "receive":
                        slot = column[level_of[row["location"]]]
                        state[slot] = state[slot] or at
                    elif state[3] is None:
                        state[3] = at
                    state[4], state[5] = location, at
                counts["scans"] = n - base["scan_events"]
            with cur.copy("COPY package_states (package_id, regency_at, district_at, village_at, "
                          "dispatched_at, last_location_id, last_scanned_at) FROM STDIN") as cp:
                for package, state in states.items():
                    cp.write_row((package, *state))
        # The loaded scans are all of the packages just loaded, which the sweep judges anyway
        # (their ids are above each deadline's max_package_id): mark them seen, as a sweep
        # every few minutes would have, or its "scanned since" branch re-reads them all.
        cur.execute("UPDATE deadline_sweeps SET max_scan_id = (SELECT max(id) FROM scan_events)")
        for table in ("locations", "packages", "scan_events", "deadlines"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"GREATEST((SELECT max(id) FROM {table}), 1))")
        conn.commit()
        conn.autocommit = True
        cur.execute("ANALYZE")
    return counts


def _timed_get(client, path: str, token: str) -> float:
    """GET a path once; return its milliseconds (fails on non-200)."""
    t = time.perf_counter()
    r = client.get(path, headers={"Authorization": f"Bearer {token}"})
    ms = 1000 * (time.perf_counter() - t)
    if r.status_code != 200:
        raise SystemExit(f"GET {path}: {r.status_code} {r.get_data(as_text=True)[:300]}")
    return ms


def _regency_reads(app, regency: str, sample: list[str], repeat: int) -> dict[str, float]:
    """Return the median milliseconds of a regency's reads, through the app in-process."""
    import statistics

    from sqlalchemy import select

    from server.access import create_token
    from server.models import Location
    from server.reports.scanlog import ScanFilter, scan_log_page

    db = app.extensions["jejak.db"]
    with db.session() as s:
        token = create_token(s, "admin", regency, name="benchmark")
        s.commit()
        path = s.scalar(select(Location.path).where(Location.code == regency))
    client = app.test_client()
    out = {}
    for name, url in (("anomalies", f"/api/v1/anomalies?region={regency}"),
                      ("progress", f"/api/v1/progress?region={regency}")):
        _timed_get(client, url, token)  # warm the cache
        out[name] = statistics.median(_timed_get(client, url, token) for _ in range(repeat))
    out["custody"] = statistics.median(
        _timed_get(client, f"/api/v1/packages/{pid}", token) for pid in sample)
    times = []
    for _ in range(repeat):
        with db.session() as s:
            t = time.perf_counter()
            scan_log_page(s, ScanFilter(region_path=path), None, 50)
            times.append(1000 * (time.perf_counter() - t))
    out["scan log page"] = statistics.median(times)
    return out


def _plan_partitions(app, regency: str) -> list[str]:
    """Return the scan_events partitions in the plan of the regency's scan-log page (EXPLAIN)."""
    from sqlalchemy import select

    from server.models import Location
    from server.reports.scanlog import ScanFilter, scan_log_select

    db = app.extensions["jejak.db"]
    with db.session() as s:
        path = s.scalar(select(Location.path).where(Location.code == regency))
        query = scan_log_select(ScanFilter(region_path=path), limit=50)
        sql = query.compile(dialect=s.get_bind().dialect, compile_kwargs={"literal_binds": True})
        plan = "\n".join(r[0] for r in s.execute(text_("EXPLAIN " + str(sql))))
    import re as _re
    return sorted(set(_re.findall(r"on (scan_events_\w+)", plan)))


def text_(sql: str):
    """Return a SQLAlchemy text clause (imported when used: the generator needs no SQLAlchemy)."""
    from sqlalchemy import text

    return text(sql)


def national(args) -> int:
    """Load two provinces one after the other; time a regency's reads after each; the rollup."""
    import statistics
    import tempfile

    from sqlalchemy import func, select

    from server import create_app
    from server.models import Location, Package
    from server.reconcile.summary import national as national_rollup
    from server.reconcile.summary import refresh_all
    from server.reconcile.sweep import sweep_all

    url = args.national
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    dirs = {code: args.out / code for code in ("35", "36")}
    for code, where in dirs.items():
        if args.no_generate and (where / "locations.csv").exists():
            continue
        t = time.perf_counter()
        counts = generate(where, args.regencies, args.seed + int(code), True, None, code,
                          args.packages)
        print(f"province {code}: generated {counts['packages']:,} packages, "
              f"{counts['scans']:,} scans in {time.perf_counter() - t:.0f} s")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench",
                      "INSTANCE_PATH": tempfile.mkdtemp(prefix="jejak-bench-"),
                      "RATE_LIMIT_PER_MINUTE": 0})
    db = app.extensions["jejak.db"]
    regency = "3501"
    results, sample = {}, []
    for loaded, code in enumerate(("35", "36"), 1):
        t = time.perf_counter()
        counts = load(dirs[code], url)
        loaded_in = time.perf_counter() - t
        with db.session() as s:
            t = time.perf_counter()
            judged = sweep_all(s)
            swept_in = time.perf_counter() - t
            s.execute(text_("ANALYZE"))
            s.commit()
            if not sample:
                region = s.scalar(select(Location).where(Location.code == regency))
                sample = list(s.scalars(
                    select(Package.package_id).join(Location, Package.destination_id == Location.id)
                    .where(Location.path >= region.path, Location.path < region.path + "~")
                    .order_by(func.random()).limit(50)))
            total = s.scalar(select(func.count()).select_from(Package))
        print(f"loaded province {code}: {counts['packages']:,} packages, {counts['scans']:,} scans "
              f"by COPY in {loaded_in:.0f} s; sweep judged {judged:,} in {swept_in:.0f} s; "
              f"{total:,} packages in the database")
        results[loaded] = _regency_reads(app, regency, sample, args.repeat)
        print(f"  regency {regency}, {loaded} province(s): " + ", ".join(
            f"{k} {v:.1f} ms" for k, v in results[loaded].items()))
        print(f"  partitions in the plan of its scan-log page: {_plan_partitions(app, regency)}")
    print(f"\nregency {regency}, median ms | one province | two provinces | ratio two/one")
    for key in results[1]:
        print(f"{key:>14} | {results[1][key]:12.1f} | {results[2][key]:13.1f} | "
              f"{results[2][key] / results[1][key]:.2f}")
    with db.session() as s:
        t = time.perf_counter()
        rows = refresh_all(s)
        refreshed_in = time.perf_counter() - t
        times = []
        for _ in range(20):
            t = time.perf_counter()
            rollup = national_rollup(s)
            times.append(1000 * (time.perf_counter() - t))
    print(f"\nprogress summary: refreshed {rows} rows (2 provinces) in {refreshed_in:.1f} s; "
          f"national rollup from it: median {statistics.median(times):.1f} ms, "
          f"max {max(times):.1f} ms ({rollup['total']['expected']:,} packages expected)")
    return 0


def main(argv=None) -> int:
    """Parse the options, generate, optionally load, and print what was done and how long it took."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for the CSV files")
    parser.add_argument("--regencies", type=int, default=len(REGENCIES),
                        help=f"how many regencies (1-{len(REGENCIES)}; default all)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--scans", action="store_true", help="also write ~5 scans per package")
    parser.add_argument("--key", type=Path, help="private key PEM to really sign scan raw codes")
    parser.add_argument("--load", metavar="URL", help="COPY the files into this empty PostgreSQL database")
    parser.add_argument("--no-generate", action="store_true", help="load files already in --out")
    parser.add_argument("--province", default="35",
                        help="the province code to generate (default 35; 36: a second one)")
    parser.add_argument("--packages", type=int,
                        help="stop after this many packages (a province is ~1.69 M)")
    parser.add_argument("--national", metavar="URL",
                        help="into this empty PostgreSQL database load provinces 35 and 36 "
                             "(--packages each) one after the other, timing regency 3501's "
                             "reads after each, then the national rollup")
    parser.add_argument("--repeat", type=int, default=7, help="calls per read (--national)")
    args = parser.parse_args(argv)
    if not 1 <= args.regencies <= len(REGENCIES):
        parser.error(f"--regencies must be from 1 to {len(REGENCIES)}")
    if args.national:
        return national(args)
    if not args.no_generate:
        key = None
        if args.key:
            from labels.keys import load_private_key
            key = load_private_key(args.key)
        start = time.perf_counter()
        counts = generate(args.out, args.regencies, args.seed, args.scans, key, args.province,
                          args.packages)
        print(f"generated {counts['locations']} locations, {counts['packages']} packages, "
              f"{counts['scans']} scans into {args.out} in {time.perf_counter() - start:.1f} s")
    if args.load:
        start = time.perf_counter()
        counts = load(args.out, args.load)
        print(f"loaded {counts['locations']} locations, {counts['packages']} packages, "
              f"{counts['scans']} scans by COPY in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
