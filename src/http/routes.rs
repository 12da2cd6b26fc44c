//! Which request gets what: authentication first, then the route table of
//! docs/API.md. Routes that change state take POST and, when a browser sent
//! them, only from kv's own pages. Only the login page, its two files and
//! the login/logout calls are reachable without credentials.

use std::net::IpAddr;
use std::time::Instant;

use super::canvas::View;
use super::request::{Method, Request, UPLOAD_PREFIX};
use super::response::Response;
use super::{accounts, assets, audit, host, shares, totp, Status};
use crate::app::App;
use crate::auth::{Act, Principal, Ticket, Verdict};
use crate::http::ws;
use crate::json::{self, Value};
use crate::macros::Refused;
use crate::media::{self, Medium, Upload};
use crate::video::{modes, Mode};

/// What the connection does next.
pub enum Action {
    Respond(Response),
    /// Become an MJPEG viewer.
    Stream,
    /// Answer with the next fresh frame.
    Snapshot,
    /// Switch to WebSocket, answering with this `Sec-WebSocket-Accept`.
    Upgrade(String),
    /// The same, for the video channel (`/ws/video`), with the settings its
    /// query asked for.
    UpgradeVideo(String, View),
    /// The same, for the serial console (`/ws/serial`).
    UpgradeSerial(String),
    /// Stream the request body into this image upload.
    Upload(Upload),
    /// Wait, parked, for the password check with this ticket; then `resume`.
    Check(Ticket),
}

/// Who sent the request, as the connection knows it.
#[derive(Clone, Copy, Debug)]
pub struct Client {
    pub ip: IpAddr,
    /// Over TLS: session cookies get `Secure`.
    pub tls: bool,
}

/// The files of the login page and the icon, served to everyone: they hold
/// no secrets, and a browser asks for the icon before anyone logs in.
const LOGIN_FILES: [&str; 5] = [
    "/login.html",
    "/login.js",
    "/login.css",
    "/favicon.svg",
    "/favicon.ico",
];

/// What the connection does next, and who asked (`None`: nobody has
/// authenticated, e.g. the login page).
pub type Routed = (Action, Option<Principal>);

/// A request as the routes see it: head, body, sender, and when.
#[derive(Clone, Copy)]
pub struct Asked<'a> {
    pub req: &'a Request,
    pub body: &'a [u8],
    pub client: Client,
    pub now: Instant,
}

pub fn handle(req: &Request, body: &[u8], client: Client, app: &mut App, now: Instant) -> Routed {
    let asked = Asked {
        req,
        body,
        client,
        now,
    };
    route(asked, app, None)
}

/// The same request again, once the checker thread has judged its password.
pub fn resume(
    req: &Request,
    body: &[u8],
    client: Client,
    app: &mut App,
    now: Instant,
    verdict: Verdict,
) -> Routed {
    let asked = Asked {
        req,
        body,
        client,
        now,
    };
    route(asked, app, Some(verdict))
}

fn route(asked: Asked, app: &mut App, decided: Option<Verdict>) -> Routed {
    // A new password hashed on the checker thread: the same request again,
    // with its hash.
    let (decided, hashed) = match decided {
        Some(Verdict::Hashed { principal, hash }) => {
            (Some(Verdict::Allowed(principal)), Some(hash))
        }
        other => (other, None),
    };
    match authenticate(asked, app, decided) {
        Ok(principal) => {
            let action = authorized(asked, &principal, app, hashed);
            if let Action::Respond(answer) = &action {
                let user = Some(principal.user.as_str()).filter(|u| !u.is_empty());
                audit::record(app, asked.req, asked.body, asked.client.ip, user, answer);
            }
            (action, Some(principal))
        }
        Err(action) => (action, None),
    }
}

