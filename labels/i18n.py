"""Words printed on labels and command sheets, Indonesian (default) and English.

The item-type names are copied from the server's catalogue
(``server.models.ITEM_TYPES``): ``labels`` must not import ``server``.  An item
type a regency added to its catalogue prints as its code.
"""

from __future__ import annotations

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"

# code -> (Indonesian, English), as in server/models.py ITEM_TYPES.
ITEM_NAMES = {
    "SS-PPWP": ("Surat suara Presiden dan Wakil Presiden", "Presidential ballot papers"),
    "SS-DPR": ("Surat suara DPR", "DPR ballot papers"),
    "SS-DPD": ("Surat suara DPD", "DPD ballot papers"),
    "SS-DPRDP": ("Surat suara DPRD Provinsi", "Provincial DPRD ballot papers"),
    "SS-DPRDK": ("Surat suara DPRD Kabupaten/Kota", "Regency/city DPRD ballot papers"),
    "KOTAK": ("Kotak suara", "Ballot box"),
    "BILIK": ("Bilik suara", "Voting booth"),
    "TINTA": ("Tinta", "Ink"),
    "SEGEL": ("Segel", "Seals"),
    "FORMULIR": ("Formulir", "Forms"),
    "SAMPUL": ("Sampul", "Envelopes"),
    "DPT": ("Daftar pemilih tetap", "Voter list"),
    "LAINNYA": ("Perlengkapan lainnya", "Other equipment"),
}
# Item types whose packages carry a dapil (the ballots of DPR, DPRD provinsi, DPRD kab/kota).
ITEM_HAS_DAPIL = {"SS-DPR", "SS-DPRDP", "SS-DPRDK"}

_TEXTS = {
    "destination": ("Tujuan", "To"),
    "dapil": ("Dapil", "Dapil"),
    "quantity": ("Jumlah", "Qty"),
    "version": ("Versi", "Version"),
    "version_short": ("v", "v"),
    "vcode": ("Kode verifikasi", "Verification code"),
    "vcode_short": ("Kode", "Code"),
    "sheet_title": ("Lembar perintah pemindai", "Scanner command sheet"),
    "sheet_hint": ("Pindai kode untuk mengganti mode pemindai.",
                   "Scan a code to switch the scanner's mode."),
    "cmd_receive": ("TERIMA", "RECEIVE"),
    "cmd_dispatch": ("KIRIM", "DISPATCH"),
    "cmd_pack": ("KEMAS (masukkan ke wadah)", "PACK (into container)"),
    "cmd_unpack": ("BONGKAR (keluarkan dari wadah)", "UNPACK (out of container)"),
    "cmd_inspect": ("PERIKSA", "INSPECT"),
    "cmd_handover": ("SERAH TERIMA", "HANDOVER"),
    "cmd_return": ("KEMBALIKAN", "RETURN"),
    "cmd_ok": ("KONDISI BAIK", "CONDITION OK"),
    "cmd_damaged": ("RUSAK", "DAMAGED"),
    "cmd_seal_broken": ("SEGEL RUSAK", "SEAL BROKEN"),
    "cmd_end_container": ("SELESAI WADAH", "END OF CONTAINER"),
    "count_title": ("Lembar hitung", "Count sheet"),
    "count_hint": ("Angka = jumlah dihitung untuk paket berikutnya; RUSAK: angka berikutnya "
                   "= jumlah rusak.", "Digits = the count of the next package; DAMAGED: the "
                   "digits after it = units damaged."),
    **{f"cmd_count_{d}": (str(d), str(d)) for d in range(10)},
    "cmd_count_damaged": ("JUMLAH RUSAK", "DAMAGED UNITS"),
    "cmd_count_clear": ("HAPUS HITUNGAN", "CLEAR COUNT"),
    "shipment_title": ("Lembar surat jalan", "Shipment sheet"),
    "shipment_hint": ("BUKA KIRIMAN, pindai kolinya, TUTUP. Penerima: pindai QR surat jalan, "
                      "kolinya, lalu TUTUP.", "OPEN SHIPMENT, scan its koli, CLOSE. Receiver: "
                      "scan the surat jalan's QR, the koli, then CLOSE."),
    "cmd_shipment_open": ("BUKA KIRIMAN", "OPEN SHIPMENT"),
    "cmd_shipment_close": ("TUTUP KIRIMAN / PENERIMAAN", "CLOSE SHIPMENT / RECEIPT"),
}


def check_language(lang: str) -> str:
    """Return lang if it is supported, else raise ValueError naming the choices."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    return lang


def text(key: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """Return the label word for key in lang."""
    return _TEXTS[key][LANGUAGES.index(lang)]


def item_name(code: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """Return an item type's name in words, or its code when the catalogue does not know it."""
    names = ITEM_NAMES.get(code)
    return names[LANGUAGES.index(lang)] if names else code
