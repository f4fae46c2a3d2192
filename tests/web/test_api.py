"""The JSON API of `kadr serve` on the demo data (effnet-lite0), through Starlette's test client.

Expected hits come from how the data was made, not from earlier runs: the demo clip's
shot 1 films the scikit-image `coffee` photo (kadr.io.synthetic.demo_clip), photos/ holds
each photo once, a half-size re-encoded copy of `chelsea` (a duplicate) and a crop of
`coffee` (similar, not a duplicate; see kadr.index.dedup for the rules)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from tests.web.conftest import EVIL_NAME

pytest.importorskip("fastapi")


def _png(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def test_health(client, demo_data):
    h = client.get("/api/health").json()
    assert h["status"] == "ok" and h["encoder"] == "effnet-lite0"
    assert h["rows"] == 13 + 6  # 13 photos (10 samples, copy, crop, the XSS-named one) + 6 keyframes
    assert h["videos"] == 1 and h["analyses"] == 1
    assert isinstance(h["text"], bool)  # True once the table has text vectors (issue 13's columns)


def test_search_by_uploaded_image_finds_it_first(client, demo_data):
    data = (demo_data["photos"] / "rocket.jpg").read_bytes()
    r = client.post("/api/search", files={"image": ("q.jpg", data, "image/jpeg")}, data={"k": "5"})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert len(res) == 5
    assert res[0]["path"].endswith("/rocket.jpg") and res[0]["score"] > 0.999
    for key in ("id", "path", "score", "kind", "time", "shot", "thumbnail_url"):
        assert key in res[0]
    # the keyframe of the rocket shot (shot 3 of the demo clip's five photo shots: index 4 after the fade split)
    kf = [x for x in res if x["kind"] == "keyframe"]
    assert kf and kf[0]["video_url"].startswith("/video/") and kf[0]["time"] is not None
    # the upload key lets a GET (a shared URL) repeat the search
    up = r.json()["queries"]["uploads"][0]
    again = client.get(f"/api/search?upload={up}&k=5").json()["results"]
    assert [x["id"] for x in again] == [x["id"] for x in res]


def test_search_form_fields_where_and_min_score(client):
    img = _png(np.asarray(__import__("kadr.io.synthetic", fromlist=["x"]).sample_photo("coffee")))
    r = client.post("/api/search", files={"image": ("c.png", img, "image/png")},
                    data={"k": "10", "where": "kind = 'image'", "min_score": "0.5"}).json()
    assert r["results"] and all(x["kind"] == "image" and x["score"] >= 0.5 for x in r["results"])
    assert r["results"][0]["name"] == "coffee.jpg"


def test_search_by_frame_lands_on_the_coffee_shot(client, demo_data):
    # demo_clip: shot 1 (frames 40-74) films `coffee`; 2.2 s = frame 55
    r = client.get("/api/search", params={"frame": "demo.mp4@2.2s", "k": 4}).json()["results"]
    assert r[0]["kind"] == "keyframe" and 1.6 <= r[0]["time"] <= 3.0
    names = [x["name"] for x in r]
    assert "coffee.jpg" in names and "coffee_crop.jpg" in names


def test_filters_kind_video_time(client):
    r = client.get("/api/search", params={"frame": "demo.mp4@#20", "k": 20, "kind": "keyframe",
                                          "video": "demo.mp4", "t0": 2.0, "t1": 6.0}).json()
    assert r["results"] and all(x["kind"] == "keyframe" and 2.0 <= x["time"] <= 6.0 for x in r["results"])
    assert "kind = 'keyframe'" in r["where"] and "time >= 2.0" in r["where"]


def test_find_similar_by_id_and_the_search_page(client):
    first = client.get("/api/search", params={"frame": "demo.mp4@#20", "k": 1}).json()["results"][0]
    r = client.get("/api/search", params={"id": first["id"], "k": 3}).json()["results"]
    assert r[0]["id"] == first["id"] and r[0]["score"] > 0.999
    page = client.get(f"/search?id={first['id']}&k=3")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


def test_text_query_on_a_table_without_text_vectors(plain_library):
    from fastapi.testclient import TestClient

    from kadr.web.app import create_app

    c = TestClient(create_app(plain_library), base_url="http://127.0.0.1")
    assert c.get("/api/health").json()["text"] is False
    r = c.get("/api/search", params={"text": "a cat"})
    assert r.status_code == 400 and "no text vectors" in r.json()["error"]


def test_text_search_on_the_demo_table(client, library):
    """With text vectors in the table (issue 13: effnet-lite0 rows get semantic columns), words
    find the sample photo they name; combined with a frame of the coffee shot, coffee wins."""
    if not library.text_available():
        pytest.skip("this kadr's index has no text vectors for effnet-lite0 tables (issue 13 not merged)")
    r = client.get("/api/search", params={"text": "a cat", "k": 3}).json()["results"]
    assert {"chelsea.jpg", "chelsea_small_copy.jpg"} & {x["name"] for x in r}
    r = client.get("/api/search", params={"text": "a rocket launch", "k": 3, "kind": "image"}).json()["results"]
    assert r[0]["name"] == "rocket.jpg"


def test_text_search_on_a_text_capable_table(colour_library):
    from kadr.web.service import SearchQuery

    assert colour_library.text_available()
    res = colour_library.search(SearchQuery(text=["red"], k=2))["results"]
    assert res[0]["name"] == "red.png"
    blue = colour_library.search(SearchQuery(text=["blue"], k=4))["results"]
    assert blue[0]["name"] == "blue.png"
    # combined: the words "blue" and the blue picture's id, and with max each row keeps its best score
    both = colour_library.search(SearchQuery(text=["blue"], id=[blue[0]["id"]], k=2))["results"]
    assert both[0]["name"] == "blue.png"
    mx = colour_library.search(SearchQuery(text=["red", "green"], k=2, combine="max"))["results"]
    assert {r["name"] for r in mx} == {"red.png", "green.png"}


@pytest.mark.parametrize("body,status,words", [
    (b"not a picture at all", 422, "not a picture"),
    (b"", 400, "empty"),
])
def test_bad_uploads(client, body, status, words):
    r = client.post("/api/search", files={"image": ("x.png", body, "image/png")})
    assert r.status_code == status and words in r.json()["error"]
    assert "Traceback" not in r.text


def test_oversized_upload_is_refused(library):
    from fastapi.testclient import TestClient

    from kadr.web.app import create_app
    from kadr.web.service import Library, ServeOptions

    small = Library(library.index, library.catalog, thumbs=library.thumbs, options=ServeOptions(max_upload_mb=0.01))
    c = TestClient(create_app(small), base_url="http://127.0.0.1")
    r = c.post("/api/search", files={"image": ("big.png", b"\0" * 200_000, "image/png")})
    assert r.status_code == 413 and "larger than" in r.json()["error"]

    def chunks():  # chunked transfer: no Content-Length to check up front
        yield b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.png\"\r\n\r\n"
        for _ in range(100):
            yield b"\0" * 10_000
        yield b"\r\n--b--\r\n"

    r = c.post("/api/search", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 413 and "larger than" in r.json()["error"]


def test_unknown_routes_and_bad_parameters(client):
    r = client.get("/api/nothing")
    assert r.status_code == 404 and "error" in r.json()
    r = client.get("/nothing")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"] and "Error 404" in r.text
    r = client.get("/api/search?frame=demo.mp4@1s&k=zero")
    assert r.status_code == 400 and "k" in r.json()["error"]
    r = client.get("/api/search?frame=other.mp4@1s")
    assert r.status_code == 400 and "not a video of the index" in r.json()["error"]
    r = client.get("/api/search?frame=demo.mp4@1s&min_score=nan")
    assert r.status_code == 400


def test_where_with_quotes_is_an_error_message_not_a_crash(client):
    w = "source = 'it''s <b>' AND kind = \"image"
    r = client.get("/api/search", params={"frame": "demo.mp4@1s", "where": w})
    assert r.status_code == 400 and "malformed --where" in r.json()["error"]
    # a valid filter with quotes and markup characters works
    r = client.get("/api/search", params={"frame": "demo.mp4@1s", "where": "source LIKE '%onerror%'"}).json()
    assert [x["name"] for x in r["results"]] == [EVIL_NAME]


def test_html_error_pages_escape_what_the_user_typed(client):
    r = client.get("/video/<script>alert(1)</script>")
    assert r.status_code == 404 and "<script>alert(1)</script>" not in r.text


def test_no_traceback_on_internal_errors(library):
    from fastapi.testclient import TestClient

    from kadr.web.app import create_app

    class Broken(type(library)):
        def videos(self):
            raise RuntimeError("boom: secret internals")

    broken = Broken(library.index, library.catalog, thumbs=library.thumbs)
    c = TestClient(create_app(broken), base_url="http://127.0.0.1", raise_server_exceptions=False)
    for url in ("/api/videos", "/videos"):
        r = c.get(url)
        assert r.status_code == 500 and "Traceback" not in r.text and "secret internals" not in r.text


def test_media_serves_listed_files_with_ranges(client, demo_data):
    v = client.get("/api/videos").json()["videos"][0]
    media = client.get(f"/api/videos/{v['id']}").json()["media_url"]
    raw = demo_data["clip"].read_bytes()
    r = client.get(media, headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == raw[100:200]
    assert r.headers["content-range"] == f"bytes 100-199/{len(raw)}"
    for bad in ("/media/0000000000000000", "/media/..%2F..%2Fetc%2Fpasswd", "/media/../../etc/passwd"):
        r = client.get(bad)
        assert r.status_code == 404, bad


def test_thumbnails_are_made_once(client, library):
    hit = client.get("/api/search", params={"frame": "demo.mp4@#100", "k": 3}).json()["results"]
    for h in hit:
        r = client.get(h["thumbnail_url"])
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content[:2] == b"\xff\xd8"
    made = library.thumbs.made
    for h in hit:
        client.get(h["thumbnail_url"])
    assert library.thumbs.made == made


def test_video_analysis_and_heat_map(client, demo_data):
    v = client.get("/api/videos").json()["videos"][0]
    d = client.get(f"/api/videos/{v['id']}").json()
    a = d["analysis"]
    truth = json.loads((demo_data["analysis"] / "shots.json").read_text())
    assert len(a["shots"]) == len(truth["shots"]) and a["has_scores"]
    assert [t["type"] for t in a["transitions"]] == [t["type"] for t in truth["transitions"]]
    kfs = [k for s in a["shots"] for k in s["keyframes"]]
    assert all(k["thumbnail_url"] and k["similar_url"] for k in kfs)
    assert any(k["labels"] for k in kfs)  # effnet-lite0 labelled the photo shots
    sim = client.get(f"/api/videos/{v['id']}/similarity").json()
    m = np.asarray(sim["matrix"])
    assert m.shape == (len(kfs), len(kfs))
    np.testing.assert_allclose(np.diag(m), 1.0, atol=1e-3)
    np.testing.assert_allclose(m, m.T, atol=1e-4)
    r = client.get(kfs[0]["thumbnail_url"])
    assert r.status_code == 200 and r.content[:2] == b"\xff\xd8"
    page = client.get(f"/video/{v['id']}")
    assert page.status_code == 200 and "<svg" in page.text  # timeline and score plot of kadr.report


def test_duplicates_apart_from_similar(client):
    d = client.get("/api/duplicates").json()
    dup_sets = [{i["name"] for i in g["items"]} for g in d["duplicates"]]
    assert any({"chelsea.jpg", "chelsea_small_copy.jpg"} <= s for s in dup_sets)
    assert any({"brick.jpg", EVIL_NAME} <= s for s in dup_sets)
    assert not any("coffee_crop.jpg" in s for s in dup_sets)
    sim_sets = [{i["name"] for i in g["items"]} for g in d["similar"]]
    assert any({"coffee.jpg", "coffee_crop.jpg"} <= s for s in sim_sets)
    assert all(i["thumbnail_url"] for g in d["duplicates"] for i in g["items"])


def test_openapi_lists_the_stable_routes(client):
    spec = client.get("/api/openapi.json").json()
    paths = spec["paths"]
    assert "get" in paths["/api/health"] and "post" in paths["/api/search"] and "get" in paths["/api/search"]
    body = paths["/api/search"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in body
    ref = body["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]
    props = spec["components"]["schemas"][ref]["properties"]
    for field in ("image", "k", "where", "min_score"):
        assert field in props
    assert "422" not in json.dumps(paths) and "400" in paths["/api/search"]["get"]["responses"]


def test_security_headers_and_host_guard(client):
    r = client.get("/search")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    r = client.get("/api/health", headers={"host": "evil.example:8750"})
    assert r.status_code == 403


def test_token(library):
    from fastapi.testclient import TestClient

    from kadr.web.app import create_app

    c = TestClient(create_app(library, token="s3cret"), base_url="http://127.0.0.1")
    assert c.get("/api/health").status_code == 401
    assert c.get("/api/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get("/api/health", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    r = c.get("/search?token=s3cret&k=3", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/search?k=3"
    assert c.get("/api/health").status_code == 200  # the cookie now carries it


def test_one_stylesheet_for_report_and_pages(client, demo_data):
    from kadr.report.html import stylesheet

    css = client.get("/static/kadr.css").text
    assert css == stylesheet()
    report = (demo_data["analysis"] / "report.html").read_text()
    assert css.strip() in report


def test_events_hub_from_a_pipe(library):
    import os
    import threading

    from kadr.web.events import EventHub, pump

    hub = EventHub(enrich=library.enrich_event)
    r, w = os.pipe()
    reader = os.fdopen(r, "r")
    t = threading.Thread(target=pump, args=(reader, hub), daemon=True)
    t.start()
    with os.fdopen(w, "w") as f:
        f.write('{"kind": "query", "name": "a.png", "start": 1.0, "end": 2.0, "peak_score": 0.8}\n')
        f.write("not json\n\n")
        f.write('{"stats": {"frames": 10}}\n')
    t.join(5)
    got = [e for _, e in hub.since(0)]
    assert got[0]["name"] == "a.png" and got[1] == {"stats": {"frames": 10}} and got[2]["type"] == "end"
    assert hub.bad_lines == 1


def test_indexed_video_without_analysis(library, tmp_path):
    """Without --videos the video page still has the player, the indexed keyframes and a heat map."""
    from fastapi.testclient import TestClient

    from kadr.web.app import create_app
    from kadr.web.catalog import Catalog
    from kadr.web.service import Library
    from kadr.web.thumbs import ThumbnailCache

    lib = Library(library.index, Catalog(library.index), thumbs=ThumbnailCache(tmp_path))
    c = TestClient(create_app(lib), base_url="http://127.0.0.1")
    v = c.get("/api/videos").json()["videos"]
    assert len(v) == 1 and v[0]["analysed"] is False and v[0]["indexed"] is True
    d = c.get(f"/api/videos/{v[0]['id']}").json()
    assert d["analysis"] is None and len(d["keyframes"]) == 6
    assert all(k["video_url"] and k["thumbnail_url"] for k in d["keyframes"])
    r = c.get(d["keyframes"][2]["thumbnail_url"])  # decoded from the video (no analysis JPEG)
    assert r.status_code == 200 and r.content[:2] == b"\xff\xd8"
    sim = np.asarray(c.get(f"/api/videos/{v[0]['id']}/similarity").json()["matrix"])
    assert sim.shape == (6, 6)
    assert c.get(f"/video/{v[0]['id']}").status_code == 200


def test_symlink_swapped_in_after_indexing_is_not_served(tmp_path):
    """An indexed file later replaced by a symlink to a file nobody listed: 404, not its bytes."""
    from fastapi.testclient import TestClient
    from PIL import Image

    from kadr.index import Index
    from kadr.io.synthetic import sample_photo
    from kadr.web.app import create_app
    from kadr.web.catalog import Catalog
    from kadr.web.service import Library
    from kadr.web.thumbs import ThumbnailCache
    from tests.web.conftest import GreyThumb

    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(sample_photo("camera")).save(photos / "camera.png")
    idx = Index(tmp_path / "db", GreyThumb())
    idx.add([photos], progress=False)
    lib = Library(idx, Catalog(idx), thumbs=ThumbnailCache(None))
    c = TestClient(create_app(lib), base_url="http://127.0.0.1")
    hit = c.get("/api/search", params={"id": idx.store.rows(idx.encoder_name, columns=["id"]).column("id")[0].as_py(),
                                       "k": 1}).json()["results"][0]
    assert c.get(hit["media_url"]).status_code == 200
    secret = tmp_path / "secret.txt"
    secret.write_text("private")
    (photos / "camera.png").unlink()
    (photos / "camera.png").symlink_to(secret)
    r = c.get(hit["media_url"])
    assert r.status_code == 404 and b"private" not in r.content
    assert c.get(hit["thumbnail_url"]).status_code == 404


def test_heat_map_of_many_keyframes_compares_shots(library, monkeypatch):
    import kadr.web.service as svc

    v = library.videos()["videos"][0]
    monkeypatch.setattr(svc, "MAX_HEATMAP_KEYFRAMES", 3)
    library._sim.clear()
    try:
        sim = library.similarity(v["id"])
    finally:
        library._sim.clear()
    assert sim["granularity"] == "shot" and len(sim["keyframes"]) == 6  # one keyframe per shot in the demo
    np.testing.assert_allclose(np.diag(np.asarray(sim["matrix"])), 1.0, atol=1e-3)


def test_watch_inside_the_server(library, demo_data):
    """--watch SOURCE: the database's items found in the demo clip, one event per photo shot."""
    from kadr.web.events import EventHub, start_watch

    hub = EventHub(enrich=library.enrich_event)
    start_watch(str(demo_data["db"]), "effnet-lite0", str(demo_data["clip"]), hub).join(120)
    evs = [e for _, e in hub.since(0)]
    db = [e for e in evs if e.get("kind") == "db"]
    assert len(db) >= 4 and all(e["item"]["thumbnail_url"] for e in db)
    assert any("stats" in e for e in evs) and evs[-1]["type"] == "end" and hub.ended
    hub2 = EventHub()
    start_watch(str(demo_data["db"]), "effnet-lite0", str(demo_data["root"] / "missing.mp4"), hub2).join(60)
    assert [e for _, e in hub2.since(0)][0]["type"] == "error"