/// Who sent the request, or the answer for who did not prove it (and the
/// routes open to everyone: login, logout, the login page).
fn authenticate(
    asked: Asked,
    app: &mut App,
    decided: Option<Verdict>,
) -> Result<Principal, Action> {
    let Asked {
        req,
        body,
        client,
        now,
    } = asked;
    // Before anything else, login included: a rebound name must learn
    // nothing and reach nothing (see `host`).
    if !app.config.known_names.knows(req.header("host")) {
        // Debug: a rebinding page may retry without end, and the answer
        // itself tells a real user what to do.
        log::debug!(
            "{}: refused a request for the name {:?}, which kv does not answer to (--host-name)",
            client.ip,
            req.header("host").unwrap_or("")
        );
        return Err(Action::Respond(host::misdirected(req.header("host"))));
    }
    let read_only = matches!(req.method, Method::Get | Method::Head);
    let path = req.path.as_str();
    match path {
        "/api/login" if req.method == Method::Post => {
            return Err(login(req, body, client, app, now, decided));
        }
        "/api/logout" if req.method == Method::Post => {
            return Err(Action::Respond(post(req, app, now, logout(req, client))));
        }
        "/api/login" | "/api/logout" => return Err(not_allowed("POST")),
        // Checks a password, like a login: its answer comes back as `decided`.
        "/api/account/totp" if req.method == Method::Delete => {
            return Err(disable_totp(asked, app, decided));
        }
        p if read_only && LOGIN_FILES.contains(&p) => return Err(asset(req, path)),
        p if p.starts_with(shares::OPEN_PREFIX) => return Err(shares::open(req, client, app, now)),
        _ => {}
    }
    let session = session_cookie(req);
    let verdict = decided.unwrap_or_else(|| {
        app.auth
            .check(client.ip, req.header("authorization"), session, now)
    });
    Err(match verdict {
        Verdict::Open => return Ok(Principal::open()),
        // Basic credentials (a session's principal names its session).
        Verdict::Allowed(principal) if principal.session.is_none() => {
            match totp::refuse_basic(app, &principal) {
                Some(refusal) => Action::Respond(refusal),
                None => return Ok(principal),
            }
        }
        Verdict::Allowed(principal) | Verdict::Session(principal) => return Ok(principal),
        Verdict::Missing if wants_page(req) => Action::Respond(
            Response::error(Status::SeeOther, "log in at /login.html")
                .header("Location", "/login.html"),
        ),
        Verdict::Missing => Action::Respond(unauthorized(session.is_none())),
        Verdict::Pending(ticket) => Action::Check(ticket),
        other => {
            if matches!(other, Verdict::Refused { .. }) {
                audit::basic_failed(app, client.ip);
            }
            Action::Respond(refusal(other, false))
        }
    })
}

