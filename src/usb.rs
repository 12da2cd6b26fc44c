//! What the target, as a USB host, is doing with kv's gadget: the state its
//! device controller reports (`/sys/class/udc/*/state`, the kernel's
//! `usb_device_state` names), or that the gadget is on no controller at all.
//!
//! It sits below both sides so that they need not know each other: the gadget
//! reads it from sysfs (`gadget::udc`), the HID functions follow it (`hid`).

/// The USB host's view of kv's gadget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostState {
    /// Not read yet.
    Unread,
    /// The gadget is bound to no controller.
    Unbound,
    /// The gadget's binding or its controller's state cannot be read (the
    /// controller went away).
    Unknown,
    /// A host has enumerated and configured the gadget: it takes reports.
    Configured,
    /// Bound to a controller whose host has not configured the gadget, or has
    /// put it to sleep: the controller's word for it (`not attached`,
    /// `suspended`, `addressed`...).
    Unconfigured(String),
}

impl HostState {
    /// Reads a controller's `state` attribute.
    pub fn of_controller(state: &str) -> HostState {
        match state.trim() {
            "configured" => HostState::Configured,
            // The kernel always names a state; nothing at all is no answer.
            "" => HostState::Unknown,
            other => HostState::Unconfigured(other.to_string()),
        }
    }

    /// As the status shows it: the controller's word, `unbound` or
    /// `unknown`; empty before the first read.
    pub fn as_str(&self) -> &str {
        match self {
            HostState::Unread => "",
            HostState::Unbound => "unbound",
            HostState::Unknown => "unknown",
            HostState::Configured => "configured",
            HostState::Unconfigured(state) => state,
        }
    }

    /// The gadget is on a controller that is there, whatever its host does.
    pub fn bound(&self) -> bool {
        matches!(self, HostState::Configured | HostState::Unconfigured(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_of_controller_names_kept() {
        assert_eq!(
            HostState::of_controller("configured\n"),
            HostState::Configured
        );
        let asleep = HostState::of_controller("suspended\n");
        assert_eq!(asleep.as_str(), "suspended");
        assert!(asleep.bound());
        assert_eq!(HostState::of_controller(""), HostState::Unknown);
        for gone in [HostState::Unread, HostState::Unbound, HostState::Unknown] {
            assert!(!gone.bound(), "{gone:?}");
        }
    }
}
