"""Talk to the server: upload the outbox in batches, refresh the offline-check cache.

Everything goes through an injected `httpx.Client`, so tests run the real server in-process
(`httpx.WSGITransport(app=create_app(...))`) or a dead network (`httpx.MockTransport` with a
handler raising `httpx.ConnectError`), and the product uses the real network.

Delivery rules (the outbox never loses or duplicates a scan):
* scans go oldest first in batches of at most `batch_size` (500), each with the UUID it got
  when it was written; a retry sends the same UUIDs, so the server answers `already_recorded`;
* `recorded` and `already_recorded` mark a scan sent; `rejected` keeps it aside with the
  server's error (listed by `jejak-scan status`, re-sent by `jejak-scan sync --retry-rejected`);
* a network error, a timeout, 408, 429 or a 5xx leaves the batch pending and is retried with
  exponential backoff and jitter; 401/403 stop the upload (a token problem no retry fixes);
* 404/405 (no scan API at that address: a wrong --server) leave the scans pending;
* a whole batch refused with another 4xx is split in halves until the scan the server cannot
  understand is alone; that one is marked rejected with the server's message;
* closed shipments and receipts (the surat jalan) go after the scans, one request each, with
  the UUID they were opened with: a retry is answered `already_recorded` with the same number;
  a 4xx in the API's error shape marks the list rejected with the server's message;
* photos go last, each once its scan is sent (``POST /api/v1/scans/<scan uuid>/photos``, the
  raw bytes): 201/200 mark it sent (a retry of the same bytes is ``already_recorded``, stored
  once); a photo of a rejected scan, or one the server refuses (400, 403, 409, 413, 415), is
  rejected with the server's message; a 404 (the server has not got its scan) leaves it pending.
"""
from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import httpx

from labels.confirmation import confirmation_message, digest_hex
from labels.shipment import ShipmentRefError, parse_shipment_ref

from .outbox import Outbox, StoredList, StoredPhoto

BATCH_SIZE = 500
DELIVERED = ("recorded", "already_recorded")
RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


class AuthError(RuntimeError):
    """The server refused the token (401/403): retrying will not help."""


class UnknownLocation(LookupError):
    """The server does not know the location (or it is outside the token's region)."""


class ServerError(RuntimeError):
    """The server could not be reached or failed; the scans stay pending."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float | None:
    """Return the seconds a Retry-After header asks for (capped at 10 minutes), or None."""
    try:
        return min(600.0, max(0.0, float(response.headers.get("Retry-After", ""))))
    except ValueError:
        return None


def make_client(server: str, token: str, transport: httpx.BaseTransport | None = None,
                timeout: float = 30.0, connect_timeout: float = 5.0) -> httpx.Client:
    """Return an httpx client for the Jejak API at `server` with a bearer token."""
    # A short connect timeout: on a dead link the station must not wait long to go offline;
    # a longer read timeout: a 500-scan batch on a slow link takes a while to be answered.
    return httpx.Client(base_url=server.rstrip("/"), transport=transport,
                        timeout=httpx.Timeout(timeout, connect=connect_timeout),
                        headers={"Authorization": f"Bearer {token}",
                                 "User-Agent": "jejak-scan/0.1"})


@dataclass
class Connectivity:
    """Whether the server answered the last request; None until the first one."""

    online: bool | None = None
    last_error: str | None = None

    def up(self) -> None:
        """Record a request that reached the server."""
        self.online, self.last_error = True, None

    def down(self, error: str) -> None:
        """Record a request that could not reach the server."""
        self.online, self.last_error = False, error


@dataclass
class Backoff:
    """Exponential backoff with jitter: base * 2**n seconds, capped, times a random 0.5-1.0."""

    base: float = 1.0
    cap: float = 60.0
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def next_delay(self) -> float:
        """Return the wait before the next attempt and count this failure."""
        delay = min(self.cap, self.base * (2 ** self.failures))
        self.failures += 1
        return delay * self.rng.uniform(0.5, 1.0)

    def reset(self) -> None:
        """Start over after a success."""
        self.failures = 0


@dataclass
class UploadReport:
    """What one upload pass or sync did."""

    delivered: int = 0
    already: int = 0
    rejected: int = 0
    pending: int = 0
    error: str | None = None
    retry_after: float | None = None
    anomalies: dict[str, list[str]] = field(default_factory=dict)  # uuid -> kinds
    lists: list[dict] = field(default_factory=list)  # the server's answers to closed lists
    photos: int = 0  # photos delivered (recorded or already recorded)
    confirmations: list[str] = field(default_factory=list)  # what became of each, in words


def _error_message(response: httpx.Response) -> str:
    """Return the message of the API's one error shape, or the status line."""
    try:
        body = response.json()
        return str(body["error"]["message"])
    except Exception:  # any non-JSON or other-shaped body: fall back to the status
        return f"HTTP {response.status_code} {response.reason_phrase}"