/// The route table, for a request whose sender is known: first the
/// permission table (`auth::role::least_role`), then the route.
fn authorized(
    asked: Asked,
    principal: &Principal,
    app: &mut App,
    hashed: Option<Result<String, String>>,
) -> Action {
    let Asked { req, body, now, .. } = asked;
    let read_only = matches!(req.method, Method::Get | Method::Head);
    let path = req.path.as_str();
    let act = if read_only {
        Act::Read(path)
    } else {
        Act::Change(path)
    };
    if let Err(refusal) = principal.may(act) {
        return Action::Respond(forbidden(&refusal));
    }
    let session = session_cookie(req);
    match path {
        "/stream" if read_only => Action::Stream,
        "/snapshot.jpg" if read_only => Action::Snapshot,
        "/ws" if req.method == Method::Get => upgrade(req, Action::Upgrade),
        "/ws/video" if req.method == Method::Get => {
            let (quality, max_fps) = (req.query_param("quality"), req.query_param("max_fps"));
            match View::from_query(quality, max_fps) {
                Ok(view) => upgrade(req, |accept| Action::UpgradeVideo(accept, view)),
                Err(e) => Action::Respond(Response::error(Status::BadRequest, &e)),
            }
        }
        "/ws/serial" if req.method == Method::Get => match app.serial {
            Some(_) => upgrade(req, Action::UpgradeSerial),
            None => Action::Respond(no_serial()),
        },
        "/api/status" if read_only => {
            Action::Respond(Response::json(Status::Ok, app.status_json(now)))
        }
        "/metrics" if read_only => Action::Respond(
            Response::new(
                Status::Ok,
                crate::metrics::CONTENT_TYPE,
                crate::metrics::render(app).into_bytes(),
            )
            .header("Cache-Control", "no-store"),
        ),
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
        "/api/hid/settings" if req.method == Method::Post => {
            Action::Respond(post(req, app, now, change_hid_settings(body)))
        }
        "/api/hid/release" if req.method == Method::Post => {
            Action::Respond(post(req, app, now, release()))
        }
        "/stream" | "/snapshot.jpg" | "/api/status" | "/api/demo/screen" | "/metrics" => {
            not_allowed("GET, HEAD")
        }
        "/ws" | "/ws/video" | "/ws/serial" => not_allowed("GET"),
        "/api/session" if read_only => Action::Respond(Response::json(
            Status::Ok,
            json::Object::new()
                .bool("auth", app.auth.enabled())
                .bool("session", session.is_some() && app.auth.enabled())
                .str("user", &principal.user)
                .str("role", principal.role.name())
                .bool("guest", principal.guest)
                .finish(),
        )),
        "/api/video/mode" | "/api/hid/release" | "/api/hid/layout" | "/api/hid/settings" => {
            not_allowed("POST")
        }
        "/api/session" => not_allowed("GET, HEAD"),
        "/api/presence" if read_only => {
            Action::Respond(Response::json(Status::Ok, app.control.json(None)))
        }
        "/api/presence" => not_allowed("GET, HEAD"),
        "/api/images" if read_only => Action::Respond(with_images(app, |images| {
            images
                .list_json()
                .map(|list| Response::json(Status::Ok, list))
        })),
        "/api/images" => not_allowed("GET, HEAD"),
        "/api/media/attach" if req.method == Method::Post => {
            Action::Respond(post(req, app, now, attach(body)))
        }
        "/api/media/eject" if req.method == Method::Post => {
            Action::Respond(post(req, app, now, eject()))
        }
        "/api/media/attach" | "/api/media/eject" => not_allowed("POST"),
        "/api/macros" if read_only => {
            Action::Respond(Response::json(Status::Ok, app.macros.json().to_string()))
        }
        "/api/macros" if req.method == Method::Post => {
            Action::Respond(post(req, app, now, save_macros(body)))
        }
        "/api/macros" => not_allowed("GET, HEAD, POST"),
        "/api/wol" if read_only => Action::Respond(Response::json(
            Status::Ok,
            json::Object::new()
                .opt_str("mac", app.wol.mac().map(|m| m.to_string()).as_deref())
                .finish(),
        )),
        "/api/wol" if req.method == Method::Post => {
            Action::Respond(post(req, app, now, wake(body)))
        }
        "/api/wol" => not_allowed("GET, HEAD, POST"),
        // ATX power control: every route here presses a button (operator only).
        "/api/atx" if req.method == Method::Post => {
            Action::Respond(post(req, app, now, press_atx(body)))
        }
        "/api/atx" => not_allowed("POST"),
        "/api/account/totp" if read_only => Action::Respond(totp::state(app, principal)),
        "/api/account/totp" if req.method == Method::Post => {
            let enrol =
                |app: &mut App, now| totp::enrol(body, principal, asked.client.ip, app, now);
            Action::Respond(match refuse_cross_site(req) {
                Some(refusal) => refusal,
                None => enrol(app, now),
            })
        }
        "/api/account/totp" => not_allowed("GET, HEAD, POST, DELETE"),
        "/api/audit" if read_only => Action::Respond(audit::list(req, app)),
        "/api/audit" => not_allowed("GET, HEAD"),
        p if p.starts_with(UPLOAD_PREFIX) => image_route(req, app),
        p if p == "/api/shares" || p.starts_with(shares::PREFIX) => {
            shares::route(req, body, asked.client.tls, principal, app)
        }
        p if p == "/api/accounts" || p.starts_with(accounts::PREFIX) => {
            accounts::route(asked, principal, app, hashed)
        }
        path => asset(req, path),
    }
}

