"""`jejak-scan`: scan labels at a handoff, keep them in the outbox, upload them.

    jejak-scan run SOURCE --server URL --token TOKEN --location CODE --action ACTION [options]
    jejak-scan manual PACKAGE-ID CODE --location CODE --action ACTION [--photo FILE]... [options]
    jejak-scan photo FILE... [--scan UUID] [--server URL --token TOKEN] [--outbox PATH]
    jejak-scan status [--outbox PATH]
    jejak-scan sync --server URL --token TOKEN [--outbox PATH]
    jejak-scan refresh --server URL --token TOKEN --location CODE [--outbox PATH]
    jejak-scan shipments [--outbox PATH]
    jejak-scan surat-jalan NUMBER -o FILE --server URL --token TOKEN
    jejak-scan enrol --server URL --token TOKEN
    jejak-scan confirm [NUMBER | --last] [--party giver|receiver] [--name NAME]

Shipments (the surat jalan): `run --ship-to CODE` lets the SHIPMENT.OPEN command barcode open a
shipment from --location to CODE; its koli are the dispatch scans that follow, until
SHIPMENT.CLOSE.  Scanning a surat jalan's QR opens its receipt (receive scans, then
SHIPMENT.CLOSE).  Closed lists are uploaded after the scans; `shipments` lists them.

Photos (damage, a broken seal, a count that differs): `photo FILE...` queues JPEG or PNG files
in the outbox as photos of the last scan recorded (or of --scan UUID), offline too;
`manual --photo FILE` attaches them to the scan it records.  They are uploaded after their
scan, by the same uploads as the scans (`sync`, `run`'s background upload).

Both parties: `enrol` makes this station's Ed25519 device key (device_key.pem beside the
outbox, mode 0600) and registers its public half; `confirm` signs a shipment's digest as the
giver (a shipment sent from here) or the receiver (a receipt closed here).  Offline, or
before its list is numbered, the confirmation waits in the outbox and `sync` sends it.

SOURCE is one of --camera N, --wedge [--device /dev/input/eventX], --serial PORT,
--image FILE..., --video FILE.  --server/--token default to JEJAK_SERVER/JEJAK_TOKEN, the
outbox to JEJAK_OUTBOX or ~/.local/share/jejak/outbox.sqlite3.  Standard output carries one
line per scan and nothing else; everything else goes to standard error.  See docs/scanner.md.
"""
from __future__ import annotations

import sys

import click
import httpx

from .feedback import Feedback, Sound, Window, gui_available, scan_line
from .devicekey import DeviceKeyError, describe, key_path, load_or_make
from .outbox import Outbox, OutboxError, PhotoRefused, default_path
from .presentation import DEFAULT_GAP, DEFAULT_REPEAT_WINDOW
from .session import ACTIONS, DISPOSITIONS, CommandError, Session
from .sources import (IMAGE_SPACING_S, CameraSource, EvdevSource, ImageSource, SerialSource,
                      SourceError,
                      VideoSource, WedgeSource)
from .uploader import (AuthError, BackgroundUploader, Connectivity, ServerError,
                       UnknownLocation, Uploader, list_words, make_client, refresh_cache)


def _outbox_option(f):
    """Add the --outbox option."""
    return click.option("--outbox", "outbox_path", type=click.Path(dir_okay=False),
                        default=None, help="outbox file (default: $JEJAK_OUTBOX or "
                        "~/.local/share/jejak/outbox.sqlite3)")(f)


def _server_options(f):
    """Add --server and --token (with their environment variables)."""
    f = click.option("--token", envvar="JEJAK_TOKEN", help="API token (or JEJAK_TOKEN)")(f)
    return click.option("--server", envvar="JEJAK_SERVER",
                        help="server base URL, e.g. https://jejak.example (or JEJAK_SERVER)")(f)


def _session_options(f):
    """Add the session options shared by run and manual."""
    for option in reversed([
        click.option("--location", required=True, help="code of the location scanned at"),
        click.option("--action", required=True, type=click.Choice(ACTIONS)),
        click.option("--operator", default=None, help="name of the person scanning"),
        click.option("--disposition", default="ok", type=click.Choice(DISPOSITIONS),
                     show_default=True),
        click.option("--container", default=None, help="label text of the container (pack/unpack)"),
        click.option("--seal", default=None, help="seal number on the container"),
        click.option("--device-name", default=None,
                     help="this station's name, sent with every scan (default: the host name)"),
    ]):
        f = option(f)
    return f


