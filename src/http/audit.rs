//! The audit log's side of HTTP: which answered requests are events
//! (`record`), and `GET /api/audit` for admins. Logins and logouts are
//! recorded where they are decided (`routes::login`); uploads when their
//! body is complete (`conn`).

use std::net::IpAddr;

use super::accounts;
use super::request::{Method, Request, UPLOAD_PREFIX};
use super::response::Response;
use super::Status;
use crate::app::App;
use crate::audit::{Entry, Event, MAX_READ};
use crate::json::Value;
use crate::sys::clock::unix_now;

/// Events shown when `?limit=` is not given.
const DEFAULT_LIMIT: usize = 200;

/// Records a state-changing request kv carried out, when it is an event.
pub fn record(
    app: &mut App,
    req: &Request,
    body: &[u8],
    ip: IpAddr,
    user: Option<&str>,
    answer: &Response,
) {
    let done = (200..300).contains(&answer.status.code());
    let Some((event, detail)) = event_of(req, body).filter(|_| done) else {
        return;
    };
    app.audit.record(
        unix_now(),
        Entry {
            event,
            user,
            address: Some(ip),
            detail: &detail,
        },
    );
}

/// The event a request is, with its detail: names only (an image, a
/// mode), never contents.
fn event_of(req: &Request, body: &[u8]) -> Option<(Event, String)> {
    let field = |name: &str| {
        let value = Value::parse(std::str::from_utf8(body).ok()?).ok()?;
        value.get(name)?.as_str().map(str::to_owned)
    };
    let path = req.path.as_str();
    match (req.method, path) {
        (Method::Post, "/api/media/attach") => Some((
            Event::MediaAttach,
            format!(
                "{} as {}",
                field("name").unwrap_or_default(),
                field("mode").unwrap_or_else(|| "flash".into())
            ),
        )),
        (Method::Post, "/api/media/eject") => Some((Event::MediaEject, String::new())),
        (Method::Post, "/api/accounts") => Some((
            Event::AccountAdded,
            format!(
                "{} ({})",
                field("name").unwrap_or_default(),
                field("role").unwrap_or_else(|| "operator".into())
            ),
        )),
        (Method::Post, p) if p.starts_with(accounts::PREFIX) => {
            // What changed, never to what: a new password stays out.
            let role = field("role").map(|r| format!(" role {r}"));
            let password = field("password").map(|_| " password");
            let what = format!(
                "{}{}",
                role.unwrap_or_default(),
                password.unwrap_or_default()
            );
            Some((
                Event::AccountChanged,
                format!("{}:{what}", &p[accounts::PREFIX.len()..]),
            ))
        }
        (Method::Delete, p) if p.starts_with(accounts::PREFIX) => Some((
            Event::AccountDeleted,
            p[accounts::PREFIX.len()..].to_string(),
        )),
        (Method::Delete, p) if p.starts_with(UPLOAD_PREFIX) => {
            let name = crate::media::name::parse(&p[UPLOAD_PREFIX.len()..]).ok()?;
            let partial = req.query_param("partial").is_some_and(|v| v != "0");
            let what = if partial { " (partial upload)" } else { "" };
            Some((Event::MediaDelete, format!("{name}{what}")))
        }
        _ => None,
    }
}

/// A login decided, from the login page or Basic auth. The name typed is
/// recorded only when it is an account's: people type passwords into the
/// name field.
pub fn login(app: &mut App, ip: IpAddr, typed: &str, ok: bool, detail: &str) {
    let known = app.auth.configured_user() == Some(typed)
        || app.auth.accounts().is_some_and(|a| a.find(typed).is_some());
    let event = if ok {
        Event::LoginOk
    } else {
        Event::LoginFailed
    };
    let detail = match known {
        true => detail.to_string(),
        false => format!("{detail} (a name that is no account's)"),
    };
    app.audit.record(
        unix_now(),
        Entry {
            event,
            user: known.then_some(typed),
            address: Some(ip),
            detail: &detail,
        },
    );
}

/// Basic credentials refused (the name is not recorded: it came with a
/// wrong password, which may have been typed into it).
pub fn basic_failed(app: &mut App, ip: IpAddr) {
    app.audit.record(
        unix_now(),
        Entry {
            event: Event::LoginFailed,
            user: None,
            address: Some(ip),
            detail: "Basic auth: wrong user or password",
        },
    );
}

pub fn logged_out(app: &mut App, ip: IpAddr, user: Option<&str>) {
    app.audit.record(
        unix_now(),
        Entry {
            event: Event::Logout,
            user,
            address: Some(ip),
            detail: "",
        },
    );
}

/// A finished upload of image `name`.
pub fn uploaded(app: &mut App, name: &str, ip: IpAddr, user: Option<&str>) {
    app.audit.record(
        unix_now(),
        Entry {
            event: Event::MediaUpload,
            user,
            address: Some(ip),
            detail: name,
        },
    );
}

/// `GET /api/audit?limit=N`: the newest events first, as a JSON array.
pub fn list(req: &Request, app: &App) -> Response {
    let limit = match req.query_param("limit").map(str::parse::<usize>) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_READ).contains(&n) => n,
        Some(_) => {
            return Response::error(
                Status::BadRequest,
                &format!("?limit= must be a number of events from 1 to {MAX_READ}"),
            )
        }
    };
    Response::json(Status::Ok, app.audit.read(limit)).header("Cache-Control", "no-store")
}
