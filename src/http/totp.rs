//! The second factor over HTTP: enrolment from the UI (`POST
//! /api/account/totp`), turning it off (`DELETE`, password and code), its
//! state (`GET`), and the code step of a login (`second_step`).
//!
//! A factor belongs to an account of the accounts file and is stored there
//! (`Gate::set_factor`); the configured account (KV_USER) and share-link
//! guests have none. Basic auth cannot carry a code that is good once, so
//! an account with a factor is refused over Basic auth (`refuse_basic`):
//! scripts log in through `POST /api/login` and keep the cookie.

use std::net::IpAddr;
use std::time::Instant;

use super::response::Response;
use super::Status;
use crate::app::App;
use crate::audit::{Entry, Event};
use crate::auth::totp::{Accepted, Factor, Refusal};
use crate::auth::Principal;
use crate::json::{self, Object, Value};
use crate::sys::clock::{source_time, unix_now};

/// The factor `user` has enrolled, if any.
pub fn factor_of(app: &App, user: &str) -> Option<Factor> {
    app.auth.accounts()?.find(user)?.totp.clone()
}

/// `GET /api/account/totp`: whether the asker has a factor, how many
/// recovery codes are left, and why they cannot have one if so.
pub fn state(app: &App, who: &Principal) -> Response {
    let factor = factor_of(app, &who.user);
    Response::json(
        Status::Ok,
        Object::new()
            .bool("enabled", factor.is_some())
            .num("recovery_left", factor.map_or(0, |f| f.recovery_left()))
            .opt_str("unavailable", unavailable(app, who).as_deref())
            .finish(),
    )
}

/// Why `who` cannot enrol, if they cannot.
fn unavailable(app: &App, who: &Principal) -> Option<String> {
    if who.guest {
        return Some("a share link's guest has no account to protect".into());
    }
    if app
        .auth
        .accounts()
        .and_then(|a| a.find(&who.user))
        .is_none()
    {
        return Some(format!(
            "{:?} is the account kv's configuration gives (KV_USER); a second factor needs an account \
             of the accounts file (`kv user add NAME --role admin`)",
            who.user
        ));
    }
    None
}

/// `POST /api/account/totp` with `{"action":"begin"}` (a new secret, its
/// URI and QR code) or `{"action":"confirm","code":"123456"}` (the factor
/// is on; the recovery codes, shown this once).
pub fn enrol(
    body: &[u8],
    who: &Principal,
    client: IpAddr,
    app: &mut App,
    now: Instant,
) -> Response {
    if let Some(reason) = unavailable(app, who) {
        return Response::error(Status::Conflict, &reason);
    }
    let fields = std::str::from_utf8(body)
        .ok()
        .and_then(|t| Value::parse(t).ok());
    let field = |name| {
        fields
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
    };
    match field("action") {
        Some("begin") => begin(who, app, now),
        Some("confirm") => confirm(field("code").unwrap_or(""), who, client, app, now),
        _ => Response::error(
            Status::BadRequest,
            "body must be JSON like {\"action\":\"begin\"} or {\"action\":\"confirm\",\"code\":\"123456\"}",
        ),
    }
}

fn begin(who: &Principal, app: &mut App, now: Instant) -> Response {
    if factor_of(app, &who.user).is_some() {
        return Response::error(
            Status::Conflict,
            "a second factor is on already; turn it off first (DELETE /api/account/totp)",
        );
    }
    let enrolment = match app.factors.begin(&who.user, now) {
        Ok(e) => e,
        Err(e) => return Response::error(Status::ServiceUnavailable, &e),
    };
    let uri = enrolment.uri(&who.user);
    let qr = match crate::qr::svg(&uri) {
        Ok(svg) => svg,
        Err(e) => return Response::error(Status::InternalServerError, &e),
    };
    Response::json(
        Status::Ok,
        Object::new()
            .str("secret", &enrolment.secret())
            .str("uri", &uri)
            .str("qr", &qr)
            .finish(),
    )
    .header("Cache-Control", "no-store")
}