def _open_outbox(path) -> Outbox:
    """Open the outbox, turning a bad file into a one-line error."""
    try:
        return Outbox(path or default_path())
    except OutboxError as exc:
        raise click.ClickException(str(exc)) from None


def _client(ctx: click.Context, server: str | None, token: str | None, required: bool):
    """Return an API client, or None when no server is configured."""
    if not server or not token:
        if required:
            raise click.UsageError("give --server and --token (or set JEJAK_SERVER and JEJAK_TOKEN)")
        return None
    if not server.startswith(("http://", "https://")):
        raise click.UsageError(f"--server {server!r} must start with http:// or https://")
    return make_client(server, token, transport=(ctx.obj or {}).get("transport"))


def _device_name(given: str | None) -> str:
    """Return the station name sent with scans: the option, else the host name (<= 100 chars)."""
    import socket

    return (given or socket.gethostname() or "jejak-scan")[:100]


def _note(message: str) -> None:
    """Write a note to standard error."""
    click.echo(f"jejak-scan: {message}", err=True)


@click.group()
def cli():
    """Scan Jejak labels, keep every scan in a local outbox, upload when the server is reachable."""


@cli.command()
@click.option("--camera", type=int, default=None, help="webcam number (OpenCV)")
@click.option("--wedge", is_flag=True, help="USB keyboard-wedge scanner: lines from standard input")
@click.option("--device", default=None, help="with --wedge: read /dev/input/eventX through evdev")
@click.option("--serial", "serial_port", default=None, help="serial scanner port, e.g. /dev/ttyACM0")
@click.option("--baud", default=9600, show_default=True, help="serial speed")
@click.option("--image", "images", multiple=True, help="image file(s): --image A.jpg B.jpg ...")
@click.option("--video", default=None, help="video file")
@click.argument("more_images", nargs=-1, type=click.Path(), metavar="[FILE]...")
@_server_options
@_session_options
@_outbox_option
@click.option("--gap", default=DEFAULT_GAP, show_default=True, type=float,
              help="seconds a label must be out of the camera's view to count as presented again")
@click.option("--repeat-window", default=DEFAULT_REPEAT_WINDOW, show_default=True, type=float,
              help="seconds within which a scanner reading the same code again is one trigger")
@click.option("--sound", default="auto", type=click.Choice(["auto", "aplay", "bell", "none"]),
              show_default=True)
@click.option("--window/--no-window", default=True, help="camera window when a display exists")
@click.option("--upload-interval", default=5.0, show_default=True, type=float,
              help="seconds between uploads while running")
@click.option("--ship-to", default=None,
              help="code of the place shipments opened here go to (SHIPMENT.OPEN)")
@click.option("--open-shipment", is_flag=True,
              help="with --ship-to: open a shipment at the start (as SHIPMENT.OPEN does)")