def _request(client: httpx.Client, connectivity: Connectivity, method: str, url: str,
             **kwargs) -> httpx.Response:
    """Send one request; raise ServerError for transport failures and retryable statuses."""
    try:
        response = client.request(method, url, **kwargs)
    except httpx.TransportError as exc:
        connectivity.down(f"{type(exc).__name__}: {exc}")
        raise ServerError(f"cannot reach the server: {exc or type(exc).__name__}") from None
    connectivity.up()
    if response.status_code in (401, 403):
        raise AuthError(f"the server refused the token: {_error_message(response)}")
    if response.status_code in RETRYABLE_STATUS or response.status_code >= 500:
        raise ServerError(f"server answered {response.status_code}: {_error_message(response)}",
                          _retry_after(response))
    return response


class Uploader:
    """Deliver pending scans from an outbox through an httpx client."""

    def __init__(self, outbox: Outbox, client: httpx.Client, batch_size: int = BATCH_SIZE,
                 connectivity: Connectivity | None = None, backoff: Backoff | None = None,
                 sleep: Callable[[float], None] = time.sleep, device_key=None):
        self.outbox = outbox
        self.device_key = device_key  # signs queued confirmations (scanner.devicekey)
        self.client = client
        self.batch_size = batch_size
        self.connectivity = connectivity or Connectivity()
        self.backoff = backoff or Backoff()
        self.sleep = sleep

    def upload_once(self) -> UploadReport:
        """Try every pending batch once, stopping at the first network or server failure."""
        report = UploadReport()
        # Scans left pending by a batch (not answered) wait for the next pass: read on from
        # after the last one sent, rather than re-reading every earlier row at each batch.
        last_seq = 0
        try:
            while True:
                batch = self.outbox.scans("pending", limit=self.batch_size, after_seq=last_seq)
                if not batch:
                    break
                self._post(batch, report)
                last_seq = batch[-1].seq
            # The lists after the scans: the server then holds the custody they point at.
            for closed in self.outbox.lists("pending"):
                self._post_list(closed, report)
            # The photos after their scans: the server takes a photo only of a scan it holds.
            for photo in self.outbox.photos("pending"):
                self._post_photo(photo, report)
            # Confirmations last: they sign the digest of lists the server now holds.
            if self.device_key is not None:
                for queued in self.outbox.confirmations("pending"):
                    self._post_confirmation(queued, report)
        except AuthError:
            raise
        except ServerError as exc:
            report.error, report.retry_after = str(exc), exc.retry_after
        finally:
            report.pending = self.outbox.counts()["pending"]
        return report

    def sync(self, attempts: int = 5) -> UploadReport:
        """Upload until nothing is pending, retrying failures with backoff up to `attempts` passes."""
        total = UploadReport()
        for attempt in range(max(1, attempts)):
            report = self.upload_once()
            total.delivered += report.delivered
            total.already += report.already
            total.rejected += report.rejected
            total.anomalies.update(report.anomalies)
            total.lists.extend(report.lists)
            total.photos += report.photos
            total.confirmations.extend(report.confirmations)
            total.pending, total.error = report.pending, report.error
            if report.error is None:
                self.backoff.reset()
                break
            if attempt + 1 < attempts:
                self.sleep(max(self.backoff.next_delay(), report.retry_after or 0.0))
        return total

    def _post(self, batch, report: UploadReport) -> None:
        """POST one batch and store the answers; split it when the server refuses it whole."""
        try:
            response = _request(self.client, self.connectivity, "POST", "/api/v1/scans",
                                json={"scans": [s.to_api() for s in batch]})
        except ServerError as exc:
            self.outbox.mark_attempt([s.uuid for s in batch], str(exc))
            raise
        if response.status_code in (404, 405):
            # Not a Jejak API at this address (wrong --server, a proxy page): the scans are
            # fine, the address is not.  Keep them pending rather than reject them.
            self.outbox.mark_attempt([s.uuid for s in batch], "no scan API at this address")
            raise ServerError(f"no scan API at {self.client.base_url}: POST /api/v1/scans "
                              f"answered {response.status_code}; check --server")
        if response.status_code >= 400:
            message = _error_message(response)
            if len(batch) == 1:
                self.outbox.mark_results([(batch[0].uuid, "rejected", [], message)])
                report.rejected += 1
                return
            half = len(batch) // 2
            self._post(batch[:half], report)
            self._post(batch[half:], report)
            return
        try:
            results = {r["id"]: r for r in response.json()["results"]}
        except (ValueError, KeyError, TypeError):
            self.outbox.mark_attempt([s.uuid for s in batch], "unreadable answer from the server")
            raise ServerError("the server's answer to POST /api/v1/scans has no results list") from None
        answers = []
        for scan in batch:
            result = results.get(scan.uuid)
            if result is None:
                continue  # not answered: stays pending and goes again with the same UUID
            status = result.get("status")
            if status not in (*DELIVERED, "rejected"):
                continue
            anomalies = list(result.get("anomalies") or [])
            answers.append((scan.uuid, status, anomalies, result.get("error")))
            if status == "recorded":
                report.delivered += 1
            elif status == "already_recorded":
                report.already += 1
            else:
                report.rejected += 1
            if anomalies:
                report.anomalies[scan.uuid] = anomalies
        self.outbox.mark_results(answers)


    def _post_list(self, closed: StoredList, report: UploadReport) -> None:
        """POST one closed shipment or receipt and store the server's answer."""
        if closed.kind == "shipment":
            url = "/api/v1/shipments"
        else:
            try:
                url = f"/api/v1/shipments/{parse_shipment_ref(closed.reference).number}/receipt"
            except ShipmentRefError as exc:  # never opened so, but an old file may hold one
                self.outbox.mark_list(closed.uuid, "rejected", error=str(exc))
                return
        try:
            response = _request(self.client, self.connectivity, "POST", url,
                                json=closed.to_api())
        except ServerError as exc:
            self.outbox.mark_list_attempt(closed.uuid, str(exc))
            raise
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code < 300 and isinstance(body, dict):
            self.outbox.mark_list(closed.uuid, "sent", number=body.get("number")
                                  or body.get("shipment"), answer=body)
            report.lists.append({"kind": closed.kind, **body})
            return
        if response.status_code >= 400 and isinstance(body, dict) and "error" in body:
            self.outbox.mark_list(closed.uuid, "rejected", error=_error_message(response))
            report.rejected += 1
            return
        # Not the API's answer (a wrong --server, a proxy page): the list stays pending.
        self.outbox.mark_list_attempt(closed.uuid, f"HTTP {response.status_code}")
        raise ServerError(f"no shipment API at {self.client.base_url}: POST {url} answered "
                          f"{response.status_code}; check --server")


    def _post_photo(self, photo: StoredPhoto, report: UploadReport) -> None:
        """POST one queued photo once its scan is sent, and store the server's answer."""
        scan = self.outbox.get(photo.scan_uuid)
        if scan is None or scan.state == "pending":
            return  # its scan goes first
        if scan.state == "rejected":
            self.outbox.mark_photo(photo.seq, "rejected", f"its scan was rejected: {scan.error}")
            report.rejected += 1
            return
        url = f"/api/v1/scans/{photo.scan_uuid}/photos"
        try:
            response = self.client.post(url, content=self.outbox.photo_data(photo.seq),
                                        headers={"Content-Type": photo.media_type})
        except httpx.TransportError as exc:
            self.connectivity.down(f"{type(exc).__name__}: {exc}")
            self.outbox.mark_photo(photo.seq, "pending", f"cannot reach the server: {exc}")
            raise ServerError(f"cannot reach the server: {exc or type(exc).__name__}") from None
        self.connectivity.up()
        status = response.status_code
        if status in (200, 201):
            self.outbox.mark_photo(photo.seq, "sent")
            report.photos += 1
        elif status == 401:
            raise AuthError(f"the server refused the token: {_error_message(response)}")
        elif status in RETRYABLE_STATUS or status >= 500:
            self.outbox.mark_photo(photo.seq, "pending", _error_message(response))
            raise ServerError(f"server answered {status}: {_error_message(response)}",
                              _retry_after(response))
        elif status == 404:
            # The server has not got the scan (or this is no Jejak API): try again later.
            self.outbox.mark_photo(photo.seq, "pending", _error_message(response))
        else:
            self.outbox.mark_photo(photo.seq, "rejected", _error_message(response))
            report.rejected += 1

    def _post_confirmation(self, queued: dict, report: UploadReport) -> None:
        """Sign a queued confirmation over the shipment's current digest and POST it."""
        number, party, lst = queued["number"], queued["party"], None
        if queued["list_uuid"]:
            lst = self.outbox.get_list(queued["list_uuid"])
            number = number or (lst.number if lst else None)
        if not number:
            return  # its list is not numbered yet: it waits for the list's upload
        response = _request(self.client, self.connectivity, "GET",
                            f"/api/v1/shipments/{number}/digest")
        if response.status_code >= 400:
            self._refuse_confirmation(queued, number, _error_message(response), report)
            return
        answer = response.json()
        content = answer.get("content") or {}
        # Sign only what this station can check: the digest is its content's, and the
        # content's koli are the ones this station listed (when it holds the list).
        problem = None
        if digest_hex(content) != answer.get("digest"):
            problem = "the server's digest is not the digest of the content it sent"
        elif lst is not None and not _same_koli(self.outbox.list_packages(lst.uuid), content,
                                                party):
            problem = "the server's list of koli is not the list this station scanned"
        if problem:
            self._refuse_confirmation(queued, number, problem, report)
            return
        signature = self.device_key.sign(confirmation_message(number, party, answer["digest"]))
        body = {"party": party, "digest": answer["digest"], "signature": signature.hex(),
                "name": queued["name"] or "", "confirmed_at": queued["created_at"]}
        response = _request(self.client, self.connectivity, "POST",
                            f"/api/v1/shipments/{number}/confirmations", json=body)
        if response.status_code >= 400:
            self._refuse_confirmation(queued, number, _error_message(response), report)
            return
        self.outbox.mark_confirmation(queued["seq"], "sent", answer=response.json(),
                                      number=number)
        report.confirmations.append(f"{number} confirmed as the {party} "
                                    f"({response.json().get('status')})")

    def _refuse_confirmation(self, queued: dict, number: str, message: str,
                             report: UploadReport) -> None:
        self.outbox.mark_confirmation(queued["seq"], "rejected", error=message, number=number)
        report.rejected += 1
        report.confirmations.append(f"{number}: confirmation as the {queued['party']} "
                                    f"refused: {message}")