fn confirm(code: &str, who: &Principal, client: IpAddr, app: &mut App, now: Instant) -> Response {
    let Some(enrolment) = app.factors.enrolling(&who.user, now).cloned() else {
        return Response::error(
            Status::Conflict,
            "no enrolment under way (or it is older than 10 minutes): begin again",
        );
    };
    let (factor, codes) = match enrolment.confirm(code, unix_now()) {
        Ok(done) => done,
        Err(refusal) => return Response::error(Status::BadRequest, &refusal.to_string()),
    };
    if let Err(e) = app.auth.set_factor(&who.user, Some(factor)) {
        return Response::error(Status::InternalServerError, &e);
    }
    app.factors.finish(&who.user);
    record(app, Event::TotpEnrolled, &who.user, client, "");
    Response::json(
        Status::Ok,
        Object::new()
            .raw(
                "recovery_codes",
                &json::array(codes.iter().map(|c| json::quote(c))),
            )
            .finish(),
    )
    .header("Cache-Control", "no-store")
}

/// The code step after `user`'s right password: `Ok` with what proved
/// them, when they have no factor or `code` is right (the factor is stored
/// again: its last step or its recovery codes changed); otherwise the
/// answer, a wrong code delayed like a wrong password.
pub fn second_step(
    app: &mut App,
    user: &str,
    code: Option<&str>,
    client: IpAddr,
    now: Instant,
) -> Result<&'static str, Response> {
    let Some(mut factor) = factor_of(app, user) else {
        return Ok("password");
    };
    let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
        return Err(Response::json(
            Status::Unauthorized,
            Object::new()
                .str(
                    "error",
                    "enter the 6-digit code from your authenticator app (or a recovery code)",
                )
                .bool("code_needed", true)
                .finish(),
        ));
    };
    if let Some(wait) = app.factors.locked(user, now) {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        return Err(Response::error(
            Status::TooManyRequests,
            &format!("too many wrong codes for this account; retry in {secs} s"),
        )
        .header("Retry-After", secs.to_string()));
    }
    match factor.check(code, unix_now(), source_time()) {
        Ok(accepted) => {
            app.factors.right_code(user);
            app.auth.set_factor(user, Some(factor)).map_err(|e| {
                log::error!("{client}: {user}: cannot store the second factor: {e}");
                Response::error(Status::InternalServerError, &e)
            })?;
            match accepted {
                Accepted::Code => Ok("password and code"),
                Accepted::Recovery { left } => {
                    let detail = format!("{left} left");
                    record(app, Event::RecoveryCodeUsed, user, client, &detail);
                    Ok("password and recovery code")
                }
            }
        }
        // Not the user's fault, and no guess: said as it is, not delayed.
        Err(clock @ Refusal::Clock(_)) => {
            log::error!("{client}: {user}: {clock}");
            Err(Response::error(
                Status::ServiceUnavailable,
                &clock.to_string(),
            ))
        }
        Err(refusal) => {
            let until = app.factors.wrong_code(user, now);
            record(app, Event::LoginFailed, user, client, &refusal.to_string());
            let answer = Response::json(
                Status::Unauthorized,
                Object::new()
                    .str(
                        "error",
                        &format!("{refusal}: try the code your app shows now"),
                    )
                    .bool("code_needed", true)
                    .finish(),
            );
            Err(answer.not_before(until))
        }
    }
}

/// `DELETE /api/account/totp` with `{"code":"..."}`, once `who`'s password
/// from the same body was found right: the factor is off.
pub fn disable(
    code: &str,
    who: &Principal,
    client: IpAddr,
    app: &mut App,
    now: Instant,
) -> Response {
    if factor_of(app, &who.user).is_none() {
        return Response::error(Status::Conflict, "no second factor is on for this account");
    }
    if let Err(answer) = second_step(app, &who.user, Some(code), client, now) {
        return answer;
    }
    if let Err(e) = app.auth.set_factor(&who.user, None) {
        return Response::error(Status::InternalServerError, &e);
    }
    record(app, Event::TotpDisabled, &who.user, client, "");
    Response::ok_json()
}

/// The refusal of Basic auth for an account with a factor.
pub fn refuse_basic(app: &App, who: &Principal) -> Option<Response> {
    factor_of(app, &who.user)?;
    Some(Response::error(
        Status::Unauthorized,
        "this account has a second factor, which Basic auth cannot carry: log in with \
         POST /api/login {\"user\",\"password\",\"code\"} and send the kv_session cookie it sets",
    ))
}

fn record(app: &mut App, event: Event, user: &str, client: IpAddr, detail: &str) {
    app.audit.record(
        unix_now(),
        Entry {
            event,
            user: Some(user),
            address: Some(client),
            detail,
        },
    );
}
