//! `/api/shares` (operators and admins: list, make, revoke view-only
//! links) and `/share/TOKEN` (anyone holding a live link: a guest viewer's
//! session cookie, then the UI).

use std::time::Instant;

use super::request::{Method, Request};
use super::response::Response;
use super::routes::{not_allowed, refusal, refuse_cross_site, Action, Client, SESSION_COOKIE};
use super::Status;
use crate::app::App;
use crate::auth::{shares, Principal};
use crate::json::{self, Value};

pub const PREFIX: &str = "/api/shares/";
pub const OPEN_PREFIX: &str = "/share/";

/// `tls`: whether the request came over HTTPS, for the link's address.
pub fn route(
    req: &Request,
    body: &[u8],
    tls: bool,
    principal: &Principal,
    app: &mut App,
) -> Action {
    let id = req.path.strip_prefix(PREFIX);
    if matches!(req.method, Method::Get | Method::Head) && id.is_none() {
        return Action::Respond(Response::json(Status::Ok, list_json(app)));
    }
    if let Some(refusal) = refuse_cross_site(req) {
        return Action::Respond(refusal);
    }
    let answer = match (&req.method, id) {
        (Method::Post, None) => create(req, body, tls, principal, app),
        (Method::Delete, Some(id)) => app.auth.revoke_share(id).map(|()| {
            log::info!("🔗 {} revoked share link {id}", principal.user);
            Response::json(Status::Ok, list_json(app))
        }),
        (_, None) => return not_allowed("GET, HEAD, POST"),
        (_, Some(_)) => return not_allowed("DELETE"),
    };
    Action::Respond(answer.unwrap_or_else(|e| Response::error(Status::BadRequest, &e)))
}

/// `POST /api/shares` with `{"name":"Vendor","minutes":60}`: the link,
/// and the whole address as a QR code for a phone. The address is the one
/// the creator reached kv by (its `Host`, which `routes` has already checked
/// is one of kv's own names), so it works wherever the creator's did.
fn create(
    req: &Request,
    body: &[u8],
    tls: bool,
    principal: &Principal,
    app: &mut App,
) -> Result<Response, String> {
    let hint = "body must be JSON like {\"name\":\"Vendor support\",\"minutes\":60}";
    let v = std::str::from_utf8(body)
        .ok()
        .and_then(|text| Value::parse(text).ok())
        .ok_or(hint)?;
    let name = v.get("name").and_then(Value::as_str).ok_or(hint)?;
    let minutes = v.get("minutes").and_then(Value::as_i64).ok_or(hint)?;
    let life = u64::try_from(minutes).unwrap_or(0).saturating_mul(60);
    let (share, token) = app.auth.create_share(name, &principal.user, life)?;
    log::info!(
        "🔗 {} made share link {} for {}",
        principal.user,
        share.id,
        share.name
    );
    let link = format!("{OPEN_PREFIX}{token}");
    let scheme = if tls { "https" } else { "http" };
    let url = format!("{scheme}://{}{link}", req.header("host").unwrap_or(""));
    // A link always fits a QR code; were it not to, the link alone serves.
    let qr = crate::qr::svg(&url).ok();
    Ok(Response::json(
        Status::Ok,
        shares::json(&share)
            .str("link", &link)
            .str("url", &url)
            .opt_str("qr", qr.as_deref())
            .finish(),
    ))
}

fn list_json(app: &App) -> String {
    let list = app.auth.shares().into_iter().flat_map(|s| s.list());
    json::Object::new()
        .raw(
            "shares",
            &json::array(list.map(|s| shares::json(s).finish())),
        )
        .finish()
}

/// `GET /share/TOKEN`: the guest's cookie and off to the UI.
pub fn open(req: &Request, client: Client, app: &mut App, now: Instant) -> Action {
    if !matches!(req.method, Method::Get | Method::Head) {
        return not_allowed("GET, HEAD");
    }
    let token = req.path.strip_prefix(OPEN_PREFIX).unwrap_or_default();
    match app.auth.open_share(client.ip, token, now) {
        Ok((cookie, name)) => {
            log::info!("{}: {name} opened a share link", client.ip);
            app.audit.record(
                crate::sys::clock::unix_now(),
                crate::audit::Entry {
                    event: crate::audit::Event::ShareUsed,
                    user: Some(&name),
                    address: Some(client.ip),
                    detail: "a guest viewer",
                },
            );
            let secure = if client.tls { "; Secure" } else { "" };
            // Lax, not Strict: a link is opened from a mail or a chat, and
            // a Strict cookie set there would not come with the redirect.
            Action::Respond(
                Response::error(Status::SeeOther, "welcome: see /")
                    .header("Location", "/")
                    .header(
                        "Set-Cookie",
                        format!(
                            "{SESSION_COOKIE}={cookie}; HttpOnly; SameSite=Lax; Path=/{secure}"
                        ),
                    ),
            )
        }
        Err(verdict) => Action::Respond(refusal(verdict, true)),
    }
}
