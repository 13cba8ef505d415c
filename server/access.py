"""Who may do what, where: users, API tokens, devices, roles and region scope.

Roles:
* ``operator``   - records scans at its assigned location(s) (device tokens are operators)
* ``supervisor`` - reads and resolves anomalies within its region
* ``observer``   - the oversight body: reads everything within its region, changes nothing
* ``admin``      - everything within its region (the province or a regency)

Every principal carries a region; "within its region" means the region's
subtree (``Location.path`` prefix).  Passwords are hashed with werkzeug's
scrypt; tokens are random and only their SHA-256 is stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from flask import g, request
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from labels.confirmation import ConfirmationError, key_id, key_text, public_key_raw
from server.db import get_session
from server.errors import ApiError, DomainError
from server.ledger.chain import append_records
from server.ledger.records import API_TOKENS, DEVICES, USERS
from server.models import PATH_END, ROLES, ApiToken, Device, Location, User, utc_now

TOKEN_PREFIX = "jjk_"


READ_ROLES = frozenset(ROLES)


RESOLVE_ROLES = frozenset({"supervisor", "admin"})


SCAN_ROLES = frozenset({"operator", "admin"})


class AccessError(DomainError):
    """A user, token or device could not be made as asked (unknown region, bad role...)."""


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: its role, its region and what it is called in the log."""

    role: str
    region_code: str
    region_path: str
    name: str
    token_id: int | None = None
    user_id: int | None = None
    device_id: int | None = None
    # Operators bound to a device may scan only at the device's location subtree.
    location_path: str | None = None

    def covers(self, path: str) -> bool:
        """Tell whether a location (by its path) is inside this principal's region."""
        return path.startswith(self.region_path)

    def may_scan_at(self, path: str) -> bool:
        """Tell whether this principal may record a scan at a location."""
        if self.role not in SCAN_ROLES or not self.covers(path):
            return False
        return self.location_path is None or path.startswith(self.location_path)

    @property
    def may_resolve(self) -> bool:
        """Tell whether this principal may acknowledge or resolve anomalies."""
        return self.role in RESOLVE_ROLES

    def region_range(self) -> tuple[str, str]:
        """Return (low, high) bounds of the region's paths for a range query."""
        return self.region_path, self.region_path + PATH_END


def hash_token(token: str) -> str:
    """Return the stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """Return a new random bearer token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _location(session: Session, code: str) -> Location:
    loc = session.scalar(select(Location).where(Location.code == code))
    if loc is None:
        raise AccessError(f"no location with code {code!r}; import the locations first")
    return loc


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccessError(f"role {role!r} is not one of {', '.join(ROLES)}")


def create_user(session: Session, username: str, password: str, role: str, region: str) -> User:
    """Create a dashboard user with a hashed password."""
    _check_role(role)
    if not username or len(username) > 80:
        raise AccessError(f"username {username!r} must be 1-80 characters")
    if len(password) < 8:
        raise AccessError("password must be at least 8 characters")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise AccessError(f"user {username!r} already exists")
    user = User(username=username, password_hash=generate_password_hash(password), role=role,
                region_id=_location(session, region).id)
    session.add(user)
    session.flush()
    append_records(session, USERS, User.id == user.id)
    return user


# A hash no password matches, checked for unknown and inactive users: every login costs one
# scrypt, so the answer's timing does not tell which usernames exist.
_NO_USER_HASH = generate_password_hash(secrets.token_urlsafe(16))


def authenticate_user(session: Session, username: str, password: str) -> User | None:
    """Return the active user with this name and password, or None (after the same work)."""
    user = session.scalar(select(User).where(User.username == username))
    usable = user is not None and user.active
    matches = check_password_hash(user.password_hash if usable else _NO_USER_HASH, password)
    return user if usable and matches else None


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise AccessError(f"no user {username!r}")
    return user


def set_password(session: Session, username: str, password: str) -> User:
    """Give a user a new password and end every session they had."""
    if len(password) < 8:
        raise AccessError("password must be at least 8 characters")
    user = _user(session, username)
    user.password_hash = generate_password_hash(password)
    end_sessions(user)
    return user


def deactivate_user(session: Session, username: str) -> User:
    """Stop a user logging in, end their sessions and revoke their API tokens."""
    user = _user(session, username)
    user.active = False
    end_sessions(user)
    revoked = []
    for token in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                        ApiToken.revoked_at.is_(None))):
        token.revoked_at = utc_now()
        revoked.append(token.id)
    append_records(session, USERS, User.id == user.id)
    if revoked:
        append_records(session, API_TOKENS, ApiToken.id.in_(revoked))
    return user


def end_sessions(user: User) -> None:
    """Make every session cookie issued to this user so far stop working."""
    user.session_version = (user.session_version or 0) + 1