@click.pass_context
def run(ctx, camera, wedge, device, serial_port, baud, images, video, more_images, server, token,
        location, action, operator, disposition, container, seal, device_name, outbox_path, gap,
        repeat_window, sound, window, upload_interval, ship_to, open_shipment):
    """Scan from one SOURCE until it ends (or Ctrl-C), then try one upload and exit."""
    images = list(images) + list(more_images)
    if more_images and not images[: -len(more_images)]:
        raise click.UsageError(f"unexpected argument {more_images[0]!r} (files go after --image)")
    chosen = [name for name, given in (("--camera", camera is not None), ("--wedge", wedge),
                                       ("--serial", serial_port), ("--image", images),
                                       ("--video", video)) if given]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one source: --camera N, --wedge, --serial PORT, "
                               "--image FILE... or --video FILE" +
                               (f" (got {', '.join(chosen)})" if chosen else ""))
    if device and not wedge:
        raise click.UsageError("--device goes with --wedge")
    if gap <= 0 or repeat_window <= 0:
        raise click.UsageError("--gap and --repeat-window must be positive")
    try:
        session = Session(location=location.strip().upper(), action=action, operator=operator,
                          disposition=disposition, container=container, seal=seal,
                          device=_device_name(device_name),
                          ship_to=ship_to.strip().upper() if ship_to else None)
    except CommandError as exc:
        raise click.UsageError(str(exc)) from None
    if open_shipment and not ship_to:
        raise click.UsageError("--open-shipment needs --ship-to CODE")
    if ship_to and ship_to.strip().upper() == session.location:
        raise click.UsageError(f"--ship-to {ship_to!r} is --location itself")
    client = _client(ctx, server, token, required=False)
    outbox = _open_outbox(outbox_path)
    connectivity = Connectivity()
    if client is None:
        _note("no --server/--token: scans are kept offline until `jejak-scan sync`")
    else:
        _refresh(outbox, client, session.location, connectivity)
    try:
        source = _make_source(camera, wedge, device, serial_port, baud, images, video)
    except SourceError as exc:
        raise click.ClickException(str(exc)) from None
    from .station import Station

    feedback = Feedback(sound=Sound(sound))
    station = Station(outbox, session, feedback, connectivity, gap=gap, repeat_window=repeat_window)
    if station.open_list is not None:
        _note(f"the {station.open_list.kind} opened at {station.open_list.opened_at} is still "
              f"open ({len(station.open_list.koli)} koli): scanning goes on its list")
    elif open_shipment:
        from labels import commands

        station.handle(commands.SHIPMENT_OPEN)
    win = Window(window and camera is not None and gui_available())
    if camera is not None and not win.enabled:
        _note("no display or no GUI in this OpenCV: text lines only")
    background = None
    if client is not None and upload_interval > 0:
        background = BackgroundUploader(outbox.path, client, connectivity, upload_interval, _note,
                                        device_key=_device_key(outbox, required=False))
        background.start()
    interrupted = False
    try:
        if images:
            _run_images(station, images)
        else:
            station.run(source, win)
    except KeyboardInterrupt:
        interrupted = True
    except SourceError as exc:
        _note(str(exc))
    finally:
        if background is not None:
            background.stop()
    _note(f"{station.recorded} scans recorded")
    if client is not None and not interrupted:
        _final_upload(outbox, client, connectivity)
    counts = outbox.counts()
    if counts["pending"] or counts["rejected"]:
        _note(f"outbox: {counts['pending']} pending, {counts['rejected']} rejected "
              f"({outbox.path})")
    outbox.close()
    if images and station.recorded == 0:
        return 1  # nothing was read from any image: the person must know
    return 0


def _run_images(station, images: list[str]) -> None:
    """Scan each image in turn, saying of each unreadable or codeless one what is wrong."""
    for i, path in enumerate(images):
        before = station.recorded
        try:
            station.run(ImageSource([path], start=i * IMAGE_SPACING_S))
        except SourceError as exc:
            _note(f"error: {exc}")
            continue
        if station.recorded == before:
            _note(f"error: no code found in image {path!r}")


def _refresh(outbox: Outbox, client: httpx.Client, location: str,
             connectivity: Connectivity) -> None:
    """Refresh the offline-check cache; a server that cannot be reached is not an error."""
    try:
        _note(refresh_cache(outbox, client, location, connectivity))
    except (AuthError, UnknownLocation) as exc:
        outbox.close()
        raise click.ClickException(str(exc)) from None
    except (ServerError, ValueError) as exc:
        state = "offline" if connectivity.online is False else "server problem"
        _note(f"{state}, using the cached checks: {exc}")


def _make_source(camera, wedge, device, serial_port, baud, images, video):
    """Open the one source chosen on the command line."""
    if camera is not None:
        return CameraSource(camera)
    if wedge:
        return EvdevSource(device) if device else WedgeSource(sys.stdin)
    if serial_port:
        return SerialSource(serial_port, baudrate=baud)
    if images:
        return ImageSource(images)
    return VideoSource(video)


def _final_upload(outbox: Outbox, client: httpx.Client, connectivity: Connectivity) -> None:
    """Try one upload of everything pending (confirmations too) and say how it went."""
    uploader = Uploader(outbox, client, connectivity=connectivity,
                        device_key=_device_key(outbox, required=False))
    try:
        report = uploader.upload_once()
    except AuthError as exc:
        _note(f"upload refused: {exc}")
        return
    if report.error:
        _note(f"upload failed, scans stay in the outbox: {report.error}")
    else:
        _note(f"uploaded: {report.delivered} recorded, {report.already} already recorded, "
              f"{report.rejected} rejected" + (f", {report.photos} photos" if report.photos else ""))
    for line in report.confirmations:
        _note(line)
    for scan_uuid, kinds in report.anomalies.items():
        _note(f"server flagged scan {scan_uuid}: {', '.join(kinds)}")
    for answer in report.lists:
        _note(list_words(answer))


