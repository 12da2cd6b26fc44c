//! Who is connected and who is in control: every `/ws` page is a `Seat`
//! (its person, role, since when); everyone sees the others (presence).
//! With one controller (`--control single`, or `auto` once two people who
//! may type are connected) one seat's input reaches the target; the others
//! ask, and the holder grants or releases, or an admin takes. Whenever the
//! holder changes, the caller releases every key and button
//! (`Handover`), so nothing stays pressed on the target.

use crate::auth::{Principal, Role};
use crate::json;

/// Seats at once: bounded by --max-connections anyway; this bounds the
/// presence message.
const MAX_LISTED: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One controller at a time, always.
    Single,
    /// Everyone who may type types.
    Shared,
    /// Single once more than one operator or admin (person) is connected.
    Auto,
}

impl Mode {
    pub fn parse(name: &str) -> Result<Mode, String> {
        match name {
            "single" => Ok(Mode::Single),
            "shared" => Ok(Mode::Shared),
            "auto" => Ok(Mode::Auto),
            other => Err(format!(
                "--control {other:?} is unknown; use single, shared or auto"
            )),
        }
    }
}

pub struct Seat {
    pub id: u64,
    pub principal: Principal,
    /// Seconds since 1970 when the page connected.
    pub since: u64,
}

/// Whether the holder changed: the keys held so far must be released.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub enum Handover {
    None,
    Changed,
}

pub struct Control {
    mode: Mode,
    seats: Vec<Seat>,
    holder: Option<u64>,
    /// Seats that asked for control, oldest first.
    asking: Vec<u64>,
    next_id: u64,
    /// Presence changed since the loop last pushed it.
    changed: bool,
}

impl Control {
    pub fn new(mode: Mode) -> Control {
        Control {
            mode,
            seats: Vec::new(),
            holder: None,
            asking: Vec::new(),
            next_id: 1,
            changed: false,
        }
    }

    /// A page connected: its seat's id.
    pub fn join(&mut self, principal: Principal, since: u64) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.seats.push(Seat {
            id,
            principal,
            since,
        });
        self.changed = true;
        id
    }

    /// A page went: if it held control, nobody does now.
    pub fn leave(&mut self, id: u64) -> Handover {
        self.seats.retain(|s| s.id != id);
        self.asking.retain(|&s| s != id);
        self.changed = true;
        if self.holder == Some(id) {
            self.holder = None;
            return Handover::Changed;
        }
        Handover::None
    }

    /// Whether one controller rules now.
    pub fn single(&self) -> bool {
        match self.mode {
            Mode::Single => true,
            Mode::Shared => false,
            // People, not pages: one person's two tabs (or everyone, when
            // kv has no credentials and all are the same nobody) share.
            Mode::Auto => {
                let mut typists = self
                    .seats
                    .iter()
                    .filter(|s| s.principal.role >= Role::Operator)
                    .map(|s| s.principal.user.as_str());
                let first = typists.next();
                typists.any(|user| Some(user) != first)
            }
        }
    }

    /// Whether `id`'s input may reach the target. Nobody in control: the
    /// first to type takes it (a handover from nobody).
    pub fn may_type(&mut self, id: u64) -> Result<Handover, String> {
        if !self.single() || self.holder == Some(id) {
            return Ok(Handover::None);
        }
        match self.holder.and_then(|h| self.seat(h)) {
            Some(holder) => Err(format!(
                "{} is in control; ask for control to type",
                name(&holder.principal)
            )),
            None => Ok(self.hand_to(Some(id))),
        }
    }

    /// A `control` message from seat `id`: `request`, `release`, `take`,
    /// `grant` (with `to`, a seat id) or `deny` (with `to`).
    pub fn act(&mut self, id: u64, action: &str, to: Option<u64>) -> Result<Handover, String> {
        let me = self.seat(id).ok_or("not connected")?;
        let role = me.principal.role;
        let holds = self.holder == Some(id);
        match action {
            "request" if role < Role::Operator => {
                Err("viewers cannot take control; ask an operator or admin for another role".into())
            }
            "request" if holds => Ok(Handover::None),
            "request" if self.holder.is_none() => Ok(self.hand_to(Some(id))),
            "request" => {
                if !self.asking.contains(&id) {
                    self.asking.push(id);
                    self.changed = true;
                }
                Ok(Handover::None)
            }
            "release" if holds => Ok(self.hand_to(None)),
            "release" => Err("you are not in control".into()),
            "take" if role == Role::Admin => Ok(self.hand_to(Some(id))),
            "take" => Err("only an admin may take control; ask for it".into()),
            "grant" | "deny" if !holds && role < Role::Admin => {
                Err("only the one in control (or an admin) may answer a request".into())
            }
            "grant" | "deny" => {
                let to = to.ok_or("\"grant\" and \"deny\" need \"to\": a seat id")?;
                let asker = self.seat(to).ok_or("that page is gone")?;
                if action == "deny" {
                    self.asking.retain(|&s| s != to);
                    self.changed = true;
                    return Ok(Handover::None);
                }
                if asker.principal.role < Role::Operator {
                    return Err("a viewer cannot be given control".into());
                }
                Ok(self.hand_to(Some(to)))
            }
            other => Err(format!(
                "unknown control action {other:?}; use request, release, take, grant or deny"
            )),
        }
    }

    fn hand_to(&mut self, to: Option<u64>) -> Handover {
        if self.holder == to {
            return Handover::None;
        }
        self.holder = to;
        if let Some(to) = to {
            self.asking.retain(|&s| s != to);
        }
        self.changed = true;
        Handover::Changed
    }

    fn seat(&self, id: u64) -> Option<&Seat> {
        self.seats.iter().find(|s| s.id == id)
    }

    /// Who is in control, by name (the audit log's handovers).
    pub fn holder_name(&self) -> Option<&str> {
        let holder = self.holder.and_then(|h| self.seat(h))?;
        Some(name(&holder.principal))
    }

    /// Whether presence changed since the last call.
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// The presence object (`GET /api/presence`, and the `presence`
    /// message with the page's own seat as `you`).
    pub fn json(&self, you: Option<u64>) -> String {
        let people = self.seats.iter().take(MAX_LISTED).map(|s| {
            json::Object::new()
                .num("id", s.id)
                .str("user", &s.principal.user)
                .str("role", s.principal.role.name())
                .bool("guest", s.principal.guest)
                .num("since", s.since)
                .bool("control", self.holder == Some(s.id))
                .bool("asking", self.asking.contains(&s.id))
                .finish()
        });
        let you = you.map_or_else(|| "null".into(), |id| id.to_string());
        json::Object::new()
            .str(
                "mode",
                match self.mode {
                    Mode::Single => "single",
                    Mode::Shared => "shared",
                    Mode::Auto => "auto",
                },
            )
            .bool("single", self.single())
            .raw("you", &you)
            .raw("people", &json::array(people))
            .finish()
    }
}

