//! Which request gets what: authentication first, then the route table of
//! docs/API.md. Routes that change state take POST and, when a browser sent
//! them, only from kv's own pages.

use std::time::Instant;

use super::request::{Method, Request};
use super::response::Response;
use super::{assets, Status};
use crate::app::App;
use crate::json::Value;
use crate::video::Mode;
use crate::ws;

/// What the connection does next.
pub enum Action {
    Respond(Response),
    /// Become an MJPEG viewer.
    Stream,
    /// Answer with the next fresh frame.
    Snapshot,
    /// Switch to WebSocket, answering with this `Sec-WebSocket-Accept`.
    Upgrade(String),
}

pub fn handle(req: &Request, body: &[u8], app: &mut App, now: Instant) -> Action {
    if let Some(creds) = &app.config.credentials {
        if !creds.check(req.header("authorization")) {
            return Action::Respond(
                Response::error(
                    Status::Unauthorized,
                    "log in: this kv requires a user and password",
                )
                .header("WWW-Authenticate", "Basic realm=\"kv\", charset=\"UTF-8\""),
            );
        }
    }
    let read_only = matches!(req.method, Method::Get | Method::Head);
    match req.path.as_str() {
        "/stream" if read_only => Action::Stream,
        "/snapshot.jpg" if read_only => Action::Snapshot,
        "/ws" if req.method == Method::Get => upgrade(req),
        "/api/status" if read_only => {
            Action::Respond(Response::json(Status::Ok, app.status_json(now)))
        }
        "/api/demo/screen" if read_only => match &app.demo {
            Some(demo) => Action::Respond(Response::new(
                Status::Ok,
                "text/plain; charset=utf-8",
                demo.console_text().into_bytes(),
            )),
            None => Action::Respond(Response::error(
                Status::NotFound,
                "/api/demo/screen exists only with --demo",
            )),
        },
        "/api/video/mode" if req.method == Method::Post => {
            Action::Respond(post(req, app, now, set_mode(body)))
        }
        "/api/hid/layout" if req.method == Method::Post => {
            Action::Respond(post(req, app, now, set_layout(body)))
        }
        "/api/hid/release" if req.method == Method::Post => {
            Action::Respond(post(req, app, now, release()))
        }
        "/stream" | "/snapshot.jpg" | "/api/status" | "/api/demo/screen" => {
            not_allowed("GET, HEAD")
        }
        "/ws" => not_allowed("GET"),
        "/api/video/mode" | "/api/hid/release" | "/api/hid/layout" => not_allowed("POST"),
        path => match assets::find(path) {
            Some(_) if !read_only => not_allowed("GET, HEAD"),
            Some(asset) if req.header("if-none-match") == Some(asset.etag) => Action::Respond(
                Response::new(Status::NotModified, asset.mime, Vec::new())
                    .header("ETag", asset.etag),
            ),
            Some(asset) => Action::Respond(
                Response::new(Status::Ok, asset.mime, asset.body.to_vec())
                    .header("ETag", asset.etag)
                    .header("Cache-Control", "no-cache"),
            ),
            None => Action::Respond(Response::error(
                Status::NotFound,
                &format!("no such page: {path}"),
            )),
        },
    }
}

fn not_allowed(allow: &'static str) -> Action {
    Action::Respond(
        Response::error(
            Status::MethodNotAllowed,
            &format!("method not allowed; use {allow}"),
        )
        .header("Allow", allow),
    )
}

/// Whether a browser's `Origin` (or, lacking it, `Referer`) is kv itself:
/// `http(s)://<Host>`.
fn same_origin(req: &Request) -> bool {
    let Some(host) = req.header("host") else {
        return false;
    };
    let origin = req.header("origin").or_else(|| req.header("referer"));
    let Some(origin) = origin else { return false };
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    let authority = rest.split('/').next().unwrap_or("");
    authority.eq_ignore_ascii_case(host)
}

/// A state-changing request runs only when no browser could have been tricked
/// into sending it: a foreign page's form posts have a form content type, and
/// its scripts carry a foreign `Origin`.
type Handler = Box<dyn FnOnce(&mut App, Instant) -> Response>;

fn post(req: &Request, app: &mut App, now: Instant, run: Handler) -> Response {
    let content_type = req.header("content-type").unwrap_or("");
    let form = [
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "text/plain",
    ];
    if form
        .iter()
        .any(|f| content_type.to_ascii_lowercase().starts_with(f))
    {
        return Response::error(
            Status::UnsupportedMediaType,
            "send JSON (Content-Type: application/json)",
        );
    }
    let from_browser = req.header("origin").is_some() || req.header("referer").is_some();
    if from_browser && !same_origin(req) {
        return Response::error(
            Status::Forbidden,
            "cross-site request refused: Origin does not match Host",
        );
    }
    run(app, now)
}