def test_damaged_or_hostile_analysis(tmp_path, demo_data):
    """A shots.json with markup in its values, or missing fields: escaped or one clear error."""
    import shutil

    from fastapi.testclient import TestClient

    from kadr.web.app import create_app
    from kadr.web.catalog import Catalog
    from kadr.web.service import Library
    from kadr.web.thumbs import ThumbnailCache

    d = tmp_path / "an"
    d.mkdir()
    shutil.copy(demo_data["clip"], tmp_path / "demo.mp4")
    shots = json.loads((demo_data["analysis"] / "shots.json").read_text())
    shots["video"] = "demo.mp4"
    shots["detector"] = "<script>alert(1)</script>"
    shots["transitions"][0]["type"] = "<img src=x onerror=alert(1)>"
    (d / "shots.json").write_text(json.dumps(shots))
    lib = Library(None, Catalog(None, [tmp_path]), thumbs=ThumbnailCache(None))
    c = TestClient(create_app(lib), base_url="http://127.0.0.1")
    vid = c.get("/api/videos").json()["videos"][0]["id"]
    page = c.get(f"/video/{vid}")
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text
    del shots["shots"][0]["start_frame"]
    (d / "shots.json").write_text(json.dumps(shots))
    lib2 = Library(None, Catalog(None, [tmp_path]), thumbs=ThumbnailCache(None))
    r = TestClient(create_app(lib2), base_url="http://127.0.0.1").get(f"/api/videos/{vid}")
    assert r.status_code == 400 and "damaged" in r.json()["error"]