/// A file of the embedded UI. Only exact names of embedded files match, so
/// no request path (`/../etc/passwd`, `/%2e%2e/`, `//etc/passwd`) reaches
/// the file system.
fn asset(req: &Request, path: &str) -> Action {
    let read_only = matches!(req.method, Method::Get | Method::Head);
    let Some(asset) = assets::find(path) else {
        return Action::Respond(Response::error(Status::NotFound, "no such page"));
    };
    if !read_only {
        return not_allowed("GET, HEAD");
    }
    let (body, etag) = match asset.gzip {
        Some(gz) if accepts_gzip(req) => (gz, asset.etag_gzip),
        _ => (asset.body, asset.etag),
    };
    let response = if req.header("if-none-match") == Some(etag) {
        Response::new(Status::NotModified, asset.mime, Vec::new())
    } else {
        Response::new(Status::Ok, asset.mime, body.to_vec()).header("Cache-Control", "no-cache")
    };
    let response = response.header("ETag", etag);
    if asset.gzip.is_none() {
        return Action::Respond(response);
    }
    // Caches must keep the two representations apart.
    let response = response.header("Vary", "Accept-Encoding");
    Action::Respond(if etag == asset.etag_gzip {
        response.header("Content-Encoding", "gzip")
    } else {
        response
    })
}

/// Whether `Accept-Encoding` lists gzip without refusing it (`gzip;q=0`).
fn accepts_gzip(req: &Request) -> bool {
    req.header("accept-encoding").is_some_and(|v| {
        v.split(',').any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let named = parts.next().is_some_and(|c| c.eq_ignore_ascii_case("gzip"));
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            named && !refused
        })
    })
}

/// The 401 answer: scripts get `WWW-Authenticate` so they know to send Basic
/// credentials; a browser whose session ended does not, so it shows no
/// password dialog of its own (the UI sends it to the login page).
fn unauthorized(challenge: bool) -> Response {
    let r = Response::error(
        Status::Unauthorized,
        "log in: this kv requires a user and password (Basic auth, or POST /api/login)",
    );
    if challenge {
        r.header("WWW-Authenticate", "Basic realm=\"kv\", charset=\"UTF-8\"")
    } else {
        r
    }
}

/// The answer to a password that is wrong, or could not be checked now.
/// `login`: the login page's wording, and no Basic challenge.
pub(super) fn refusal(verdict: Verdict, login: bool) -> Response {
    match verdict {
        Verdict::Refused { until } if login => {
            Response::error(Status::Unauthorized, "wrong user or password").not_before(until)
        }
        Verdict::Refused { until } => unauthorized(true).not_before(until),
        Verdict::LockedOut { retry_after } => locked_out(retry_after),
        Verdict::Busy { retry_after } => {
            let secs = whole_seconds(retry_after);
            Response::error(
                Status::ServiceUnavailable,
                &format!("kv is checking other passwords; retry in {secs} s"),
            )
            .header("Retry-After", secs.to_string())
        }
        // Open, Allowed, Session, Missing, Pending: not refusals.
        _ => Response::error(Status::InternalServerError, "no verdict on the password"),
    }
}

