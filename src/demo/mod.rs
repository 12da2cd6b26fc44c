//! The simulated target (owned by the demo work).