fn name(p: &Principal) -> &str {
    if p.user.is_empty() {
        "someone"
    } else {
        &p.user
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(user: &str, role: Role) -> Principal {
        Principal {
            user: user.into(),
            role,
            session: None,
            guest: false,
        }
    }

    #[test]
    fn test_auto_is_shared_until_two_can_type() {
        let mut c = Control::new(Mode::Auto);
        let a = c.join(person("a", Role::Operator), 0);
        let v = c.join(person("v", Role::Viewer), 0);
        assert!(!c.single());
        assert_eq!(c.may_type(a), Ok(Handover::None));
        let b = c.join(person("b", Role::Admin), 0);
        assert!(c.single());
        // Nobody held it: the first to type takes it.
        assert_eq!(c.may_type(a), Ok(Handover::Changed));
        assert!(c.may_type(b).unwrap_err().contains("a is in control"));
        assert!(c.act(v, "request", None).is_err());
        assert_eq!(c.leave(b), Handover::None);
        assert!(!c.single());
        // A second tab of the same person does not make it single.
        c.join(person("a", Role::Operator), 0);
        assert!(!c.single());
    }

    #[test]
    fn test_single_request_grant_release_take() {
        let mut c = Control::new(Mode::Single);
        let a = c.join(person("a", Role::Operator), 0);
        let b = c.join(person("b", Role::Operator), 0);
        let admin = c.join(person("root", Role::Admin), 0);
        assert_eq!(c.act(a, "request", None), Ok(Handover::Changed));
        assert_eq!(c.act(b, "request", None), Ok(Handover::None));
        assert!(c.json(Some(b)).contains(
            r#""user":"b","role":"operator","guest":false,"since":0,"control":false,"asking":true"#
        ));
        assert!(
            c.act(b, "grant", Some(b)).is_err(),
            "only the holder grants"
        );
        assert!(c.act(b, "take", None).is_err());
        assert_eq!(c.act(a, "grant", Some(b)), Ok(Handover::Changed));
        assert!(c.may_type(a).is_err());
        assert_eq!(c.may_type(b), Ok(Handover::None));
        assert_eq!(c.act(admin, "take", None), Ok(Handover::Changed));
        assert_eq!(c.act(admin, "release", None), Ok(Handover::Changed));
        assert!(c.act(admin, "release", None).is_err());
        assert_eq!(c.act(b, "request", None), Ok(Handover::Changed));
        assert_eq!(c.leave(b), Handover::Changed);
        assert!(c.act(a, "dance", None).unwrap_err().contains("unknown"));
    }

    #[test]
    fn test_shared_never_refuses() {
        let mut c = Control::new(Mode::Shared);
        let a = c.join(person("a", Role::Operator), 0);
        let b = c.join(person("b", Role::Operator), 0);
        assert_eq!(c.may_type(a), Ok(Handover::None));
        assert_eq!(c.may_type(b), Ok(Handover::None));
        assert!(c.take_changed());
        assert!(!c.take_changed());
    }
}