def _same_koli(packages: list[str], content: dict, party: str) -> bool:
    """Tell whether a digest's content lists the koli this station scanned on its list."""
    mine = {p.upper() for p in packages}
    side = content.get("receipt") if party == "receiver" else content
    if side is None:
        return False
    return mine == {k.get("package", "").upper() for k in side.get("koli") or []}


def list_words(answer: dict) -> str:
    """Return one line saying what the server made of a closed list."""
    if answer.get("kind") == "shipment":
        return (f"shipment {answer.get('number')} recorded ({len(answer.get('koli') or [])} "
                f"koli): surat jalan at {answer.get('surat_jalan')}")
    short, extra = answer.get("short_shipment") or [], answer.get("not_in_shipment") or []
    if not short and not extra:
        return f"receipt of {answer.get('shipment')} recorded: every koli as on the surat jalan"
    parts = ([f"short_shipment: {', '.join(short)}"] if short else []) + (
        [f"not_in_shipment: {', '.join(extra)}"] if extra else [])
    return f"receipt of {answer.get('shipment')} recorded; server flagged {'; '.join(parts)}"


# -- offline-check cache -----------------------------------------------------------------------

def _key_pem(entry: dict) -> str | None:
    """Return the PEM of a key entry of GET /api/v1/keys."""
    for name in ("public_key_pem", "public_key", "pem"):
        if isinstance(entry.get(name), str):
            return entry[name]
    return None


