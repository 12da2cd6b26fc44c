//! The audit log's side of HTTP: which answered requests are events
//! (`record`), and `GET /api/audit` for admins. Logins and logouts are
//! recorded where they are decided (`routes::login`); uploads when their
//! body is complete (`conn`).

use std::net::IpAddr;

use super::request::{Method, Request, UPLOAD_PREFIX};
use super::response::Response;
use super::Status;
use super::{accounts, shares};
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
    // Parsed only for the routes that are events.
    let parsed = std::cell::OnceCell::new();
    let json = || {
        parsed
            .get_or_init(|| Value::parse(std::str::from_utf8(body).ok()?).ok())
            .as_ref()
    };
    let field = |name: &str| json()?.get(name)?.as_str().map(str::to_owned);
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
        (Method::Post, "/api/shares") => Some((
            Event::ShareCreated,
            format!(
                "{} for {} minutes",
                field("name").unwrap_or_default(),
                json().and_then(|v| v.get("minutes")?.as_i64()).unwrap_or(0)
            ),
        )),
        (Method::Delete, p) if p.starts_with(shares::PREFIX) => Some((
            Event::ShareRevoked,
            format!("link {}", &p[shares::PREFIX.len()..]),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::{parse, Limits};

    fn event(head: &str, body: &str) -> Option<(Event, String)> {
        let text = format!("{head} HTTP/1.1\r\nHost: kv\r\n\r\n");
        let (req, _) = parse(text.as_bytes(), &Limits::default()).unwrap().unwrap();
        event_of(&req, body.as_bytes())
    }

    #[test]
    fn test_event_of_names_what_changed_never_a_secret() {
        let secret = "hunter2-Secret";
        let cases = [
            (
                "POST /api/media/attach",
                r#"{"name":"d.iso","mode":"cdrom"}"#,
                Event::MediaAttach,
                "d.iso as cdrom",
            ),
            ("POST /api/media/eject", "{}", Event::MediaEject, ""),
            (
                "DELETE /api/images/a%20b.img?partial=1",
                "",
                Event::MediaDelete,
                "a b.img (partial upload)",
            ),
            (
                "POST /api/accounts",
                &format!(r#"{{"name":"ann","role":"viewer","password":"{secret}"}}"#),
                Event::AccountAdded,
                "ann (viewer)",
            ),
            (
                "POST /api/accounts/ann",
                &format!(r#"{{"password":"{secret}"}}"#),
                Event::AccountChanged,
                "ann: password",
            ),
            (
                "POST /api/accounts/ann",
                r#"{"role":"admin"}"#,
                Event::AccountChanged,
                "ann: role admin",
            ),
            ("DELETE /api/accounts/ann", "", Event::AccountDeleted, "ann"),
            (
                "POST /api/shares",
                r#"{"name":"Vendor","minutes":60}"#,
                Event::ShareCreated,
                "Vendor for 60 minutes",
            ),
            ("DELETE /api/shares/7", "", Event::ShareRevoked, "link 7"),
        ];
        for (head, body, want, detail) in cases {
            let (event, said) = event(head, body).unwrap_or_else(|| panic!("{head}: no event"));
            assert_eq!((event, said.as_str()), (want, detail), "{head}");
            assert!(!said.contains(secret));
        }
        // Not events: reads, input settings, the macros (they hold key names).
        for head in [
            "GET /api/status",
            "POST /api/macros",
            "POST /api/hid/settings",
            "PUT /api/images/x.img",
        ] {
            assert_eq!(event(head, "{}"), None, "{head}");
        }
    }
}
