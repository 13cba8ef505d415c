"""Labels printed from the server's database: print-labels and reprint (new version, old one superseded)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from labels.payload import SupersededLabel, key_id_for, verify
from server.models import Package
from tests.labels.conftest import decode_both, rasterize


@pytest.fixture
def cli(runner, session, region, key_files):
    """Plan packages and trust the key (create_app registers the label commands)."""
    from tests.factories import make_plan

    make_plan(session, region)
    session.commit()
    result = runner.invoke(args=["trust-key", str(key_files[1])])
    assert result.exit_code == 0, result.output
    return runner


def test_print_labels_for_a_region_uses_the_same_renderer(cli, tmp_path, key_files, test_key, session):
    out = tmp_path / "region.pdf"
    result = cli.invoke(args=["print-labels", "--region", "351301", "-o", str(out), "--key",
                              str(key_files[0]), "--template", "a4-2x7"])
    assert result.exit_code == 0, result.output
    keys = {key_id_for(test_key.public_key()): test_key.public_key()}
    z, p = decode_both(rasterize(out)[0])
    ids = sorted(verify(r.text, keys).package_id for r in z)
    expected = sorted(session.scalars(select(Package.package_id).where(
        Package.package_id.like("351301%"))))
    assert ids == expected and len(p) == len(expected) and expected


def test_reprint_bumps_the_version_and_the_old_label_is_superseded(cli, tmp_path, key_files, test_key,
                                                                   db):
    pid = "3513010001001-SS-DPR"
    old_out = tmp_path / "old.jsonl"
    result = cli.invoke(args=["print-labels", "--package", pid, "-o", str(old_out), "--key",
                              str(key_files[0]), "--format", "codes"])
    assert result.exit_code == 0, result.output
    old_code = json.loads(old_out.read_text())["code"]
    result = cli.invoke(args=["reprint", pid, "-o", str(tmp_path / "new.jsonl"), "--key",
                              str(key_files[0]), "--format", "codes"])
    assert result.exit_code == 0, result.output
    new_code = json.loads((tmp_path / "new.jsonl").read_text())["code"]
    with db.session() as s:
        current = s.scalar(select(Package.label_version).where(Package.package_id == pid))
    assert current == 2
    keys = {key_id_for(test_key.public_key()): test_key.public_key()}
    assert verify(new_code, keys, current_version=current).version == 2
    with pytest.raises(SupersededLabel):
        verify(old_code, keys, current_version=current)
    assert not list(tmp_path.glob(".jejak-labels-*"))


def test_failed_reprint_changes_nothing(cli, tmp_path_factory, key_files, db):
    tmp_path = tmp_path_factory.mktemp("out")
    pid = "3513010001001-SS-DPR"
    result = cli.invoke(args=["reprint", pid, "-o", str(tmp_path / "x.pdf"), "--key",
                              str(key_files[0]), "--start", "99"])
    assert result.exit_code == 2 and "--start 99" in result.output
    result = cli.invoke(args=["reprint", pid, "NO-SUCH-PACKAGE", "-o", str(tmp_path / "y.pdf"),
                              "--key", str(key_files[0])])
    assert result.exit_code == 2 and "NO-SUCH-PACKAGE" in result.output
    with db.session() as s:
        assert s.scalar(select(Package.label_version).where(Package.package_id == pid)) == 1
    assert not list(tmp_path.iterdir())


def test_an_untrusted_key_is_refused(runner, session, region, tmp_path):
    from labels.keys import generate, write_key_pair
    from tests.factories import make_plan

    make_plan(session, region)
    session.commit()
    private, _ = write_key_pair(generate(), tmp_path / "k")
    result = runner.invoke(args=["print-labels", "--region", "35", "-o", str(tmp_path / "z.pdf"),
                                 "--key", str(private)])
    assert result.exit_code == 2 and "not trusted" in result.output