fn whole_seconds(d: std::time::Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn locked_out(retry_after: std::time::Duration) -> Response {
    let secs = whole_seconds(retry_after);
    Response::error(
        Status::TooManyRequests,
        &format!("too many password attempts from this address; retry in {secs} s"),
    )
    .header("Retry-After", secs.to_string())
}

/// A browser navigating to the UI, as opposed to a script or a subresource.
fn wants_page(req: &Request) -> bool {
    matches!(req.method, Method::Get | Method::Head)
        && matches!(req.path.as_str(), "/" | "/index.html")
        && req
            .header("accept")
            .is_some_and(|a| a.contains("text/html"))
}

/// The cookie that carries a browser session.
pub const SESSION_COOKIE: &str = "kv_session";

fn session_cookie(req: &Request) -> Option<&str> {
    req.cookie(SESSION_COOKIE)
}

/// `POST /api/login` with `{"user":"...","password":"..."}`, and `"code"`
/// for an account with a second factor (`totp::second_step`). A hashed
/// password's check comes back later as `decided` (`resume`).
fn login(
    req: &Request,
    body: &[u8],
    client: Client,
    app: &mut App,
    now: Instant,
    decided: Option<Verdict>,
) -> Action {
    if let Some(refusal) = refuse_cross_site(req) {
        return Action::Respond(refusal);
    }
    let fields = string_fields(body, ["user", "password", "code"]);
    let Some([Some(user), Some(password), code]) = fields else {
        return Action::Respond(Response::error(
            Status::BadRequest,
            "body must be JSON like {\"user\":\"admin\",\"password\":\"...\"}",
        ));
    };
    let verdict =
        decided.unwrap_or_else(|| app.auth.check_password(client.ip, &user, &password, now));
    // A right password, and the code when the account has a factor.
    let mut proof = "password";
    if let Verdict::Allowed(_) = &verdict {
        match totp::second_step(app, &user, code.as_deref(), client.ip, now) {
            Ok(with) => proof = with,
            Err(answer) => return Action::Respond(answer),
        }
    }
    let response = match verdict {
        Verdict::Allowed(_) => match app.auth.start_session(&user, client.ip, now) {
            Ok(token) => {
                if let Some(old) = session_cookie(req) {
                    app.auth.logout(old);
                }
                let secure = if client.tls { "; Secure" } else { "" };
                audit::login(app, client.ip, &user, true, proof);
                Response::ok_json().header(
                    "Set-Cookie",
                    format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{secure}"),
                )
            }
            Err(e) => {
                log::error!("{}: no session: {e}", client.ip);
                Response::error(
                    Status::ServiceUnavailable,
                    "cannot start a session: the kernel's random generator failed",
                )
            }
        },
        Verdict::Open => Response::ok_json(),
        Verdict::Pending(ticket) => return Action::Check(ticket),
        other => {
            if matches!(other, Verdict::Refused { .. }) {
                audit::login(app, client.ip, &user, false, "wrong user or password");
            }
            refusal(other, true)
        }
    };
    Action::Respond(response)
}

/// The string fields `names` of a JSON body, each `None` when missing or
/// not a string; `None` when the body is no JSON.
fn string_fields<const N: usize>(body: &[u8], names: [&str; N]) -> Option<[Option<String>; N]> {
    let v = Value::parse(std::str::from_utf8(body).ok()?).ok()?;
    Some(names.map(|name| v.get(name).and_then(Value::as_str).map(str::to_string)))
}

/// `DELETE /api/account/totp` with `{"password":"...","code":"..."}`: the
/// session's account turns its second factor off, proving both again. The
/// password is checked as at login (late answers, budget), then the code.
fn disable_totp(asked: Asked, app: &mut App, decided: Option<Verdict>) -> Action {
    let Asked {
        req,
        body,
        client,
        now,
    } = asked;
    if let Some(refusal) = refuse_cross_site(req) {
        return Action::Respond(refusal);
    }
    let who = match app.auth.check(client.ip, None, session_cookie(req), now) {
        Verdict::Session(who) if !who.guest => who,
        _ => {
            return Action::Respond(Response::error(
                Status::Unauthorized,
                "log in first: turning two-step login off needs your session",
            ))
        }
    };
    let Some([Some(password), Some(code)]) = string_fields(body, ["password", "code"]) else {
        return Action::Respond(Response::error(
            Status::BadRequest,
            "body must be JSON like {\"password\":\"...\",\"code\":\"123456\"}",
        ));
    };
    let verdict = decided.unwrap_or_else(|| {
        app.auth
            .check_password(client.ip, &who.user, &password, now)
    });
    Action::Respond(match verdict {
        Verdict::Allowed(_) => totp::disable(&code, &who, client.ip, app, now),
        Verdict::Pending(ticket) => return Action::Check(ticket),
        other => refusal(other, true),
    })
}

/// `POST /api/logout`: forgets the session and tells the browser to drop it.
fn logout(req: &Request, client: Client) -> Handler {
    let session = session_cookie(req).map(str::to_string);
    Box::new(move |app, now| {
        let who = match app.auth.check(client.ip, None, session.as_deref(), now) {
            Verdict::Session(who) => Some(who.user),
            _ => None,
        };
        if session.is_some_and(|s| app.auth.logout(&s)) {
            log::info!("{}: logged out", client.ip);
            audit::logged_out(app, client.ip, who.as_deref());
        }
        Response::ok_json().header(
            "Set-Cookie",
            format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
        )
    })
}

/// 403 for a role that may not: says which role it needs.
fn forbidden(refusal: &crate::auth::role::Refusal) -> Response {
    Response::json(
        Status::Forbidden,
        json::Object::new()
            .str("error", &refusal.to_string())
            .str("needed", refusal.needed.name())
            .str("role", refusal.role.name())
            .finish(),
    )
}

pub(super) fn not_allowed(allow: &'static str) -> Action {
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
    match refuse_cross_site(req) {
        Some(refusal) => refusal,
        None => run(app, now),
    }
}

/// The refusal of a state-changing request a foreign page could have sent.
pub(super) fn refuse_cross_site(req: &Request) -> Option<Response> {
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
        return Some(Response::error(
            Status::UnsupportedMediaType,
            "send JSON (Content-Type: application/json), or image bytes as application/octet-stream",
        ));
    }
    let from_browser = req.header("origin").is_some() || req.header("referer").is_some();
    if from_browser && !same_origin(req) {
        return Some(Response::error(
            Status::Forbidden,
            "cross-site request refused: Origin does not match Host",
        ));
    }
    None
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
            let (width, height) = (field(&v, "width")? as u32, field(&v, "height")? as u32);
            Some(match field(&v, "fps") {
                Some(fps) => Mode {
                    width,
                    height,
                    fps: fps as u32,
                },
                None => {
                    let info = app.video.info();
                    modes::with_closest_rate(&info.modes, width, height, info.mode.fps)
                }
            })
        });
        let Some(mode) = mode else {
            return Response::error(
                Status::BadRequest,
                "body must be JSON like {\"width\":1280,\"height\":720,\"fps\":30}",
            );
        };
        match app.video.set_mode(mode, now) {
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

/// `POST /api/hid/settings`: checked whole before anything changes; the
/// new values show in `/api/status`.
fn change_hid_settings(body: &[u8]) -> Handler {
    let change = std::str::from_utf8(body)
        .map_err(|_| "body is not UTF-8; send JSON like {\"jiggle_seconds\":60}".to_string())
        .and_then(crate::hid::settings::Change::parse);
    Box::new(move |app, now| match change {
        Ok(change) => {
            app.hid.change_settings(change, now);
            Response::ok_json()
        }
        Err(e) => Response::error(Status::BadRequest, &e),
    })
}

/// `POST /api/macros`: every macro, as `GET /api/macros` gives them.
fn save_macros(body: &[u8]) -> Handler {
    let text = String::from_utf8_lossy(body).into_owned();
    Box::new(move |app, _now| match app.macros.replace(&text) {
        Ok(()) => Response::ok_json(),
        Err(Refused::Invalid(e)) => Response::error(Status::BadRequest, &e),
        Err(Refused::NotSaved(e)) => Response::error(Status::InternalServerError, &e),
    })
}

/// `POST /api/wol` with `{"mac":"aa:bb:cc:dd:ee:ff"}`, or `{}` for the MAC
/// last woken (or `--wol-mac`).
fn wake(body: &[u8]) -> Handler {
    let mac = std::str::from_utf8(body)
        .map_err(|_| "body is not UTF-8".to_string())
        .and_then(|text| Value::parse(if text.trim().is_empty() { "{}" } else { text }))
        .map_err(|e| format!("body must be JSON like {{\"mac\":\"aa:bb:cc:dd:ee:ff\"}}: {e}"))
        .and_then(|v| match v.get("mac") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(mac)) => crate::net::wol::Mac::parse(mac).map(Some),
            Some(_) => Err("\"mac\" must be a string like \"aa:bb:cc:dd:ee:ff\"".into()),
        });
    Box::new(move |app, _now| {
        let mac = match mac {
            Ok(mac) => mac,
            Err(e) => return Response::error(Status::BadRequest, &e),
        };
        let Some(mac) = mac.or(app.wol.mac()) else {
            return Response::error(
                Status::BadRequest,
                "no MAC to wake: send {\"mac\":\"aa:bb:cc:dd:ee:ff\"} or start kv with --wol-mac",
            );
        };
        let usb_link = app.net.as_ref().and_then(crate::net::UsbNet::broadcast);
        match app.wol.wake(mac, usb_link) {
            Ok(done) => Response::json(
                Status::Ok,
                json::Object::new()
                    .bool("ok", true)
                    .str("mac", &done.mac.to_string())
                    .raw(
                        "sent",
                        &json::array(done.sent.iter().map(|a| json::quote(&a.to_string()))),
                    )
                    .raw(
                        "failed",
                        &json::array(done.failed.iter().map(|e| json::quote(e))),
                    )
                    .finish(),
            ),
            Err(e) => Response::error(Status::ServiceUnavailable, &e),
        }
    })
}