@cli.command()
@click.argument("package_id")
@click.argument("code")
@_server_options
@_session_options
@_outbox_option
@click.pass_context
@click.option("--sound", default="none", type=click.Choice(["auto", "aplay", "bell", "none"]),
              show_default=True, help="signal sound of the recorded scan")
@click.option("--photo", "photos", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="a photo (JPEG or PNG) of what was scanned, queued with the scan; repeatable")
def manual(ctx, package_id, code, server, token, location, action, operator, disposition,
           container, seal, device_name, outbox_path, sound, photos):
    """Record a package by hand: its id and the XXXX-XXXX code printed under the QR."""
    from labels.payload import PayloadError, parse_manual_entry

    from .station import Station

    try:
        parse_manual_entry(f"{package_id} {code}")
    except PayloadError as exc:
        raise click.UsageError(str(exc)) from None
    if action in ("pack", "unpack") and not container:
        raise click.UsageError(f"--action {action} needs --container")
    session = Session(location=location.strip().upper(), action=action, operator=operator,
                      disposition=disposition, container=container, seal=seal,
                      device=_device_name(device_name))
    client = _client(ctx, server, token, required=False)
    outbox = _open_outbox(outbox_path)
    connectivity = Connectivity()
    if client is not None:
        _refresh(outbox, client, session.location, connectivity)
    files = _read_photos(photos)
    station = Station(outbox, session, Feedback(sound=Sound(sound)), connectivity)
    before = outbox.scans()[-1:]
    station.record(f"{package_id} {code}")
    recorded = outbox.scans()[-1:]
    if files and recorded and recorded != before:
        _queue_photos(outbox, recorded[0].uuid, files)
    if client is not None:
        _final_upload(outbox, client, connectivity)
    outbox.close()
    return 0


def _read_photos(paths) -> list[tuple[str, bytes]]:
    """Read photo files, turning an unreadable one into a usage error before anything is queued."""
    files = []
    for path in paths:
        try:
            with open(path, "rb") as fh:
                files.append((path, fh.read()))
        except OSError as exc:
            raise click.UsageError(f"cannot read {path!r}: {exc.strerror}") from None
    return files


def _queue_photos(outbox: Outbox, scan_uuid: str, files: list[tuple[str, bytes]]) -> None:
    """Queue photos of a scan in the outbox; a file that is no JPEG/PNG is a usage error."""
    for path, data in files:
        try:
            photo = outbox.add_photo(scan_uuid, data, name=path)
        except PhotoRefused as exc:
            raise click.UsageError(str(exc)) from None
        except OutboxError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"PHOTO\t{scan_uuid}\t{photo.sha256[:16]}\t{path}")


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--scan", "scan_uuid", default=None,
              help="the scan's UUID (default: the last scan recorded in the outbox)")
@_server_options
@_outbox_option
@click.pass_context
def photo(ctx, files, scan_uuid, server, token, outbox_path):
    """Attach photos (JPEG or PNG) to the last scan, queued offline and uploaded after it."""
    data = _read_photos(files)
    outbox = _open_outbox(outbox_path)
    if scan_uuid is None:
        last = outbox.scans()[-1:]
        if not last:
            raise click.UsageError(f"the outbox {outbox.path} holds no scan to attach a photo to")
        scan_uuid = last[0].uuid
    _queue_photos(outbox, scan_uuid, data)
    client = _client(ctx, server, token, required=False)
    if client is not None:
        _final_upload(outbox, client, Connectivity())
    outbox.close()
    return 0


