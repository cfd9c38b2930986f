"""The models & prices pages: the price history of a model, a scheduled price (a new row, in force when its time
comes, through the one rule record_prices), and retirement with a replacement the catalog serves."""
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select

from models import ModelPrice, PriceRow
from tests.gateway.admin.conftest import PREFIX


def _slug():
    return f"openai/{PREFIX}m-{uuid.uuid4().hex[:6]}"


def _make(admin, services, slug, **rates):
    data = {"slug": slug, "upstream": "gpt-4o-mini", "capabilities": "", "enabled": "y"} | rates
    assert admin.post("/admin/models/new/", data=data).status_code == 302
    with services.sessionmaker() as s:
        return s.scalar(select(ModelPrice).where(ModelPrice.slug == slug))


def _rows(services, slug):
    with services.sessionmaker() as s:
        return s.scalars(select(PriceRow).where(PriceRow.slug == slug).order_by(PriceRow.effective_from)).all()


def _cleanup(services, slug):
    with services.sessionmaker() as s, s.begin():
        for r in s.scalars(select(PriceRow).where(PriceRow.slug == slug)):
            s.delete(r)


def test_schedule_a_price_and_see_the_history(admin, services):
    slug = _slug()
    try:
        row = _make(admin, services, slug, input_per_mtok="1", output_per_mtok="2")
        when = (datetime.now(timezone.utc) + timedelta(days=30)).replace(second=0, microsecond=0, tzinfo=None)
        resp = admin.post("/admin/models/schedule/", data={"id": str(row.id), "effective_from": when.isoformat(),
                                                           "input_per_mtok": "0.5", "output_per_mtok": "1.5"},
                          follow_redirects=True)
        assert "is scheduled" in resp.text
        rows = _rows(services, slug)
        assert [(r.version, r.input_per_mtok, r.effective_from) for r in rows][1] == (2, Decimal("0.5"), when)
        page = admin.get(f"/admin/models/details/?id={row.id}").text
        assert 'id="history-table"' in page and "scheduled" in page and "in force" in page
        model = services.catalog.snapshot.models[slug]
        assert model.price_at(datetime.now(timezone.utc).timestamp()).input == Decimal("1")   # not yet
        assert model.price_at((when + timedelta(minutes=1)).replace(tzinfo=timezone.utc).timestamp()).input \
            == Decimal("0.5")
    finally:
        _cleanup(services, slug)


def test_a_scheduled_price_is_refused_in_the_past_or_without_valid_rates(admin, services):
    slug = _slug()
    try:
        row = _make(admin, services, slug, input_per_mtok="1")
        past = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
        future = (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
        for data, words in (({"effective_from": past, "input_per_mtok": "1"}, "is not in the future"),
                            ({"effective_from": "soon", "input_per_mtok": "1"}, "is a date and time"),
                            ({"effective_from": future, "input_per_mtok": "-2"}, "0 or more"),
                            ({"effective_from": future, "input_per_mtok": "NaN"}, "0 or more"),
                            ({"effective_from": future}, "at least one rate")):
            resp = admin.post("/admin/models/schedule/", data={"id": str(row.id), **data}, follow_redirects=True)
            assert f"Not scheduled" in resp.text and words in resp.text, words
        assert len(_rows(services, slug)) == 1
    finally:
        _cleanup(services, slug)


def test_retire_with_a_replacement_then_serve_again(admin, services, api_key, double):
    slug = _slug()
    try:
        row = _make(admin, services, slug, input_per_mtok="1")
        bad = admin.post("/admin/models/retire/", data={"id": str(row.id), "replacement": "openai/nope-x"},
                         follow_redirects=True)
        assert "Not retired" in bad.text and "neither a model" in bad.text
        ok = admin.post("/admin/models/retire/", data={"id": str(row.id), "replacement": "openai/gpt-4o-mini"},
                        follow_redirects=True)
        assert "is retired" in ok.text
        resp = admin.http.post("/v1/chat/completions", headers={"Authorization": f"Bearer {api_key}"},
                               json={"model": slug, "messages": [{"role": "user", "content": "hi"}]})
        assert resp.status_code == 410 and resp.json["error"]["code"] == "model_retired"
        assert "openai/gpt-4o-mini" in resp.json["error"]["message"]
        admin.post("/admin/models/retire/", data={"id": str(row.id), "restore": "1"})
        again = admin.http.post("/v1/chat/completions", headers={"Authorization": f"Bearer {api_key}"},
                                json={"model": slug, "messages": [{"role": "user", "content": "hi"}]})
        assert again.status_code == 200
        again.close()
    finally:
        _cleanup(services, slug)


def test_the_edit_form_checks_a_retired_models_replacement(admin, services):
    slug = _slug()
    try:
        row = _make(admin, services, slug)
        resp = admin.post(f"/admin/models/edit/?id={row.id}", data={
            "slug": slug, "upstream": "gpt-4o-mini", "capabilities": "", "enabled": "y", "retired": "y",
            "replacement": slug})
        assert "cannot replace itself" in resp.text
    finally:
        _cleanup(services, slug)


def test_price_file_import_checks_first_then_applies_a_new_history_row(admin, services):
    slug = _slug()
    try:
        _make(admin, services, slug, input_per_mtok="1", output_per_mtok="2")
        text = f"models:\n  - id: {slug}\n    upstream: gpt-4o-mini\n    input_per_mtok: 0.8\n    output_per_mtok: 2\n"
        check = admin.post("/admin/models/import/", data={"text": text, "mode": "check"}).text
        assert 'id="import-result"' in check and "nothing was changed" in check and "would be updated" in check
        assert len(_rows(services, slug)) == 1
        done = admin.post("/admin/models/import/", data={"text": text, "mode": "apply"}).text
        assert "Imported." in done
        rows = _rows(services, slug)
        assert [(r.version, r.input_per_mtok) for r in rows] == [(1, Decimal("1")), (2, Decimal("0.8"))]
        assert services.catalog.snapshot.models[slug].price.input == Decimal("0.8")
    finally:
        _cleanup(services, slug)


def test_price_file_import_reports_every_problem_by_line_and_only_takes_models(admin, services):
    import io
    bad = "models:\n  - id: nosuchprovider/x\n    input_per_mtok: 1\n  - id: openai/y\n    input_per_mtok: -3\n"
    page = admin.post("/admin/models/import/", data={"file": (io.BytesIO(bad.encode()), "prices.yaml"),
                                                    "mode": "apply"},
                      content_type="multipart/form-data").text
    problems = page.count("import-problem")
    assert problems >= 2 and "line 2" in page and "line 5" in page
    routes = "routes:\n  - alias: x\n    targets: [openai/gpt-4o-mini]\n"
    page = admin.post("/admin/models/import/", data={"text": routes, "mode": "apply"}).text
    assert "A price file lists models only" in page
    assert "Choose a file" in admin.post("/admin/models/import/", data={"mode": "check"}).text
    assert admin.post("/admin/models/import/", data={"text": "x: [", "mode": "check"}, csrf=False).status_code == 400


def test_the_models_list_links_the_price_import(admin):
    assert 'id="import-prices"' in admin.get("/admin/models/").text
