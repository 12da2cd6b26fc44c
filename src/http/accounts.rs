//! `/api/accounts`: admins list, add, change and delete accounts. A new
//! password is hashed on the checker thread (argon2 must not run in the
//! loop): the request parks (`Action::Check`) and runs again with the hash
//! (`Verdict::Hashed`). Changing a password or role, or deleting, ends the
//! account's connections (`Gate::change_account`). The configured account
//! (KV_USER, --password-file, --password-hash) is listed as managed by the
//! configuration and cannot be touched here.

use super::request::Method;
use super::response::Response;
use super::routes::{not_allowed, refuse_cross_site, Action, Asked};
use super::Status;
use crate::app::App;
use crate::auth::{Principal, Role, Verdict};
use crate::json::{self, Value};

pub const PREFIX: &str = "/api/accounts/";

/// What a request asks of an account.
struct Wanted {
    name: Option<String>,
    role: Option<Role>,
    password: Option<String>,
}

/// The new password, as far as it is hashed.
enum Hash {
    NotAsked,
    Ready(String),
    /// Parked until the checker thread answers.
    Wait(Action),
}

/// Who an admin is in the log (empty when kv has no credentials).
fn who(principal: &Principal) -> &str {
    if principal.user.is_empty() {
        "an admin"
    } else {
        &principal.user
    }
}

/// `/api/accounts` and `/api/accounts/NAME`, for an admin; `hashed` is the
/// new password's hash once the checker thread made it.
pub fn route(
    asked: Asked,
    principal: &Principal,
    app: &mut App,
    hashed: Option<Result<String, String>>,
) -> Action {
    let (req, body) = (asked.req, asked.body);
    let name = req.path.strip_prefix(PREFIX);
    let is_get = matches!(req.method, Method::Get | Method::Head);
    if is_get && name.is_none() {
        return Action::Respond(Response::json(Status::Ok, list_json(app)));
    }
    if let Some(refusal) = refuse_cross_site(req) {
        return Action::Respond(refusal);
    }
    let wanted = match (&req.method, name) {
        (Method::Post, _) => parse(body),
        (Method::Delete, Some(_)) => Ok(Wanted {
            name: None,
            role: None,
            password: None,
        }),
        (_, None) => return not_allowed("GET, HEAD, POST"),
        (_, Some(_)) => return not_allowed("POST, DELETE"),
    };
    let wanted = match wanted {
        Ok(wanted) => wanted,
        Err(e) => return Action::Respond(Response::error(Status::BadRequest, &e)),
    };
    let hash = match (hashed, wanted.password) {
        (Some(Ok(hash)), _) => Hash::Ready(hash),
        (Some(Err(e)), _) => {
            return Action::Respond(Response::error(Status::InternalServerError, &e))
        }
        (None, None) => Hash::NotAsked,
        (None, Some(password)) => {
            match app
                .auth
                .hash(principal, asked.client.ip, password, asked.now)
            {
                Verdict::Pending(ticket) => Hash::Wait(Action::Check(ticket)),
                _ => {
                    return Action::Respond(
                        Response::error(
                            Status::ServiceUnavailable,
                            "kv is busy checking passwords; retry in a second",
                        )
                        .header("Retry-After", "1"),
                    )
                }
            }
        }
    };
    let hash = match hash {
        Hash::Wait(action) => return action,
        Hash::Ready(hash) => Some(hash),
        Hash::NotAsked => None,
    };
    let done = match (&req.method, name) {
        (Method::Post, None) => add(app, wanted.name, wanted.role, hash),
        (Method::Post, Some(name)) => change(app, name, wanted.role, hash),
        _ => {
            let name = name.unwrap_or_default();
            app.auth
                .change_account(name, |accounts, spare_admin| {
                    accounts.remove(name, spare_admin)
                })
                .map(|()| format!("deleted the account {name}"))
        }
    };
    match done {
        Ok(what) => {
            log::info!("👥 {} {what}", who(principal));
            Action::Respond(Response::json(Status::Ok, list_json(app)))
        }
        Err(e) => Action::Respond(Response::error(Status::BadRequest, &e)),
    }
}

fn add(
    app: &mut App,
    name: Option<String>,
    role: Option<Role>,
    hash: Option<String>,
) -> Result<String, String> {
    let name = name.ok_or("a new account needs a \"name\"")?;
    let hash = hash.ok_or("a new account needs a \"password\"")?;
    let role = role.unwrap_or(Role::Operator);
    app.auth.add_account(&name, role, hash)?;
    Ok(format!("added the account {name} ({})", role.name()))
}

fn change(
    app: &mut App,
    name: &str,
    role: Option<Role>,
    hash: Option<String>,
) -> Result<String, String> {
    if role.is_none() && hash.is_none() {
        return Err("send {\"role\":\"viewer\"}, {\"password\":\"...\"} or both".into());
    }
    app.auth.change_account(name, |accounts, spare_admin| {
        if let Some(role) = role {
            accounts.set_role(name, role, spare_admin)?;
        }
        match hash {
            Some(hash) => accounts.set_password(name, hash),
            None => Ok(()),
        }
    })?;
    Ok(format!("changed the account {name}; its connections end"))
}

fn parse(body: &[u8]) -> Result<Wanted, String> {
    let hint = "body must be JSON like {\"name\":\"ann\",\"role\":\"viewer\",\"password\":\"...\"}";
    let v = std::str::from_utf8(body)
        .ok()
        .and_then(|text| Value::parse(text).ok())
        .ok_or(hint)?;
    let text = |key: &str| match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("\"{key}\" must be a string; {hint}")),
    };
    let role = text("role")?.map(|r| Role::parse(&r)).transpose()?;
    let password = text("password")?;
    if password.as_deref() == Some("") {
        return Err("empty password".into());
    }
    Ok(Wanted {
        name: text("name")?,
        role,
        password,
    })
}

/// `GET /api/accounts`: every account, the configured one first.
pub fn list_json(app: &App) -> String {
    let configured = app.auth.configured_user().map(|user| {
        json::Object::new()
            .str("name", user)
            .str("role", Role::Admin.name())
            .raw("created", "null")
            .bool("managed", true)
            .finish()
    });
    let file = app.auth.accounts().into_iter().flat_map(|a| a.list());
    let listed = file.map(|a| {
        json::Object::new()
            .str("name", &a.name)
            .str("role", a.role.name())
            .num("created", a.created)
            .bool("managed", false)
            .finish()
    });
    json::Object::new()
        .raw(
            "accounts",
            &json::array(configured.into_iter().chain(listed)),
        )
        .raw(
            "roles",
            &json::array(Role::NAMES.iter().map(|n| json::quote(n))),
        )
        .finish()
}
