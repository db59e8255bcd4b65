"""The weekly reports' table: a local lake and an S3 lake (moto) store and serve alike."""

from __future__ import annotations

import uuid

import pytest

from ib_futures.lake.reports import read_report_file, report_weeks, store_report

PNG = b"\x89PNG\r\n\x1a\nfake"


@pytest.mark.parametrize("where", ["local", "s3"])
def test_store_read_and_replace_one_week(where, request, tmp_path) -> None:
    if where == "s3":
        options = request.getfixturevalue("s3_server")
        lake = f"s3://ib-lake/reports-{uuid.uuid4().hex}"
    else:
        options, lake = None, str(tmp_path / "lake")
    assert report_weeks(lake, options) == []
    assert read_report_file(lake, "2026-11-20", storage_options=options) is None
    store_report(lake, "2026-11-20", {"report.html": b"<p>one</p>", "ES_SPY_basis.png": PNG},
                 options)  # fmt: skip
    store_report(lake, "2026-11-27", {"report.html": b"<p>two</p>"}, options)
    store_report(lake, "2026-11-20", {"report.html": b"<p>one again</p>"}, options)
    assert report_weeks(lake, options) == ["2026-11-20", "2026-11-27"]
    assert read_report_file(lake, "2026-11-20", storage_options=options) == b"<p>one again</p>"
    assert read_report_file(lake, "2026-11-27", storage_options=options) == b"<p>two</p>"
    # the re-render replaced the whole week: its old chart is gone
    assert read_report_file(lake, "2026-11-20", "ES_SPY_basis.png", options) is None


def test_no_files_is_an_error(tmp_path) -> None:
    with pytest.raises(ValueError, match="week_end=2026-11-20"):
        store_report(str(tmp_path), "2026-11-20", {})