fn set_mode(body: &[u8]) -> Handler {
    let parsed = std::str::from_utf8(body)
        .map_err(|_| "body is not UTF-8".to_string())
        .and_then(Value::parse);
    Box::new(move |app, now| {
        let field = |v: &Value, name: &str| {
            v.get(name)
                .and_then(Value::as_i64)
                .filter(|n| (1..=8192).contains(n))
        };
        let mode = parsed.ok().and_then(|v| {
            let (w, h) = (field(&v, "width")?, field(&v, "height")?);
            let fps = field(&v, "fps").unwrap_or(app.source.info().mode.fps as i64);
            Some(Mode {
                width: w as u32,
                height: h as u32,
                fps: fps as u32,
            })
        });
        let Some(mode) = mode else {
            return Response::error(
                Status::BadRequest,
                "body must be JSON like {\"width\":1280,\"height\":720,\"fps\":30}",
            );
        };
        match app.set_mode(mode, now) {
            Ok(()) => {
                log::info!("📐 Resolution: {mode}");
                Response::ok_json()
            }
            Err(e) => Response::error(Status::BadRequest, &e),
        }
    })
}

fn set_layout(body: &[u8]) -> Handler {
    let name = std::str::from_utf8(body)
        .ok()
        .and_then(|text| Value::parse(text).ok())
        .and_then(|v| v.get("layout").and_then(Value::as_str).map(str::to_string));
    Box::new(move |app, _now| {
        let Some(name) = name else {
            return Response::error(
                Status::BadRequest,
                "body must be JSON like {\"layout\":\"de\"}",
            );
        };
        match app.hid.set_layout(&name) {
            Ok(()) => Response::ok_json(),
            Err(e) => Response::error(Status::BadRequest, &e),
        }
    })
}

fn release() -> Handler {
    Box::new(|app, now| {
        app.hid.release_all(now);
        Response::ok_json()
    })
}

fn upgrade(req: &Request) -> Action {
    let refuse = |status, reason: &str| Action::Respond(Response::error(status, reason));
    if !req
        .header("upgrade")
        .is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
        || !req.header_has("connection", "upgrade")
    {
        return refuse(Status::BadRequest, "/ws expects a WebSocket upgrade");
    }
    if req.header("sec-websocket-version") != Some("13") {
        return refuse(Status::BadRequest, "only WebSocket version 13 is supported");
    }
    let Some(key) = req.header("sec-websocket-key").filter(|k| !k.is_empty()) else {
        return refuse(Status::BadRequest, "Sec-WebSocket-Key is missing");
    };
    if req.header("origin").is_none() || !same_origin(req) {
        return refuse(
            Status::Forbidden,
            "WebSocket refused: Origin must be this kv's own address",
        );
    }
    Action::Upgrade(ws::accept_key(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::{parse, Limits};

    fn req(text: &str) -> Request {
        parse(text.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap()
            .0
    }

    #[test]
    fn test_same_origin() {
        assert!(same_origin(&req(
            "GET / HTTP/1.1\r\nHost: kv:3000\r\nOrigin: http://kv:3000\r\n\r\n"
        )));
        assert!(same_origin(&req(
            "GET / HTTP/1.1\r\nHost: kv:3000\r\nReferer: https://kv:3000/x\r\n\r\n"
        )));
        assert!(!same_origin(&req(
            "GET / HTTP/1.1\r\nHost: kv:3000\r\nOrigin: http://evil:3000\r\n\r\n"
        )));
        assert!(!same_origin(&req(
            "GET / HTTP/1.1\r\nHost: kv:3000\r\nOrigin: http://kv:3000.evil\r\n\r\n"
        )));
        assert!(!same_origin(&req(
            "GET / HTTP/1.1\r\nHost: kv:3000\r\nOrigin: null\r\n\r\n"
        )));
        assert!(!same_origin(&req(
            "GET / HTTP/1.1\r\nHost: kv:3000\r\n\r\n"
        )));
    }

    #[test]
    fn test_upgrade_checks() {
        let base = "GET /ws HTTP/1.1\r\nHost: kv\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
        let ok = req(&format!("{base}Origin: http://kv\r\n\r\n"));
        assert!(matches!(upgrade(&ok), Action::Upgrade(a) if a == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
        for bad in [
            format!("{base}\r\n"),
            format!("{base}Origin: http://evil\r\n\r\n"),
        ] {
            assert!(
                matches!(upgrade(&req(&bad)), Action::Respond(r) if r.status == Status::Forbidden)
            );
        }
    }
}
