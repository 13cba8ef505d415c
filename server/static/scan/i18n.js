// The page's strings, Indonesian by default, English on the switch. Reasons are {k, ...params}.
const S = {
  id: {
    title: "Jejak - pindai", ready: "Siap memindai", point: "Arahkan kamera ke label",
    accepted: "DITERIMA", rescan: "SUDAH DIPINDAI", unchecked: "BELUM DIPERIKSA", problem: "MASALAH",
    warning: "TERCATAT DENGAN MASALAH",
    not_recorded: "TIDAK TERCATAT - pindai lagi", command: "PERINTAH",
    pending: "menunggu unggah", rejected: "ditolak server", expected_left: "belum diterima di sini",
    expected_unknown: "daftar kiriman belum ada", online: "daring", offline: "luring",
    never_synced_banner: "Belum pernah terhubung ke server: label belum bisa diperiksa (kunci dan daftar kiriman belum ada).",
    not_enrolled: "Ponsel ini belum terdaftar. Minta admin menampilkan QR pendaftaran, lalu buka tautannya di ponsel ini.",
    enrolled: "Ponsel terdaftar", synced: "Tersinkron", last_sync: "sinkron terakhir",
    camera_off: "Kamera mati", camera_start: "Nyalakan kamera", camera_failed: "Kamera tidak bisa dibuka: ",
    torch: "Senter", camera: "Kamera", action: "Kegiatan", condition: "Kondisi paket berikut",
    manual: "Ketik kode (label rusak): ID-PAKET XXXX-XXXX", send: "Catat", seal: "No. segel", operator: "Petugas",
    more: "Lainnya", recent: "Pindaian terakhir", none_yet: "Belum ada pindaian.",
    st_pending: "menunggu", st_sent: "terkirim", st_rejected: "ditolak",
    act_receive: "Terima", act_dispatch: "Kirim", act_pack: "Kemas", act_unpack: "Bongkar",
    act_inspect: "Periksa", act_handover: "Serahkan", act_return: "Kembalikan",
    disp_ok: "Baik", disp_damaged: "Rusak", disp_seal_broken: "Segel rusak",
    container_open: "Wadah terbuka: {name}", container_need: "Pindai label wadah lebih dulu",
    close_container: "Tutup wadah",
    // reasons
    already_here: "sudah dipindai di sini ({action})",
    not_label: "bukan label Jejak", malformed: "label rusak atau terpotong ({detail})",
    recorded_damaged: "tercatat rusak", recorded_seal_broken: "tercatat segel rusak",
    count_differs: "jumlah berbeda: label {label}, rencana {planned}",
    never_synced: "belum diperiksa: belum pernah sinkron",
    forged_key: "label palsu: kunci {key} tidak dipercaya", forged_sig: "label palsu: tanda tangan tidak cocok",
    superseded: "label usang: versi {version}, yang berlaku versi {current}",
    wrong_route: "salah rute: tujuan {destination} bukan di bawah {location}",
    not_expected: "paket {package} tidak diharapkan di sini",
    plan_destination: "label menyebut tujuan {destination}, rencana {planned}",
    wrong_dapil: "salah dapil: surat suara {dapil}, TPS ini {dapils}",
    manual: "diketik", vcode_mismatch: "kode {code} tidak cocok dengan label paket ini",
    same_again: "kode sama dalam {s} detik: satu pindaian", several_commands: "beberapa kode perintah terlihat: tunjukkan satu saja",
    several_labels: "beberapa label terlihat: tunjukkan label wadah sendirian",
    cmd_action: "kegiatan sekarang: {action}", cmd_action_container: "kegiatan sekarang: {action} - pindai label wadah dulu",
    count_next: "Hitung paket berikut", counted: "Dihitung", damaged_units: "Rusak",
    cmd_count: "paket berikut: dihitung {count}, rusak {damaged}", cmd_count_clear: "hitungan dihapus",
    cmd_count_refused: "hitungan hanya untuk terima, bongkar, periksa",
    cmd_disposition: "paket berikut: {disposition}", cmd_container_closed: "wadah ditutup", cmd_no_container: "tidak ada wadah terbuka",
    cmd_unknown: "kode perintah tidak dikenal", container_opened: "wadah {name} dibuka", not_container: "bukan label wadah",
    the_container: "itu wadah yang sedang terbuka",
    up_network: "jaringan tidak tersedia, dicoba lagi", up_retry: "server sibuk (HTTP {status}), dicoba lagi",
    up_token: "token ditolak (HTTP {status}): daftarkan ulang ponsel", up_no_api: "alamat server salah (HTTP {status})",
    anomalies: "server: {list}", storage_persist: "penyimpanan permanen",
    k_missing: "hilang", k_duplicate_scan: "pindai ganda", k_cloned_label: "label kloning", k_misrouted: "salah tujuan",
    k_wrong_dapil: "salah dapil", k_forged_label: "label palsu", k_unknown_package: "paket tak dikenal",
    k_superseded_label: "label usang", k_custody_gap: "rantai terputus", k_late: "terlambat", k_damaged: "rusak",
    k_seal_mismatch: "segel tidak cocok", k_quantity_mismatch: "jumlah tidak cocok", k_missing_return: "belum kembali",
  },
  en: {
    title: "Jejak - scan", ready: "Ready to scan", point: "Point the camera at a label",
    accepted: "ACCEPTED", rescan: "ALREADY SCANNED", unchecked: "NOT CHECKED", problem: "PROBLEM",
    warning: "RECORDED WITH A PROBLEM",
    not_recorded: "NOT RECORDED - scan again", command: "COMMAND",
    pending: "waiting to upload", rejected: "rejected by server", expected_left: "still expected here",
    expected_unknown: "no expected list yet", online: "online", offline: "offline",
    never_synced_banner: "Never reached the server: labels cannot be checked yet (no keys, no expected list).",
    not_enrolled: "This phone is not enrolled. Ask an admin to show the enrolment QR, then open its link on this phone.",
    enrolled: "Phone enrolled", synced: "Synced", last_sync: "last sync",
    camera_off: "Camera off", camera_start: "Start the camera", camera_failed: "The camera could not be opened: ",
    torch: "Torch", camera: "Camera", action: "Action", condition: "Condition of the next package",
    manual: "Type the code (damaged label): PACKAGE-ID XXXX-XXXX", send: "Record", seal: "Seal no.", operator: "Operator",
    more: "More", recent: "Last scans", none_yet: "No scans yet.",
    st_pending: "pending", st_sent: "sent", st_rejected: "rejected",
    act_receive: "Receive", act_dispatch: "Dispatch", act_pack: "Pack", act_unpack: "Unpack",
    act_inspect: "Inspect", act_handover: "Hand over", act_return: "Return",
    disp_ok: "OK", disp_damaged: "Damaged", disp_seal_broken: "Seal broken",
    container_open: "Container open: {name}", container_need: "Scan the container's label first",
    close_container: "Close container",
    already_here: "already scanned here ({action})",
    not_label: "not a Jejak label", malformed: "damaged or cut label ({detail})",
    recorded_damaged: "recorded as damaged", recorded_seal_broken: "recorded with the seal broken",
    count_differs: "count differs: label says {label}, the plan says {planned}",
    never_synced: "not checked: never synced",
    forged_key: "forged label: signing key {key} is not trusted", forged_sig: "forged label: signature does not match",
    superseded: "superseded label: version {version}, current is {current}",
    wrong_route: "wrong route: destination {destination} is not under {location}",
    not_expected: "package {package} is not expected here",
    plan_destination: "label says destination {destination}, the plan says {planned}",
    wrong_dapil: "wrong dapil: ballot of {dapil}, this TPS votes in {dapils}",
    manual: "typed", vcode_mismatch: "verification code {code} does not match this package's label",
    same_again: "same code again within {s} s: one scan", several_commands: "several command codes in view: show one at a time",
    several_labels: "several labels in view: show the container's label alone",
    cmd_action: "action is now {action}", cmd_action_container: "action is now {action} - scan the container's label first",
    count_next: "Count of next package", counted: "Counted", damaged_units: "Damaged",
    cmd_count: "next package: counted {count}, damaged {damaged}", cmd_count_clear: "count cleared",
    cmd_count_refused: "counts are for receive, unpack, inspect only",
    cmd_disposition: "next package: {disposition}", cmd_container_closed: "container closed", cmd_no_container: "no container was open",
    cmd_unknown: "unknown command code", container_opened: "container {name} open", not_container: "not a container label",
    the_container: "that is the open container",
    up_network: "no network, will retry", up_retry: "server busy (HTTP {status}), will retry",
    up_token: "token refused (HTTP {status}): enrol the phone again", up_no_api: "wrong server address (HTTP {status})",
    anomalies: "server: {list}", storage_persist: "persistent storage",
    k_missing: "missing", k_duplicate_scan: "duplicate scan", k_cloned_label: "cloned label", k_misrouted: "misrouted",
    k_wrong_dapil: "wrong dapil", k_forged_label: "forged label", k_unknown_package: "unknown package",
    k_superseded_label: "superseded label", k_custody_gap: "custody gap", k_late: "late", k_damaged: "damaged",
    k_seal_mismatch: "seal mismatch", k_quantity_mismatch: "quantity mismatch", k_missing_return: "missing return",
  },
};

let lang = "id";
export const LANGS = ["id", "en"];
export function setLang(l) { lang = LANGS.includes(l) ? l : "id"; document.documentElement.lang = lang; }
export function getLang() { return lang; }

/** The string `key` with {param} filled in; falls back to Indonesian, then to the key. */
export function t(key, params = {}) {
  const s = (S[lang] && S[lang][key]) || S.id[key] || key;
  return s.replace(/\{(\w+)\}/g, (_, p) => {
    const v = params[p];
    if (p === "action" && S[lang]["act_" + v]) return S[lang]["act_" + v].toLowerCase();
    if (p === "disposition" && S[lang]["disp_" + v]) return S[lang]["disp_" + v].toLowerCase();
    return v === undefined ? "" : String(v);
  });
}

/** A reason object {k, ...} (or a plain string) in the current language. */
export const reason = (r) => (typeof r === "string" ? r : t(r.k, r));
