//! What each person may do: the three roles, the `Principal` every
//! authenticated request and connection carries, and the one permission
//! table (`least_role`) that every route and WebSocket message is checked
//! against. The UI hides what a role cannot do; this table is the authority.

use super::SessionId;

/// Ordered by power: a role may do everything the roles below it may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Sees the screen and the status; changes nothing.
    Viewer,
    /// Also types, moves the mouse, manages media, the video mode and the
    /// HID settings, macros and Wake-on-LAN.
    Operator,
    /// Also manages accounts; everything.
    Admin,
}

impl Role {
    pub const NAMES: [&'static str; 3] = ["admin", "operator", "viewer"];

    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(name: &str) -> Result<Role, String> {
        match name {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role {other:?}; use one of {}",
                Role::NAMES.join(", ")
            )),
        }
    }
}

/// Who is asking: the account (or share link guest) a request or a
/// connection was authenticated as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub user: String,
    pub role: Role,
    /// The browser session the cookie named; `None` for Basic auth and
    /// when kv has no credentials at all.
    pub session: Option<SessionId>,
    /// A share link's guest, not an account.
    pub guest: bool,
}

impl Principal {
    /// Everyone, when kv has no credentials: the one who set it up.
    pub fn open() -> Principal {
        Principal {
            user: String::new(),
            role: Role::Admin,
            session: None,
            guest: false,
        }
    }

    /// A connection that somehow lacks one: may only watch.
    pub fn nobody() -> Principal {
        Principal {
            user: String::new(),
            role: Role::Viewer,
            session: None,
            guest: false,
        }
    }

    pub fn may(&self, act: Act) -> Result<(), Refusal> {
        let needed = least_role(act);
        if self.role >= needed {
            Ok(())
        } else {
            Err(Refusal {
                needed,
                role: self.role,
            })
        }
    }
}

/// What is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act<'a> {
    /// GET or HEAD of a path.
    Read(&'a str),
    /// POST, PUT or DELETE of a path.
    Change(&'a str),
    /// A `/ws` message, by its `type`.
    Message(&'a str),
}

/// The permission table: the least role that may do `act`. One line per
/// route or message; a change nobody listed needs an admin, so a route
/// added without a line here is closed, not open.
pub fn least_role(act: Act) -> Role {
    use Role::*;
    match act {
        Act::Read("/api/accounts") => Admin,
        Act::Read("/api/audit") => Admin,
        Act::Read("/api/shares") => Operator,
        // The screen, status, presence, images, macros, WoL, the UI.
        Act::Read(_) => Viewer,

        Act::Change("/api/video/mode") => Operator,
        Act::Change("/api/hid/release" | "/api/hid/layout" | "/api/hid/settings") => Operator,
        Act::Change("/api/media/attach" | "/api/media/eject") => Operator,
        Act::Change(p) if p.starts_with("/api/images/") => Operator,
        Act::Change("/api/macros" | "/api/wol" | "/api/atx") => Operator,
        Act::Change("/api/shares") => Operator,
        Act::Change(p) if p.starts_with("/api/shares/") => Operator,
        // Everyone's own second factor (share-link guests are refused there).
        Act::Change("/api/account/totp") => Viewer,
        Act::Change(_) => Admin,

        // Asking for, granting and releasing control is judged by `control`.
        Act::Message("control") => Viewer,
        Act::Message("key" | "abs" | "rel" | "wheel" | "release" | "paste") => Operator,
        // Typing on the serial console (`/ws/serial`); its output is a read.
        Act::Message("serial") => Operator,
        Act::Message(_) => Admin,
    }
}

/// Why a request was refused: the role it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub needed: Role,
    pub role: Role,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "this needs the {} role; you are logged in as a {}",
            self.needed.name(),
            self.role.name()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn as_role(role: Role) -> Principal {
        Principal {
            user: "u".into(),
            role,
            session: None,
            guest: false,
        }
    }

    #[test]
    fn test_viewer_sees_but_changes_nothing() {
        let viewer = as_role(Role::Viewer);
        for path in [
            "/stream",
            "/snapshot.jpg",
            "/ws",
            "/ws/video",
            "/api/status",
            "/metrics",
            "/api/session",
            "/api/images",
            "/api/macros",
            "/api/wol",
            "/api/presence",
            "/",
        ] {
            assert!(viewer.may(Act::Read(path)).is_ok(), "{path}");
        }
        for path in [
            "/api/video/mode",
            "/api/hid/release",
            "/api/hid/layout",
            "/api/hid/settings",
            "/api/media/attach",
            "/api/media/eject",
            "/api/images/x.iso",
            "/api/macros",
            "/api/wol",
            "/api/atx",
            "/api/accounts",
            "/api/shares",
        ] {
            assert_eq!(
                viewer.may(Act::Change(path)),
                Err(Refusal {
                    needed: least_role(Act::Change(path)),
                    role: Role::Viewer
                }),
                "{path}"
            );
        }
        for kind in [
            "key", "abs", "rel", "wheel", "release", "paste", "serial", "nonsense",
        ] {
            assert!(viewer.may(Act::Message(kind)).is_err(), "{kind}");
        }
        assert!(viewer.may(Act::Message("control")).is_ok());
        assert!(viewer.may(Act::Read("/api/accounts")).is_err());
    }

    #[test]
    fn test_operator_controls_but_manages_no_accounts() {
        let operator = as_role(Role::Operator);
        for path in [
            "/api/video/mode",
            "/api/images/a.img",
            "/api/macros",
            "/api/atx",
            "/api/shares",
        ] {
            assert!(operator.may(Act::Change(path)).is_ok(), "{path}");
        }
        assert!(operator.may(Act::Message("key")).is_ok());
        assert!(operator.may(Act::Message("serial")).is_ok());
        assert!(operator.may(Act::Read("/api/accounts")).is_err());
        assert!(operator.may(Act::Change("/api/accounts")).is_err());
        assert!(operator.may(Act::Change("/api/accounts/bob")).is_err());
        // A route nobody listed is closed to all but admins.
        assert!(operator.may(Act::Change("/api/unlisted")).is_err());
        let admin = as_role(Role::Admin);
        assert!(admin.may(Act::Change("/api/accounts/bob")).is_ok());
        assert!(admin.may(Act::Change("/api/unlisted")).is_ok());
    }

    #[test]
    fn test_role_names_round_trip() {
        for name in Role::NAMES {
            assert_eq!(Role::parse(name).unwrap().name(), name);
        }
        assert!(Role::parse("root")
            .unwrap_err()
            .contains("admin, operator, viewer"));
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
    }
}