def create_token(session: Session, role: str, region: str, name: str = "",
                 ttl_days: int | None = None, device: Device | None = None,
                 user: User | None = None) -> str:
    """Create an API token and return its secret (shown once, stored hashed)."""
    _check_role(role)
    token = new_token()
    expires = utc_now() + dt.timedelta(days=ttl_days) if ttl_days else None
    row = ApiToken(token_hash=hash_token(token), role=role,
                   region_id=_location(session, region).id, name=name,
                   expires_at=expires, device_id=device.id if device else None,
                   user_id=user.id if user else None)
    session.add(row)
    session.flush()
    append_records(session, API_TOKENS, ApiToken.id == row.id)
    return token


def create_device(session: Session, location: str, name: str = "",
                  ttl_days: int | None = None) -> tuple[Device, str]:
    """Register a scanning device at a location and return it with its operator token."""
    loc = _location(session, location)
    device = Device(name=name or f"device@{loc.code}", location_id=loc.id)
    session.add(device)
    session.flush()
    append_records(session, DEVICES, Device.id == device.id)
    token = create_token(session, "operator", loc.code, name=device.name, ttl_days=ttl_days,
                         device=device)
    return device, token


def principal_for_token(session: Session, token: str) -> Principal | None:
    """Return the principal a bearer token stands for, or None if unknown, expired or revoked."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= utc_now():
        return None
    if row.user_id is not None:
        owner = session.get(User, row.user_id)
        if owner is None or not owner.active:
            return None  # a deactivated user's tokens die with the account
    location_path = row.device.location.path if row.device is not None else None
    return Principal(role=row.role, region_code=row.region.code, region_path=row.region.path,
                     name=row.name or f"token-{row.id}", token_id=row.id,
                     user_id=row.user_id, device_id=row.device_id, location_path=location_path)


def principal_for_user(user: User) -> Principal:
    """Return the principal of a logged-in dashboard user."""
    return Principal(role=user.role, region_code=user.region.code, region_path=user.region.path,
                     name=user.username, user_id=user.id)


def current_api_principal() -> Principal:
    """Return the caller of the current API request, or raise 401."""
    cached = g.get("api_principal")
    if cached is not None:
        return cached
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "missing bearer token: send 'Authorization: Bearer <token>'")
    principal = principal_for_token(get_session(), token.strip())
    if principal is None:
        raise ApiError(401, "token is unknown, expired or revoked")
    g.api_principal = principal
    return principal


def require(principal: Principal, roles: frozenset[str], what: str) -> None:
    """Raise 403 unless the principal has one of the roles."""
    if principal.role not in roles:
        raise ApiError(403, f"role {principal.role!r} may not {what}")


def region_location(session: Session, principal: Principal, code: str | None) -> Location:
    """Return the region asked for (default: the principal's), 403/404 when out of reach."""
    code = code or principal.region_code
    loc = session.scalar(select(Location).where(Location.code == code))
    if loc is None:
        raise ApiError(404, f"no region with code {code!r}")
    if not principal.covers(loc.path):
        raise ApiError(403, f"region {code!r} is outside your region {principal.region_code!r}")
    return loc


def revoke_device(session: Session, device_id: int) -> tuple[Device, int]:
    """Revoke every live token of a device (a lost or stolen phone); return it and the count.

    Its registered key then signs nothing the server takes: every confirmation needs the
    device's token.  Confirmations it made stay in the log, with its name.
    """
    device = session.get(Device, device_id)
    if device is None:
        raise AccessError(f"no device {device_id}")
    revoked = []
    for token in session.scalars(select(ApiToken).where(ApiToken.device_id == device.id,
                                                        ApiToken.revoked_at.is_(None))):
        token.revoked_at = utc_now()
        revoked.append(token.id)
    if revoked:
        append_records(session, API_TOKENS, ApiToken.id.in_(revoked))
    return device, len(revoked)


class DeviceKeyError(AccessError):
    """A device key that cannot be registered (no device, not a key, another key already)."""

    status = 400


class DeviceKeyForbidden(DeviceKeyError):
    """The token is not a device's: it has no device to register a key for."""

    status = 403


class DeviceKeyConflict(DeviceKeyError):
    """The device registered another key before: a device's key never changes."""

    status = 409


def register_device_key(session: Session, principal: Principal, public_key
                        ) -> tuple[Device, bool]:
    """Register the caller's device's Ed25519 public key (once); return it and whether it is new.

    The same key again answers the device unchanged; another key is refused: a
    phone that is lost or replaced becomes a new device (``create-device``), so a
    key seen on a confirmation always names the device that made it.
    """
    if principal.device_id is None:
        raise DeviceKeyForbidden("only a device's token registers a device key: this token has "
                                 "no device (make one with jejak-server create-device)")
    try:
        raw = public_key_raw(public_key)
    except ConfirmationError as exc:
        raise DeviceKeyError(f"field 'public_key': {exc}") from None
    device = session.get(Device, principal.device_id)
    text = key_text(raw)
    if device.public_key:
        if device.public_key == text:
            return device, False
        raise DeviceKeyConflict(
            f"device {device.id} ({device.name}) registered key {key_id(public_key_raw(device.public_key))} "
            f"before, not {key_id(raw)}; a device's key never changes: enrol the phone again as "
            f"a new device (jejak-server create-device)")
    device.public_key = text
    device.key_registered_at = utc_now()
    append_records(session, DEVICES, Device.id == device.id)
    return device, True