/// `POST /api/atx` with `{"action":"power"|"power_long"|"reset"}`: starts
/// the press and answers at once; `/api/status`'s `atx.pressing` shows it
/// until the button is let go.
fn press_atx(body: &[u8]) -> Handler {
    let usage = "body must be JSON like {\"action\":\"power\"} (power, power_long or reset)";
    let action = std::str::from_utf8(body)
        .map_err(|_| usage.to_string())
        .and_then(|text| Value::parse(text).map_err(|e| format!("{usage}: {e}")))
        .and_then(|v| {
            v.get("action")
                .and_then(Value::as_str)
                .and_then(crate::atx::Action::parse)
                .ok_or_else(|| usage.to_string())
        });
    Box::new(move |app, now| {
        let action = match action {
            Ok(action) => action,
            Err(e) => return Response::error(Status::BadRequest, &e),
        };
        let Some(atx) = &mut app.atx else {
            return Response::error(
                Status::NotFound,
                "no ATX here: start kv with --atx-power LINE (and --atx-reset, --atx-power-led, --atx-hdd-led)",
            );
        };
        match atx.press(action, now) {
            Ok(()) => Response::ok_json(),
            Err(e @ crate::atx::Refusal::Busy(_)) => {
                Response::error(Status::Conflict, &e.to_string())
            }
            Err(e @ crate::atx::Refusal::NotWired(_)) => {
                Response::error(Status::NotFound, &e.to_string())
            }
            Err(e @ crate::atx::Refusal::Failed(_)) => {
                Response::error(Status::InternalServerError, &e.to_string())
            }
        }
    })
}

