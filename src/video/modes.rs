//! Capture modes: turning what a device says it offers (discrete lists or
//! stepwise ranges of sizes and frame intervals) into the finite menu of
//! `Mode`s the UI shows, and picking the offered mode closest to the one the
//! operator asked for.

use super::Mode;
use crate::sys::v4l2::{Fraction, FrameIntervals, FrameSizes};

/// Sizes offered from a stepwise/continuous range: the ones screens and
/// capture dongles actually use, so the menu stays short.
const COMMON_SIZES: [(u32, u32); 12] = [
    (640, 480),
    (720, 480),
    (720, 576),
    (800, 600),
    (1024, 768),
    (1280, 720),
    (1280, 1024),
    (1366, 768),
    (1600, 900),
    (1680, 1050),
    (1920, 1080),
    (3840, 2160),
];

/// Rates offered from a stepwise/continuous interval range.
const COMMON_RATES: [u32; 9] = [5, 10, 15, 20, 24, 25, 30, 50, 60];

/// The rate when a driver does not enumerate frame intervals at all.
pub const DEFAULT_FPS: u32 = 30;

fn on_step(value: u32, (min, max, step): (u32, u32, u32)) -> bool {
    (min..=max).contains(&value) && (value - min).is_multiple_of(step.max(1))
}

/// The sizes to offer, largest first.
pub fn sizes(offered: &FrameSizes) -> Vec<(u32, u32)> {
    let mut sizes = match offered {
        FrameSizes::Discrete(list) => list
            .iter()
            .copied()
            .filter(|&(w, h)| w > 0 && h > 0)
            .collect(),
        FrameSizes::Stepwise { width, height } => {
            let mut fitting: Vec<_> = COMMON_SIZES
                .into_iter()
                .filter(|&(w, h)| on_step(w, *width) && on_step(h, *height))
                .collect();
            if fitting.is_empty() && width.1 > 0 && height.1 > 0 {
                // Nothing common fits (an odd sensor): offer the extremes.
                fitting.push((width.1, height.1));
                if width.0 > 0 && height.0 > 0 {
                    fitting.push((width.0, height.0));
                }
            }
            fitting
        }
    };
    sizes.sort_by(|a, b| b.cmp(a));
    sizes.dedup();
    sizes
}

/// Frames per second for an interval, rounded (1001/30000 is 30).
fn fps((num, den): Fraction) -> Option<u32> {
    if num == 0 || den == 0 {
        return None;
    }
    let fps = (u64::from(den) + u64::from(num) / 2) / u64::from(num);
    u32::try_from(fps).ok().filter(|&f| f > 0)
}

/// The rates to offer, fastest first.
pub fn rates(offered: &FrameIntervals) -> Vec<u32> {
    let mut rates: Vec<u32> = match offered {
        FrameIntervals::Discrete(list) => list.iter().filter_map(|&f| fps(f)).collect(),
        FrameIntervals::Stepwise { min, max } => {
            // The shortest interval is the highest rate.
            let (Some(fastest), Some(slowest)) = (fps(*min), fps(*max)) else {
                return Vec::new();
            };
            COMMON_RATES
                .into_iter()
                .filter(|r| (slowest..=fastest).contains(r))
                .collect()
        }
    };
    rates.sort_by(|a, b| b.cmp(a));
    rates.dedup();
    rates
}

/// The offered mode closest to `wanted`: first the size (same size, else the
/// nearest in pixel count, the larger on a tie), then the rate at that size.
pub fn closest(modes: &[Mode], wanted: Mode) -> Option<Mode> {
    let area = |m: &Mode| i64::from(m.width) * i64::from(m.height);
    let wanted_area = area(&wanted);
    let size = modes.iter().min_by_key(|m| {
        let exact = (m.width, m.height) == (wanted.width, wanted.height);
        (!exact, (area(m) - wanted_area).abs(), -area(m))
    })?;
    modes
        .iter()
        .filter(|m| (m.width, m.height) == (size.width, size.height))
        .min_by_key(|m| (m.fps.abs_diff(wanted.fps), std::cmp::Reverse(m.fps)))
        .copied()
}