def refresh_cache(outbox: Outbox, client: httpx.Client, location: str,
                  connectivity: Connectivity | None = None) -> str:
    """Fetch the trusted keys and the location's expected packages into the outbox cache.

    Returns a one-line summary; raises ServerError/AuthError when the server cannot be used
    (the old cache then stays as it was), UnknownLocation when it does not know the location.
    """
    connectivity = connectivity or Connectivity()
    response = _request(client, connectivity, "GET", "/api/v1/keys")
    if response.status_code >= 400:
        raise ServerError(f"GET /api/v1/keys: {_error_message(response)}")
    keys = {}
    for entry in response.json().get("keys", []):
        pem = _key_pem(entry)
        if entry.get("key_id") and pem and entry.get("trusted", True) and not entry.get("revoked"):
            keys[entry["key_id"]] = pem
    outbox.store_keys(keys)

    packages, info, url = [], {}, f"/api/v1/locations/{location}/expected"
    while url:
        response = _request(client, connectivity, "GET", url)
        if response.status_code == 404:
            raise UnknownLocation(f"the server does not know location {location!r}: "
                                  f"{_error_message(response)}")
        if response.status_code >= 400:
            raise ServerError(f"GET {url}: {_error_message(response)}")
        body = response.json()
        info = body.get("location") or info
        packages.extend(p for p in (body.get("packages") or body.get("expected") or [])
                        if isinstance(p, dict) and p.get("package_id"))
        url = body.get("next")
    outbox.store_expected(location, packages, info if isinstance(info, dict) else {})
    return f"cached {len(keys)} trusted keys and {len(packages)} packages expected at {location}"