fn release() -> Handler {
    Box::new(|app, now| {
        app.hid.release_all(now);
        Response::ok_json()
    })
}

/// A media refusal as an HTTP answer: its kind picks the status.
pub fn media_error(e: &media::MediaError) -> Response {
    use media::Refusal;
    let status = match e.kind {
        Refusal::Invalid => Status::BadRequest,
        Refusal::Missing => Status::NotFound,
        Refusal::Conflict => Status::Conflict,
        Refusal::TooLarge => Status::PayloadTooLarge,
        Refusal::NoSpace => Status::InsufficientStorage,
        Refusal::NoDrive => Status::ServiceUnavailable,
        Refusal::Io => Status::InternalServerError,
    };
    Response::error(status, &e.message)
}

/// Runs `f` on the images folder, or says there is none.
fn with_images(
    app: &mut App,
    f: impl FnOnce(&mut media::Images) -> Result<Response, media::MediaError>,
) -> Response {
    match app.media.as_mut() {
        Some(images) => f(images).unwrap_or_else(|e| media_error(&e)),
        None => Response::error(
            Status::NotFound,
            "no images folder: start kv with --images DIR to upload and attach images",
        ),
    }
}

/// `PUT /api/images/NAME[?offset=N][&overwrite=1]` (upload, or resume at N)
/// and `DELETE /api/images/NAME[?partial=1]`.
fn image_route(req: &Request, app: &mut App) -> Action {
    if !matches!(req.method, Method::Put | Method::Delete) {
        return not_allowed("PUT, DELETE");
    }
    if let Some(refusal) = refuse_cross_site(req) {
        return Action::Respond(refusal);
    }
    let raw = req.path.get(UPLOAD_PREFIX.len()..).unwrap_or("");
    let name = match media::name::parse(raw) {
        Ok(name) => name,
        Err(e) => return Action::Respond(Response::error(Status::BadRequest, &e)),
    };
    let flag = |key| req.query_param(key).is_some_and(|v| v != "0");
    if req.method == Method::Delete {
        let partial = flag("partial");
        return Action::Respond(with_images(app, |images| {
            images.delete(&name, partial).map(|()| Response::ok_json())
        }));
    }
    if req.header("content-length").is_none() {
        return Action::Respond(Response::error(
            Status::LengthRequired,
            "an upload needs Content-Length (the number of bytes sent)",
        ));
    }
    let offset = match req.query_param("offset").map(str::parse::<u64>) {
        None => 0,
        Some(Ok(offset)) => offset,
        Some(Err(_)) => {
            return Action::Respond(Response::error(
                Status::BadRequest,
                "?offset= must be a byte count, e.g. ?offset=1048576",
            ))
        }
    };
    let overwrite = flag("overwrite");
    let mut upload = None;
    let refusal = with_images(app, |images| {
        upload = Some(images.begin_upload(&name, offset, req.content_length, overwrite)?);
        Ok(Response::ok_json())
    });
    match upload {
        Some(upload) => Action::Upload(upload),
        None => Action::Respond(refusal),
    }
}

