"""Understanding an uploaded photo: what its bytes really are, and its display copies.

Nothing about an upload is trusted but its bytes: the format is sniffed by
Pillow (only its JPEG and PNG readers are tried), the pixel size is read from
the header and refused above the limit *before* any pixel is decoded (a
decompression bomb never gets its memory), and then the whole image is decoded
once so that a truncated or corrupt file is refused with nothing stored.

Display copies are what people look at: the EXIF orientation applied (a phone's
portrait photo shown upright), scaled down, re-encoded as JPEG with no metadata
(no GPS position, no camera serial).  The original is kept byte for byte.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from server.errors import DomainError

# The formats accepted, as Pillow names them: (media type, file extension).
FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png")}
MEDIA_TYPES = tuple(media for media, _ext in FORMATS.values())
EXTENSIONS = {media: ext for media, ext in FORMATS.values()}
# Display copies: the longest side in pixels of each variant.
VARIANTS = {"display": 1280, "thumb": 320}
# What Pillow raises on bytes it cannot decode (truncated, a bad chunk, a broken stream).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, zlib.error, struct.error)


class PhotoError(DomainError):
    """A photo that cannot be attached as sent (the message says why); nothing was stored."""

    status = 400
    code = "invalid_photo"


class PhotoTooLarge(PhotoError):
    """Too many bytes or too many pixels (a decompression bomb among them)."""

    status = 413
    code = "photo_too_large"


class PhotoUnsupported(PhotoError):
    """Not a JPEG or PNG image."""

    status = 415
    code = "unsupported_media_type"


@dataclass(frozen=True)
class Limits:
    """How large a photo may be: bytes (PHOTO_MAX_BYTES) and pixels (PHOTO_MAX_PIXELS)."""

    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000


@dataclass(frozen=True)
class ImageInfo:
    """What the bytes are: media type (sniffed), file extension, pixel size."""

    media_type: str
    extension: str
    width: int
    height: int


def _open(data: bytes) -> Image.Image:
    """Open the bytes with the JPEG and PNG readers only (headers read, pixels not yet)."""
    try:
        with warnings.catch_warnings():
            # Pillow warns from 89 MP on; inspect() refuses above PHOTO_MAX_PIXELS itself.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=tuple(FORMATS))
    except Image.DecompressionBombError as exc:
        raise PhotoTooLarge(f"the image is a decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise PhotoUnsupported("the body is not a JPEG or PNG image; send the photo's bytes "
                               "as JPEG or PNG") from None
    except _DECODE_ERRORS as exc:
        raise PhotoError(f"the image is truncated or corrupt ({exc}); nothing was stored") from None


def inspect(data: bytes, limits: Limits) -> ImageInfo:
    """Return what a photo's bytes are, refusing an empty, oversized, unknown or broken image."""
    if not data:
        raise PhotoError("the body is empty; send the photo's bytes (JPEG or PNG)")
    if len(data) > limits.max_bytes:
        raise PhotoTooLarge(f"the photo is {len(data):,} bytes; at most {limits.max_bytes:,} "
                            f"are accepted (PHOTO_MAX_BYTES)")
    image = _open(data)
    width, height = image.size
    if width * height > limits.max_pixels:
        raise PhotoTooLarge(f"the image is {width} x {height} = {width * height:,} pixels; at "
                            f"most {limits.max_pixels:,} are accepted (PHOTO_MAX_PIXELS)")
    media_type, extension = FORMATS[image.format]
    try:
        image.load()  # decode every pixel: a truncated file fails here, not in a reader's browser
        if image.format == "PNG":
            _open(data).verify()  # the chunks' CRCs, which decoding alone does not all check
    except Image.DecompressionBombError as exc:
        raise PhotoTooLarge(f"the image is a decompression bomb: {exc}") from None
    except _DECODE_ERRORS as exc:
        raise PhotoError(f"the {image.format} image is truncated or corrupt ({exc}); "
                         f"nothing was stored") from None
    return ImageInfo(media_type, extension, width, height)


def display_copy(data: bytes, side: int) -> bytes:
    """Return a JPEG of the photo upright (EXIF orientation), at most ``side`` px, no metadata."""
    image = _open(data)
    image.load()
    try:
        image = ImageOps.exif_transpose(image)
    except _DECODE_ERRORS:
        pass  # an unreadable EXIF block: show the pixels as stored rather than nothing
    if image.mode in ("RGBA", "LA", "P", "PA"):
        image = image.convert("RGBA")
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A"))
        image = flat
    elif image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    # A new image holds pixels only: no EXIF (GPS, serials), no comments, no ICC profile.
    clean = Image.new(image.mode, image.size)
    clean.paste(image)
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()