class BackgroundUploader:
    """Upload pending scans every `interval` seconds in a thread while a station runs."""

    def __init__(self, outbox_path, client: httpx.Client, connectivity: Connectivity,
                 interval: float = 5.0, log: Callable[[str], None] = lambda m: None,
                 batch_size: int = BATCH_SIZE, device_key=None):
        self.outbox_path = outbox_path
        self.device_key = device_key  # signs queued confirmations (jejak-scan confirm)
        self.client = client
        self.connectivity = connectivity
        self.interval = interval
        self.log = log
        self.batch_size = batch_size
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jejak-uploader", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to stop and wait for its current request."""
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        """Upload until stopped: every interval, or after a backoff when failing."""
        outbox = Outbox(self.outbox_path)  # SQLite connections are per thread
        uploader = Uploader(outbox, self.client, self.batch_size, self.connectivity,
                            device_key=self.device_key)
        delay = self.interval
        try:
            while not self._stop.wait(delay):
                try:
                    report = uploader.upload_once()
                except AuthError as exc:
                    self.log(f"upload stopped: {exc}")
                    return
                if report.error:
                    delay = max(uploader.backoff.next_delay(), report.retry_after or 0.0)
                    self.log(f"upload failed, retrying in {delay:.0f} s: {report.error}")
                    continue
                uploader.backoff.reset()
                delay = self.interval
                if report.delivered or report.already or report.rejected:
                    self.log(f"uploaded: {report.delivered} recorded, {report.already} "
                             f"already recorded, {report.rejected} rejected")
                for kinds in report.anomalies.values():
                    self.log(f"server flagged: {', '.join(kinds)}")
                for answer in report.lists:
                    self.log(list_words(answer))
                for line in report.confirmations:
                    self.log(line)
        finally:
            outbox.close()