@cli.command()
@_outbox_option
def status(outbox_path):
    """Show how many scans are pending, sent and rejected, and list the unsent ones."""
    outbox = _open_outbox(outbox_path)
    counts = outbox.counts()
    click.echo(f"outbox {outbox.path}: {counts['pending']} pending, {counts['sent']} sent, "
               f"{counts['rejected']} rejected")
    photos = outbox.photo_counts()
    if any(photos.values()):
        click.echo(f"photos: {photos['pending']} pending, {photos['sent']} sent, "
                   f"{photos['rejected']} rejected")
        for queued in outbox.photos():
            if queued.state != "sent":
                click.echo(f"PHOTO {queued.state.upper()}\t{queued.scan_uuid}\t"
                           f"{queued.sha256[:16]}\t{queued.name or ''}"
                           + (f"\terror={queued.error}" if queued.error else ""))
    for state in ("pending", "rejected"):
        for scan in outbox.scans(state):
            what = scan.package_id or scan.code[:40]
            line = scan_line(scan, what)
            extra = f"\tattempts={scan.attempts}"
            if scan.error:
                extra += f"\terror={scan.error}"
            click.echo(f"{state.upper()}\t{scan.scanned_at}\t{line}{extra}")
    outbox.close()
    return 0


@cli.command()
@_server_options
@_outbox_option
@click.option("--retries", default=5, show_default=True, help="upload passes before giving up")
@click.option("--retry-rejected", is_flag=True, help="send rejected scans again (same ids)")
@click.pass_context
def sync(ctx, server, token, outbox_path, retries, retry_rejected):
    """Upload every pending scan; exit 1 if some could not be delivered."""
    client = _client(ctx, server, token, required=True)
    outbox = _open_outbox(outbox_path)
    if retry_rejected:
        _note(f"{outbox.requeue_rejected()} rejected scans queued again")
    uploader = Uploader(outbox, client, device_key=_device_key(outbox, required=False))
    try:
        report = uploader.sync(attempts=retries)
    except AuthError as exc:
        raise click.ClickException(str(exc)) from None
    counts = outbox.counts()
    photos = outbox.photo_counts()
    outbox.close()
    click.echo(f"{report.delivered} recorded, {report.already} already recorded, "
               f"{report.rejected} rejected; {counts['pending']} pending, "
               f"{counts['rejected']} rejected in the outbox")
    if any(photos.values()):
        click.echo(f"photos: {report.photos} delivered; {photos['pending']} pending, "
                   f"{photos['rejected']} rejected in the outbox")
    for answer in report.lists:
        click.echo(list_words(answer))
    for line in report.confirmations:
        click.echo(line)
    if counts["pending"]:
        raise click.ClickException(f"{counts['pending']} scans not delivered: {report.error}")
    if photos["pending"]:
        raise click.ClickException(f"{photos['pending']} photos not delivered: "
                                   f"{report.error or 'their scans are not on the server yet'}")
    return 0


@cli.command()
@_outbox_option
def shipments(outbox_path):
    """List the shipments and receipts of the outbox: open, pending, sent (number), rejected."""
    outbox = _open_outbox(outbox_path)
    for lst in outbox.lists():
        where = (f"{lst.location} -> {lst.destination}" if lst.kind == "shipment"
                 else f"{lst.reference} at {lst.location}")
        line = f"{lst.state.upper()}\t{lst.kind}\t{lst.number or '-'}\t{where}\t" \
               f"{len(lst.koli)} koli\t{lst.uuid}"
        if lst.kind == "receipt" and lst.answer:
            line += "\t" + list_words({"kind": "receipt", **lst.answer})
        if lst.error:
            line += f"\terror={lst.error}"
        click.echo(line)
    outbox.close()
    return 0


@cli.command("surat-jalan")
@click.argument("number")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="PDF file to write")
@click.option("--lang", default="id", type=click.Choice(["id", "en"]), show_default=True)
@_server_options
@click.pass_context
def surat_jalan(ctx, number, output, lang, server, token):
    """Download the surat jalan of a shipment (its number, e.g. SJ-000042) to print it."""
    client = _client(ctx, server, token, required=True)
    try:
        response = client.get(f"/api/v1/shipments/{number.strip().upper()}/surat-jalan.pdf",
                              params={"lang": lang})
    except httpx.TransportError as exc:
        raise click.ClickException(f"cannot reach the server: {exc}") from None
    if response.status_code != 200 or not response.content.startswith(b"%PDF"):
        raise click.ClickException(f"no surat jalan {number!r}: HTTP {response.status_code} "
                                   f"{response.text[:200]}")
    with open(output, "wb") as out:
        out.write(response.content)
    click.echo(f"surat jalan {number.strip().upper()} written to {output}")
    return 0


