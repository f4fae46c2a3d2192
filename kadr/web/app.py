"""The ASGI app of ``kadr serve`` (FastAPI on Starlette; Jinja2 pages; plain JavaScript).

Pages: ``/search``, ``/video/{id}``, ``/videos``, ``/duplicates``, ``/live``. JSON API under
``/api`` (schema at ``/api/openapi.json``), used by the pages themselves. Files only by key
(see :mod:`kadr.web.catalog`). Every error is a short message: JSON ``{"error": ...}`` under
``/api``, an HTML page elsewhere; tracebacks go to the server's log only.
"""


import asyncio
import hmac
import logging
import sys
import traceback
from importlib.resources import files
from typing import Any

from kadr.errors import DecodeError, InputError, KadrError, SourceNotFoundError
from kadr.web.catalog import NotListedError
from kadr.web.events import EventHub, sse_format
from kadr.web.service import DEFAULT_K, Library, SearchQuery

log = logging.getLogger("kadr.serve")

#: Content-Security-Policy of every response: scripts only from this server (no inline
#: script, no eval), nothing from elsewhere; uploads show as blob: previews.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "form-action 'self'")

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
TOKEN_COOKIE = "kadr_token"


def _status_of(exc: Exception) -> int:
    if isinstance(exc, (NotListedError, SourceNotFoundError)):
        return 404
    if isinstance(exc, DecodeError):
        return 422
    return 400


