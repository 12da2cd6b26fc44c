//! The `--atx-*` flags checked into an `AtxConfig`: which line is which
//! button or LED, which are active-low, and how long a press lasts.

use std::time::Duration;

use super::Args;
use crate::atx::line::{LineConfig, LineSpec};
use crate::atx::{AtxConfig, Durations};

/// The line roles `--atx-active-low` takes.
const ROLES: [&str; 4] = ["power", "reset", "power-led", "hdd-led"];

pub fn atx_config(args: &Args) -> Result<Option<AtxConfig>, String> {
    for role in &args.atx_active_low {
        if !ROLES.contains(&role.as_str()) {
            return Err(format!(
                "--atx-active-low {role:?} is not a line; use one of {}",
                ROLES.join(", ")
            ));
        }
    }
    let line = |flag: &str, role: &str, text: &Option<String>| {
        text.as_deref()
            .map(|text| {
                Ok::<_, String>(LineConfig {
                    spec: LineSpec::parse(text).map_err(|e| format!("--atx-{flag}: {e}"))?,
                    active_low: args.atx_active_low.iter().any(|r| r == role),
                })
            })
            .transpose()
    };
    let press = |flag: &str, ms: u64| -> Result<Duration, String> {
        if !(50..=30_000).contains(&ms) {
            return Err(format!(
                "--atx-{flag} {ms} is out of range; use 50 to 30000 ms"
            ));
        }
        Ok(Duration::from_millis(ms))
    };
    let durations = Durations {
        short: press("short-press", args.atx_short_press)?,
        long: press("long-press", args.atx_long_press)?,
    };
    if durations.long <= durations.short {
        return Err("--atx-long-press must be longer than --atx-short-press".into());
    }
    let config = AtxConfig {
        power: line("power", "power", &args.atx_power)?,
        reset: line("reset", "reset", &args.atx_reset)?,
        power_led: line("power-led", "power-led", &args.atx_power_led)?,
        hdd_led: line("hdd-led", "hdd-led", &args.atx_hdd_led)?,
        durations,
    };
    Ok(config.any().then_some(config))
}

#[cfg(test)]
mod tests {
    use super::super::tests::args;
    use super::*;

    #[test]
    fn test_off_unless_a_line_is_given() {
        assert_eq!(atx_config(&args(&[])), Ok(None));
    }

    #[test]
    fn test_lines_roles_and_durations() {
        let c = atx_config(&args(&[
            "--atx-power",
            "gpiochip0:17",
            "--atx-power-led",
            "PWR_LED",
            "--atx-active-low",
            "power-led",
            "--atx-long-press",
            "4000",
        ]))
        .unwrap()
        .unwrap();
        let power = c.power.unwrap();
        assert_eq!(power.spec.to_string(), "gpiochip0:17");
        assert!(!power.active_low);
        let led = c.power_led.unwrap();
        assert_eq!(led.spec, LineSpec::Name("PWR_LED".into()));
        assert!(led.active_low);
        assert_eq!(c.reset, None);
        assert_eq!(c.durations.short, Duration::from_millis(500));
        assert_eq!(c.durations.long, Duration::from_millis(4000));
    }

    #[test]
    fn test_refusals_name_the_flag() {
        for (list, flag) in [
            (&["--atx-power", "gpiochip0:x"][..], "--atx-power"),
            (&["--atx-active-low", "led"][..], "--atx-active-low"),
            (
                &["--atx-power", "P", "--atx-short-press", "10"][..],
                "--atx-short-press",
            ),
            (
                &["--atx-power", "P", "--atx-long-press", "400"][..],
                "--atx-long-press",
            ),
        ] {
            let e = atx_config(&args(list)).unwrap_err();
            assert!(e.contains(flag), "{list:?}: {e}");
        }
    }
}
