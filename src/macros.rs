//! Macros: named key sequences the operator recorded or wrote in the UI, kept
//! on the board in `--state-dir/macros.json` so every browser finds them
//! (issue 14). kv checks and keeps them; the page replays a macro as the key
//! messages it is made of, so replaying needs nothing new on `/ws`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::hid::keymap;
use crate::json::{self, Value};

/// The file in `--state-dir`.
pub const FILE: &str = "macros.json";
const MAX_MACROS: usize = 64;
/// Key events and waits in one macro: a long BIOS walk fits, a runaway does not.
const MAX_EVENTS: usize = 2000;
const MAX_NAME: usize = 64;
/// The longest pause one wait may hold, in milliseconds.
const MAX_WAIT_MS: i64 = 10_000;

/// Why `replace` changed nothing.
#[derive(Debug)]
pub enum Refused {
    /// The macros sent are not usable (the client's fault).
    Invalid(String),
    /// They are fine but could not be written (the board's fault).
    NotSaved(String),
}

/// The macros, as the JSON `GET /api/macros` answers, and where they are kept.
pub struct Macros {
    path: PathBuf,
    json: String,
}

impl Macros {
    /// The macros kept in `dir`; none when there is no file yet. A file kv
    /// cannot use is logged and left alone until macros are saved again.
    pub fn load(dir: &Path) -> Macros {
        let path = dir.join(FILE);
        let json = match fs::read_to_string(&path) {
            Ok(text) => checked(&text).unwrap_or_else(|e| {
                log::warn!(
                    "{}: {e}; starting without macros (saving macros in the UI replaces the file)",
                    path.display()
                );
                empty()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => empty(),
            Err(e) => {
                log::warn!(
                    "{}: cannot read it ({e}); starting without macros",
                    path.display()
                );
                empty()
            }
        };
        Macros { path, json }
    }

    /// `{"macros":[{"name":"…","events":[{"code":"F2","down":true},{"wait":100},…]},…]}`
    pub fn json(&self) -> &str {
        &self.json
    }

    /// Replaces every macro with those of `body` (the shape `json` returns),
    /// written to a temporary file first and renamed, so a crash leaves the old
    /// file or the new one, never half of one. `Err`: what is wrong, nothing changed.
    pub fn replace(&mut self, body: &str) -> Result<(), Refused> {
        let json = checked(body).map_err(Refused::Invalid)?;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        crate::sys::fs::write_atomic(&self.path, json.as_bytes()).map_err(|e| {
            Refused::NotSaved(format!(
                "{}: cannot save the macros ({e}); is --state-dir {} writable by kv?",
                self.path.display(),
                dir.display()
            ))
        })?;
        self.json = json;
        Ok(())
    }
}

fn empty() -> String {
    json::Object::new().raw("macros", "[]").finish()
}

/// `text` checked as a list of macros and written again the one way kv writes
/// JSON (unknown fields dropped).
fn checked(text: &str) -> Result<String, String> {
    let value = Value::parse(text).map_err(|e| format!("not JSON: {e}"))?;
    let Some(Value::Array(list)) = value.get("macros") else {
        return Err("needs {\"macros\":[…]}".into());
    };
    if list.len() > MAX_MACROS {
        return Err(format!(
            "{} macros; at most {MAX_MACROS} are kept",
            list.len()
        ));
    }
    let mut names: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for m in list {
        let name = m
            .get("name")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .ok_or("every macro needs a \"name\"")?;
        if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
            return Err(format!(
                "macro names are at most {MAX_NAME} characters, without control characters"
            ));
        }
        if names.contains(&name) {
            return Err(format!("two macros are named \"{name}\"; rename one"));
        }
        names.push(name);
        let Some(Value::Array(events)) = m.get("events") else {
            return Err(format!("macro \"{name}\" needs \"events\":[…]"));
        };
        if events.is_empty() || events.len() > MAX_EVENTS {
            return Err(format!(
                "macro \"{name}\" has {} events; 1 to {MAX_EVENTS} are allowed",
                events.len()
            ));
        }
        let events = events
            .iter()
            .map(|e| event(name, e))
            .collect::<Result<Vec<_>, _>>()?;
        out.push(
            json::Object::new()
                .str("name", name)
                .raw("events", &json::array(events))
                .finish(),
        );
    }
    Ok(json::Object::new()
        .raw("macros", &json::array(out))
        .finish())
}

/// One step of a macro: a key down or up, or a pause.
fn event(name: &str, e: &Value) -> Result<String, String> {
    if let Some(wait) = e.get("wait") {
        return match wait.as_i64() {
            Some(ms) if (0..=MAX_WAIT_MS).contains(&ms) => {
                Ok(json::Object::new().num("wait", ms).finish())
            }
            _ => Err(format!(
                "macro \"{name}\": a wait is 0 to {MAX_WAIT_MS} milliseconds"
            )),
        };
    }
    let code = e.get("code").and_then(Value::as_str);
    let down = e.get("down").and_then(Value::as_bool);
    match (code, down) {
        (Some(code), Some(down)) if keymap::usage(code).is_some() => Ok(json::Object::new()
            .str("code", code)
            .bool("down", down)
            .finish()),
        (Some(code), Some(_)) => Err(format!(
            "macro \"{name}\": unknown key code \"{}\" (a KeyboardEvent.code such as \"KeyA\")",
            code.chars().take(32).collect::<String>()
        )),
        _ => Err(format!(
            "macro \"{name}\": each event is {{\"code\":\"KeyA\",\"down\":true}} or {{\"wait\":100}}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    const BIOS: &str = r#"{"macros":[{"name":"BIOS","events":[{"code":"F2","down":true},{"wait":50},{"code":"F2","down":false}],"extra":1}]}"#;

    #[test]
    fn test_saved_read_back_after_restart() {
        let dir = TempDir::new("macros-saved");
        let state = dir.path().join("state");
        let mut macros = Macros::load(&state);
        assert_eq!(
            macros.json(),
            r#"{"macros":[]}"#,
            "none before any is saved"
        );
        macros.replace(BIOS).expect("saved");
        let kept = r#"{"macros":[{"name":"BIOS","events":[{"code":"F2","down":true},{"wait":50},{"code":"F2","down":false}]}]}"#;
        assert_eq!(macros.json(), kept, "unknown fields dropped");
        assert_eq!(
            Macros::load(&state).json(),
            kept,
            "a new kv reads them back"
        );
        assert!(!state.join("macros.json.part").exists());
    }

    #[test]
    fn test_bad_refused_nothing_changed() {
        let dir = TempDir::new("macros-bad");
        let mut macros = Macros::load(dir.path());
        macros.replace(BIOS).expect("saved");
        let one = |events: &str| format!(r#"{{"macros":[{{"name":"x","events":[{events}]}}]}}"#);
        for (bad, says) in [
            ("[]".to_string(), "needs {\"macros\""),
            (one(r#"{"code":"KeyQQ","down":true}"#), "unknown key code \"KeyQQ\""),
            (one(r#"{"wait":60000}"#), "0 to 10000 milliseconds"),
            (one(r#"{"code":"KeyA"}"#), "each event is"),
            (one(""), "1 to 2000"),
            (
                r#"{"macros":[{"name":"a","events":[{"wait":1}]},{"name":"a","events":[{"wait":1}]}]}"#.into(),
                "two macros are named \"a\"",
            ),
            (r#"{"macros":[{"name":" ","events":[{"wait":1}]}]}"#.into(), "needs a \"name\""),
        ] {
            let Err(Refused::Invalid(e)) = macros.replace(&bad) else {
                panic!("{bad}: not refused as invalid");
            };
            assert!(e.contains(says), "{bad}: {e}");
        }
        assert!(
            Macros::load(dir.path()).json().contains("BIOS"),
            "the saved file is untouched"
        );
    }

    #[test]
    fn test_unwritable_says_where_and_what_to_do() {
        let dir = TempDir::new("macros-unwritable");
        // A file where the state folder should be: no folder can be made there.
        let blocked = dir.path().join("blocked");
        fs::write(&blocked, "").unwrap();
        let mut macros = Macros::load(&blocked);
        let Err(Refused::NotSaved(e)) = macros.replace(BIOS) else {
            panic!("saved where no folder can be");
        };
        assert!(
            e.contains("macros.json") && e.contains("--state-dir"),
            "{e}"
        );
        assert_eq!(macros.json(), r#"{"macros":[]}"#);
    }

    #[test]
    fn test_unusable_file_ignored_at_start() {
        let dir = TempDir::new("macros-unusable");
        fs::write(dir.path().join(FILE), "{not json").unwrap();
        assert_eq!(Macros::load(dir.path()).json(), r#"{"macros":[]}"#);
    }
}