@cli.command()
@_server_options
@click.option("--location", required=True, help="code of the location to cache")
@_outbox_option
@click.pass_context
def refresh(ctx, server, token, location, outbox_path):
    """Cache the trusted keys and the location's expected packages for offline checks."""
    client = _client(ctx, server, token, required=True)
    outbox = _open_outbox(outbox_path)
    try:
        click.echo(refresh_cache(outbox, client, location.strip().upper()))
    except (AuthError, ServerError, UnknownLocation) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        outbox.close()
    return 0


def _device_key(outbox: Outbox, required: bool):
    """Return this station's device key (None when it has none and none is required)."""
    path = key_path(outbox.path)
    if not path.exists() and not required:
        return None
    try:
        return load_or_make(path, make=False)[0]
    except DeviceKeyError as exc:
        raise click.ClickException(str(exc)) from None


@cli.command()
@_server_options
@_outbox_option
@click.pass_context
def enrol(ctx, server, token, outbox_path):
    """Make this station's device key (once) and register its public half with the server."""
    client = _client(ctx, server, token, required=True)
    outbox = _open_outbox(outbox_path)
    path = key_path(outbox.path)
    outbox.close()
    try:
        key, made = load_or_make(path)
    except DeviceKeyError as exc:
        raise click.ClickException(str(exc)) from None
    public, kid = describe(key)
    try:
        response = client.post("/api/v1/devices/key", json={"public_key": public})
    except httpx.TransportError as exc:
        raise click.ClickException(f"cannot reach the server (the key {kid} is kept in {path}; "
                                   f"run enrol again online): {exc}") from None
    if response.status_code >= 400:
        raise click.ClickException(f"the server refused the key {kid}: HTTP "
                                   f"{response.status_code} {response.text[:300]}")
    body = response.json()
    click.echo(f"device {body.get('device')} ({body.get('name')}) at {body.get('location')}: "
               f"key {kid} {body.get('status')}{' (made now)' if made else ''}; kept in {path}")
    return 0


@cli.command()
@click.argument("number", required=False)
@click.option("--last", is_flag=True, help="the last shipment or receipt closed at this station")
@click.option("--party", type=click.Choice(["giver", "receiver"]), default=None,
              help="giver (the shipment was sent from here) or receiver (received here); "
                   "default: from this station's list")
@click.option("--name", default=None, help="who confirms (printed on the BAST)")
@_server_options
@_outbox_option
@click.pass_context
def confirm(ctx, number, last, party, name, server, token, outbox_path):
    """Confirm a handover: sign the shipment's digest with this station's device key."""
    if bool(number) == bool(last):
        raise click.UsageError("give a shipment NUMBER (e.g. SJ-000042) or --last")
    outbox = _open_outbox(outbox_path)
    try:
        lists = [lst for lst in outbox.lists() if lst.state != "open"]
        if last:
            if not lists:
                raise click.UsageError("no shipment or receipt was closed at this station")
            mine = lists[-1]
        else:
            number = number.strip().upper()
            mine = next((lst for lst in reversed(lists) if lst.number == number), None)
        own_party = None if mine is None else ("giver" if mine.kind == "shipment" else "receiver")
        if party and own_party and party != own_party:
            raise click.UsageError(f"this station's list of {number or mine.uuid} is a "
                                   f"{mine.kind}: it confirms as the {own_party}")
        party = party or own_party
        if party is None:
            raise click.UsageError(f"{number} is not a list of this station: say --party")
        key = _device_key(outbox, required=True)
        outbox.add_confirmation(party, name, number=number or mine.number,
                                list_uuid=mine.uuid if mine else None)
        client = _client(ctx, server, token, required=False)
        if client is None:
            click.echo(f"confirmation as the {party} queued; `jejak-scan sync` sends it")
            return 0
        report = Uploader(outbox, client, device_key=key).upload_once()
    except AuthError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        outbox.close()
    for line in report.confirmations:
        click.echo(line)
    if report.error:
        click.echo(f"confirmation as the {party} queued (offline: {report.error}); "
                   f"`jejak-scan sync` sends it")
    elif not report.confirmations:
        click.echo(f"confirmation as the {party} queued until its list is numbered; "
                   f"`jejak-scan sync` sends it")
    return 1 if report.rejected else 0


def main(args=None, transport: httpx.BaseTransport | None = None) -> int:
    """Run jejak-scan and return its exit code (a transport may be injected for tests)."""
    try:
        result = cli.main(args=args, prog_name="jejak-scan", standalone_mode=False,
                          obj={"transport": transport})
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