def create_app(library: Library, *, events: EventHub | None = None, token: str | None = None,
               allowed_hosts: tuple[str, ...] | None = LOCAL_HOSTS) -> Any:
    """The app. ``allowed_hosts``: Host header names accepted (DNS-rebinding guard; None =
    any, for ``--allow-remote``). ``token``: required on every request when given (header
    ``Authorization: Bearer T``, or ``?token=T`` once, which sets a cookie)."""
    from fastapi import FastAPI, File, Form, Query, Request, UploadFile
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
    from jinja2 import Environment, PackageLoader, select_autoescape
    from starlette.exceptions import HTTPException as StarletteHTTPException

    import kadr
    from kadr.report.html import stylesheet

    env = Environment(loader=PackageLoader("kadr.web", "templates"), autoescape=select_autoescape(["html"]))
    static = files("kadr.web").joinpath("static")
    css = stylesheet()
    hub = events
    lib = library
    max_body = int(lib.options.max_upload_mb * 1e6) + 64 * 1024  # the file plus the other form fields

    app = FastAPI(title="kadr serve", version=kadr.__version__, openapi_url="/api/openapi.json",
                  docs_url=None, redoc_url=None,
                  description="Search a kadr database and browse analysed videos. The pages of this server use "
                              "exactly this API. Errors: HTTP 4xx/5xx with {\"error\": message}.")

    # ---- rendering helpers -----------------------------------------------------------------
    def page(name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        nav = ctx.pop("nav", name.split(".")[0])
        html = env.get_template(name).render(nav=nav, health=_health_safe(), **ctx)
        return HTMLResponse(html, status_code=status)

    def _health_safe() -> dict:
        try:
            return lib.health()
        except KadrError:
            return {"db": None, "rows": 0, "encoder": None, "text": False}

    def error_response(request: Request, status: int, message: str) -> Response:
        if request.url.path.startswith("/api/") or request.url.path.startswith("/thumb/") \
                or request.url.path.startswith("/media/"):
            return JSONResponse({"error": message, "status": status}, status_code=status)
        return page("error.html", status=status, message=message, code=status, nav="")

    # ---- errors: never a traceback to the browser -------------------------------------------
    @app.exception_handler(KadrError)
    async def _kadr_error(request: Request, exc: KadrError):
        return error_response(request, _status_of(exc), str(exc))

    @app.exception_handler(RequestValidationError)
    async def _bad_params(request: Request, exc: RequestValidationError):
        parts = []
        for e in exc.errors()[:3]:
            loc = ".".join(str(x) for x in e.get("loc", [])[1:]) or "request"
            parts.append(f"{loc}: {e.get('msg', 'invalid')}")
        return error_response(request, 400, "bad request: " + "; ".join(parts))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        msg = {404: f"no page or API route {request.url.path!r}; see /api/openapi.json",
               405: f"method {request.method} is not allowed on {request.url.path!r}"}.get(exc.status_code,
                                                                                        str(exc.detail))
        return error_response(request, exc.status_code, msg)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):
        log.error("internal error on %s %s\n%s", request.method, request.url.path,
                  "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        return error_response(request, 500, "internal error; the details are in the server's log")

    # ---- security middleware ----------------------------------------------------------------
    @app.middleware("http")
    async def _guard(request: Request, call_next):
        if allowed_hosts is not None:
            host = host_name(request.headers.get("host") or "")
            if host not in allowed_hosts:
                return JSONResponse({"error": f"host {host!r} is not served (this server answers on localhost only; "
                                              "start it with --allow-remote to serve other names)", "status": 403},
                                    status_code=403)
        if token:
            given = request.cookies.get(TOKEN_COOKIE) or ""
            auth = request.headers.get("authorization") or ""
            if auth.lower().startswith("bearer "):
                given = auth[7:].strip()
            qtok = request.query_params.get("token")
            if qtok is not None and hmac.compare_digest(qtok.encode(), token.encode()):
                target = request.url.remove_query_params("token")
                resp = RedirectResponse(str(target.path) + (f"?{target.query}" if target.query else ""), 303)
                resp.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
                return resp
            if not hmac.compare_digest(given.encode(), token.encode()):
                return error_response(request, 401, "this server needs its token: open the URL it printed "
                                                    "(…?token=…) or send 'Authorization: Bearer TOKEN'")
        if request.method == "POST":
            try:
                n = int(request.headers.get("content-length") or 0)
            except ValueError:
                n = 0
            if n > max_body:
                return error_response(request, 413, f"the upload is larger than {lib.options.max_upload_mb:g} MB")
        resp = await call_next(request)
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        return resp

    async def _read_upload(up: UploadFile) -> bytes:
        """The upload's bytes, refused past the size limit while reading (chunked uploads too)."""
        limit = int(lib.options.max_upload_mb * 1e6)
        chunks, n = [], 0
        while True:
            b = await up.read(1 << 16)
            if not b:
                break
            n += len(b)
            if n > limit:
                raise _TooLarge(f"the upload is larger than {lib.options.max_upload_mb:g} MB")
            chunks.append(b)
        return b"".join(chunks)

    @app.exception_handler(_TooLarge)
    async def _too_large(request: Request, exc: _TooLarge):
        return error_response(request, 413, str(exc))

    # ---- pages ------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def index_page():
        return RedirectResponse("/search", 302)

    @app.get("/search", include_in_schema=False, response_class=HTMLResponse)
    def search_page():
        return page("search.html", default_k=DEFAULT_K)

    @app.get("/videos", include_in_schema=False, response_class=HTMLResponse)
    def videos_page():
        return page("videos.html", videos=lib.videos()["videos"])

    @app.get("/video/{key}", include_in_schema=False, response_class=HTMLResponse)
    def video_page(key: str):
        v = lib.video(key)
        return page("video.html", nav="videos", video=v, charts=lib.video_charts(key))

    @app.get("/video/{key}/report", include_in_schema=False)
    def video_report(key: str):
        return FileResponse(lib.report_file(key), media_type="text/html")

    @app.get("/duplicates", include_in_schema=False, response_class=HTMLResponse)
    def duplicates_page():
        return page("duplicates.html")

    @app.get("/live", include_in_schema=False, response_class=HTMLResponse)
    def live_page():
        return page("live.html", events_source=hub.source if hub else None)

    @app.get("/static/kadr.css", include_in_schema=False)
    def css_file():
        return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=300"})

    @app.get("/static/{name}", include_in_schema=False)
    def static_file(name: str):
        if "/" in name or "\\" in name or name.startswith(".") or not name.endswith((".js", ".svg")):
            raise NotListedError("no such asset")
        f = static.joinpath(name)
        if not f.is_file():
            raise NotListedError("no such asset")
        mt = "text/javascript" if name.endswith(".js") else "image/svg+xml"
        return Response(f.read_bytes(), media_type=mt, headers={"Cache-Control": "max-age=300"})

    # ---- files ------------------------------------------------------------------------------
    @app.get("/thumb/{item_id}", include_in_schema=False)
    def thumb(item_id: str):
        return Response(lib.thumbnail(item_id), media_type="image/jpeg",
                        headers={"Cache-Control": "max-age=3600"})

    @app.get("/media/{key}", include_in_schema=False)
    def media(key: str):
        """The listed file itself; HTTP range requests are honoured (the player seeks)."""
        return FileResponse(lib.catalog.file(key))

    # ---- API --------------------------------------------------------------------------------
    @app.get("/api/health", tags=["info"])
    def health() -> dict:
        """Server and database facts: rows, encoder, whether text search works, videos, analyses."""
        out = lib.health()
        out["events"] = {"source": hub.source, "received": hub.seq, "ended": hub.ended} if hub else None
        return out

    def _query(text, frame, id_, upload, k, min_score, where, kind, video, t0, t1, combine) -> SearchQuery:
        return SearchQuery(text=list(text or []), frame=list(frame or []), id=list(id_ or []),
                           upload=list(upload or []), k=k, min_score=min_score, where=where or None,
                           kind=kind or None, video=video or None, t0=t0, t1=t1, combine=combine)

    @app.get("/api/search", tags=["search"])
    def search_get(text: list[str] = Query(default=[], description="text query (tables with text vectors)"),
                   frame: list[str] = Query(default=[], description="a video frame: clip.mp4@12.5s or clip.mp4@#300"),
                   id: list[str] = Query(default=[], description="id of an indexed item: items similar to it"),
                   upload: list[str] = Query(default=[], description="key of an image uploaded before (POST)"),
                   k: int = Query(DEFAULT_K, description="number of results"),
                   min_score: float | None = Query(None, description="drop results below this cosine"),
                   where: str | None = Query(None, description="SQL filter on any column, as `kadr search --where`"),
                   kind: str | None = Query(None, description="image | keyframe | frame"),
                   video: str | None = Query(None, description="only rows of this video (path or unique name)"),
                   t0: float | None = Query(None, description="only rows at or after this time (s)"),
                   t1: float | None = Query(None, description="only rows at or before this time (s)"),
                   combine: str = Query("mean", description="mean | max: how several queries combine")) -> dict:
        """Search by text, frame, item id or a previously uploaded image (combined).
        Returns {"results": [{"id", "path", "score", "kind", "time", "shot", "thumbnail_url", ...}]}."""
        return lib.search(_query(text, frame, id, upload, k, min_score, where, kind, video, t0, t1, combine))

    @app.post("/api/search", tags=["search"])
    async def search_post(image: list[UploadFile] = File(default=[], description="query image(s); checked by decoding"),
                          k: int = Form(DEFAULT_K), where: str | None = Form(None),
                          min_score: float | None = Form(None), text: list[str] = Form(default=[]),
                          frame: list[str] = Form(default=[]), id: list[str] = Form(default=[]),
                          upload: list[str] = Form(default=[]), kind: str | None = Form(None),
                          video: str | None = Form(None), t0: float | None = Form(None),
                          t1: float | None = Form(None), combine: str = Form("mean")) -> dict:
        """Search by an uploaded image (multipart field ``image``), optionally combined with
        the other queries. The response's ``queries.uploads`` holds a key that
        ``GET /api/search?upload=KEY`` accepts afterwards (so a URL can be shared and reloaded)."""
        q = _query(text, frame, id, upload, k, min_score, where, kind, video, t0, t1, combine)
        q.images = [await _read_upload(f) for f in image if f is not None]
        return await asyncio.to_thread(lib.search, q)

    @app.get("/api/items/{item_id}", tags=["search"])
    def item(item_id: str) -> dict:
        """One indexed row (every column but the vector) with its URLs."""
        return lib.item(item_id)

    @app.get("/api/duplicates", tags=["duplicates"])
    def duplicates(where: str | None = None, near_cosine: float | None = None, similar_cosine: float | None = None,
                   max_hamming: int | None = None, limit: int = 200) -> dict:
        """``kadr dedup --json``: duplicate groups apart from merely similar ones, with thumbnails."""
        return lib.duplicates(where=where, near_cosine=near_cosine, similar_cosine=similar_cosine,
                              max_hamming=max_hamming, limit=limit)

    @app.get("/api/videos", tags=["videos"])
    def videos() -> dict:
        """Every video the index or an analysis lists."""
        return lib.videos()

    @app.get("/api/videos/{key}", tags=["videos"])
    def video(key: str) -> dict:
        """A video's analysis (``kadr analyse``'s shots.json) and its indexed keyframes."""
        return lib.video(key)

    @app.get("/api/videos/{key}/similarity", tags=["videos"])
    def similarity(key: str) -> dict:
        """Keyframe × keyframe cosine similarity (the heat map)."""
        return lib.similarity(key)

    @app.get("/api/videos/{key}/keyframes/{frame}.jpg", tags=["videos"])
    def keyframe(key: str, frame: int):
        """Thumbnail of a keyframe written by ``kadr analyse``."""
        return Response(lib.keyframe_jpeg(key, frame), media_type="image/jpeg",
                        headers={"Cache-Control": "max-age=3600"})

    @app.get("/api/events/recent", tags=["live"])
    def events_recent(after: int = 0) -> dict:
        """The kept history of live events (``kadr watch --json-lines`` objects) after ``after``."""
        if hub is None:
            return {"source": None, "events": [], "seq": 0, "ended": False}
        return {"source": hub.source, "seq": hub.seq, "ended": hub.ended,
                "events": [{"seq": s, **e} for s, e in hub.since(int(after))]}

    @app.get("/api/events", tags=["live"])
    async def events_stream(request: Request):
        """Server-sent events: each ``kadr watch`` event as it arrives (``id`` = its number;
        reconnecting with ``Last-Event-ID`` resumes)."""
        try:
            last = int(request.headers.get("last-event-id") or request.query_params.get("after") or 0)
        except ValueError:
            last = 0

        async def gen():
            seq = last
            yield "retry: 2000\n\n"
            if hub is None:
                yield sse_format(0, {"type": "info", "message": "this server has no event source; "
                                                                 "start it with --events - or --events FILE"})
                return
            while True:
                if await request.is_disconnected():
                    return
                new = await hub.wait(seq, 10.0)
                if not new:
                    yield ": keep-alive\n\n"
                for s, e in new:
                    seq = s
                    yield sse_format(s, e)

        return StreamingResponse(gen(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    app.add_middleware(_BodyLimit, limit=max_body, label=f"{lib.options.max_upload_mb:g} MB")

    def openapi() -> dict:
        """FastAPI's schema, with the error responses this app really sends: 400 (not 422)
        for bad parameters, each {"error": message}."""
        if app.openapi_schema:
            return app.openapi_schema
        from fastapi.openapi.utils import get_openapi

        spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        err = {"description": "error: {\"error\": message, \"status\": code}",
               "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        for ops in spec.get("paths", {}).values():
            for op in ops.values():
                resp = op.setdefault("responses", {})
                resp.pop("422", None)
                resp.setdefault("400", err)
                resp.setdefault("404", err)
        comps = spec.setdefault("components", {}).setdefault("schemas", {})
        comps["Error"] = {"type": "object", "required": ["error"],
                          "properties": {"error": {"type": "string"}, "status": {"type": "integer"}}}
        comps.pop("HTTPValidationError", None)
        comps.pop("ValidationError", None)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi
    return app


def host_name(header: str) -> str:
    """The name part of a Host header: ``127.0.0.1:8750`` → ``127.0.0.1``, ``[::1]:80`` → ``[::1]``."""
    h = header.strip().lower()
    if h.startswith("["):
        return h.split("]", 1)[0] + "]"
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


class _TooLarge(Exception):
    """An upload past ``ServeOptions.max_upload_mb`` (HTTP 413)."""


class _BodyLimit:
    """ASGI middleware: a request body (chunked uploads too, which carry no Content-Length) is
    read up to ``limit`` bytes before the app sees it; one byte more and the answer is 413,
    before anything is parsed or spooled to disk. Memory held: at most ``limit``."""

    def __init__(self, app, limit: int, label: str):
        self.app = app
        self.limit = int(limit)
        self.label = label

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        chunks, seen, more = [], 0, True
        while more:
            msg = await receive()
            if msg.get("type") != "http.request":  # the client went away
                return
            body = msg.get("body", b"")
            seen += len(body)
            if seen > self.limit:
                import json

                data = json.dumps({"error": f"the upload is larger than {self.label}",
                                   "status": 413}).encode()
                await send({"type": "http.response.start", "status": 413,
                            "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                                        (b"content-length", str(len(data)).encode())]})
                await send({"type": "http.response.body", "body": data})
                return
            chunks.append(body)
            more = msg.get("more_body", False)
        replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def again():
            return replay.pop() if replay else await receive()

        await self.app(scope, again, send)


def configure_logging(level: int = logging.WARNING) -> None:
    h = logging.StreamHandler(sys.stderr)
    h.setFormatter(logging.Formatter("kadr serve: %(levelname)s: %(message)s"))
    log.addHandler(h)
    log.setLevel(level)
    log.propagate = False


__all__ = ["create_app", "CSP", "configure_logging", "InputError"]