/// `POST /api/media/attach` with `{"name":"debian.iso","mode":"cdrom"}`.
fn attach(body: &[u8]) -> Handler {
    let fields = std::str::from_utf8(body)
        .ok()
        .and_then(|text| Value::parse(text).ok())
        .and_then(|v| {
            let name = v.get("name")?.as_str()?.to_string();
            let mode = v.get("mode").and_then(Value::as_str).unwrap_or("flash");
            Some((name, Medium::parse(mode)))
        });
    Box::new(move |app, _now| {
        let (name, medium) = match fields {
            Some((name, Some(medium))) => (name, medium),
            _ => {
                return Response::error(
                    Status::BadRequest,
                    &format!(
                        "body must be JSON like {{\"name\":\"debian.iso\",\"mode\":\"cdrom\"}}; modes: {}",
                        Medium::NAMES.join(", ")
                    ),
                )
            }
        };
        if let Err(e) = media::name::check(&name) {
            return Response::error(Status::BadRequest, &e);
        }
        with_images(app, |images| {
            images.attach(&name, medium)?;
            Ok(Response::json(Status::Ok, images.status_json()))
        })
    })
}

fn eject() -> Handler {
    Box::new(|app, _now| {
        with_images(app, |images| {
            images.eject()?;
            Ok(Response::json(Status::Ok, images.status_json()))
        })
    })
}

/// A WebSocket upgrade, checked; `to` makes the action from the accept key.
/// `/ws/serial` without `--serial`.
pub fn no_serial() -> Response {
    Response::error(
        Status::NotFound,
        "no serial console: start kv with --serial (with --gadget, or --demo)",
    )
}

fn upgrade(req: &Request, to: impl FnOnce(String) -> Action) -> Action {
    let refuse = |status, reason: &str| Action::Respond(Response::error(status, reason));
    if !req
        .header("upgrade")
        .is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
        || !req.header_has("connection", "upgrade")
    {
        let why = format!("{} expects a WebSocket upgrade", req.path);
        return refuse(Status::BadRequest, &why);
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
    to(ws::accept_key(key))
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
        assert!(
            matches!(upgrade(&ok, Action::Upgrade), Action::Upgrade(a) if a == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        );
        for bad in [
            format!("{base}\r\n"),
            format!("{base}Origin: http://evil\r\n\r\n"),
        ] {
            assert!(
                matches!(upgrade(&req(&bad), Action::Upgrade), Action::Respond(r) if r.status == Status::Forbidden)
            );
        }
    }
}