/// A request's size with no rate: the rate offered at that size closest to
/// `current` (the faster on a tie), or `current` when the size is not offered
/// at all (the switch then fails and says which modes are).
pub fn with_closest_rate(modes: &[Mode], width: u32, height: u32, current: u32) -> Mode {
    let fps = modes
        .iter()
        .filter(|m| (m.width, m.height) == (width, height))
        .min_by_key(|m| (m.fps.abs_diff(current), std::cmp::Reverse(m.fps)))
        .map_or(current, |m| m.fps);
    Mode { width, height, fps }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_with_closest_rate_takes_offered_rate_at_size() {
        let modes = [
            mode(1920, 1080, 5),
            mode(1920, 1080, 10),
            mode(640, 480, 30),
        ];
        assert_eq!(
            with_closest_rate(&modes, 1920, 1080, 30),
            mode(1920, 1080, 10)
        );
        assert_eq!(with_closest_rate(&modes, 640, 480, 10), mode(640, 480, 30));
        let both = [mode(800, 600, 20), mode(800, 600, 40)];
        assert_eq!(with_closest_rate(&both, 800, 600, 30), mode(800, 600, 40));
        assert_eq!(
            with_closest_rate(&modes, 1024, 768, 30),
            mode(1024, 768, 30)
        );
    }

    fn mode(width: u32, height: u32, fps: u32) -> Mode {
        Mode { width, height, fps }
    }

    #[test]
    fn test_sizes_discrete_sorted_largest_first() {
        let offered = FrameSizes::Discrete(vec![(640, 480), (1920, 1080), (0, 0), (1280, 720)]);
        assert_eq!(sizes(&offered), [(1920, 1080), (1280, 720), (640, 480)]);
    }

    #[test]
    fn test_sizes_stepwise_sampled_common() {
        // vivid's HDMI-style range: any size 16..4096 on steps of 2x1.
        let offered = FrameSizes::Stepwise {
            width: (16, 1920, 2),
            height: (16, 1080, 1),
        };
        let s = sizes(&offered);
        assert_eq!(s.first(), Some(&(1920, 1080)));
        assert!(s.contains(&(1280, 720)) && s.contains(&(640, 480)));
        assert!(!s.contains(&(3840, 2160)));
        // Steps of 16 rule out 1366 and 1080.
        let coarse = FrameSizes::Stepwise {
            width: (16, 4096, 16),
            height: (16, 2160, 16),
        };
        assert!(!sizes(&coarse).contains(&(1366, 768)));
        assert!(!sizes(&coarse).contains(&(1920, 1080)));
        assert!(sizes(&coarse).contains(&(1280, 720)));
    }

    #[test]
    fn test_sizes_stepwise_odd_range_offers_extremes() {
        let offered = FrameSizes::Stepwise {
            width: (100, 300, 100),
            height: (50, 150, 50),
        };
        assert_eq!(sizes(&offered), [(300, 150), (100, 50)]);
        // A zero step must not divide by zero.
        let zero = FrameSizes::Stepwise {
            width: (640, 640, 0),
            height: (480, 480, 0),
        };
        assert_eq!(sizes(&zero), [(640, 480)]);
    }

    #[test]
    fn test_rates_discrete_and_ntsc() {
        let offered =
            FrameIntervals::Discrete(vec![(1, 30), (1001, 30000), (1, 60), (0, 1), (1, 0)]);
        assert_eq!(rates(&offered), [60, 30]);
    }

    #[test]
    fn test_rates_stepwise_sampled_common() {
        let offered = FrameIntervals::Stepwise {
            min: (1, 30),
            max: (1, 10),
        };
        assert_eq!(rates(&offered), [30, 25, 24, 20, 15, 10]);
        let broken = FrameIntervals::Stepwise {
            min: (0, 30),
            max: (1, 10),
        };
        assert_eq!(rates(&broken), Vec::<u32>::new());
    }

    #[test]
    fn test_closest_exact_then_nearest_area() {
        let modes = [
            mode(1920, 1080, 30),
            mode(1280, 720, 60),
            mode(1280, 720, 30),
            mode(640, 480, 30),
        ];
        assert_eq!(
            closest(&modes, mode(1280, 720, 30)),
            Some(mode(1280, 720, 30))
        );
        assert_eq!(
            closest(&modes, mode(1280, 720, 50)),
            Some(mode(1280, 720, 60))
        );
        assert_eq!(
            closest(&modes, mode(1366, 768, 30)),
            Some(mode(1280, 720, 30))
        );
        assert_eq!(
            closest(&modes, mode(3840, 2160, 60)),
            Some(mode(1920, 1080, 30))
        );
        assert_eq!(closest(&[], mode(640, 480, 30)), None);
    }

    #[test]
    fn test_closest_tie_prefers_larger_size_and_rate() {
        let modes = [mode(200, 100, 20), mode(100, 100, 40)];
        // 150x100: both 5000 pixels away, the larger wins.
        assert_eq!(
            closest(&modes, mode(150, 100, 30)),
            Some(mode(200, 100, 20))
        );
        let rates = [mode(100, 100, 20), mode(100, 100, 40)];
        assert_eq!(
            closest(&rates, mode(100, 100, 30)),
            Some(mode(100, 100, 40))
        );
    }
}
